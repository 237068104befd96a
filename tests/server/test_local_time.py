"""Wall times in Kota's zone around the Europe/Helsinki clock changes of 2026 and 2027."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from server.errors import Unprocessable
from server.local_time import parse_wall_time, resolve

HELSINKI = ZoneInfo("Europe/Helsinki")
# Spring forward: 03.00 becomes 04.00. Autumn back: 04.00 becomes 03.00.
SPRING = ["2026-03-29", "2027-03-28"]
AUTUMN = ["2026-10-25", "2027-10-31"]


def _utc(wall: str, fold: int | None = None) -> datetime:
    return resolve(datetime.fromisoformat(wall), HELSINKI, fold, "starts_local").astimezone(UTC)


@pytest.mark.parametrize("day", SPRING)
def test_a_time_the_clocks_skip_is_refused_with_the_jump(day: str) -> None:
    for clock in ("03:00", "03:30", "03:59"):
        with pytest.raises(Unprocessable) as refused:
            _utc(f"{day}T{clock}")
        error = refused.value
        assert error.code == "nonexistent_local_time"
        assert "the clocks jump from 03.00 to 04.00 that night" in error.message
        assert error.extra["jumps_from"] == f"{day}T03:00"
        assert error.extra["jumps_to"] == f"{day}T04:00"
        assert error.extra["field"] == "starts_local"
        assert error.extra["timezone"] == "Europe/Helsinki"


@pytest.mark.parametrize("day", SPRING)
def test_times_either_side_of_the_spring_jump_resolve(day: str) -> None:
    assert _utc(f"{day}T02:59") == datetime.fromisoformat(f"{day}T00:59+00:00")
    assert _utc(f"{day}T04:00") == datetime.fromisoformat(f"{day}T01:00+00:00")
    # ``fold`` changes nothing for a time that exists once.
    assert _utc(f"{day}T04:30", 1) == _utc(f"{day}T04:30", 0)


@pytest.mark.parametrize("day", AUTUMN)
def test_a_time_the_clocks_show_twice_asks_which(day: str) -> None:
    with pytest.raises(Unprocessable) as refused:
        _utc(f"{day}T03:30")
    error = refused.value
    assert error.code == "ambiguous_local_time"
    first, second = error.extra["choices"]
    assert first == {
        "fold": 0,
        "utc_offset": "+03:00",
        "summer_time": True,
        "at": f"{day}T03:30:00+03:00",
    }
    assert second == {
        "fold": 1,
        "utc_offset": "+02:00",
        "summer_time": False,
        "at": f"{day}T03:30:00+02:00",
    }


@pytest.mark.parametrize("day", AUTUMN)
def test_fold_picks_the_first_or_second_of_a_repeated_time(day: str) -> None:
    assert _utc(f"{day}T03:30", 0) == datetime.fromisoformat(f"{day}T00:30+00:00")
    assert _utc(f"{day}T03:30", 1) == datetime.fromisoformat(f"{day}T01:30+00:00")
    assert _utc(f"{day}T02:59") == datetime.fromisoformat(f"{day}T02:59+03:00")
    assert _utc(f"{day}T04:00") == datetime.fromisoformat(f"{day}T02:00+00:00")


def test_an_ordinary_day_resolves_to_its_offset() -> None:
    assert _utc("2027-01-15T10:00") == datetime(2027, 1, 15, 8, 0, tzinfo=UTC)
    assert _utc("2027-07-15T10:00") == datetime(2027, 7, 15, 7, 0, tzinfo=UTC)


def test_a_zone_without_clock_changes_never_asks() -> None:
    wall = datetime(2027, 3, 28, 3, 30)
    assert resolve(wall, ZoneInfo("UTC"), None, "starts_local").hour == 3


@pytest.mark.parametrize("raw", ["", "tomorrow", "2027-02-30T10:00", "2027-03-28T25:00"])
def test_a_malformed_wall_time_is_refused(raw: str) -> None:
    with pytest.raises(Unprocessable) as refused:
        parse_wall_time(raw, "starts_local")
    assert refused.value.code == "invalid_field"


def test_a_wall_time_with_an_offset_is_refused() -> None:
    with pytest.raises(Unprocessable) as refused:
        parse_wall_time("2027-03-28T10:00+02:00", "starts_local")
    assert "without an offset" in refused.value.message
