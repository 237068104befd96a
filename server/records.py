"""The dataclasses that ``db.py`` returns: Kota's stored facts, never raw rows."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import NamedTuple


class StaffRole(enum.StrEnum):
    ADMIN = "admin"
    PROFESSIONAL = "professional"


class AppointmentKind(enum.StrEnum):
    """Shown to staff only: the kind alone can reveal a child-protection client."""

    CHILD_PROTECTION = "child_protection"
    SPECIALIST_CONSULTATION = "specialist_consultation"
    SCHOOL_MEETING = "school_meeting"
    FAMILY_COUNSELLING = "family_counselling"
    OTHER = "other"


class ParticipantRole(enum.StrEnum):
    GUARDIAN = "guardian"
    CHILD = "child"
    INTERPRETER = "interpreter"
    SCHOOL_STAFF = "school_staff"
    OTHER_PROFESSIONAL = "other_professional"


class Language(enum.StrEnum):
    """The languages Kota's pages speak: Finnish, Swedish, English, North Sámi."""

    FI = "fi"
    SV = "sv"
    EN = "en"
    SE = "se"


class Delivery(enum.StrEnum):
    """How a participant's join link reaches them."""

    MANUAL = "manual"  # staff copy it into some other system
    EMAIL = "email"
    SMS = "sms"


class MessagePurpose(enum.StrEnum):
    INVITATION = "invitation"
    UPDATE = "update"  # the time moved; the calendar file's SEQUENCE is one higher
    CANCELLATION = "cancellation"
    REMINDER = "reminder"
    BOOKING_CONFIRM = "booking_confirm"  # a held booking waits for its confirm link


class MessageState(enum.StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    UNCONFIRMED = "unconfirmed"  # the server stopped mid-send; never sent again by itself
    WITHDRAWN = "withdrawn"


class AppointmentStatus(enum.StrEnum):
    SCHEDULED = "scheduled"
    CANCELLED = "cancelled"


@dataclass(frozen=True)
class Staff:
    id: int
    username: str
    display_name: str
    role: StaffRole
    active: bool
    # The job title an access report shows as the role; registry staff may produce
    # access reports by contact (migration 0013).
    title: str = ""
    registry: bool = False

    @property
    def is_admin(self) -> bool:
        return self.role is StaffRole.ADMIN

    @property
    def first_name(self) -> str:
        return self.display_name.split()[0] if self.display_name.split() else ""


@dataclass(frozen=True)
class StaffSession:
    staff: Staff
    csrf_token: str
    expires_at: datetime


@dataclass(frozen=True)
class JoinLink:
    jti: str
    participant_id: int
    appointment_id: int
    issued_at: datetime
    expires_at: datetime
    revoked_at: datetime | None

    @property
    def revoked(self) -> bool:
        return self.revoked_at is not None


@dataclass(frozen=True)
class Participant:
    id: int
    appointment_id: int
    display_name: str
    role: ParticipantRole
    contact: str | None
    removed_at: datetime | None
    link: JoinLink | None = None
    language: Language | None = None
    delivery: Delivery = Delivery.MANUAL
    invite_sequence: int = 0
    # The participant's outgoing messages, oldest first (loaded with the appointment).
    messages: tuple[OutboxMessage, ...] = ()


@dataclass(frozen=True)
class Appointment:
    id: int
    starts_at: datetime
    ends_at: datetime
    kind: AppointmentKind
    status: AppointmentStatus
    host: Staff
    staff: tuple[Staff, ...]
    participants: tuple[Participant, ...] = field(default=())
    # -- organisation reports: the service, the family's municipality and a one-way
    # distance and travel time set for this appointment (None: the configured one).
    service_id: int | None = None
    municipality: str | None = None
    travel_km: float | None = None
    travel_minutes: int | None = None
    # -- retention: when the personal data was removed (names and contacts are blank).
    personal_data_removed_at: datetime | None = None

    @property
    def staff_ids(self) -> frozenset[int]:
        return frozenset({self.host.id, *(s.id for s in self.staff)})

    def participant(self, participant_id: int) -> Participant | None:
        return next((p for p in self.participants if p.id == participant_id), None)


@dataclass(frozen=True)
class OutboxMessage:
    """One outgoing message: references and the time it tells, never its text."""

    id: int
    purpose: MessagePurpose
    channel: Delivery
    recipient: str
    language: Language
    appointment_id: int | None
    participant_id: int | None
    booking_id: int | None
    starts_at: datetime
    ends_at: datetime
    sequence: int
    state: MessageState
    due_at: datetime
    attempts: int
    next_attempt_at: datetime
    last_error: str | None
    created_at: datetime
    sent_at: datetime | None


@dataclass(frozen=True)
class AuditRow:
    id: int
    at: datetime
    actor_kind: str
    actor_id: int | None
    action: str
    appointment_id: int | None
    subject_id: int | None
    detail: str
    prev_hash: str
    hash: str


@dataclass(frozen=True)
class StoredSeat:
    """An admitted seat as saved for a restart; exactly one of the two ids is set."""

    staff_id: int | None
    participant_id: int | None
    seat: int
    secret_hash: str
    held_until: datetime | None  # None: the holder's socket was connected


@dataclass(frozen=True)
class StoredCall:
    appointment_id: int
    seats_taken: int
    ended: bool
    seats: tuple[StoredSeat, ...]
    left_participants: tuple[int, ...] = ()  # left the call by themselves (the "returned" mark)


class BookingState(enum.StrEnum):
    HELD = "held"  # waiting for the family to confirm through the message sent to it
    CONFIRMED = "confirmed"  # now an appointment
    CANCELLED = "cancelled"
    EXPIRED = "expired"  # never confirmed; its slot is free again


@dataclass(frozen=True)
class Booking:
    """A family's self-booking. ``topic`` is seen only by the service's staff."""

    id: int
    service_id: int
    staff_id: int
    kind: AppointmentKind
    starts_at: datetime
    ends_at: datetime
    state: BookingState
    hold_expires_at: datetime
    display_name: str
    contact: str
    channel: Delivery
    language: Language
    topic: str
    confirm_nonce: str
    manage_nonce: str
    appointment_id: int | None
    participant_id: int | None
    created_at: datetime
    confirmed_at: datetime | None
    cancelled_at: datetime | None


@dataclass(frozen=True)
class ServiceHours:
    """One professional's opening hours on one weekday (0 Monday), as wall times in
    KOTA_TIMEZONE ('HH:MM')."""

    staff_id: int
    weekday: int
    opens: str
    closes: str


@dataclass(frozen=True)
class ServiceClosure:
    """A holiday or an absence: no slots in [starts_at, ends_at). ``staff_id`` None: the
    whole service; ``service_id`` None: every service."""

    id: int
    service_id: int | None
    staff_id: int | None
    starts_at: datetime
    ends_at: datetime
    note: str


@dataclass(frozen=True)
class Service:
    """What families may book themselves: who serves it, how long a slot is and the rules."""

    id: int
    slug: str
    name: str
    slot_minutes: int
    buffer_minutes: int
    notice_minutes: int
    horizon_days: int
    max_per_day: int
    hold_minutes: int
    cutoff_minutes: int
    active: bool
    kinds: tuple[AppointmentKind, ...]
    staff_ids: tuple[int, ...]
    hours: tuple[ServiceHours, ...] = ()


@dataclass(frozen=True)
class CalendarFeed:
    """A professional's private calendar feed; only the hash of its secret is stored."""

    staff_id: int
    secret_hash: str
    created_at: datetime
    read_logged_at: datetime | None


@dataclass(frozen=True)
class FeedAppointment:
    """What a staff calendar feed tells of one appointment: times, state and head count;
    never names, contacts or the kind."""

    id: int
    starts_at: datetime
    ends_at: datetime
    status: AppointmentStatus
    people: int  # participants not removed
    created_at: datetime
    updated_at: datetime


class LineKind(enum.StrEnum):
    PUBLIC = "public"  # anonymous drop-in from a public page
    PERSONAL = "personal"  # each enrolled family has its own long-lived link


class LineModes(enum.StrEnum):
    CHAT = "chat"
    VIDEO = "video"
    BOTH = "both"


@dataclass(frozen=True)
class LineHours:
    """One opening of a line on one weekday (0 Monday), as wall times in KOTA_TIMEZONE."""

    weekday: int
    opens: time
    closes: time


@dataclass(frozen=True)
class LineClosure:
    """Whole days (both ends included, in KOTA_TIMEZONE) when the line stays closed."""

    starts_on: date
    ends_on: date
    note: str


@dataclass(frozen=True)
class Line:
    """A queue people join and professionals on duty take from, first come first served."""

    id: int
    slug: str
    name: str
    kind: LineKind
    modes: LineModes
    queue_cap: int  # people waiting at once
    grace_minutes: int  # after closing time people may still be taken this long
    callback_after_minutes: int  # personal lines: a call back is offered after this wait
    active: bool
    staff_ids: tuple[int, ...]  # who serves the line (active accounts only)
    hours: tuple[LineHours, ...]
    closures: tuple[LineClosure, ...]


@dataclass(frozen=True)
class Enrolment:
    """A family's long-lived link to its personal line; only the secret's hash is stored."""

    id: int
    line_id: int
    family_name: str
    language: Language
    staff_ids: tuple[int, ...]  # its own worker(s); empty: everyone on the line
    created_at: datetime
    created_by: int
    revoked_at: datetime | None
    last_used_at: datetime | None


@dataclass(frozen=True)
class LineCallback:
    """A family asked to be called back: a flag with the time, never any text."""

    id: int
    line_id: int
    enrolment_id: int
    family_name: str
    requested_at: datetime
    done_at: datetime | None
    done_by: int | None


@dataclass(frozen=True)
class LineStats:
    """The line's service times so far (an exponentially weighted mean)."""

    line_id: int
    ewma_seconds: float | None
    samples: int


@dataclass(frozen=True)
class QueuedRow:
    """One person in a line's queue, kept so the queue survives a restart; deleted as soon
    as the person leaves, is taken, expires or the line closes."""

    ticket_hash: str  # sha256 of the resume secret
    line_id: int
    mode: str  # "chat" | "video"
    joined_at: datetime
    enrolment_id: int | None
    staff_ids: tuple[int, ...]
    front: bool
    nickname: str  # "" when none; a public line's nickname lives only while queued


# -- access reports ------------------------------------------------------------


@dataclass(frozen=True)
class CoveredParticipant:
    """A participant row an access report covers, with its appointment's times."""

    participant_id: int
    appointment_id: int
    display_name: str
    role: str
    starts_at: datetime
    ends_at: datetime
    cancelled: bool
# -- organisation reports and travel distances ---------------------------------


@dataclass(frozen=True)
class TravelDistance:
    """One way from a municipality to a service's office."""

    municipality: str
    km: float
    minutes: int


class ReportAppointment(NamedTuple):
    """What the organisation report needs of an appointment. ``km`` and ``minutes`` are
    one way: the appointment's own setting, else the service's configured distance for
    the family's municipality, else None (not known). A named tuple: a year's report
    makes one per appointment, and a tuple is made several times faster than a frozen
    dataclass."""

    id: int
    starts_at: datetime
    ends_at: datetime
    kind: str
    cancelled: bool
    host_id: int
    service_id: int | None
    km: float | None
    minutes: int | None


@dataclass(frozen=True)
class PersonRows:
    """A participant's call rows and admissions in one appointment, summed up."""

    appointment_id: int
    participant_id: int
    calls: int  # call rows
    spell_s: int | None  # the one plain spell's length, else None
    first_call_id: int | None
    last_call_id: int | None
    admissions: int
    wait_s: int | None  # the one plain wait's length, else None


class SettledFacts(NamedTuple):
    """An appointment's stored report facts (``report_facts``): anonymous numbers only
    (a named tuple, as ``ReportAppointment``)."""

    appointment_id: int
    joined: int
    seconds: float
    waits: tuple[int, ...]
    marks: tuple[str, ...]


@dataclass(frozen=True)
class ReportNames:
    """Display names by id (also of staff no longer active)."""

    staff: dict[int, str]
    services: dict[int, str]
    lines: dict[int, str]
