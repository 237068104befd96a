"""Six people in one call on this machine: does every tile keep moving, and does any
page blame the connection?

``python -m bench six-pages``: ``kota run`` on loopback and six headless Chromium pages
(Debian's, fake camera and microphone, loopback ICE) in one browser: a professional
and five guardians, all in one call, a full mesh (each page encodes five streams and
decodes five). For each round the pages join, the call settles, and then for
``--seconds`` the benchmark reads every page's ``getStats()``: frames decoded per
second for each remote tile (median and 10th percentile over all 30 tiles), what each
page sends (height, frame rate, ``qualityLimitationReason``), and whether any page
ever showed the weak-connection banner (from joining to the end of the round).

Rounds alternate between the rules *before* (``KOTA_LINK_RULE = "before"``: no
per-peer cap, every limit blamed on the network, as Kota did up to 2026-12) and
*after* (docs/web-client.md, "Weak connections" and "Sending in a group call"), so
that both meet the same load on a shared machine.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from playwright.async_api import Browser, BrowserContext, Page, async_playwright

from bench.seed import SeededCall, seed_calls
from bench.server_process import ServerProcess, cores_busy_seconds
from bench.signalling_relay import REPO, free_port
from bench.web_first_frame import ADMIT_AT_ONCE, CHROMIUM, CHROMIUM_ARGS
from server.settings import load_settings
from server.staff_auth import COOKIE_NAME

MODES = ("before", "after")
JOIN_TIMEOUT_MS = 120_000
VIEWPORT = {"width": 800, "height": 600}

# Before any page script: keep every RTCPeerConnection; note whether the weak-link
# banner was ever shown; pick the rule (link_quality.js reads KOTA_LINK_RULE).
_PAGE_SETUP = """
(() => {
  window.KOTA_LINK_RULE = %s;
  const Original = window.RTCPeerConnection;
  window.__benchPcs = [];
  window.RTCPeerConnection = function (...args) {
    const made = new Original(...args);
    window.__benchPcs.push(made);
    return made;
  };
  window.RTCPeerConnection.prototype = Original.prototype;
  Object.assign(window.RTCPeerConnection, Original);
  window.__benchBanner = 0;
  setInterval(() => {
    const banner = document.querySelector(".quality-banner");
    if (banner && !banner.hidden) window.__benchBanner += 1;
  }, 500);
  // What the rule saw: each connection read as link_quality.js reads it, every 2 s.
  window.__benchSeen = { samples: 0, lowEstimate: 0, lossy: 0, cpu: 0, decoderBehind: 0,
    busy: 0, rtt: [], loss: [] };
  const previous = new Map();
  setInterval(async () => {
    // Next to the page's own modules (a versioned URL where the server versions them).
    const entry = document.querySelector('script[type="module"]');
    if (!entry) return;
    const rule = await import(new URL("../link_quality.js", entry.src));
    for (const pc of window.__benchPcs) {
      if (pc.connectionState !== "connected") continue;
      const sample = rule.readSample(await pc.getStats(), previous.get(pc) || null);
      const first = !previous.has(pc);
      previous.set(pc, sample.counters);
      if (first) continue;
      const seen = window.__benchSeen;
      seen.samples += 1;
      seen.lowEstimate += sample.availableKbps !== null && sample.availableKbps < 150;
      seen.lossy += sample.loss !== null && sample.loss >= 0.1;
      seen.cpu += sample.limitation === "cpu";
      seen.decoderBehind += sample.framesReceived > 0 &&
        sample.framesDecoded < 0.8 * sample.framesReceived;
      seen.busy += rule.deviceBusy ? rule.deviceBusy(sample) : 0;
      if (sample.rttMs !== null) seen.rtt.push(sample.rttMs);
      if (sample.loss !== null) seen.loss.push(Math.round(sample.loss * 1000) / 10);
    }
  }, 2000);
})();
"""

# One reading of a page: counters of every inbound video (by connection and SSRC),
# what the page sends on each connection, and the banner count so far.
_READ = """
async () => {
  const inbound = {};
  const sent = [];
  let index = 0;
  for (const pc of window.__benchPcs) {
    index += 1;
    if (pc.connectionState === "closed") continue;
    const stats = await pc.getStats();
    let pairId = null;
    const pairs = {};
    const out = { height: null, fps: null, limitation: null, availableKbps: null,
      packetsSent: 0, packetsLost: 0, rttMs: null };
    stats.forEach((s) => {
      if (s.type === "inbound-rtp" && s.kind === "video") {
        inbound[`${index}:${s.ssrc}`] = { decoded: s.framesDecoded || 0,
          received: s.framesReceived || 0, dropped: s.framesDropped || 0,
          height: s.frameHeight || null };
      } else if (s.type === "outbound-rtp") {
        out.packetsSent += s.packetsSent || 0;
        if (s.kind === "video" && s.frameHeight) {
          Object.assign(out, { height: s.frameHeight, fps: s.framesPerSecond ?? null,
            limitation: s.qualityLimitationReason || null });
        }
      } else if (s.type === "remote-inbound-rtp") {
        out.packetsLost += Math.max(0, s.packetsLost || 0);
        if (typeof s.roundTripTime === "number") {
          out.rttMs = Math.max(out.rttMs ?? 0, Math.round(s.roundTripTime * 1000));
        }
      } else if (s.type === "transport" && s.selectedCandidatePairId) {
        pairId = s.selectedCandidatePairId;
      } else if (s.type === "candidate-pair") {
        pairs[s.id] = s;
      }
    });
    const pair = pairs[pairId];
    if (pair && pair.availableOutgoingBitrate) {
      out.availableKbps = Math.round(pair.availableOutgoingBitrate / 1000);
    }
    if (out.height !== null) sent.push({ ...out, key: String(index) });
  }
  const tiles = [...document.querySelectorAll(".tile")];
  return { at: performance.now(), inbound, sent, banner: window.__benchBanner,
    seen: window.__benchSeen,
    levels: tiles.map((t) => t.dataset.sendLevel || null),
    causes: tiles.map((t) => t.dataset.sendCause || null) };
}
"""


@dataclass
class Round:
    mode: str
    pages: int
    joined: bool
    tile_fps: list[float] = field(default_factory=list)
    banner_pages: int = 0
    sent_heights: list[int] = field(default_factory=list)
    sent_fps: list[float] = field(default_factory=list)
    limitations: dict[str, int] = field(default_factory=dict)
    levels: dict[str, int] = field(default_factory=dict)
    causes: dict[str, int] = field(default_factory=dict)
    cpu_busy: float = 0.0  # both cores' busy share during the window, 0 to 1
    loss: float = 0.0  # packets reported lost / sent over the window, all connections
    decoded_share: float = 1.0  # frames decoded / complete frames received, all tiles
    kbps: list[int] = field(default_factory=list)  # bandwidth estimates at the end
    rtt_ms: list[int] = field(default_factory=list)
    seen: dict[str, Any] = field(default_factory=dict)  # what the rule saw, all pages

    def line(self) -> str:
        fps = sorted(self.tile_fps)
        median = statistics.median(fps) if fps else 0.0
        p10 = fps[len(fps) // 10] if fps else 0.0
        heights = sorted(self.sent_heights)
        return (f"{self.mode:<6} pages {self.pages} tiles {len(fps):2d} "
                f"fps median {median:5.1f} p10 {p10:5.1f}  banner on {self.banner_pages} "
                f"page(s)  sent height median {statistics.median(heights) if heights else 0} "
                f"limit {self.limitations} levels {self.levels} causes {self.causes} "
                f"loss {self.loss:.1%} decoded/received {self.decoded_share:.0%} "
                f"estimate kbit/s median {_median(self.kbps)} rtt ms median "
                f"{_median(self.rtt_ms)} cpu {self.cpu_busy:.0%}"
                f"{'' if self.joined else '  (not all joined)'}\n    rule saw: "
                f"{ {k: v for k, v in self.seen.items() if not isinstance(v, list)} } "
                f"rtt ms p50/p90 {_quantiles(self.seen.get('rtt', []))} "
                f"loss % p50/p90 {_quantiles(self.seen.get('loss', []))}")


def _quantiles(values: Sequence[float]) -> str:
    ordered = sorted(values)
    if not ordered:
        return "-"
    return f"{ordered[len(ordered) // 2]}/{ordered[len(ordered) * 9 // 10]}"


def _median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else 0


async def _open(browser: Browser, base: str, mode: str) -> BrowserContext:
    context = await browser.new_context(base_url=base, viewport=VIEWPORT,  # type: ignore[arg-type]
                                        locale="fi-FI", timezone_id="Europe/Helsinki")
    rule = '"before"' if mode == "before" else "null"
    await context.add_init_script(_PAGE_SETUP % rule)
    return context


async def one_round(browser: Browser, base: str, call: SeededCall, mode: str,
                    settle_s: float, seconds: float) -> Round:
    pages_count = 1 + len(call.guest_tokens)
    contexts: list[BrowserContext] = []
    try:
        staff_context = await _open(browser, base, mode)
        contexts.append(staff_context)
        await staff_context.add_cookies(
            [{"name": COOKIE_NAME, "value": call.staff_cookie, "url": base}])
        staff = await staff_context.new_page()
        await staff.goto(f"/staff/call?appointment={call.appointment_id}")
        await staff.locator("[data-action=open-room]").click(timeout=JOIN_TIMEOUT_MS)
        await staff.locator(".call-view .people").wait_for(timeout=JOIN_TIMEOUT_MS)
        await staff.evaluate(ADMIT_AT_ONCE)
        pages: list[Page] = [staff]
        for token in call.guest_tokens:
            context = await _open(browser, base, mode)
            contexts.append(context)
            page = await context.new_page()
            await page.goto(f"/join#{token}")
            for action in ("welcome-continue", "devices-continue", "enter-waiting-room"):
                await page.locator(f"[data-action={action}]").click(timeout=JOIN_TIMEOUT_MS)
            await page.locator(".call-view").wait_for(timeout=JOIN_TIMEOUT_MS)
            pages.append(page)
        await _everyone_decoding(pages, pages_count - 1, mode)
        await asyncio.sleep(settle_s)
        cores_before = cores_busy_seconds()
        wall_before = time.monotonic()
        first = [await page.evaluate(_READ) for page in pages]
        await asyncio.sleep(seconds)
        last = [await page.evaluate(_READ) for page in pages]
        busy = sum(cores_busy_seconds()) - sum(cores_before)
        # Everyone in: each page decoded frames from every other during the window.
        joined = all(
            len(b["inbound"]) == pages_count - 1 and all(
                end["decoded"] > a["inbound"].get(key, end)["decoded"]
                for key, end in b["inbound"].items())
            for a, b in zip(first, last, strict=True))
        result = Round(mode, pages_count, joined,
                       cpu_busy=busy / (len(cores_before) * (time.monotonic() - wall_before)))
        packets = lost = received = decoded = 0
        for a, b in zip(first, last, strict=True):
            elapsed = (b["at"] - a["at"]) / 1000
            for key, end in b["inbound"].items():
                start = a["inbound"].get(key, end)
                result.tile_fps.append((end["decoded"] - start["decoded"]) / elapsed)
                received += end["received"] - start["received"]
                decoded += end["decoded"] - start["decoded"]
            earlier = {s["key"]: s for s in a["sent"]}
            for out in b["sent"]:
                start = earlier.get(out["key"], out)
                packets += out["packetsSent"] - start["packetsSent"]
                lost += out["packetsLost"] - start["packetsLost"]
                if out["availableKbps"] is not None:
                    result.kbps.append(out["availableKbps"])
                if out["rttMs"] is not None:
                    result.rtt_ms.append(out["rttMs"])
            result.banner_pages += b["banner"] > 0
            for name, value in b["seen"].items():
                if isinstance(value, list):
                    result.seen.setdefault(name, []).extend(value)
                else:
                    result.seen[name] = result.seen.get(name, 0) + value
            for sent in b["sent"]:
                result.sent_heights.append(sent["height"])
                if sent["fps"] is not None:
                    result.sent_fps.append(sent["fps"])
                _count(result.limitations, sent["limitation"])
            for level in b["levels"]:
                _count(result.levels, level)
            for cause in b["causes"]:
                _count(result.causes, cause)
        result.loss = lost / packets if packets > 0 else 0.0
        result.decoded_share = decoded / received if received > 0 else 1.0
        return result
    finally:
        for context in contexts:
            await context.close()


async def _everyone_decoding(pages: Sequence[Page], others: int, mode: str) -> None:
    """Wait until every page decodes video from every other (or JOIN_TIMEOUT_MS)."""
    deadline = time.monotonic() + JOIN_TIMEOUT_MS / 1000
    while time.monotonic() < deadline:
        readings = [await page.evaluate(_READ) for page in pages]
        if all(len(r["inbound"]) == others and all(v["decoded"] > 0 for v in r["inbound"].values())
               for r in readings):
            return
        await asyncio.sleep(1.0)
    print(f"  {mode}: not every page decoded every other in time", file=sys.stderr)


def _count(counts: dict[str, int], key: str | None) -> None:
    name = key or "-"
    counts[name] = counts.get(name, 0) + 1


async def run(rounds: int, guests: int, settle_s: float, seconds: float,
              workdir: Path, modes: Sequence[str] = MODES) -> list[Round]:
    """``rounds`` rounds of each mode, alternating (before, after, before, …)."""
    port = free_port()
    env_settings = {
        "KOTA_HOST": "127.0.0.1",
        "KOTA_PORT": str(port),
        "KOTA_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "KOTA_DATA_DIR": str(workdir / "kota-data"),
    }
    calls = await seed_calls(load_settings(env_settings), len(modes) * rounds, guests,
                             datetime.now(UTC))
    server = await ServerProcess.start(
        "kota", [sys.executable, "-m", "server.cli", "run"],
        env={"PATH": "/usr/bin:/bin", "PYTHONDONTWRITEBYTECODE": "1", **env_settings},
        cwd=REPO, port=port, log_path=workdir / "kota.log", core=None,
    )
    base = f"http://127.0.0.1:{port}"
    results: list[Round] = []
    try:
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(executable_path=CHROMIUM,
                                                       args=CHROMIUM_ARGS)
            try:
                for index, call in enumerate(calls):
                    mode = modes[index % len(modes)]
                    result = await one_round(browser, base, call, mode, settle_s, seconds)
                    print(f"  round {index + 1}: {result.line()}", file=sys.stderr)
                    results.append(result)
            finally:
                await browser.close()
    finally:
        await server.stop()
    return results


def summary(results: Sequence[Round]) -> dict[str, dict[str, Any]]:
    """Per mode: every tile's frame rate pooled over its rounds, and the banner count."""
    out: dict[str, dict[str, Any]] = {}
    for mode in MODES:
        mine = [r for r in results if r.mode == mode]
        fps = sorted(f for r in mine for f in r.tile_fps)
        heights = sorted(h for r in mine for h in r.sent_heights)
        out[mode] = {
            "rounds": len(mine),
            "tiles": len(fps),
            "fps_median": statistics.median(fps) if fps else 0.0,
            "fps_p10": fps[len(fps) // 10] if fps else 0.0,
            "banner_pages": [r.banner_pages for r in mine],
            "sent_height_median": statistics.median(heights) if heights else 0,
            "cpu_busy": [round(r.cpu_busy, 2) for r in mine],
        }
    return out


def report(results: Sequence[Round], pages: int, seconds: float) -> str:
    lines = [f"{pages} pages in one call, headless Chromium on loopback, {seconds:.0f} s "
             "windows; frames decoded per second per remote tile"]
    for mode, s in summary(results).items():
        lines.append(
            f"{mode:<6} rounds {s['rounds']}  tiles {s['tiles']:3d}  median "
            f"{s['fps_median']:5.1f}  p10 {s['fps_p10']:5.1f}  sent height median "
            f"{s['sent_height_median']}  pages showing the weak-link banner "
            f"{s['banner_pages']}  cores busy {s['cpu_busy']}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench six-pages",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=2, help="rounds of each mode")
    parser.add_argument("--pages", type=int, default=6, help="people in the call (2 to 6)")
    parser.add_argument("--settle", type=float, default=15.0,
                        help="seconds after everyone sees everyone, before measuring")
    parser.add_argument("--seconds", type=float, default=30.0, help="measuring window")
    parser.add_argument("--modes", default="before,after",
                        help="rules to measure, in turn (before,after)")
    args = parser.parse_args(argv)
    if not 2 <= args.pages <= 6:
        parser.error("--pages must be 2 to 6 (a call holds six)")
    if not Path(CHROMIUM).exists():
        print(f"{CHROMIUM} is missing: run `bash deploy/install-system-deps.sh`", file=sys.stderr)
        return 2
    started = datetime.now(UTC)
    with tempfile.TemporaryDirectory(prefix="kota-six-pages-") as tmp:
        modes = [m for m in args.modes.split(",") if m]
        if not modes or not set(modes) <= set(MODES):
            parser.error("--modes takes before and/or after")
        results = asyncio.run(run(args.rounds, args.pages - 1, args.settle, args.seconds,
                                  Path(tmp), modes))
    print(f"{started:%Y-%m-%d %H:%M} UTC")
    print(report(results, args.pages, args.seconds))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
