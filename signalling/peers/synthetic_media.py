"""Synthetic media for headless peers: a moving test pattern and a steady tone.

A bot must send real, encodable media so a call test exercises the codecs and the
transport, not a stub. Each pattern carries a chroma *tint* and each tone its own
*frequency*, which survive VP8 and Opus well, so a receiver can tell from the decoded
media alone whose frames it got (``read_tint``, ``estimate_frequency``).
"""

from __future__ import annotations

import asyncio
import fractions
import math
from array import array
from typing import Final

import av
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

VIDEO_CLOCK_RATE: Final = 90_000
AUDIO_RATE: Final = 48_000
AUDIO_PTIME: Final = 0.020
AUDIO_SAMPLES: Final = int(AUDIO_RATE * AUDIO_PTIME)  # 960 samples: one Opus frame

# (U, V) chroma pairs far apart from each other and from grey (128, 128).
TINTS: Final[tuple[tuple[int, int], ...]] = (
    (64, 192),  # red-ish
    (192, 64),  # blue-ish
    (64, 64),  # green
    (192, 192),  # magenta
    (96, 160),  # orange
    (160, 96),  # teal
)

_BAR_WIDTH: Final = 20
_SQUARE: Final = 48
# If a sender falls this far behind its clock it skips frames instead of bursting.
_MAX_LAG_S: Final = 0.5


class _Pacer:
    """Hands out frame indices at a fixed rate on the event loop's monotonic clock."""

    def __init__(self, rate: float) -> None:
        self.rate = rate
        self._start: float | None = None
        self._next = 0

    async def next_index(self) -> int:
        loop = asyncio.get_running_loop()
        if self._start is None:
            self._start = loop.time()
        due = self._start + self._next / self.rate
        lag = loop.time() - due
        if lag > _MAX_LAG_S:
            self._next += int(lag * self.rate)
            due = self._start + self._next / self.rate
        wait = due - loop.time()
        if wait > 0:
            await asyncio.sleep(wait)
        index = self._next
        self._next += 1
        return index


class TestPatternTrack(MediaStreamTrack):
    """Scrolling bars and a bouncing square on a constant tint, e.g. 320x240 at 15 fps."""

    kind = "video"
    __test__ = False  # not a pytest class, despite the name

    def __init__(
        self,
        width: int = 320,
        height: int = 240,
        fps: int = 15,
        tint: tuple[int, int] = TINTS[0],
    ) -> None:
        super().__init__()
        if width % 2 or height % 2 or width < _SQUARE or height < _SQUARE:
            raise ValueError("width and height must be even and at least 48")
        if not 1 <= fps <= 60:
            raise ValueError("fps must be from 1 to 60")
        self.width = width
        self.height = height
        self.fps = fps
        self.tint = tint
        self.time_base = fractions.Fraction(1, VIDEO_CLOCK_RATE)
        self._pacer = _Pacer(fps)
        period = 2 * _BAR_WIDTH
        self._bars = bytes(
            200 if (x // _BAR_WIDTH) % 2 else 40 for x in range(width + period)
        )
        self._period = period
        self._chroma = (
            bytes([tint[0]]) * (width // 2 * height // 2),
            bytes([tint[1]]) * (width // 2 * height // 2),
        )

    async def recv(self) -> av.VideoFrame:
        if self.readyState != "live":
            raise MediaStreamError
        index = await self._pacer.next_index()
        return self.frame(index)

    def frame(self, index: int) -> av.VideoFrame:
        """Frame number ``index`` of the pattern, with its presentation time set."""
        frame = av.VideoFrame(self.width, self.height, "yuv420p")
        frame.planes[0].update(self._luma(index, frame.planes[0].line_size))
        for plane, value in zip(frame.planes[1:], self._chroma, strict=True):
            plane.update(_padded(value, self.width // 2, plane.line_size))
        frame.pts = index * VIDEO_CLOCK_RATE // self.fps
        frame.time_base = self.time_base
        return frame

    def _luma(self, index: int, line_size: int) -> bytes:
        width, height = self.width, self.height
        shift = (index * 4) % self._period
        row = self._bars[shift : shift + width] + bytes(line_size - width)
        plane = bytearray(row * height)
        # The square bounces along a triangle wave in both directions.
        x = _bounce(index * 6, width - _SQUARE)
        y = _bounce(index * 4, height - _SQUARE)
        white = b"\xeb" * _SQUARE
        for line in range(y, y + _SQUARE):
            start = line * line_size + x
            plane[start : start + _SQUARE] = white
        return bytes(plane)


class ToneTrack(MediaStreamTrack):
    """A sine tone, 48 kHz mono s16 in 20 ms frames, the shape Opus encodes directly."""

    kind = "audio"

    def __init__(self, frequency: int = 440, level: float = 0.25) -> None:
        super().__init__()
        if not 20 <= frequency <= AUDIO_RATE // 4:
            raise ValueError("frequency must be from 20 Hz to 12 kHz")
        self.frequency = frequency
        self.time_base = fractions.Fraction(1, AUDIO_RATE)
        self._pacer = _Pacer(1 / AUDIO_PTIME)
        # One second of tone: an integer frequency repeats exactly, so frames just slice it.
        amplitude = int(32767 * level)
        samples = array(
            "h",
            (
                int(amplitude * math.sin(2 * math.pi * frequency * n / AUDIO_RATE))
                for n in range(AUDIO_RATE)
            ),
        )
        self._second = samples.tobytes() * 2

    async def recv(self) -> av.AudioFrame:
        if self.readyState != "live":
            raise MediaStreamError
        index = await self._pacer.next_index()
        return self.frame(index)

    def frame(self, index: int) -> av.AudioFrame:
        frame = av.AudioFrame(format="s16", layout="mono", samples=AUDIO_SAMPLES)
        offset = (index * AUDIO_SAMPLES) % AUDIO_RATE * 2
        frame.planes[0].update(self._second[offset : offset + AUDIO_SAMPLES * 2])
        frame.pts = index * AUDIO_SAMPLES
        frame.sample_rate = AUDIO_RATE
        frame.time_base = self.time_base
        return frame


def _bounce(step: int, span: int) -> int:
    position = step % (2 * span)
    return position if position <= span else 2 * span - position


def _padded(value: bytes, width: int, line_size: int) -> bytes:
    """A plane's bytes with each row padded to the frame's line size."""
    if line_size == width:
        return value
    pad = bytes(line_size - width)
    return b"".join(value[i : i + width] + pad for i in range(0, len(value), width))


def read_tint(frame: av.VideoFrame) -> tuple[int, int]:
    """The mean (U, V) of a decoded frame, sampled sparsely: which pattern it shows."""
    if frame.format.name != "yuv420p":
        frame = frame.reformat(format="yuv420p")
    means = []
    for plane in frame.planes[1:3]:
        data = memoryview(bytes(plane))
        rows = range(0, plane.height, max(1, plane.height // 16))
        # Rows may be padded past the picture: read only plane.width bytes of each.
        sample = [b for r in rows for b in data[r * plane.line_size : r * plane.line_size
                                                 + plane.width : 4]]
        means.append(round(sum(sample) / len(sample)))
    return means[0], means[1]


def same_tint(seen: tuple[int, int], sent: tuple[int, int], slack: int = 12) -> bool:
    """Whether a decoded tint is the one sent; the TINTS are much further apart than this."""
    return all(abs(a - b) <= slack for a, b in zip(seen, sent, strict=True))


def _mono_samples(frame: av.AudioFrame) -> array[int]:
    """The first channel of a decoded frame as 16-bit samples."""
    if frame.format.name != "s16":  # planar or float: let FFmpeg convert it
        frame = av.AudioResampler(format="s16", layout="mono", rate=frame.sample_rate).resample(
            frame
        )[0]
    channels = len(frame.layout.channels)
    samples = array("h")
    samples.frombytes(bytes(frame.planes[0])[: frame.samples * channels * 2])
    return samples[::channels] if channels > 1 else samples


def audio_level(frame: av.AudioFrame) -> float:
    """Root-mean-square level from 0 (silence) to 1 (full scale)."""
    samples = _mono_samples(frame)
    if not samples:
        return 0.0
    return math.sqrt(sum(s * s for s in samples) / len(samples)) / 32768


def estimate_frequency(frame: av.AudioFrame) -> float:
    """The frequency of a pure tone, from the spacing of its rising zero crossings."""
    samples = _mono_samples(frame)
    rising = [i for i in range(1, len(samples)) if samples[i - 1] < 0 <= samples[i]]
    if len(rising) < 2:
        return 0.0
    return (len(rising) - 1) * frame.sample_rate / (rising[-1] - rising[0])
