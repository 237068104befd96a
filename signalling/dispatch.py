"""handle(): routes one request of a joined participant to the Room method for it.

A refusal the identity earned by asking (a waiting person trying to signal, chat or act
as staff; a second ``hello``) leaves a ``request.refused`` usage-log row, so attempts to
reach a call one was not let into are on record. The row names the request type and
the error code, never the message's content.
"""

from __future__ import annotations

from datetime import datetime
from typing import Final, assert_never

from signalling import messages as wire
from signalling.effects import CallAction, Effect, Record
from signalling.errors import SignallingError
from signalling.room import Room

# Codes that mean "this identity may not do that", as opposed to a stale or mistyped target.
RECORDED_REFUSALS: Final = frozenset({"not_admitted", "not_staff", "not_joined", "already_joined"})


def handle(room: Room, sender: str, message: wire.ClientMessage, now: datetime) -> list[Effect]:
    """The effects of ``message`` from ``sender``, or SignallingError with nothing changed."""
    try:
        return _route(room, sender, message, now)
    except SignallingError as exc:
        if exc.code in RECORDED_REFUSALS and not exc.records:
            request = type(message).__struct_config__.tag
            exc.records = (Record(CallAction.REQUEST_REFUSED, sender, now,
                                  detail={"request": str(request), "code": exc.code}),)
        raise


def _route(room: Room, sender: str, message: wire.ClientMessage, now: datetime) -> list[Effect]:
    match message:  # tried in order: the one sent hundreds of times a call comes first
        case wire.Signal():
            return room.relay_signal(sender, message, now)
        case wire.Hello():
            raise SignallingError("already_joined")
        case wire.Leave():
            return room.leave(sender, now)
        case wire.Admit():
            return room.admit(sender, message.participant, now)
        case wire.Deny():
            return room.deny(sender, message.participant, now, revoke=message.revoke)
        case wire.Remove():
            return room.remove(sender, message.participant, now, revoke=message.revoke)
        case wire.EndSession():
            return room.end(sender, now)
        case wire.MessageWaiting():
            return room.message_waiting(sender, message.to, message.text, now)
        case wire.Reply():
            return room.reply(sender, message.text, now)
        case wire.Chat():
            return room.chat(sender, message.text, now)
        case wire.MediaMode():
            return room.media_mode(sender, message.audio_only, message.weak, now)
        case _:
            assert_never(message)
