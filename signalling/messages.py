"""Every message on Kota's call WebSocket, defined once.

Clients send requests (``ClientMessage``); the server sends facts (``ServerMessage``).
Bounds live on the types, so a message that decodes is within every limit that
docs/protocol.md states; nothing downstream re-checks lengths — except waiting-room
texts, whose length rules the waiting room owns so that they get a clear error of their
own (``text_too_long``); here they are only capped.
"""

import re
from datetime import datetime
from typing import Annotated, Final, Literal, TypeAlias

import msgspec
from msgspec import Meta

from signalling.errors import SignallingError

PROTOCOL_VERSION: Final = "1"
SUPPORTED_VERSIONS: Final = (PROTOCOL_VERSION,)
MAX_MESSAGE_BYTES: Final = 64 * 1024

# Participant ids are chosen by the server; the same rule is checked on Member.
PARTICIPANT_ID_PATTERN: Final = r"^[A-Za-z0-9._:-]{1,64}\Z"
PARTICIPANT_ID_RE: Final = re.compile(PARTICIPANT_ID_PATTERN)

ParticipantId = Annotated[str, Meta(pattern=PARTICIPANT_ID_PATTERN)]
Version = Annotated[str, Meta(min_length=1, max_length=16)]
JoinToken = Annotated[str, Meta(min_length=1, max_length=2048)]
ResumeSecret = Annotated[str, Meta(min_length=16, max_length=128)]
ChatText = Annotated[str, Meta(min_length=1, max_length=2000)]
# Waiting-room texts: the length rules (STAFF_TEXT_MAX_CHARS, REPLY_MAX_CHARS) are the
# waiting room's, so that a text too long gets its own error, ``text_too_long``; the
# wire only caps what no rule could accept.
WaitingText = Annotated[str, Meta(min_length=1, max_length=4000)]
Sdp = Annotated[str, Meta(min_length=1, max_length=32 * 1024)]
CandidateLine = Annotated[str, Meta(max_length=1024)]
# RTCConfiguration.iceTransportPolicy; "all" (the default) is omitted on the wire.
IceTransportPolicy = Literal["all", "relay"]


class _Request(msgspec.Struct, tag_field="type", forbid_unknown_fields=True, frozen=True,
               kw_only=True):
    """Client → server. Subclasses repeat ``frozen=True`` only because mypy asks for it."""


class _Fact(msgspec.Struct, tag_field="type", forbid_unknown_fields=True, frozen=True,
            kw_only=True, omit_defaults=True):
    """Server → client; absent optional fields are omitted on the wire."""


# --- signal payloads: the JSEP pieces a browser hands to RTCPeerConnection ----------------


class SdpOffer(msgspec.Struct, tag_field="kind", tag="offer", forbid_unknown_fields=True,
               frozen=True):
    sdp: Sdp


class SdpAnswer(msgspec.Struct, tag_field="kind", tag="answer", forbid_unknown_fields=True,
                frozen=True):
    sdp: Sdp


class IceCandidate(msgspec.Struct, tag_field="kind", tag="candidate",
                   forbid_unknown_fields=True, frozen=True):
    """RTCIceCandidateInit with its browser field names; ``""`` means end of candidates."""

    candidate: CandidateLine
    sdp_mid: Annotated[str, Meta(max_length=64)] | None = msgspec.field(
        default=None, name="sdpMid")
    sdp_m_line_index: Annotated[int, Meta(ge=0, le=1023)] | None = msgspec.field(
        default=None, name="sdpMLineIndex")
    username_fragment: Annotated[str, Meta(max_length=256)] | None = msgspec.field(
        default=None, name="usernameFragment")


SignalPayload: TypeAlias = SdpOffer | SdpAnswer | IceCandidate


# --- client → server -------------------------------------------------------------------------


class ResumeTicket(msgspec.Struct, forbid_unknown_fields=True, frozen=True, kw_only=True):
    """Takes back a held seat; ``fresh`` says the client lost its peer connections."""

    participant: ParticipantId
    secret: ResumeSecret
    fresh: bool = False


class Hello(_Request, tag="hello", frozen=True):
    """First message: versions, plus a join token (families) or a resume ticket.

    Staff send neither: their session cookie identifies them.
    """

    version: Annotated[tuple[Version, ...], Meta(min_length=1, max_length=8)]
    token: JoinToken | None = None
    resume: ResumeTicket | None = None

    def __post_init__(self) -> None:
        if self.token is not None and self.resume is not None:
            raise ValueError("hello carries either a token or a resume ticket, not both")


class Leave(_Request, tag="leave", frozen=True):
    pass


class Admit(_Request, tag="admit", frozen=True):
    participant: ParticipantId


class Deny(_Request, tag="deny", frozen=True):
    participant: ParticipantId
    revoke: bool = False


class Remove(_Request, tag="remove", frozen=True):
    """Back to the waiting room, or out with the link revoked when ``revoke``."""

    participant: ParticipantId
    revoke: bool = False


class EndSession(_Request, tag="end", frozen=True):
    pass


class MessageWaiting(_Request, tag="message-waiting", frozen=True):
    """Staff text to one waiting person (``to``) or, explicitly, to everyone waiting
    (``to_all``); one of the two, so a missing recipient never means everyone."""

    text: WaitingText
    to: ParticipantId | None = None
    to_all: bool = False

    def __post_init__(self) -> None:
        if (self.to is None) != self.to_all:
            raise ValueError("message-waiting names one person in `to`, or sets `to_all`")


class Reply(_Request, tag="reply", frozen=True):
    """A waiting person's short text to the staff of the appointment."""

    text: WaitingText


class Signal(_Request, tag="signal", frozen=True):
    to: ParticipantId
    payload: SignalPayload


class Chat(_Request, tag="chat", frozen=True):
    text: ChatText


class MediaMode(_Request, tag="media-mode", frozen=True):
    """The sender switched sound only on or off; ``weak``: Kota's weak-link offer (in the
    call, or the connection check's verdict) was the reason. Logged, not relayed."""

    audio_only: bool
    weak: bool = False


ClientMessage: TypeAlias = (
    Hello | Leave | Admit | Deny | Remove | EndSession | MessageWaiting | Reply | Signal | Chat
    | MediaMode
)


# --- server → client ------------------------------------------------------------------------


class Peer(msgspec.Struct, frozen=True, kw_only=True):
    """An admitted participant as other participants see it: never contacts.

    ``seat`` changes each time the participant takes a seat anew (not on resume), so a
    client can tell that a peer connection it holds belongs to an earlier stay.
    """

    participant: str
    display_name: str
    role: str
    staff: bool
    host: bool
    connected: bool
    seat: int


class IceServer(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """One entry of a browser's ``RTCConfiguration.iceServers``, same field names.

    TURN entries carry short-lived credentials made for one participant (coturn's REST
    format: ``username`` is ``<expiry>:<participant>``); STUN entries carry none.
    """

    urls: tuple[str, ...]
    username: str | None = None
    credential: str | None = None


class WaitingPerson(msgspec.Struct, frozen=True, kw_only=True):
    participant: str
    display_name: str
    role: str
    since: datetime
    position: int
    returned: bool = False  # left the call by themselves and knocked again


class Welcome(_Fact, tag="welcome", frozen=True):
    version: str
    participant: str
    state: Literal["waiting", "admitted"]
    staff: bool
    opens_at: datetime
    closes_at: datetime
    position: int | None = None
    resume_secret: str | None = None
    peers: tuple[Peer, ...] | None = None
    resumed: bool = False
    ice_servers: tuple[IceServer, ...] | None = None
    ice_transport_policy: IceTransportPolicy = "all"


class Error(_Fact, tag="error", frozen=True):
    code: str
    message: str
    opens_at: datetime | None = None
    closes_at: datetime | None = None


class Waiting(_Fact, tag="waiting", frozen=True):
    """Your place in the waiting room changed (1-based, in order of arrival)."""

    position: int


class Admitted(_Fact, tag="admitted", frozen=True):
    resume_secret: str
    peers: tuple[Peer, ...]
    ice_servers: tuple[IceServer, ...] | None = None
    ice_transport_policy: IceTransportPolicy = "all"


class Denied(_Fact, tag="denied", frozen=True):
    revoked: bool = False


class Removed(_Fact, tag="removed", frozen=True):
    """``revoked`` false: you are back in the waiting room; true: you are out."""

    revoked: bool = False


class Knocked(_Fact, tag="knocked", frozen=True):
    participant: WaitingPerson


class WaitingList(_Fact, tag="waiting-list", frozen=True):
    waiting: tuple[WaitingPerson, ...]


class PeerJoined(_Fact, tag="peer-joined", frozen=True):
    peer: Peer


class PeerLeft(_Fact, tag="peer-left", frozen=True):
    participant: str


class PeerDisconnected(_Fact, tag="peer-disconnected", frozen=True):
    participant: str
    until: datetime


class PeerReconnected(_Fact, tag="peer-reconnected", frozen=True):
    participant: str
    seat: int
    fresh: bool = False


class SignalRelayed(_Fact, tag="signal", frozen=True):
    from_: str = msgspec.field(name="from")
    payload: SignalPayload


class ChatRelayed(_Fact, tag="chat", frozen=True):
    from_: str = msgspec.field(name="from")
    text: str
    at: datetime


class StaffMessage(_Fact, tag="staff-message", frozen=True):
    text: str
    to_all: bool = False


class WaitingReply(_Fact, tag="waiting-reply", frozen=True):
    """To the staff present: a waiting person's text, with who sent it."""

    from_: str = msgspec.field(name="from")
    display_name: str
    text: str
    at: datetime


class WaitingMessageSent(_Fact, tag="waiting-message-sent", frozen=True):
    """To the other staff present: a colleague's text to the waiting room, so that all
    of them see the same conversation."""

    by: str
    by_name: str
    to: tuple[str, ...]
    text: str
    at: datetime
    to_all: bool = False


class TextsCleared(_Fact, tag="texts-cleared", frozen=True):
    """The waiting-room texts to and from ``participant`` are over: clear them."""

    participant: str


class SessionEnded(_Fact, tag="session-ended", frozen=True):
    pass


ServerMessage: TypeAlias = (
    Welcome | Error | Waiting | Admitted | Denied | Removed | Knocked | WaitingList
    | PeerJoined | PeerLeft | PeerDisconnected | PeerReconnected | SignalRelayed
    | ChatRelayed | StaffMessage | WaitingReply | WaitingMessageSent | TextsCleared
    | SessionEnded
)

_client_decoder: msgspec.json.Decoder[ClientMessage] = msgspec.json.Decoder(ClientMessage)
_server_decoder: msgspec.json.Decoder[ServerMessage] = msgspec.json.Decoder(ServerMessage)
_encoder = msgspec.json.Encoder()


def decode_client(data: bytes | str) -> ClientMessage:
    """Parse one client frame; any failure is a SignallingError, never a msgspec one.

    The error text is msgspec's (field path, expected type), cut short: it may quote a
    bad tag value, so the connection layer logs the code only.
    """
    if isinstance(data, str):
        try:
            data = data.encode()
        except UnicodeEncodeError:
            raise SignallingError("bad_message", "The message is not valid UTF-8.") from None
    if len(data) > MAX_MESSAGE_BYTES:
        raise SignallingError("message_too_big")
    try:
        return _client_decoder.decode(data)
    except msgspec.MsgspecError as exc:
        raise SignallingError("bad_message", str(exc)[:200]) from None
    except UnicodeDecodeError:  # msgspec raises it for bad UTF-8 inside a string
        raise SignallingError("bad_message", "The message is not valid UTF-8.") from None


def decode_server(data: bytes | str) -> ServerMessage:
    """Parse one server frame; for test clients and bots, which trust the server."""
    return _server_decoder.decode(data)


def encode(message: ServerMessage | ClientMessage) -> bytes:
    """UTF-8 JSON; the connection layer sends it as a text frame."""
    return _encoder.encode(message)


def choose_version(hello: Hello) -> str:
    """The first version in the client's preference list that this server speaks."""
    for version in hello.version:
        if version in SUPPORTED_VERSIONS:
            return version
    raise SignallingError("unsupported_version")


def error_message(exc: SignallingError) -> Error:
    """The ``error`` fact telling the client about ``exc``."""
    return Error(code=exc.code, message=exc.message, opens_at=exc.opens_at,
                 closes_at=exc.closes_at)
