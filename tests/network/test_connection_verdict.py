"""The connection test's pure parts: the verdict table, the per-caller start limit, and
the documented thresholds matching the code."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from server.connection_tests import StartLimiter
from server.connection_verdict import AUDIO, VIDEO, Verdict, judge, thresholds_json
from signalling.peers.ice_policy import IcePolicy

DOCS = Path(__file__).resolve().parents[2] / "docs"


@pytest.mark.parametrize(("rtt", "loss", "jitter", "kbps", "verdict"), [
    (20, 0, 2, 900, Verdict.GOOD),
    (300, 3, 30, 150, Verdict.GOOD),  # every limit is inclusive
    (301, 0, 2, 900, Verdict.AUDIO_ONLY),
    (20, 3.1, 2, 900, Verdict.AUDIO_ONLY),
    (20, 0, 31, 900, Verdict.AUDIO_ONLY),
    (20, 0, 2, 149, Verdict.AUDIO_ONLY),
    (700, 10, 100, 20, Verdict.AUDIO_ONLY),
    (701, 0, 2, 900, Verdict.TOO_WEAK),
    (20, 10.5, 2, 900, Verdict.TOO_WEAK),
    (20, 0, 101, 900, Verdict.TOO_WEAK),
    (20, 0, 2, 19, Verdict.TOO_WEAK),
    (None, 0, 2, 900, Verdict.NO_CONNECTION),
    (20, None, 2, 900, Verdict.NO_CONNECTION),
    (20, 0, None, 900, Verdict.NO_CONNECTION),
    (20, 0, 2, None, Verdict.NO_CONNECTION),
])
def test_verdict(rtt: float | None, loss: float | None, jitter: float | None,
                 kbps: float | None, verdict: Verdict) -> None:
    assert judge(rtt, loss, jitter, kbps) is verdict


def test_thresholds_sent_to_clients_are_the_ones_judged_by() -> None:
    sent = thresholds_json()
    assert sent["video"] == {"max_rtt_ms": VIDEO.max_rtt_ms, "max_loss_pct": VIDEO.max_loss_pct,
                             "max_jitter_ms": VIDEO.max_jitter_ms,
                             "min_bitrate_kbps": VIDEO.min_bitrate_kbps}
    assert sent["audio"]["max_rtt_ms"] == AUDIO.max_rtt_ms
    assert sent["verdicts"] == ["good", "audio_only", "too_weak", "no_connection"]


def test_documented_thresholds_match_the_code() -> None:
    text = (DOCS / "api.md").read_text()
    for name, limits in (("video", VIDEO), ("audio", AUDIO)):
        row = re.search(rf"^\| {name} \|(.+)\|$", text, flags=re.MULTILINE)
        assert row, f"docs/api.md has no thresholds row for {name}"
        numbers = [float(n) for n in re.findall(r"[\d.]+", row.group(1))]
        assert numbers == [limits.max_rtt_ms, limits.max_loss_pct, limits.max_jitter_ms,
                           limits.min_bitrate_kbps], row.group(0)


def test_start_limiter_allows_a_burst_then_says_when() -> None:
    limiter = StartLimiter(max_starts=3, window=60)
    for t in (0.0, 1.0, 2.0):
        assert limiter.retry_after("l:1", t) == 0
        limiter.started("l:1", t)
    assert limiter.retry_after("l:1", 10) == 50  # the first start leaves the window at 60
    assert limiter.retry_after("l:2", 10) == 0  # another caller is not affected
    assert limiter.retry_after("l:1", 60) == 0
    limiter.started("l:1", 60)
    assert limiter.retry_after("l:1", 60.5) == 0.5


def test_start_limiter_forgets_quiet_callers() -> None:
    limiter = StartLimiter(max_starts=1, window=10)
    for n in range(100):
        limiter.started(f"l:{n}", 0)
    limiter.retry_after("l:new", 11)
    assert len(limiter._starts) == 1


def test_ice_policy_never_leaves_aiortc_its_public_stun_default() -> None:
    config = IcePolicy().configuration()
    assert config.iceServers == []  # an explicit empty list; None would mean Google's STUN
