"""The bots' test pattern and tone: real frames that encode, decode and say who sent them."""

from __future__ import annotations

import asyncio
from typing import Any

import av
import pytest

from signalling.peers.synthetic_media import (
    AUDIO_RATE,
    AUDIO_SAMPLES,
    TINTS,
    TestPatternTrack,
    ToneTrack,
    audio_level,
    estimate_frequency,
    read_tint,
    same_tint,
)


def test_pattern_frames_have_the_size_tint_and_advancing_pts() -> None:
    track = TestPatternTrack(320, 240, fps=15, tint=TINTS[3])
    frames = [track.frame(i) for i in range(3)]
    assert [(f.width, f.height, f.format.name) for f in frames] == [(320, 240, "yuv420p")] * 3
    assert [f.pts for f in frames] == [0, 6000, 12000]  # 90 kHz clock at 15 fps
    assert all(read_tint(f) == TINTS[3] for f in frames)


def test_pattern_moves_from_frame_to_frame() -> None:
    track = TestPatternTrack()
    luma = [bytes(track.frame(i).planes[0]) for i in range(3)]
    assert luma[0] != luma[1] and luma[1] != luma[2] and luma[0] != luma[2]
    assert b"\xeb" * 48 in luma[0]  # the bouncing square
    # The picture depends on the frame number only, so every peer sends the same one.
    assert bytes(TestPatternTrack().frame(2).planes[0]) == luma[2]


def test_pattern_survives_vp8_and_decodes_to_its_tint() -> None:
    track = TestPatternTrack(tint=TINTS[1])
    encoder = av.CodecContext.create("libvpx", "w")
    encoder.width, encoder.height, encoder.pix_fmt = 320, 240, "yuv420p"
    encoder.time_base = track.time_base
    encoder.bit_rate = 300_000
    decoder = av.CodecContext.create("vp8", "r")
    decoded = [
        picture
        for i in range(15)
        for packet in encoder.encode(track.frame(i))
        for picture in decoder.decode(packet)
    ]
    assert len(decoded) >= 10
    assert (decoded[-1].width, decoded[-1].height) == (320, 240)
    assert same_tint(read_tint(decoded[-1]), TINTS[1])
    assert not same_tint(read_tint(decoded[-1]), TINTS[0])


def test_tone_frames_are_20_ms_of_the_frequency_with_advancing_pts() -> None:
    track = ToneTrack(frequency=660, level=0.25)
    frames = [track.frame(i) for i in range(3)]
    assert [f.pts for f in frames] == [0, AUDIO_SAMPLES, 2 * AUDIO_SAMPLES]
    assert all(f.samples == AUDIO_SAMPLES and f.sample_rate == AUDIO_RATE for f in frames)
    assert abs(estimate_frequency(frames[1]) - 660) < 5
    assert 0.17 < audio_level(frames[1]) < 0.18  # a sine's RMS is its peak / sqrt(2)


def test_tone_survives_opus() -> None:
    track = ToneTrack(frequency=880)
    encoder = av.CodecContext.create("libopus", "w")
    encoder.sample_rate, encoder.layout, encoder.format = AUDIO_RATE, "mono", "s16"
    decoder = av.CodecContext.create("opus", "r")
    decoded = [
        sound
        for i in range(25)
        for packet in encoder.encode(track.frame(i))
        for sound in decoder.decode(packet)
    ]
    assert len(decoded) >= 20
    assert abs(estimate_frequency(decoded[-1]) - 880) < 20
    assert audio_level(decoded[-1]) > 0.1


def test_silence_has_no_level_and_no_frequency() -> None:
    frame = av.AudioFrame(format="s16", layout="mono", samples=AUDIO_SAMPLES)
    frame.planes[0].update(bytes(AUDIO_SAMPLES * 2))
    frame.sample_rate = AUDIO_RATE
    assert audio_level(frame) == 0.0
    assert estimate_frequency(frame) == 0.0


async def test_tracks_pace_themselves_on_the_clock() -> None:
    video, audio = TestPatternTrack(fps=15), ToneTrack()
    loop = asyncio.get_running_loop()
    started = loop.time()
    pts = [(await video.recv()).pts for _ in range(4)]
    elapsed = loop.time() - started
    assert pts == [0, 6000, 12000, 18000]
    assert 3 / 15 - 0.02 <= elapsed < 3 / 15 + 0.15  # frame 0 at once, then every 1/15 s
    assert [(await audio.recv()).pts for _ in range(3)] == [0, 960, 1920]
    video.stop()
    audio.stop()


@pytest.mark.parametrize("bad", [{"width": 321}, {"height": 20}, {"fps": 0}])
def test_pattern_refuses_impossible_sizes(bad: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        TestPatternTrack(**bad)
