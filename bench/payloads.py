"""The messages a pair exchanges: a ~4 KB offer and answer, ICE candidates, small ones.

Every message carries a marker, ``@<recipient>.<seq>.<sent_ns>@``, so the receiving
client can tell a lost, reordered or misrouted message and its relay latency from the
bytes alone, without a JSON parse. The marker sits in fields the server relays as
opaque text: the SDP's origin line, the candidate's ``usernameFragment``, the chat text.
"""

from __future__ import annotations

import json
from typing import Any, Final, Literal

SDP_TARGET_BYTES: Final = 4096
CANDIDATES_PER_SIDE: Final = 10
MARK: Final = "@MARK@"

_AUDIO = (
    "m=audio 9 UDP/TLS/RTP/SAVPF 111 63 9 0 8 13 110 126\r\n"
    "c=IN IP4 0.0.0.0\r\n"
    "a=rtcp:9 IN IP4 0.0.0.0\r\n"
    "a=ice-ufrag:Xq3b\r\n"
    "a=ice-pwd:V9x0dJh2kP3mQ7rT1sW5yZ8a\r\n"
    "a=ice-options:trickle\r\n"
    "a=fingerprint:sha-256 5B:0A:2C:7E:41:9D:E3:88:10:6F:B2:47:C9:0D:5E:21:"
    "AA:3F:76:94:E0:1B:C8:52:9E:6D:03:F7:24:BD:81:6A\r\n"
    "a=setup:{setup}\r\n"
    "a=mid:0\r\n"
    "a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level\r\n"
    "a=extmap:2 http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time\r\n"
    "a=extmap:3 http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01\r\n"
    "a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid\r\n"
    "a=sendrecv\r\n"
    "a=msid:{stream} {stream}-audio\r\n"
    "a=rtcp-mux\r\n"
    "a=rtcp-rsize\r\n"
    "a=rtpmap:111 opus/48000/2\r\n"
    "a=rtcp-fb:111 transport-cc\r\n"
    "a=fmtp:111 minptime=10;useinbandfec=1\r\n"
    "a=rtpmap:63 red/48000/2\r\n"
    "a=fmtp:63 111/111\r\n"
    "a=rtpmap:9 G722/8000\r\n"
    "a=rtpmap:0 PCMU/8000\r\n"
    "a=rtpmap:8 PCMA/8000\r\n"
    "a=rtpmap:13 CN/8000\r\n"
    "a=rtpmap:110 telephone-event/48000\r\n"
    "a=rtpmap:126 telephone-event/8000\r\n"
    "a=ssrc:1001 cname:{stream}\r\n"
    "a=ssrc:1001 msid:{stream} {stream}-audio\r\n"
)

_VIDEO_CODECS = (
    (96, "VP8/90000", None),
    (98, "VP9/90000", "profile-id=0"),
    (100, "VP9/90000", "profile-id=2"),
    (102, "H264/90000",
     "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42001f"),
    (104, "H264/90000",
     "level-asymmetry-allowed=1;packetization-mode=0;profile-level-id=42001f"),
    (106, "H264/90000",
     "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f"),
    (108, "AV1/90000", "level-idx=5;profile=0;tier=0"),
)


def _video(setup: str, stream: str) -> str:
    payload_types = " ".join(f"{pt} {pt + 1}" for pt, _, _ in _VIDEO_CODECS)
    lines = [
        f"m=video 9 UDP/TLS/RTP/SAVPF {payload_types} 116 117 118",
        "c=IN IP4 0.0.0.0",
        "a=rtcp:9 IN IP4 0.0.0.0",
        "a=ice-ufrag:Xq3b",
        "a=ice-pwd:V9x0dJh2kP3mQ7rT1sW5yZ8a",
        "a=ice-options:trickle",
        f"a=setup:{setup}",
        "a=mid:1",
        "a=extmap:14 urn:ietf:params:rtp-hdrext:toffset",
        "a=extmap:13 urn:3gpp:video-orientation",
        "a=extmap:5 http://www.webrtc.org/experiments/rtp-hdrext/playout-delay",
        "a=sendrecv",
        f"a=msid:{stream} {stream}-video",
        "a=rtcp-mux",
        "a=rtcp-rsize",
    ]
    for pt, codec, fmtp in _VIDEO_CODECS:
        lines += [f"a=rtpmap:{pt} {codec}"]
        lines += [f"a=rtcp-fb:{pt} {fb}" for fb in
                  ("goog-remb", "transport-cc", "ccm fir", "nack", "nack pli")]
        if fmtp:
            lines.append(f"a=fmtp:{pt} {fmtp}")
        lines += [f"a=rtpmap:{pt + 1} rtx/90000", f"a=fmtp:{pt + 1} apt={pt}"]
    lines += ["a=rtpmap:116 red/90000", "a=rtpmap:117 ulpfec/90000",
              "a=rtpmap:118 flexfec-03/90000",
              "a=ssrc-group:FID 2001 2002", f"a=ssrc:2001 cname:{stream}",
              f"a=ssrc:2002 cname:{stream}"]
    return "\r\n".join(lines) + "\r\n"


def sdp(kind: Literal["offer", "answer"]) -> str:
    """A Chrome-like description of about 4 KB with MARK in its origin line."""
    setup = "actpass" if kind == "offer" else "active"
    stream = "bench-" + kind
    text = (
        f"v=0\r\no=- {MARK} 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"
        "a=group:BUNDLE 0 1\r\na=extmap-allow-mixed\r\na=msid-semantic: WMS\r\n"
        + _AUDIO.format(setup=setup, stream=stream)
        + _video(setup, stream)
    )
    padding = SDP_TARGET_BYTES - len(text.encode())
    if padding > 20:
        text += "a=x-bench-padding:" + "p" * (padding - 20) + "\r\n"
    return text


def candidate(index: int) -> dict[str, Any]:
    """An RTCIceCandidateInit as a browser sends it, MARK as its usernameFragment."""
    kinds = ("host", "host", "host", "host", "srflx", "srflx", "relay", "relay", "host", "host")
    kind = kinds[index % len(kinds)]
    transport = "tcp" if index in (2, 3) else "udp"
    line = (
        f"candidate:{1467250027 + index} 1 {transport} {2122260223 - index * 8192} "
        f"192.0.2.{10 + index} {46243 + index} typ {kind}"
    )
    if kind != "host":
        line += f" raddr 192.0.2.{10 + index} rport {46243 + index}"
    line += " generation 0 ufrag Xq3b network-id 1 network-cost 10"
    return {"kind": "candidate", "candidate": line, "sdpMid": str(index % 2),
            "sdpMLineIndex": index % 2, "usernameFragment": MARK}


CHAT_TEXT: Final = f"{MARK} Can you hear me now? The picture froze for a moment there."


class Template:
    """A request with MARK in it, split there so a send is two concatenations."""

    __slots__ = ("prefix", "suffix")

    def __init__(self, message: dict[str, Any]) -> None:
        text = json.dumps(message, separators=(",", ":"))
        prefix, mark, suffix = text.partition(MARK)
        if not mark:
            raise ValueError("the message has no marker")
        self.prefix = prefix.encode() + b"@"
        self.suffix = b"@" + suffix.encode()

    def render(self, recipient: bytes, seq: int, sent_ns: int) -> bytes:
        return b"%s%s.%d.%d%s" % (self.prefix, recipient, seq, sent_ns, self.suffix)


def signal(to: str, payload: dict[str, Any]) -> Template:
    return Template({"type": "signal", "to": to, "payload": payload})


class Outbox:
    """Every message one client sends its peer, pre-built once the peer's id is known.

    ``small`` is what the relay phases send: a fresh ICE candidate (the smallest real
    signal) unless a chat line is given.
    """

    __slots__ = ("answer", "candidates", "offer", "small")

    def __init__(self, to: str, small: Template | None = None) -> None:
        self.offer = signal(to, {"kind": "offer", "sdp": sdp("offer")})
        self.answer = signal(to, {"kind": "answer", "sdp": sdp("answer")})
        self.candidates = [signal(to, candidate(i)) for i in range(CANDIDATES_PER_SIDE)]
        self.small = small or self.candidates[0]


def read_marker(data: bytes) -> tuple[bytes, int, int] | None:
    """(recipient, seq, sent_ns) from a relayed message, or None if it carries none."""
    start = data.find(b"@")
    end = data.find(b"@", start + 1)
    if start < 0 or end < 0:
        return None
    recipient, seq, sent_ns = data[start + 1 : end].split(b".")
    return recipient, int(seq), int(sent_ns)
