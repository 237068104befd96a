"""A group call on one busy machine: six Chromium pages in a full mesh on loopback.

The network is perfect (loopback); the CPU is not (two cores, shared, each page
encoding five streams and decoding five). No page may say "your connection is weak",
every tile keeps decoding, and each page caps what it sends each person as the call
grows and lifts the cap as it shrinks (web/js/link_quality.js, groupCap).
tests/network/test_weak_link.py is the other side: there the link is weak and the
banner must show.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from playwright.async_api import Page

from tests.e2e.flows import OpenPage, family_to_waiting_room, staff_into_room
from tests.e2e.kota_server import StaffApi
from tests.e2e.page_checks import (
    PHONE,
    TABLET_LANDSCAPE,
    assert_accessible,
    assert_remote_videos_play,
    screenshots,
)

# Serial: it measures what one busy machine does, so nothing else may run beside it.
pytestmark = [pytest.mark.asyncio(loop_scope="session"), pytest.mark.serial]

GUESTS = [f"Vieras {n}" for n in range(1, 6)]
JOIN_MS = 120_000

# From now on, count the moments the weak-connection banner is up.
_WATCH_BANNER = """
() => {
  if (window.__kotaBanner !== undefined) return;
  window.__kotaBanner = 0;
  setInterval(() => {
    const banner = document.querySelector(".quality-banner");
    if (banner && !banner.hidden) window.__kotaBanner += 1;
  }, 250);
}
"""

# What this page sends on each open connection: the encoded height and the limits on
# the sender (once the encoder has produced a frame).
_SENT = """
async () => {
  const out = [];
  for (const pc of window.__kotaTestPeerConnections) {
    if (pc.connectionState !== "connected") continue;
    const sender = pc.getTransceivers().find((t) => t.receiver.track.kind === "video").sender;
    const encoding = sender.getParameters().encodings[0] || {};
    let height = null;
    (await pc.getStats()).forEach((s) => {
      if (s.type === "outbound-rtp" && s.kind === "video" && s.frameHeight) height = s.frameHeight;
    });
    out.push({ height, scale: encoding.scaleResolutionDownBy ?? 1,
      maxFramerate: encoding.maxFramerate ?? null, maxBitrate: encoding.maxBitrate ?? null });
  }
  return out;
}
"""

async def _join(open_page: OpenPage, link: str, name: str) -> Page:
    page = await open_page(PHONE, name=name)
    await family_to_waiting_room(page, link)
    await page.evaluate(_WATCH_BANNER)
    return page


async def _admitted(staff: Page, name: str) -> None:
    person = staff.locator(".waiting-person", has_text=name)
    await person.locator(".admit").click(timeout=JOIN_MS)
    await person.wait_for(state="detached", timeout=JOIN_MS)


def _within(sent: list[dict[str, Any]], connections: int, scale: float, fps: int | None,
            max_height: int) -> bool:
    """Every connection's sender carries the cap (or a stricter level) and encodes within it."""
    return len(sent) == connections and all(
        s["scale"] >= scale - 1e-9 and (fps is None or (s["maxFramerate"] or 999) <= fps)
        and s["height"] is not None and s["height"] <= max_height for s in sent)


async def _assert_capped(page: Page, connections: int, scale: float, fps: int | None,
                         max_height: int) -> list[dict[str, Any]]:
    """Polled: the limits go on when a connection is negotiated, and the encoder follows."""
    sent: list[dict[str, Any]] = []
    for _ in range(JOIN_MS // 500):
        sent = await page.evaluate(_SENT)
        if _within(sent, connections, scale, fps, max_height):
            return sent
        await page.wait_for_timeout(500)
    raise AssertionError(f"not capped at {max_height} lines / {fps} fps: {sent}")


@pytest.mark.timeout(900)
async def test_a_six_person_call_on_a_busy_machine_blames_no_connection(
    open_page: OpenPage, staff_api: Callable[[str], Awaitable[StaffApi]]
) -> None:
    sanna = await staff_api("sanna")
    appointment = await sanna.appointment(*((name, "guardian") for name in GUESTS))
    staff = await open_page(TABLET_LANDSCAPE, staff="sanna", name="staff")
    await staff_into_room(staff, appointment)
    await staff.evaluate(_WATCH_BANNER)

    # Two people: no cap.
    guests = [await _join(open_page, appointment.links[GUESTS[0]], "guest 1")]
    await _admitted(staff, GUESTS[0])
    await assert_remote_videos_play(staff, 1, timeout_ms=JOIN_MS)
    await _assert_capped(staff, 1, 1, None, 720)

    # Three people: at most 540 lines to each.
    guests.append(await _join(open_page, appointment.links[GUESTS[1]], "guest 2"))
    await _admitted(staff, GUESTS[1])
    await assert_remote_videos_play(staff, 2, timeout_ms=JOIN_MS)
    await _assert_capped(staff, 2, 720 / 540, 24, 540)

    # Six: at most 360 lines and 15 frames a second to each, on every page.
    for index in range(2, len(GUESTS)):
        guests.append(await _join(open_page, appointment.links[GUESTS[index]],
                                  f"guest {index + 1}"))
        await _admitted(staff, GUESTS[index])
    pages = [staff, *guests]
    for page in pages:
        await assert_remote_videos_play(page, len(GUESTS), timeout_ms=JOIN_MS)
    for page in pages:
        await _assert_capped(page, len(GUESTS), 2, 15, 360)
    # A while in the call: every tile still decoding, checked again at the end.
    for page in pages:
        await assert_remote_videos_play(page, len(GUESTS), timeout_ms=JOIN_MS)

    await screenshots(guests[0], "28-six-person-call", ("phone", "tablet-portrait"))
    await screenshots(staff, "29-six-person-call-staff", ("tablet-landscape",))
    await assert_accessible(guests[0], "a six-person call (phone)")
    await assert_accessible(staff, "a six-person call (staff)")

    banner = [await page.evaluate("() => window.__kotaBanner") for page in pages]
    assert banner == [0] * len(pages), f"weak-connection banner shown on a loopback call: {banner}"
    levels = [await page.evaluate(
        "() => [...document.querySelectorAll('.tile')].map((t) => "
        "[t.dataset.sendLevel, t.dataset.sendCause])") for page in pages]
    print(f"levels and causes per page: {levels}")

    # Three leave: the six-person cap (15 frames a second at most levels) comes off.
    for page in guests[2:]:
        await page.close()
    for _ in range(JOIN_MS // 500):
        sent = await staff.evaluate(_SENT)
        if len(sent) == 2 and all(s["maxFramerate"] in (24, 10) for s in sent):
            break
        await staff.wait_for_timeout(500)
    else:
        raise AssertionError(f"the six-person cap is still on with three people: {sent}")
