"""Every message on the contact-line WebSocket (``GET /ws/line``), defined once.

The same socket carries two kinds of client: a person in a line (a family or an anonymous
visitor) and a professional on duty. Requests they share (``chat``, ``video``,
``signal``, ``end``) are one type each, with a ``session`` that only staff give. Bounds
live on the types: a message that decodes is within every limit docs/protocol-lines.md
states. Signal payloads are exactly the call socket's (``signalling.messages``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType
from typing import Annotated, Final, Literal, TypeAlias

import msgspec
from msgspec import Meta

from signalling.messages import (
    MAX_MESSAGE_BYTES,
    ChatText,
    IceServer,
    IceTransportPolicy,
    SignalPayload,
)

PROTOCOL_VERSION: Final = "1"

Slug = Annotated[str, Meta(pattern=r"^[a-z0-9](?:[a-z0-9-]{0,58}[a-z0-9])?$")]
Secret = Annotated[str, Meta(min_length=16, max_length=128, pattern=r"^[A-Za-z0-9_-]+$")]
Nickname = Annotated[str, Meta(max_length=40)]
SessionId = Annotated[str, Meta(min_length=8, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]
Id = Annotated[int, Meta(ge=1, le=2**53)]
Mode = Literal["chat", "video"]


class _Request(msgspec.Struct, tag_field="type", forbid_unknown_fields=True, frozen=True,
               kw_only=True):
    """Client → server."""


class _Fact(msgspec.Struct, tag_field="type", forbid_unknown_fields=True, frozen=True,
            kw_only=True, omit_defaults=True):
    """Server → client; absent optional fields are omitted on the wire."""


# --- client → server -------------------------------------------------------------------------


class Hello(_Request, tag="hello", frozen=True):
    """First message: a public line's slug, a family's enrolment secret, a resume ticket,
    or ``staff`` (the session cookie says who)."""

    version: Annotated[str, Meta(min_length=1, max_length=16)]
    line: Slug | None = None
    enrolment: Secret | None = None
    resume: Secret | None = None
    staff: bool = False
    mode: Mode | None = None
    nickname: Nickname | None = None

    def __post_init__(self) -> None:
        given = [self.line is not None, self.enrolment is not None, self.resume is not None,
                 self.staff]
        if sum(given) != 1:
            raise ValueError("hello names one of line, enrolment, resume or staff")
        if (self.line is not None or self.enrolment is not None) and self.mode is None:
            raise ValueError("joining a line needs a mode")
        if self.nickname and self.line is None:
            raise ValueError("only a public line takes a nickname")


class Leave(_Request, tag="leave", frozen=True):
    pass


class Chat(_Request, tag="chat", frozen=True):
    text: ChatText
    session: SessionId | None = None


class Video(_Request, tag="video", frozen=True):
    session: SessionId | None = None


class Signal(_Request, tag="signal", frozen=True):
    payload: SignalPayload
    session: SessionId | None = None


class Callback(_Request, tag="callback", frozen=True):
    pass


class End(_Request, tag="end", frozen=True):
    session: SessionId | None = None


class Duty(_Request, tag="duty", frozen=True):
    lines: Annotated[tuple[Id, ...], Meta(max_length=100)]


class TakeNext(_Request, tag="take_next", frozen=True):
    pass


class HandOver(_Request, tag="hand_over", frozen=True):
    session: SessionId
    line: Id | None = None
    staff: Id | None = None

    def __post_init__(self) -> None:
        if (self.line is None) == (self.staff is None):
            raise ValueError("hand_over names a line or a colleague")


ClientMessage: TypeAlias = (
    Hello | Leave | Chat | Video | Signal | Callback | End | Duty | TakeNext | HandOver
)


# --- server → client ------------------------------------------------------------------------


class LineInfo(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    kind: str
    modes: str


class CallbackState(msgspec.Struct, frozen=True, kw_only=True):
    offered: bool
    requested: bool


class Welcome(_Fact, tag="welcome", frozen=True):
    resume: str | None = None
    line: LineInfo | None = None
    family_name: str | None = None
    staff_id: int | None = None


class Queue(_Fact, tag="queue", frozen=True):
    position: int
    expected_wait_s: int | None
    closes_first: bool
    on_duty: int
    callback: CallbackState | None = None


class Closed(_Fact, tag="closed", frozen=True):
    opens_at: datetime | None


class Full(_Fact, tag="full", frozen=True):
    pass


class LineClosed(_Fact, tag="line_closed", frozen=True):
    pass


class Taken(_Fact, tag="taken", frozen=True):
    session: str
    staff_name: str
    mode: str
    ice_servers: tuple[IceServer, ...]
    ice_transport_policy: IceTransportPolicy = "all"


class ChatRelayed(_Fact, tag="chat", frozen=True):
    from_: str = msgspec.field(name="from")
    text: str
    session: str | None = None


class VideoStarted(_Fact, tag="video", frozen=True):
    session: str | None = None


class SignalRelayed(_Fact, tag="signal", frozen=True):
    payload: SignalPayload
    session: str | None = None


class HandedOver(_Fact, tag="handed_over", frozen=True):
    line: LineInfo


class Presence(_Fact, tag="presence", frozen=True):
    """To the professional: the person in their session lost its connection (``away``:
    it has a minute to come back) or is back."""

    session: str
    away: bool = False


class Ended(_Fact, tag="ended", frozen=True):
    reason: str
    session: str | None = None


class OnDuty(msgspec.Struct, frozen=True, kw_only=True):
    id: int
    first_name: str


class BoardLine(msgspec.Struct, frozen=True, kw_only=True):
    id: int
    name: str
    kind: str
    modes: str
    open: bool
    closes_at: datetime | None
    waiting: int
    longest_wait_s: int | None
    expected_wait_s: int | None
    on_duty: tuple[OnDuty, ...]
    mine: bool


class BoardCallback(msgspec.Struct, frozen=True, kw_only=True):
    id: int
    line: int
    family_name: str
    requested_at: datetime


class Board(_Fact, tag="board", frozen=True):
    lines: tuple[BoardLine, ...]
    duty: tuple[int, ...]
    callbacks: tuple[BoardCallback, ...]  # always present, [] when none


class Knock(_Fact, tag="knock", frozen=True):
    line: int
    family_name: str
    enrolment: int


class SessionStarted(_Fact, tag="session", frozen=True):
    session: str
    line: int
    who: str
    mode: str
    waited_s: int
    ice_servers: tuple[IceServer, ...]
    ice_transport_policy: IceTransportPolicy = "all"


class Nobody(_Fact, tag="nobody", frozen=True):
    pass


class Error(_Fact, tag="error", frozen=True):
    code: str
    message: str


ServerMessage: TypeAlias = (
    Welcome | Queue | Closed | Full | LineClosed | Taken | ChatRelayed | VideoStarted
    | SignalRelayed | HandedOver | Presence | Ended | Board | Knock | SessionStarted | Nobody
    | Error
)


# --- errors ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ErrorCode:
    fatal: bool  # the socket closes after the error
    text: str


LINE_ERROR_CODES: Mapping[str, ErrorCode] = MappingProxyType({
    # Recoverable: the socket stays open.
    "bad_message": ErrorCode(False, "The message is not valid for this protocol."),
    "resume_failed": ErrorCode(False, "The place cannot be resumed; join again."),
    "busy": ErrorCode(False, "Finish the current session first."),
    "not_your_line": ErrorCode(False, "You do not serve this line."),
    "line_closed": ErrorCode(False, "The line is closed."),
    "video_not_offered": ErrorCode(False, "This line does not offer video."),
    "mode_not_offered": ErrorCode(False, "This line does not offer that way of talking."),
    "not_in_session": ErrorCode(False, "There is no session to do this in."),
    "unknown_session": ErrorCode(False, "No such session of yours."),
    "unknown_line": ErrorCode(False, "No such open line."),
    "unknown_staff": ErrorCode(False, "That colleague does not serve this line."),
    "callback_not_offered": ErrorCode(False, "A call back cannot be asked for now."),
    "not_staff": ErrorCode(False, "Only staff may do this."),
    "already_joined": ErrorCode(False, "This connection has already joined."),
    # Fatal: sent, then the socket closes.
    "message_too_big": ErrorCode(True, "The message is larger than 64 KiB."),
    "rate_limited": ErrorCode(True, "Too many messages."),
    "unsupported_version": ErrorCode(True, "No common protocol version."),
    "unauthenticated": ErrorCode(True, "No staff session."),
    "line_not_found": ErrorCode(True, "No such line."),
    "enrolment_invalid": ErrorCode(True, "This link is not valid."),
    "enrolment_revoked": ErrorCode(True, "This link has been revoked."),
    "not_joined": ErrorCode(True, "Send hello first."),
    "internal": ErrorCode(True, "Internal error."),
})


class LineError(Exception):
    """A refusal the client is told about by ``code`` (one of LINE_ERROR_CODES)."""

    def __init__(self, code: str, message: str | None = None) -> None:
        if code not in LINE_ERROR_CODES:
            raise ValueError(f"unknown line error code {code!r}")
        self.code = code
        self.message = message if message is not None else LINE_ERROR_CODES[code].text
        super().__init__(code, self.message)

    @property
    def fatal(self) -> bool:
        return LINE_ERROR_CODES[self.code].fatal

    def fact(self) -> Error:
        return Error(code=self.code, message=self.message)


_client_decoder: msgspec.json.Decoder[ClientMessage] = msgspec.json.Decoder(ClientMessage)
_server_decoder: msgspec.json.Decoder[ServerMessage] = msgspec.json.Decoder(ServerMessage)
_encoder = msgspec.json.Encoder()


def decode_client(data: bytes | str) -> ClientMessage:
    """Parse one client frame; any failure is a LineError, never a msgspec one. The text
    is cut short and never logged (it may quote the frame)."""
    if isinstance(data, str):
        try:
            data = data.encode()
        except UnicodeEncodeError:
            raise LineError("bad_message", "The message is not valid UTF-8.") from None
    if len(data) > MAX_MESSAGE_BYTES:
        raise LineError("message_too_big")
    try:
        return _client_decoder.decode(data)
    except msgspec.MsgspecError as exc:
        raise LineError("bad_message", str(exc)[:200]) from None
    except UnicodeDecodeError:
        raise LineError("bad_message", "The message is not valid UTF-8.") from None


def decode_server(data: bytes | str) -> ServerMessage:
    """Parse one server frame; for test clients and bots, which trust the server."""
    return _server_decoder.decode(data)


def encode(message: ServerMessage | ClientMessage) -> bytes:
    return _encoder.encode(message)
