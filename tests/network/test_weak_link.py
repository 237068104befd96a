"""A call across a weak link: a family on ~300 ms round trip, 3 % loss and 500 kbit/s
each way (weak_link.py says how, without netem), a professional on a good one.

Both people are Chromium pages in a network namespace with only ``lo``; the server,
coturn and the delay proxy run there too. The family's browser may use only TURN
(relay), and its TURN traffic goes through the delay proxy, whose port the rate limit
and the loss apply to; the professional's browser uses host candidates, as an office
network would. The call must connect and stay up for a minute with frames decoded
throughout, the family's browser must step its video down (web/js/link_quality.js),
and when the link then gets much worse the sound-only offer must appear and work.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import statistics
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, Page, async_playwright, expect

from tests.conftest import PASSWORD
from tests.e2e.conftest import launch_chromium
from tests.e2e.flows import admit, family_to_waiting_room, staff_into_room
from tests.e2e.kota_server import KotaProcess, StaffApi
from tests.e2e.page_checks import (
    RECORD_CONNECTIONS,
    TABLET_LANDSCAPE,
    TABLET_PORTRAIT,
    assert_accessible,
    assert_remote_videos_play,
    screenshots,
)
from tests.network.conftest import (
    _free_udp_and_tcp_port,
    start_turnserver,
    stop_process,
    write_secret,
)
from tests.network.weak_link import (
    NoWeakLink,
    Shape,
    WeakNamespace,
    ensure_tools,
    start_delay_proxy,
)

# Serial: the rule it checks tells a busy device from a weak link, so the machine must
# not be busy with other tests meanwhile.
pytestmark = pytest.mark.serial

DELAY_MS = 150  # each way
WEAK = Shape(rate_kbit=500, loss_percent=3)
# Second phase, too weak for video: the loss alone must trip the rule, since on a busy
# machine the page rightly stops trusting a low bandwidth estimate (link_quality.js).
WORSE = Shape(rate_kbit=80, loss_percent=20)
WATCH_S = 60
FAMILY = "Aada Virta"

# Test-only instrumentation, after RECORD_CONNECTIONS: the family's browser may use
# only relayed routes (through the delay proxy); the professional's gets no ICE servers.
_WITH_CONFIG = """
(() => {{
  const Base = window.RTCPeerConnection;
  window.RTCPeerConnection = function (config = {{}}) {{
    return new Base({{ ...config, {change} }});
  }};
  window.RTCPeerConnection.prototype = Base.prototype;
  Object.assign(window.RTCPeerConnection, Base);
}})();
"""
RELAY_ONLY = _WITH_CONFIG.format(change='iceTransportPolicy: "relay"')
HOST_ONLY = _WITH_CONFIG.format(change="iceServers: []")

# Once a second: what each page receives and sends, its selected route, the sending
# level the page shows on each tile and whether the sound-only offer is up.
_WATCH = """
() => {
  if (window.__kotaWeak) return;
  window.__kotaWeak = [];
  const started = Date.now();
  setInterval(async () => {
    const pcs = window.__kotaTestPeerConnections.filter((pc) => pc.connectionState !== "closed");
    const tiles = [...document.querySelectorAll(".tile")];
    const banner = document.querySelector(".quality-banner");
    const row = {
      t: Date.now() - started, states: pcs.map((pc) => pc.connectionState),
      tiles: tiles.map((t) => t.dataset.connection), levels: tiles.map((t) => t.dataset.sendLevel),
      offer: Boolean(banner && !banner.hidden), framesDecoded: 0, videoBytesSent: 0,
      width: null, height: null, fps: null, limitation: null, rttMs: null,
      fractionLost: null, availableKbps: null, route: null,
    };
    for (const pc of pcs) {
      const stats = await pc.getStats();
      let pairId = null;
      const pairs = {};
      const local = {};
      stats.forEach((s) => {
        if (s.type === "inbound-rtp" && s.kind === "video") {
          row.framesDecoded += s.framesDecoded || 0;
        }
        if (s.type === "outbound-rtp" && s.kind === "video") {
          row.videoBytesSent += s.bytesSent || 0;
          if (s.frameWidth) Object.assign(row, { width: s.frameWidth, height: s.frameHeight,
            fps: s.framesPerSecond ?? null, limitation: s.qualityLimitationReason });
        }
        if (s.type === "remote-inbound-rtp" && s.kind === "video") {
          if (typeof s.roundTripTime === "number") row.rttMs = Math.round(s.roundTripTime * 1000);
          if (typeof s.fractionLost === "number") row.fractionLost = s.fractionLost;
        }
        if (s.type === "transport" && s.selectedCandidatePairId) pairId = s.selectedCandidatePairId;
        if (s.type === "candidate-pair") pairs[s.id] = s;
        if (s.type === "local-candidate") local[s.id] = s.candidateType;
      });
      const pair = pairs[pairId];
      if (pair) {
        if (pair.availableOutgoingBitrate) {
          row.availableKbps = Math.round(pair.availableOutgoingBitrate / 1000);
        }
        row.route = local[pair.localCandidateId] || null;
      }
    }
    window.__kotaWeak.push(row);
  }, 1000);
}
"""
# Printed when the call does not connect: each connection's ICE state and candidates.
_DEBUG = """
async () => {
  const out = [];
  for (const pc of window.__kotaTestPeerConnections) {
    const rows = [];
    (await pc.getStats()).forEach((s) => {
      if (s.type.includes("candidate") || s.type === "transport") rows.push(s);
    });
    out.push({ state: pc.connectionState, gathering: pc.iceGatheringState,
      policy: pc.getConfiguration().iceTransportPolicy, rows });
  }
  return JSON.stringify(out, null, 1);
}
"""
_WATCHED_FOR = "(s) => window.__kotaWeak.length > 0 && window.__kotaWeak.at(-1).t >= s * 1000"


@pytest.mark.timeout(170)
def test_call_adapts_to_a_weak_link_and_offers_sound_only(tmp_path: Path) -> None:
    ensure_tools()
    try:
        namespace = WeakNamespace.create()
    except NoWeakLink as exc:
        pytest.skip(f"no weak-link emulation here: {exc}")
    started = time.monotonic()
    try:
        figures = namespace.run_inside(lambda: _scenario(namespace, tmp_path))
    finally:
        namespace.close()
    print(f"weak link ({time.monotonic() - started:.0f} s):\n{json.dumps(figures, indent=1)}")


async def _scenario(namespace: WeakNamespace, tmp_path: Path) -> dict[str, Any]:
    async with (asyncio.timeout(150), _weak_services(namespace, tmp_path) as (kota, proxy_port),
                async_playwright() as playwright):
        browser = await launch_chromium(playwright)
        try:
            return await _call_across(namespace, kota, proxy_port, browser)
        finally:
            await browser.close()


@asynccontextmanager
async def _weak_services(namespace: WeakNamespace,
                         tmp_path: Path) -> AsyncIterator[tuple[KotaProcess, int]]:
    """coturn, the delay proxy in front of it, the shaping, and ``kota run`` using them."""
    secret = secrets.token_hex(24)
    turn_port = _free_udp_and_tcp_port()
    proxy_port = _free_udp_and_tcp_port()
    coturn = start_turnserver(tmp_path / "coturn", turn_port, secret)
    proxy = kota = None
    try:
        proxy = start_delay_proxy(proxy_port, turn_port, DELAY_MS, tmp_path / "proxy.log")
        namespace.shape(proxy_port, up=WEAK, down=WEAK)
        kota = KotaProcess(tmp_path / "kota", env={
            "KOTA_TURN_URLS": f"turn:127.0.0.1:{proxy_port}?transport=udp",
            "KOTA_TURN_SECRET_FILE": str(write_secret(tmp_path, secret)),
        })
        await kota.start()
        yield kota, proxy_port
    except BaseException:
        print(f"--- kota run ---\n{kota.log()[-6000:] if kota else ''}")
        print(f"--- coturn ---\n{_tail(tmp_path / 'coturn' / 'turn.log')}")
        raise
    finally:
        if kota is not None:
            kota.stop()
        stop_process(proxy)
        stop_process(coturn)


def _tail(path: Path) -> str:
    return path.read_text(errors="replace")[-4000:] if path.exists() else "(none)"


async def _call_across(namespace: WeakNamespace, kota: KotaProcess, proxy_port: int,
                       browser: Browser) -> dict[str, Any]:
    errors: list[str] = []
    async with StaffApi(kota, "sanna") as sanna:
        appointment = await sanna.appointment((FAMILY, "guardian"))

    async def page(name: str, script: str, staff: bool) -> Page:
        context = await browser.new_context(
            viewport=TABLET_LANDSCAPE if staff else TABLET_PORTRAIT,
            timezone_id="Europe/Helsinki", locale="fi-FI", base_url=kota.base)
        await context.add_init_script(RECORD_CONNECTIONS)
        await context.add_init_script(script)
        if staff:
            resp = await context.request.post(
                "/api/session", data={"username": "sanna", "password": PASSWORD})
            assert resp.status == 201, await resp.text()
        opened = await context.new_page()
        opened.on("pageerror", lambda error: errors.append(f"{name}: {error}"))
        opened.on("console", lambda msg: errors.append(f"{name}: {msg.text}")
                  if msg.text.startswith("kota: missing text") else None)
        return opened

    staff = await page("staff", HOST_ONLY, staff=True)
    family = await page("family", RELAY_ONLY, staff=False)
    joined = time.monotonic()
    await staff_into_room(staff, appointment)
    await family_to_waiting_room(family, appointment.links[FAMILY])
    await admit(staff, FAMILY)
    try:
        await assert_remote_videos_play(family, 1, timeout_ms=40_000)
        await assert_remote_videos_play(staff, 1, timeout_ms=40_000)
    except Exception:
        for who, p in (("family", family), ("staff", staff)):
            print(who, await p.evaluate(_DEBUG))
        raise
    connected_s = time.monotonic() - joined

    # Phase 1: a minute on the weak link.
    for each in (staff, family):
        await each.evaluate(_WATCH)
    await family.wait_for_function(_WATCHED_FOR, arg=WATCH_S, timeout=(WATCH_S + 20) * 1000,
                                   polling=1000)
    family_rows: list[dict[str, Any]] = await family.evaluate("() => window.__kotaWeak")
    staff_rows: list[dict[str, Any]] = await staff.evaluate("() => window.__kotaWeak")
    camera: dict[str, Any] = await family.evaluate(
        "() => document.querySelector('video.mirrored').srcObject.getVideoTracks()[0]"
        ".getSettings()")
    _assert_stayed_up(family_rows, "family")
    _assert_stayed_up(staff_rows, "staff")
    assert all(r["route"] == "relay" for r in family_rows if r["route"]), \
        "the family's media must take the relayed route through the delay proxy"
    rtts = [r["rttMs"] for r in family_rows if r["rttMs"]]
    assert rtts and statistics.median(rtts) >= 2 * DELAY_MS * 0.9, f"round trips {rtts}"

    # The family's browser stepped its video down, and sends a smaller picture now.
    levels = [r["levels"][0] for r in family_rows if r["levels"]]
    assert {"reduced", "low"} & set(levels), f"never stepped down: {levels}"
    scale = await family.evaluate(
        """() => window.__kotaTestPeerConnections.filter((pc) => pc.connectionState !== "closed")
          .flatMap((pc) => pc.getTransceivers())
          .filter((t) => t.receiver.track.kind === "video")
          .map((t) => t.sender.getParameters().encodings[0].scaleResolutionDownBy)""")
    assert scale and all(s >= 2 for s in scale), f"video encoding not scaled down: {scale}"
    sent = [r for r in family_rows if r["width"]]
    late = sent[-10:]
    assert late and max(r["width"] for r in late) <= camera["width"] / 2, (
        f"still sending {[r['width'] for r in late]} wide from a {camera['width']} camera")

    # Phase 2: much worse (100 kbit/s, 12 % loss): the sound-only offer, then sound only.
    namespace.reshape(proxy_port, up=WORSE, down=WORSE)
    worse_at = time.monotonic()
    offer = family.locator("[data-action=quality-audio-only]")
    mark = await family.evaluate("() => window.__kotaWeak.length")
    try:
        await expect(offer).to_be_visible(timeout=40_000)
    except AssertionError:
        rows = await family.evaluate("(mark) => window.__kotaWeak.slice(mark)", mark)
        print("family after the link got worse:", json.dumps(rows))
        raise
    offer_s = time.monotonic() - worse_at
    await screenshots(family, "26-family-weak-link", ("tablet-portrait",))
    await assert_accessible(family, "the call with the sound-only offer")
    mark = await family.evaluate("() => window.__kotaWeak.length")
    await offer.click()
    await expect(family.locator("[data-action=audio-only]")).to_have_class("control is-on")
    await expect(offer).to_be_hidden()
    # No video goes out any more: the bytes sent stay the same for three seconds.
    await family.wait_for_function(
        """(mark) => {
          const w = window.__kotaWeak.slice(mark);
          const n = w.length;
          return n >= 5 && w[n - 1].videoBytesSent === w[n - 4].videoBytesSent;
        }""", arg=mark, timeout=30_000, polling=500)
    assert not errors, errors

    return {
        "connected_after_s": round(connected_s, 1),
        "camera": f"{camera['width']}x{camera['height']}@{camera.get('frameRate')}",
        "family_rtt_ms_median": statistics.median(rtts),
        "family_first_sent": _summary(sent[:3]),
        "family_last_sent": _summary(late),
        "family_levels": _changes(levels),
        "staff_levels": _changes([r["levels"][0] for r in staff_rows if r["levels"]]),
        "family_available_kbps_last": [r["availableKbps"] for r in family_rows[-5:]],
        "family_fraction_lost": [r["fractionLost"] for r in family_rows[-5:]],
        "staff_last_sent": _summary([r for r in staff_rows if r["width"]][-10:]),
        "offer_after_worse_s": round(offer_s, 1),
        "family_timeline": [
            f"{r['t'] // 1000}s {r['levels'][0] if r['levels'] else '-'} "
            f"{r['availableKbps']}k lost={r['fractionLost']} {r['width']}@{r['fps']}"
            for r in family_rows[::2]],
    }


def _assert_stayed_up(rows: list[dict[str, Any]], who: str) -> None:
    """Connected all minute, never "lost", and frames decoded in every 5 s stretch."""
    assert rows[-1]["t"] >= WATCH_S * 1000, f"{who}: watched only {rows[-1]['t']} ms"
    for row in rows:
        assert "failed" not in row["states"], f"{who}: connection failed at {row['t']} ms"
        assert "lost" not in row["tiles"], f"{who}: tile showed lost at {row['t']} ms"
    for before, after in zip(rows, rows[5:], strict=False):
        assert after["framesDecoded"] > before["framesDecoded"], (
            f"{who}: no frame decoded between {before['t']} and {after['t']} ms")


def _summary(rows: list[dict[str, Any]]) -> list[str]:
    return [f"{r['width']}x{r['height']}@{r['fps']} {r['limitation']}" for r in rows]


def _changes(levels: list[str]) -> list[str]:
    return [level for i, level in enumerate(levels) if i == 0 or levels[i - 1] != level]
