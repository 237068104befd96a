"""join_window(): the one computation behind POST /api/join's window and the room's door."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from server.calls.join_window import join_window
from server.records import Appointment, AppointmentKind, AppointmentStatus, Staff, StaffRole
from server.settings import load_settings

START = datetime(2025, 3, 3, 10, 0, tzinfo=UTC)
HOST = Staff(1, "maija", "Maija Virtanen", StaffRole.PROFESSIONAL, active=True)


def appointment(minutes: int = 45) -> Appointment:
    return Appointment(7, START, START + timedelta(minutes=minutes),
                       AppointmentKind.FAMILY_COUNSELLING, AppointmentStatus.SCHEDULED,
                       HOST, ())


def test_opens_before_the_start_and_closes_after_the_end(tmp_path: Path) -> None:
    settings = load_settings({"KOTA_DATA_DIR": str(tmp_path), "KOTA_JOIN_OPENS_MINUTES": "10",
                              "KOTA_JOIN_GRACE_MINUTES": "20"})
    window = join_window(appointment(45), settings)
    assert window.opens_at == START - timedelta(minutes=10)
    assert window.closes_at == START + timedelta(minutes=45 + 20)


def test_edges_are_inside(tmp_path: Path) -> None:
    settings = load_settings({"KOTA_DATA_DIR": str(tmp_path)})
    window = join_window(appointment(), settings)
    assert window.contains(window.opens_at) and window.contains(window.closes_at)
    assert not window.contains(window.opens_at - timedelta(microseconds=1))
    assert not window.contains(window.closes_at + timedelta(microseconds=1))


def test_zero_minutes_is_the_appointment_itself(tmp_path: Path) -> None:
    settings = load_settings({"KOTA_DATA_DIR": str(tmp_path), "KOTA_JOIN_OPENS_MINUTES": "0",
                              "KOTA_JOIN_GRACE_MINUTES": "0"})
    window = join_window(appointment(30), settings)
    assert (window.opens_at, window.closes_at) == (START, START + timedelta(minutes=30))
