"""Mesh: one participant's side of the call's full mesh, one PeerLink per seated peer.

It applies docs/protocol.md's "Mesh and who offers" and "Reconnect and resume" to the
facts the server sends: whoever was in the call first offers; a newcomer only answers;
a connection made for an older seat of a peer is stale; a peer back from a drop gets an
ICE restart (here: a new connection, see peer_link.py) unless its seat changed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import msgspec

from signalling import messages as wire
from signalling.peers.ice_policy import IcePolicy
from signalling.peers.peer_link import PeerLink, ReceivedMedia, SendSignal, TrackFactory


class Mesh:
    def __init__(self, *, ice: IcePolicy, make_tracks: TrackFactory,
                 send_signal: SendSignal, on_change: Callable[[], None]) -> None:
        self.me: str | None = None  # our participant id, known from welcome
        self.peers: dict[str, wire.Peer] = {}  # everyone else seated, as last told
        self.links: dict[str, PeerLink] = {}  # the live connections, by peer
        self.received: dict[str, list[ReceivedMedia]] = {}  # every connection ever, by peer
        self.ice = ice  # connections made later use the servers the latest welcome gave
        self._make_tracks = make_tracks
        self._send_signal = send_signal
        self._on_change = on_change

    async def seat(self, me: str, peers: Sequence[wire.Peer], *, resumed: bool) -> None:
        """Admitted, or resumed: offer to nobody and wait for each peer's offer.

        After a resume, connections whose peer kept the same seat stay: those peers
        restart them. Every other connection is stale.
        """
        self.me = me
        self.peers = {p.participant: p for p in peers}
        for peer_id, link in list(self.links.items()):
            peer = self.peers.get(peer_id)
            if not resumed or peer is None or peer.seat != link.seat:
                await self._close(peer_id)

    async def peer_joined(self, peer: wire.Peer) -> None:
        self.peers[peer.participant] = peer
        await self._offer_new(peer.participant, peer.seat)

    async def peer_left(self, peer_id: str) -> None:
        self.peers.pop(peer_id, None)
        await self._close(peer_id)

    def peer_disconnected(self, peer_id: str) -> None:
        """Keep the connection: media may still flow, and the seat is held for a while."""
        if peer_id in self.peers:
            self.peers[peer_id] = msgspec.structs.replace(self.peers[peer_id], connected=False)

    async def peer_reconnected(self, peer_id: str, seat: int, fresh: bool) -> None:
        if peer_id in self.peers:
            self.peers[peer_id] = msgspec.structs.replace(self.peers[peer_id], seat=seat,
                                                          connected=True)
        link = self.links.get(peer_id)
        if link is not None and link.seat == seat and not fresh:
            link.restart()
        else:
            await self._offer_new(peer_id, seat)

    def signal(self, peer_id: str, payload: wire.SignalPayload) -> None:
        link = self.links.get(peer_id)
        if link is None:
            if not isinstance(payload, wire.SdpOffer):
                return  # an answer or candidate for a connection already closed
            peer = self.peers.get(peer_id)
            link = self._open(peer_id, peer.seat if peer else -1)
        link.deliver(payload)

    async def leave(self) -> None:
        """Out of the call (removed, ended, closed): close everything, forget the peers."""
        await self.close_links()
        self.peers.clear()

    async def close_links(self) -> None:
        for peer_id in list(self.links):
            await self._close(peer_id)

    async def _offer_new(self, peer_id: str, seat: int) -> None:
        await self._close(peer_id)
        self._open(peer_id, seat).offer()

    def _open(self, peer_id: str, seat: int) -> PeerLink:
        assert self.me is not None, "no connections before welcome"
        link = PeerLink(
            peer_id, seat,
            polite=self.me < peer_id,  # code point order, as the protocol says
            ice=self.ice,
            send_signal=self._send_signal,
            make_tracks=self._make_tracks,
            on_change=self._on_change,
            history=self.received.setdefault(peer_id, []),
        )
        self.links[peer_id] = link
        self._on_change()
        return link

    async def _close(self, peer_id: str) -> None:
        link = self.links.pop(peer_id, None)
        if link is not None:
            await link.close()
            self._on_change()
