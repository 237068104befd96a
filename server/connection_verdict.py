"""What a connection test's numbers mean for the call: video, audio only, or too weak.

Pure and table-tested. The thresholds go to the client in the connection test's answer
(``thresholds_json``), so the browser judges with exactly these numbers and needs no
copy of them; docs/api.md explains where they come from.
"""

from __future__ import annotations

import enum
from dataclasses import asdict, dataclass
from typing import Any, Final


class Verdict(enum.StrEnum):
    GOOD = "good"  # video and audio will work
    AUDIO_ONLY = "audio_only"  # suggest turning the camera off
    TOO_WEAK = "too_weak"  # not even audio will be usable
    NO_CONNECTION = "no_connection"  # nothing came back: no numbers to judge


@dataclass(frozen=True)
class Limits:
    """The worst round trip, loss and jitter and the least bitrate a call mode tolerates."""

    max_rtt_ms: float
    max_loss_pct: float
    max_jitter_ms: float
    min_bitrate_kbps: float

    def allow(self, rtt_ms: float, loss_pct: float, jitter_ms: float,
              bitrate_kbps: float) -> bool:
        return (rtt_ms <= self.max_rtt_ms and loss_pct <= self.max_loss_pct
                and jitter_ms <= self.max_jitter_ms and bitrate_kbps >= self.min_bitrate_kbps)


# The bitrate is everything the echo sent back (audio and video): a floor the path
# carried, not its capacity, since the echo sends no more than the caller sends it.
# Video: ITU-T G.114 keeps one-way delay under 150 ms for easy conversation (300 ms RTT);
# VP8 without retransmission shows artefacts beyond a few per cent loss; below about
# 150 kbit/s in all, small video and audio no longer fit together.
VIDEO: Final = Limits(max_rtt_ms=300, max_loss_pct=3, max_jitter_ms=30, min_bitrate_kbps=150)
# Audio: Opus with in-band FEC stays intelligible to about 10 % loss; conversation still
# works up to about 350 ms one way; a jitter buffer hides 100 ms; Opus needs ~20 kbit/s.
AUDIO: Final = Limits(max_rtt_ms=700, max_loss_pct=10, max_jitter_ms=100, min_bitrate_kbps=20)


def judge(rtt_ms: float | None, loss_pct: float | None, jitter_ms: float | None,
          bitrate_kbps: float | None) -> Verdict:
    """The verdict for one test. A missing number means media never came back."""
    if rtt_ms is None or loss_pct is None or jitter_ms is None or bitrate_kbps is None:
        return Verdict.NO_CONNECTION
    if VIDEO.allow(rtt_ms, loss_pct, jitter_ms, bitrate_kbps):
        return Verdict.GOOD
    if AUDIO.allow(rtt_ms, loss_pct, jitter_ms, bitrate_kbps):
        return Verdict.AUDIO_ONLY
    return Verdict.TOO_WEAK


def thresholds_json() -> dict[str, Any]:
    """The thresholds as the connection test's answer carries them."""
    return {"video": asdict(VIDEO), "audio": asdict(AUDIO),
            "verdicts": [verdict.value for verdict in Verdict]}
