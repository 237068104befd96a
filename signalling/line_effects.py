"""What the LineDesk asks the hub to do, as plain data (``server/line_hub.py`` performs
them in list order), and the lines' rules as the desk sees them."""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeAlias

from signalling import line_messages as wire
from signalling.line_queue import Entry


class LineAction(enum.StrEnum):
    """Usage-log actions of the line socket; each is listed in docs/audit.md."""

    JOINED = "line.joined"
    LEFT = "line.left"
    TAKEN = "line.taken"
    VIDEO_STARTED = "line.video_started"
    HANDED_OVER = "line.handed_over"
    ENDED = "line.ended"
    CALLBACK_REQUESTED = "line.callback_requested"


@dataclass(frozen=True)
class HoursState:
    open: bool
    closes_at: datetime | None
    opens_at: datetime | None


@dataclass(frozen=True)
class LineRules:
    """What the desk needs of a line; ``hours`` tells whether it is open at a time."""

    id: int
    name: str
    kind: str  # "public" | "personal"
    modes: str  # "chat" | "video" | "both"
    cap: int
    grace: timedelta
    callback_after: timedelta
    staff_ids: frozenset[int]
    hours: Callable[[datetime], HoursState]
    active: bool = True

    @property
    def personal(self) -> bool:
        return self.kind == "personal"

    def allows(self, mode: str) -> bool:
        return self.modes == "both" or self.modes == mode

    def info(self) -> wire.LineInfo:
        return wire.LineInfo(name=self.name, kind=self.kind, modes=self.modes)


@dataclass(frozen=True)
class Family:
    """A personal line's family, as its enrolment says."""

    enrolment_id: int
    family_name: str
    staff_ids: frozenset[int]


# --- effects --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ToPerson:
    ticket: str
    message: wire.ServerMessage


@dataclass(frozen=True, slots=True)
class ToStaff:
    staff_id: int
    message: wire.ServerMessage


@dataclass(frozen=True, slots=True)
class ClosePerson:
    """Close the person's socket (1000) after what is queued for it."""

    ticket: str


@dataclass(frozen=True, slots=True)
class Log:
    """One usage-log row: codes and numbers only."""

    action: LineAction
    staff_id: int | None  # None: the system did it
    detail: Mapping[str, int | str]


@dataclass(frozen=True, slots=True)
class SaveStats:
    line_id: int
    mean: float
    samples: int


@dataclass(frozen=True, slots=True)
class SaveQueued:
    entry: Entry
    nickname: str


@dataclass(frozen=True, slots=True)
class DeleteQueued:
    ticket: str


@dataclass(frozen=True, slots=True)
class AddCallback:
    enrolment_id: int
    line_id: int


@dataclass(frozen=True, slots=True)
class TouchEnrolment:
    """The family's link was used (its ``last_used_at``)."""

    enrolment_id: int


@dataclass(frozen=True, slots=True)
class BoardChanged:
    """Every professional's board may have changed (the hub debounces)."""


Effect: TypeAlias = (
    ToPerson | ToStaff | ClosePerson | Log | SaveStats | SaveQueued | DeleteQueued
    | AddCallback | TouchEnrolment | BoardChanged
)
