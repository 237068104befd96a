"""The weak-link rule of web/js/link_quality.js (nextState), fed sample by sample in a
real page: when the video steps down and up, hysteresis, the sound-only offer, a busy
device told from a weak network, and the per-person cap of a group call (groupCap).
tests/network/test_weak_link.py runs the same module across an emulated weak link;
tests/e2e/test_group_call_quality.py runs it in a call of six pages."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest
from playwright.async_api import Page

from tests.e2e.flows import OpenPage

pytestmark = pytest.mark.asyncio(loop_scope="session")

# Samples two seconds apart, as the page takes them; returns the state after each.
# A sample is [availableKbps, loss] or [availableKbps, loss, {more figures}].
_RUN = """
async ([samples, options]) => {
  const entry = document.querySelector('script[type="module"]').src;
  const rule = await import(new URL("../link_quality.js", entry));
  let state = rule.initialState();
  return samples.map(([availableKbps, loss, more], i) => {
    const sample = { availableKbps, loss, rttMs: 300, ...(more || {}) };
    state = rule.nextState(state, sample, i * rule.SAMPLE_MS, options);
    return { level: state.level, tooWeak: state.tooWeak, upAfter: state.upAfter,
      cause: state.cause };
  });
}
"""
WARMUP = [(2000, 0.0)] * 2  # ignored either way


Sample = tuple[float | None, float | None] | tuple[float | None, float | None, dict[str, Any]]


async def run(page: Page, samples: Sequence[Sample],
              options: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    if page.url == "about:blank":
        await page.goto("/staff")
    states: list[dict[str, Any]] = await page.evaluate(
        _RUN, [[list(s) for s in samples], options or {}])
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
    states = await page.evaluate(_RUN, [[[100, 0.3]] * 2 + [[2500, 0]] * 3, {}])
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


async def test_samples_without_a_receiver_report_do_not_break_the_run(
    open_page: OpenPage,
) -> None:
    """On a very lossy link RTCP is lost too: a sample with no new report (loss
    unknown) and no trusted estimate neither counts towards the offer nor resets it."""
    page = await open_page()
    lossy = (None, 0.2)
    silent = (None, None)
    states = await run(page, [*WARMUP, lossy, silent, lossy, silent, lossy])
    assert [s["tooWeak"] for s in states] == [False, False, False, False, True]


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


# --- a busy device is not a weak network -----------------------------------------
# On a busy device Chromium's estimate falls too (packets wait for the CPU), so a low
# estimate alone does not tell the two apart; the encoder's limitation, the decoder and
# loss do.
CPU = {"limitation": "cpu"}
BANDWIDTH = {"limitation": "bandwidth"}
DECODER_BEHIND = {"limitation": "none", "framesReceived": 60, "framesDecoded": 30,
                  "framesDropped": 0}
DECODER_DROPS = {"limitation": "none", "framesReceived": 60, "framesDecoded": 60,
                 "framesDropped": 12}
PAGE_LATE = {"limitation": "none", "lagMs": 900}
DECODER_KEEPS_UP = {"limitation": "none", "framesReceived": 60, "framesDecoded": 59,
                    "framesDropped": 1, "lagMs": 40}


async def test_a_cpu_limited_device_steps_down_without_blaming_the_connection(
    open_page: OpenPage,
) -> None:
    page = await open_page()
    states = await run(page, WARMUP + [(100, 0.0, CPU)] * 10)
    assert levels(states) == ["full", "reduced", "reduced", "low"] + ["low"] * 6
    assert {s["cause"] for s in states[1:]} == {"device"}
    assert not any(s["tooWeak"] for s in states), "a busy device is not a weak connection"


@pytest.mark.parametrize("decoder", [DECODER_BEHIND, DECODER_DROPS, PAGE_LATE],
                         ids=["decoder_behind", "decoder_drops", "page_late"])
async def test_a_decoder_or_page_that_cannot_keep_up_is_the_device(
    open_page: OpenPage, decoder: dict[str, Any]
) -> None:
    page = await open_page()
    states = await run(page, WARMUP + [(120, 0.0, decoder)] * 8)
    assert levels(states)[-1] == "low"
    assert {s["cause"] for s in states[1:]} == {"device"}
    assert not any(s["tooWeak"] for s in states)


async def test_a_decoder_that_keeps_up_is_not_busy(open_page: OpenPage) -> None:
    page = await open_page()
    states = await run(page, WARMUP + [(2500, 0.0, DECODER_KEEPS_UP)] * 6)
    assert set(levels(states)) == {"full"}


async def test_a_bandwidth_limited_link_is_the_network(open_page: OpenPage) -> None:
    page = await open_page()
    states = await run(page, WARMUP + [(200, 0.03, BANDWIDTH)] * 6)
    assert levels(states) == ["full", "reduced", "reduced", "low", "low", "low"]
    assert states[-1]["cause"] == "network"
    assert not any(s["tooWeak"] for s in states)
    states = await run(page, WARMUP + [(120, 0.0, BANDWIDTH)] * 4)
    assert [s["tooWeak"] for s in states] == [False, False, True, True]


async def test_a_lossy_link_is_the_network(open_page: OpenPage) -> None:
    page = await open_page()
    states = await run(page, WARMUP + [(2000, 0.12, {"limitation": "none"})] * 4)
    assert [s["tooWeak"] for s in states] == [False, False, True, True]
    assert states[-1]["cause"] == "network"


async def test_a_busy_device_on_a_lossy_link_blames_the_connection(open_page: OpenPage) -> None:
    """Both: loss is always the network's, whatever the CPU does."""
    page = await open_page()
    states = await run(page, WARMUP + [(100, 0.12, CPU)] * 4)
    assert [s["tooWeak"] for s in states] == [False, False, True, True]
    assert states[1]["cause"] == "network"


async def test_a_low_estimate_is_the_network_again_once_the_device_is_calm(
    open_page: OpenPage,
) -> None:
    """The device's busy spell is remembered for five samples (10 s), no longer."""
    page = await open_page()
    states = await run(page, WARMUP + [(100, 0.0, CPU)] * 2 + [(100, 0.0, BANDWIDTH)] * 9)
    assert [s["tooWeak"] for s in states] == [False] * 8 + [True] * 3
    assert states[1]["cause"] == "device"
    assert levels(states)[-1] == "low" and states[-1]["cause"] == "network"


async def test_a_busy_device_seen_on_another_connection_excuses_a_low_estimate(
    open_page: OpenPage,
) -> None:
    """The device is one: a busy sign on any of the page's connections counts for all."""
    page = await open_page()
    elsewhere = {"limitation": "bandwidth", "busyElsewhere": True}
    states = await run(page, WARMUP + [(100, 0.0, elsewhere)] * 5)
    assert not any(s["tooWeak"] for s in states)
    states = await run(page, WARMUP + [(100, 0.12, elsewhere)] * 4)
    assert [s["tooWeak"] for s in states] == [False, False, True, True]


async def test_the_busy_device_does_not_step_back_up(open_page: OpenPage) -> None:
    """A good estimate while the encoder still says cpu: no step up."""
    page = await open_page()
    states = await run(page, WARMUP + [(2500, 0.0, CPU)] * 12)
    assert levels(states)[-1] == "low"


async def test_the_old_rule_blamed_the_connection_for_a_busy_device(
    open_page: OpenPage,
) -> None:
    """``before`` (the benchmark's switch) is the rule as it was."""
    page = await open_page()
    states = await run(page, WARMUP + [(100, 0.0, CPU)] * 4, {"before": True})
    assert [s["tooWeak"] for s in states] == [False, False, True, True]


# --- the cap of a group call -------------------------------------------------------
_CAPS = """
async () => {
  const entry = document.querySelector('script[type="module"]').src;
  const rule = await import(new URL("../link_quality.js", entry));
  const out = {};
  for (const people of [1, 2, 3, 4, 5, 6]) {
    const cap = rule.groupCap(people);
    out[people] = ["full", "reduced", "low"].map((level) => rule.encodingFor(level, cap, 720));
  }
  out.before = rule.encodingFor("full", rule.groupCap(6, { before: true }), 720);
  out.from1080 = rule.encodingFor("full", rule.groupCap(6), 1080);
  out.unknown = rule.encodingFor("full", rule.groupCap(3), null);
  out.screen = rule.encodingFor("full", rule.groupCap(6), 1080, { screen: true });
  return out;
}
"""


async def test_the_picture_each_person_gets_shrinks_as_the_call_grows(
    open_page: OpenPage,
) -> None:
    page = await open_page()
    await page.goto("/staff")
    caps = await page.evaluate(_CAPS)
    full = {"scaleResolutionDownBy": 1}
    reduced = {"scaleResolutionDownBy": 2, "maxBitrate": 500_000}
    low = {"scaleResolutionDownBy": 4, "maxBitrate": 250_000, "maxFramerate": 10}
    for people in ("1", "2"):
        assert caps[people] == [full, reduced, low]
    at540 = {"scaleResolutionDownBy": 720 / 540, "maxBitrate": 1_000_000, "maxFramerate": 24}
    for people in ("3", "4"):
        assert caps[people] == [at540, {**reduced, "maxFramerate": 24}, low]
    at360 = {"scaleResolutionDownBy": 2, "maxBitrate": 500_000, "maxFramerate": 15}
    for people in ("5", "6"):
        assert caps[people] == [at360, at360, low]
    assert caps["before"] == full
    assert caps["from1080"]["scaleResolutionDownBy"] == 3
    assert caps["unknown"] == at540, "an unknown camera height is taken as 720"
    assert caps["screen"] == {**at360, "scaleResolutionDownBy": 1}, "a screen keeps its lines"


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
