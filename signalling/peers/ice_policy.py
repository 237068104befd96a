"""IcePolicy: which STUN/TURN servers a headless peer uses, whether only relayed routes
count, and how long candidate gathering may take.

Two aiortc habits make this more than a list of servers:

- given no ICE servers at all, aiortc asks Google's public STUN server; a policy always
  passes its list explicitly, so an empty list means "host candidates only";
- a TURN server that refuses the credentials makes aiortc gather no relay candidate and
  raise nothing; with relay-only ICE the peer then waits forever. ``describe_local``
  turns "no candidate gathered" (or gathering that does not finish) into an error.

Relay-only uses aiortc's own ``iceTransportPolicy="relay"`` (aiortc 1.16 with aioice
0.13): host and server-reflexive candidates are never gathered, so the SDP and the
checks carry relay candidates only, exactly as a browser's relay policy does.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final

from aiortc import RTCConfiguration, RTCIceServer, RTCPeerConnection, RTCSessionDescription
from aiortc.rtcconfiguration import RTCIceTransportPolicy

from signalling import messages as wire

DEFAULT_GATHER_TIMEOUT: Final = 10.0  # aioice gives up on a STUN/TURN server after 5 s


class NoCandidates(ConnectionError):
    """Gathering ended (or timed out) with no usable candidate: nothing can connect."""


@dataclass(frozen=True)
class IcePolicy:
    servers: Sequence[RTCIceServer] = ()
    relay_only: bool = False
    gather_timeout: float = DEFAULT_GATHER_TIMEOUT
    # Servers the Kota server handed out; ``servers`` (our own option) come first, and
    # aiortc uses only the first STUN and the first TURN URL it finds.
    given: Sequence[RTCIceServer] = field(default=())

    def with_given(self, given: Sequence[RTCIceServer]) -> IcePolicy:
        return IcePolicy(self.servers, self.relay_only, self.gather_timeout, tuple(given))

    def configuration(self) -> RTCConfiguration:
        """Always an explicit list: never aiortc's public STUN default."""
        policy = RTCIceTransportPolicy.RELAY if self.relay_only else RTCIceTransportPolicy.ALL
        return RTCConfiguration(iceServers=[*self.servers, *self.given],
                                iceTransportPolicy=policy)

    async def describe_local(self, pc: RTCPeerConnection,
                             description: RTCSessionDescription) -> str:
        """``setLocalDescription`` (which gathers) within the timeout; the SDP to send.

        Raises NoCandidates when gathering times out or yields no candidate at all.
        """
        try:
            async with asyncio.timeout(self.gather_timeout):
                await pc.setLocalDescription(description)
        except TimeoutError:
            raise NoCandidates(f"ICE gathering took over {self.gather_timeout:g} s") from None
        sdp: str = pc.localDescription.sdp
        if not any(line.startswith("a=candidate:") for line in sdp.splitlines()):
            if self.relay_only:
                raise NoCandidates("no relay candidate gathered: is the TURN server "
                                   "reachable, and does it accept the credentials?")
            raise NoCandidates("no ICE candidate gathered")
        return sdp


def rtc_ice_servers(servers: Sequence[wire.IceServer]) -> list[RTCIceServer]:
    """The server's ``ice_servers`` (welcome, admitted, connection test) for aiortc."""
    return [RTCIceServer(urls=list(s.urls), username=s.username, credential=s.credential)
            for s in servers]


def selected_pair(pc: RTCPeerConnection) -> tuple[str, str] | None:
    """(local, remote) candidate types of the pair ICE nominated, e.g. ("relay", "host").

    aiortc has no getStats() entry for the selected pair, so this reads aioice's state.
    """
    transports = [t.sender.transport for t in pc.getTransceivers() if t.sender.transport]
    if pc.sctp is not None:
        transports.append(pc.sctp.transport)
    for dtls in transports:
        nominated = getattr(dtls.transport._connection, "_nominated", {})
        pair = nominated.get(1)
        if pair is not None:
            return pair.local_candidate.type, pair.remote_candidate.type
    return None
