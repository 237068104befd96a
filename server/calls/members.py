"""How Kota's people appear in a call: participant ids and verified Members.

Staff are ``s:<staff id>``; people invited by a join link are ``l:<participant id>``
(both ids from the database). The ids are opaque to clients and to ``signalling``;
only the server reads them back, to name the usage-log actor or a saved seat's holder.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from server.records import Participant, Staff
from signalling.ports import Member

STAFF_PREFIX: Final = "s:"
LINK_PREFIX: Final = "l:"
STAFF_ROLE: Final = "staff"


@dataclass(frozen=True, order=True)
class CallId:
    """A participant id read back: a staff member or a link participant, by database id."""

    is_staff: bool
    id: int

    def __str__(self) -> str:
        return f"{STAFF_PREFIX if self.is_staff else LINK_PREFIX}{self.id}"


def parse_call_id(participant_id: str) -> CallId | None:
    """None for anything this server would not have issued."""
    for prefix, is_staff in ((STAFF_PREFIX, True), (LINK_PREFIX, False)):
        digits = participant_id.removeprefix(prefix)
        if digits != participant_id and digits.isascii() and digits.isdigit() and len(digits) < 13:
            return CallId(is_staff, int(digits))
    return None


def staff_member(staff: Staff) -> Member:
    """Whether they are staff *of this appointment* the Room checks against its staff ids."""
    return Member(str(CallId(True, staff.id)), staff.display_name, STAFF_ROLE, is_staff=True)


def link_member(participant: Participant) -> Member:
    return Member(str(CallId(False, participant.id)), participant.display_name,
                  participant.role.value, is_staff=False)
