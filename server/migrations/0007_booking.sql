-- Family self-booking: services, who serves them and when, and the bookings made.
-- Wall times ('HH:MM') are in KOTA_TIMEZONE; instants are UTC text as elsewhere.

CREATE TABLE services (
    id              INTEGER PRIMARY KEY,
    slug            TEXT NOT NULL UNIQUE,   -- the public page: /book/<slug>
    name            TEXT NOT NULL,          -- shown to anyone, e.g. 'Perheneuvola, Inari'
    slot_minutes    INTEGER NOT NULL CHECK (slot_minutes BETWEEN 10 AND 240),
    buffer_minutes  INTEGER NOT NULL DEFAULT 0 CHECK (buffer_minutes BETWEEN 0 AND 240),
    notice_minutes  INTEGER NOT NULL DEFAULT 240 CHECK (notice_minutes >= 0),
    horizon_days    INTEGER NOT NULL DEFAULT 60 CHECK (horizon_days BETWEEN 1 AND 366),
    max_per_day     INTEGER NOT NULL DEFAULT 8 CHECK (max_per_day >= 1),
    hold_minutes    INTEGER NOT NULL DEFAULT 10 CHECK (hold_minutes BETWEEN 1 AND 1440),
    cutoff_minutes  INTEGER NOT NULL DEFAULT 1440 CHECK (cutoff_minutes >= 0),
    active          INTEGER NOT NULL DEFAULT 1,
    created_at      TEXT NOT NULL
);

-- The appointment kinds a family may book from a service; never child protection.
CREATE TABLE service_kinds (
    service_id INTEGER NOT NULL REFERENCES services(id) ON DELETE CASCADE,
    kind       TEXT NOT NULL CHECK (kind != 'child_protection'),
    PRIMARY KEY (service_id, kind)
);

CREATE TABLE service_staff (
    service_id INTEGER NOT NULL REFERENCES services(id) ON DELETE CASCADE,
    staff_id   INTEGER NOT NULL REFERENCES staff(id),
    PRIMARY KEY (service_id, staff_id)
);
CREATE INDEX service_staff_by_staff ON service_staff(staff_id);

-- Each professional's weekly hours for a service; weekday 0 is Monday.
CREATE TABLE service_hours (
    id         INTEGER PRIMARY KEY,
    service_id INTEGER NOT NULL REFERENCES services(id) ON DELETE CASCADE,
    staff_id   INTEGER NOT NULL REFERENCES staff(id),
    weekday    INTEGER NOT NULL CHECK (weekday BETWEEN 0 AND 6),
    opens      TEXT NOT NULL,
    closes     TEXT NOT NULL,
    CHECK (closes > opens)
);
CREATE INDEX service_hours_by_service ON service_hours(service_id, staff_id);

-- Exceptions to the weekly hours: a holiday (staff_id NULL: everyone in the service,
-- service_id NULL: every service) or one professional's absence.
CREATE TABLE service_closures (
    id         INTEGER PRIMARY KEY,
    service_id INTEGER REFERENCES services(id) ON DELETE CASCADE,
    staff_id   INTEGER REFERENCES staff(id),
    starts_at  TEXT NOT NULL,
    ends_at    TEXT NOT NULL,
    note       TEXT NOT NULL DEFAULT '',
    CHECK (ends_at > starts_at)
);

-- A family's booking: held until confirmed from the message sent to its contact, then
-- an appointment. Confirm and manage links are tokens signed from the nonces; the token
-- text is never stored.
CREATE TABLE bookings (
    id              INTEGER PRIMARY KEY,
    service_id      INTEGER NOT NULL REFERENCES services(id),
    staff_id        INTEGER NOT NULL REFERENCES staff(id),
    kind            TEXT NOT NULL CHECK (kind != 'child_protection'),
    starts_at       TEXT NOT NULL,
    ends_at         TEXT NOT NULL,
    state           TEXT NOT NULL DEFAULT 'held'
                    CHECK (state IN ('held', 'confirmed', 'cancelled', 'expired')),
    hold_expires_at TEXT NOT NULL,
    display_name    TEXT NOT NULL,
    contact         TEXT NOT NULL,          -- an e-mail address or an E.164 number
    channel         TEXT NOT NULL CHECK (channel IN ('email', 'sms')),
    language        TEXT NOT NULL CHECK (language IN ('fi', 'sv', 'en', 'se')),
    topic           TEXT NOT NULL DEFAULT '',  -- seen only by the service's staff
    confirm_nonce   TEXT NOT NULL,
    manage_nonce    TEXT NOT NULL,
    appointment_id  INTEGER REFERENCES appointments(id),
    participant_id  INTEGER REFERENCES participants(id),
    created_at      TEXT NOT NULL,
    confirmed_at    TEXT,
    cancelled_at    TEXT,
    CHECK (ends_at > starts_at)
);
CREATE INDEX bookings_by_staff ON bookings(staff_id, state, starts_at);
-- The per-contact limits count case-blind: Maija@Example.fi is maija@example.fi.
CREATE INDEX bookings_by_contact ON bookings(contact COLLATE NOCASE, created_at);
CREATE UNIQUE INDEX bookings_by_appointment ON bookings(appointment_id);
