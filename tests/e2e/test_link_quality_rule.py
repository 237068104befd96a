"""The weak-link rule of web/js/link_quality.js (nextState), fed sample by sample in a
real page: when the video steps down and up, hysteresis, and the sound-only offer.
tests/network/test_weak_link.py runs the same module across an emulated weak link."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest
from playwright.async_api import Page

from tests.e2e.flows import OpenPage

pytestmark = pytest.mark.asyncio(loop_scope="session")

# Samples two seconds apart, as the page takes them; returns the state after each.
_RUN = """
async (samples) => {
  const entry = document.querySelector('script[type="module"]').src;
  const rule = await import(new URL("../link_quality.js", entry));
  let state = rule.initialState();
  return samples.map(([availableKbps, loss], i) => {
    state = rule.nextState(state, { availableKbps, loss, rttMs: 300 }, i * rule.SAMPLE_MS);
    return { level: state.level, tooWeak: state.tooWeak, upAfter: state.upAfter };
  });
}
"""
WARMUP = [(2000, 0.0)] * 2  # ignored either way


async def run(page: Page,
              samples: Sequence[tuple[float | None, float | None]]) -> list[dict[str, Any]]:
    if page.url == "about:blank":
        await page.goto("/staff")
    states: list[dict[str, Any]] = await page.evaluate(_RUN, [list(s) for s in samples])
    return states[len(WARMUP):]


def levels(states: list[dict[str, Any]]) -> list[str]:
    return [s["level"] for s in states]


async def test_a_good_link_keeps_full_video(open_page: OpenPage) -> None:
    page = await open_page()
    states = await run(page, WARMUP + [(2500, 0.0)] * 20 + [(2500, None)] * 3)
    assert set(levels(states)) == {"full"}
    assert not any(s["tooWeak"] for s in states)


async def test_the_first_samples_are_ignored(open_page: OpenPage) -> None:
    """The bandwidth estimate starts low on every new connection."""
    page = await open_page()
    await page.goto("/staff")
    states = await page.evaluate(_RUN, [[100, 0.3]] * 2 + [[2500, 0]] * 3)
    assert [s["level"] for s in states] == ["full"] * 5


async def test_one_weak_sample_does_not_step_down(open_page: OpenPage) -> None:
    page = await open_page()
    states = await run(page, [*WARMUP, (400, 0.0), (2500, 0.0), (400, 0.0), (2500, 0.0)])
    assert set(levels(states)) == {"full"}


async def test_a_500_kbit_link_gets_the_smaller_picture(open_page: OpenPage) -> None:
    page = await open_page()
    states = await run(page, WARMUP + [(450, 0.03)] * 10)
    assert levels(states) == ["full"] + ["reduced"] * 9
    assert not any(s["tooWeak"] for s in states)


async def test_a_worse_link_gets_fewer_frames_too(open_page: OpenPage) -> None:
    page = await open_page()
    states = await run(page, WARMUP + [(200, 0.03)] * 6)
    assert levels(states) == ["full", "reduced", "reduced", "low", "low", "low"]
    assert not any(s["tooWeak"] for s in states), "200 kbit/s still carries small video"


@pytest.mark.parametrize("sample", [(120, 0.0), (1000, 0.12)], ids=["under_150_kbit", "loss_12"])
async def test_a_link_too_weak_for_video_offers_sound_only_after_six_seconds(
    open_page: OpenPage, sample: tuple[float, float]
) -> None:
    page = await open_page()
    states = await run(page, WARMUP + [sample] * 4)
    assert [s["tooWeak"] for s in states] == [False, False, True, True]


async def test_the_offer_goes_away_only_after_ten_good_seconds(open_page: OpenPage) -> None:
    page = await open_page()
    states = await run(page, WARMUP + [(100, 0.0)] * 3 + [(400, 0.0)] * 5)
    assert [s["tooWeak"] for s in states] == [False, False, True, True, True, True, True, False]


async def test_video_steps_back_up_when_the_link_recovers(open_page: OpenPage) -> None:
    page = await open_page()
    states = await run(page, WARMUP + [(200, 0.0)] * 4 + [(2500, 0.0)] * 10)
    assert levels(states) == (["full", "reduced", "reduced", "low"]
                              + ["low"] * 4 + ["reduced"] * 5 + ["full"])


async def test_recovery_needs_low_loss(open_page: OpenPage) -> None:
    """2.5 to 5 % loss neither steps down from full nor back up: the hysteresis band."""
    page = await open_page()
    states = await run(page, WARMUP + [(200, 0.0)] * 2 + [(2500, 0.03)] * 12)
    assert set(levels(states)[1:]) == {"reduced"}


async def test_a_step_up_undone_at_once_doubles_the_wait(open_page: OpenPage) -> None:
    """A link on the edge: up after 10 s, down again at once, then 20 s before the next try."""
    page = await open_page()
    edge = [(200, 0.0)] * 2 + [(900, 0.0)] * 5 + [(400, 0.0)] * 2 + [(900, 0.0)] * 10
    states = await run(page, WARMUP + edge)
    assert levels(states) == (["full", "reduced"] + ["reduced"] * 4 + ["full"]
                              + ["full", "reduced"] + ["reduced"] * 9 + ["full"])
    assert states[8]["upAfter"] == 10


async def test_unknown_figures_change_nothing(open_page: OpenPage) -> None:
    page = await open_page()
    states = await run(page, WARMUP + [(None, None)] * 10)
    assert set(levels(states)) == {"full"}
    assert not any(s["tooWeak"] for s in states)


async def test_from_low_video_steps_up_despite_some_loss_but_no_further(
    open_page: OpenPage,
) -> None:
    """Up to a level needs loss under half its own step-down line: 3 % allows reduced
    (steps down at 10 %) but not full (5 %)."""
    page = await open_page()
    states = await run(page, WARMUP + [(200, 0.0)] * 4 + [(2500, 0.03)] * 14)
    assert levels(states)[4:] == ["low"] * 4 + ["reduced"] * 10


# The banner on its own, with a stand-in for the call (weakLink, audioOnly); imported
# next to the page's own modules (its versioned URL), so it shares the page's texts.
_BANNER = """
async () => {
  const entry = document.querySelector('script[type="module"]').src;
  const { weakLinkBanner } = await import(new URL("../views/weak_link_banner.js", entry));
  const call = { weakLink: false, audioOnly: false };
  let switched = 0;
  const banner = weakLinkBanner({ call, onAudioOnly: () => { switched += 1; } });
  document.body.append(banner.element);
  const seen = [];
  const look = (what) => { banner.render(); seen.push([what, !banner.element.hidden]); };
  look("fine");
  call.weakLink = true; look("weak");
  banner.element.querySelector("[data-action=quality-dismiss]").click(); look("kept video");
  look("still weak");
  call.weakLink = false; look("recovered");
  call.weakLink = true; look("weak again");
  banner.element.querySelector("[data-action=quality-audio-only]").click();
  call.audioOnly = true; look("sound only");
  return { seen, switched, text: banner.element.textContent };
}
"""


async def test_the_offer_can_be_kept_away_until_the_link_weakens_again(
    open_page: OpenPage,
) -> None:
    page = await open_page()
    await page.goto("/staff")
    result = await page.evaluate(_BANNER)
    assert result["seen"] == [["fine", False], ["weak", True], ["kept video", False],
                              ["still weak", False], ["recovered", False],
                              ["weak again", True], ["sound only", False]]
    assert result["switched"] == 1
    assert "Yhteytesi on heikko." in result["text"]
