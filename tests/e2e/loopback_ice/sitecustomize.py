"""Python loads this at start-up when this folder is on PYTHONPATH; browser tests start
``kota run`` so (``tests.e2e.flows.LOOPBACK_ICE_ENV``) when its aiortc peers (the
connection test's echo) must keep media on loopback: aioice skips 127.0.0.1 and would
gather the machine's external address instead (/work/shared/TESTING-WEBRTC.md)."""

import aioice.ice


def _loopback(use_ipv4: bool = True, use_ipv6: bool = True) -> list[str]:
    return ["127.0.0.1"] if use_ipv4 else []


aioice.ice.get_host_addresses = _loopback
