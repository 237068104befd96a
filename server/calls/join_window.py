"""join_window(): when an appointment's call may be entered — the one place it is computed.

``POST /api/join`` shows it to the family and the live room enforces it on ``hello``.
"""

from __future__ import annotations

from server.records import Appointment
from server.settings import Settings
from signalling.ports import JoinWindow


def join_window(appointment: Appointment, settings: Settings) -> JoinWindow:
    """Opens KOTA_JOIN_OPENS_MINUTES before the start, closes KOTA_JOIN_GRACE_MINUTES after."""
    return JoinWindow(appointment.starts_at - settings.join_opens_before,
                      appointment.ends_at + settings.join_grace)
