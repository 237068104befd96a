"""The capacity benchmark's own parts, run tiny: its pre-encoded 640x480 clip really is
echoed as 640x480 video at the full frame rate, so the benchmark measures what it says."""

from __future__ import annotations

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from bench.echo_capacity import CLIP_FRAMES, HEIGHT, WIDTH, PreEncodedVideo, encode_clip
from signalling.peers.echo_probe import EchoProbe
from tests.calls.conftest import SignIn, book, family_link


@pytest.mark.turn_off
async def test_pre_encoded_clip_comes_back_as_640x480_video(
    kota: TestServer, staff_client: SignIn
) -> None:
    clip = encode_clip()
    assert len(clip) == CLIP_FRAMES
    # VP8's first header bit is 0 for a keyframe: one at the start, so the loop decodes.
    assert [packet[0] & 1 for packet in clip] == [0] + [1] * (CLIP_FRAMES - 1)
    sanna = await staff_client("sanna")
    base, _, token = (await family_link(sanna, await book(sanna))).partition("/join#")
    async with aiohttp.ClientSession() as http:
        probe = EchoProbe(base, http, token=token, video=lambda: PreEncodedVideo(clip))
        try:
            await probe.start()
            await probe.connect()
            await probe.wait_for(lambda: probe.media.video_frames >= 20, 10, "20 frames")
            assert probe.media.frame_size == (WIDTH, HEIGHT)
            assert probe.media.first_video_at is not None
        finally:
            await probe.close()
