"""A dropped call socket comes back with the resume secret and an ICE restart; a
reloaded page takes its seat back with new peer connections. The family never
passes through the waiting room again."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from playwright.async_api import Page, expect

from tests.e2e.flows import OpenPage, in_call
from tests.e2e.kota_server import KotaProcess, StaffApi
from tests.e2e.page_checks import assert_remote_videos_play

pytestmark = pytest.mark.asyncio(loop_scope="session")

# Every connection the page ever made, in order, with its local ICE username fragment
# (null once closed): the same index is the same RTCPeerConnection object.
_ICE_UFRAGS = """
() => (window.__kotaTestPeerConnections || []).map((pc) =>
  pc.signalingState === "closed" || !pc.localDescription ? null
    : (pc.localDescription.sdp.match(/a=ice-ufrag:(\\S+)/) || [])[1])
"""


async def ice_ufrags(page: Page) -> list[str]:
    found: list[str] = await page.evaluate(_ICE_UFRAGS)
    return found


async def test_dropped_socket_resumes_the_seat_and_restarts_ice(
    open_page: OpenPage, staff_api: Callable[[str], Awaitable[StaffApi]]
) -> None:
    staff, family = await in_call(open_page, staff_api, "Pirjo Heikkinen")
    before = await ice_ufrags(family)
    sockets = await family.evaluate("() => window.__kotaTestSockets.length")

    # The network drops the family's socket (not a `leave`): the seat is held.
    await family.evaluate("() => window.__kotaTestSockets.at(-1).close(3999)")
    await family.wait_for_function(
        f"() => window.__kotaTestSockets.length > {sockets}"
        " && window.__kotaTestSockets.at(-1).readyState === 1"
    )
    pirjo = staff.locator(".in-call-list .person", has_text="Pirjo Heikkinen")
    await expect(pirjo).to_have_attribute("data-connection", "connected")
    # ICE restarted on the same connection: no new RTCPeerConnection, new credentials.
    assert [u for u in before if u] and len(before) == 1, before
    await family.wait_for_function(
        f"""(before) => {{
          const now = ({_ICE_UFRAGS})();
          return now.length === before.length
            && now.every((u, i) => u !== null && u !== before[i]);
        }}""",
        arg=before,
    )
    await expect(family.locator(".call-view")).to_be_visible()
    await expect(family.locator(".waiting")).to_be_hidden()
    await assert_remote_videos_play(family, 1)
    await assert_remote_videos_play(staff, 1)


async def test_reloaded_page_takes_its_seat_back(
    open_page: OpenPage, staff_api: Callable[[str], Awaitable[StaffApi]]
) -> None:
    staff, family = await in_call(open_page, staff_api, "Risto Mäkelä")
    await family.reload()
    await family.locator(".call-view").wait_for()
    await expect(staff.locator(".waiting-person")).to_have_count(0)
    await assert_remote_videos_play(family, 1)
    await assert_remote_videos_play(staff, 1)


async def test_call_survives_a_server_restart(
    open_page: OpenPage, tmp_path: Path
) -> None:
    """docs/protocol.md, "Server restart": sockets close with 1001, seats are held, and
    both pages resume them without a new admission."""
    kota = KotaProcess(tmp_path / "restarting")
    await kota.start()
    try:
        async with StaffApi(kota, "sanna") as sanna:

            async def signed_in(_: str) -> StaffApi:
                return sanna

            staff, family = await in_call(open_page, signed_in, "Veera Lindqvist", server=kota)
            await kota.restart()
            veera = staff.locator(".in-call-list .person", has_text="Veera Lindqvist")
            await expect(veera).to_have_attribute("data-connection", "connected")
            await family.wait_for_function(
                "() => window.__kotaTestSockets.at(-1).readyState === 1"
                " && window.__kotaTestSockets.length > 1"
            )
            await expect(family.locator(".call-view")).to_be_visible()
            await expect(staff.locator(".waiting-person")).to_have_count(0)
            await assert_remote_videos_play(family, 1)
            await assert_remote_videos_play(staff, 1)
    finally:
        kota.stop()
