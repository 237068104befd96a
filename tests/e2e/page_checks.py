"""What the browser tests look at in a page: remote video frames, accessibility
(axe-core), and screenshots at the sizes families use."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

from axe_playwright_python.async_playwright import Axe  # type: ignore[import-untyped]
from playwright.async_api import Page, ViewportSize

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "screenshots"
DOCS_SCREENSHOTS = ROOT / "docs" / "screenshots"

TABLET_PORTRAIT = ViewportSize(width=768, height=1024)
TABLET_LANDSCAPE = ViewportSize(width=1024, height=768)
PHONE = ViewportSize(width=390, height=844)
SIZES: dict[str, ViewportSize] = {
    "tablet-portrait": TABLET_PORTRAIT,
    "tablet-landscape": TABLET_LANDSCAPE,
    "phone": PHONE,
}

# Keeps every RTCPeerConnection and WebSocket the page makes, so a test can read
# getStats() or cut the socket. Injected by the test before any page script runs;
# the pages themselves expose nothing.
RECORD_CONNECTIONS = """
(() => {
  const record = (name, list) => {
    const Original = window[name];
    window[name] = function (...args) {
      const made = new Original(...args);
      list.push(made);
      return made;
    };
    window[name].prototype = Original.prototype;
    Object.assign(window[name], Original);
  };
  window.__kotaTestPeerConnections = [];
  window.__kotaTestSockets = [];
  record("RTCPeerConnection", window.__kotaTestPeerConnections);
  record("WebSocket", window.__kotaTestSockets);
})();
"""

_FRAMES_DECODED = """
async () => {
  const counts = [];
  for (const pc of window.__kotaTestPeerConnections || []) {
    if (pc.connectionState === "closed") continue;
    const stats = await pc.getStats();
    stats.forEach((s) => {
      if (s.type === "inbound-rtp" && s.kind === "video") counts.push(s.framesDecoded || 0);
    });
  }
  return counts;
}
"""

_REMOTE_VIDEO_WIDTHS = """
() => [...document.querySelectorAll("video.remote")]
  .filter((v) => v.offsetParent !== null).map((v) => v.videoWidth)
"""


# Page-side polling: wait_for_function does not await an async predicate, so the
# stats are refreshed into a global that a plain predicate can read.
_WATCH_FRAMES = f"""
() => {{
  if (window.__kotaTestFrames) return;
  window.__kotaTestFrames = [];
  const read = {_FRAMES_DECODED};
  setInterval(async () => {{ window.__kotaTestFrames = await read(); }}, 100);
}}
"""


async def frames_decoded(page: Page) -> list[int]:
    counts: list[int] = await page.evaluate(_FRAMES_DECODED)
    return counts


async def assert_remote_videos_play(page: Page, count: int, timeout_ms: float = 20_000) -> None:
    """``count`` remote <video>s show pictures, and every inbound video keeps decoding."""
    await page.wait_for_function(
        f"""() => {{
          const widths = ({_REMOTE_VIDEO_WIDTHS})();
          return widths.length === {count} && widths.every((w) => w > 0);
        }}""",
        timeout=timeout_ms,
    )
    # Chromium caches a connection's stats for a moment, and a new connection has no
    # inbound-rtp until its first packet, so wait for the stats rather than read once.
    await page.evaluate(_WATCH_FRAMES)
    await page.wait_for_function(
        f"""() => {{
          const now = window.__kotaTestFrames;
          return now.length >= {count} && now.every((n) => n > 0);
        }}""",
        timeout=timeout_ms,
    )
    before = await page.evaluate("() => window.__kotaTestFrames")
    await page.wait_for_function(
        """(before) => {
          const now = window.__kotaTestFrames;
          return now.length >= before.length && before.every((n, i) => now[i] > n);
        }""",
        arg=before,
        timeout=timeout_ms,
    )


async def assert_accessible(page: Page, what: str) -> None:
    """axe-core finds no serious or critical violation on the page as it is now."""
    results = await Axe().run(page)
    bad: list[dict[str, Any]] = [
        v for v in results.response["violations"] if v.get("impact") in ("serious", "critical")
    ]
    summary = [
        f"{v['id']} ({v['impact']}): {v['help']} — {[n['target'] for n in v['nodes']][:3]}"
        for v in bad
    ]
    assert not bad, f"accessibility problems on {what}:\n" + "\n".join(summary)


async def screenshots(page: Page, name: str, sizes: tuple[str, ...] = tuple(SIZES)) -> None:
    """Save the page at each size to test-artifacts/screenshots; the page keeps its size.

    With KOTA_UPDATE_SCREENSHOTS=1 the first size (the step's main one) also goes to
    docs/screenshots, the set the README shows.
    """
    original = page.viewport_size
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for index, size in enumerate(sizes):
        await page.set_viewport_size(SIZES[size])
        await page.evaluate("() => new Promise((r) => requestAnimationFrame(() => r(null)))")
        path = ARTIFACTS / f"{name}-{size}.png"
        await page.screenshot(path=str(path), animations="disabled", caret="initial")
        if index == 0 and os.environ.get("KOTA_UPDATE_SCREENSHOTS") == "1":
            DOCS_SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, DOCS_SCREENSHOTS / path.name)
    if original:
        await page.set_viewport_size(original)
