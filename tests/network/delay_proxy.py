"""A UDP proxy that delays every datagram by a fixed time each way: the latency of a
weak link, which this kernel (no ``netem``) cannot add. Placed in front of coturn, it
makes a TURN client's relayed media take the long way.

``python -m tests.network.delay_proxy --listen PORT --target PORT --delay-ms 150``
runs until SIGTERM; it prints ``ready`` once it listens. Each client address gets its
own upstream socket, so the server sees one address per client as it would through NAT.
Every datagram is sent ``delay`` after it arrived, in arrival order: a constant delay,
no jitter and no reordering.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
from typing import cast

Address = tuple[str, int]


class _Upstream(asyncio.DatagramProtocol):
    """One client's socket towards the target: what comes back goes to that client."""

    def __init__(self, front: _Front, client: Address) -> None:
        self.front = front
        self.client = client
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # The selector loop's datagram transport is not a DatagramTransport subclass.
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: Address) -> None:
        self.front.later(data, self.client)

    def error_received(self, exc: Exception) -> None:
        """A refused datagram (ICMP) is a lost packet, as on a real link."""


class _Front(asyncio.DatagramProtocol):
    """The socket clients send to."""

    def __init__(self, target: Address, delay: float) -> None:
        self.target = target
        self.delay = delay
        self.transport: asyncio.DatagramTransport | None = None
        self.upstreams: dict[Address, _Upstream] = {}
        self.opening: dict[Address, list[bytes]] = {}

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: Address) -> None:
        upstream = self.upstreams.get(addr)
        if upstream is not None and upstream.transport is not None:
            self._send_later(upstream.transport, data, None)
            return
        waiting = self.opening.setdefault(addr, [])
        waiting.append(data)
        if len(waiting) == 1:
            asyncio.get_running_loop().create_task(self._open(addr))

    def error_received(self, exc: Exception) -> None:
        """See _Upstream.error_received."""

    async def _open(self, client: Address) -> None:
        loop = asyncio.get_running_loop()
        transport, upstream = await loop.create_datagram_endpoint(
            lambda: _Upstream(self, client), remote_addr=self.target)
        self.upstreams[client] = upstream
        for data in self.opening.pop(client, []):
            self._send_later(transport, data, None)

    def later(self, data: bytes, client: Address) -> None:
        if self.transport is not None:
            self._send_later(self.transport, data, client)

    def _send_later(self, transport: asyncio.DatagramTransport, data: bytes,
                    addr: Address | None) -> None:
        loop = asyncio.get_running_loop()
        if addr is None:
            loop.call_later(self.delay, transport.sendto, data)
        else:
            loop.call_later(self.delay, transport.sendto, data, addr)


async def serve(listen: int, target: int, delay: float) -> None:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    transport, _ = await loop.create_datagram_endpoint(
        lambda: _Front(("127.0.0.1", target), delay), local_addr=("127.0.0.1", listen))
    print("ready", flush=True)
    await stop.wait()
    transport.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--listen", type=int, required=True)
    parser.add_argument("--target", type=int, required=True)
    parser.add_argument("--delay-ms", type=float, required=True)
    args = parser.parse_args()
    asyncio.run(serve(args.listen, args.target, args.delay_ms / 1000))


if __name__ == "__main__":
    main()
