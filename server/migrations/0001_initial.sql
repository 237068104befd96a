-- Kota's first schema: staff, sessions, appointments, participants, join links, usage log.
-- Times are UTC text 'YYYY-MM-DDTHH:MM:SSZ' so that text order is time order.

CREATE TABLE staff (
    id            INTEGER PRIMARY KEY,
    username      TEXT NOT NULL UNIQUE COLLATE NOCASE,
    display_name  TEXT NOT NULL,
    role          TEXT NOT NULL CHECK (role IN ('admin', 'professional')),
    password_hash TEXT NOT NULL,
    active        INTEGER NOT NULL DEFAULT 1,
    created_at    TEXT NOT NULL
);

-- Only a hash of the cookie value is kept, so a copy of the file opens no session.
CREATE TABLE staff_sessions (
    id_hash     TEXT PRIMARY KEY,
    staff_id    INTEGER NOT NULL REFERENCES staff(id) ON DELETE CASCADE,
    csrf_token  TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    expires_at  TEXT NOT NULL
);
CREATE INDEX staff_sessions_expiry ON staff_sessions(expires_at);

CREATE TABLE appointments (
    id          INTEGER PRIMARY KEY,
    starts_at   TEXT NOT NULL,
    ends_at     TEXT NOT NULL,
    kind        TEXT NOT NULL,
    host_id     INTEGER NOT NULL REFERENCES staff(id),
    status      TEXT NOT NULL DEFAULT 'scheduled' CHECK (status IN ('scheduled', 'cancelled')),
    created_by  INTEGER NOT NULL REFERENCES staff(id),
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    CHECK (ends_at > starts_at)
);
CREATE INDEX appointments_by_start ON appointments(starts_at);
CREATE INDEX appointments_by_host ON appointments(host_id, starts_at);

CREATE TABLE appointment_staff (
    appointment_id INTEGER NOT NULL REFERENCES appointments(id) ON DELETE CASCADE,
    staff_id       INTEGER NOT NULL REFERENCES staff(id),
    PRIMARY KEY (appointment_id, staff_id)
);
CREATE INDEX appointment_staff_by_staff ON appointment_staff(staff_id);

CREATE TABLE participants (
    id             INTEGER PRIMARY KEY,
    appointment_id INTEGER NOT NULL REFERENCES appointments(id) ON DELETE CASCADE,
    display_name   TEXT NOT NULL,
    role           TEXT NOT NULL,
    contact        TEXT,
    removed_at     TEXT,
    created_at     TEXT NOT NULL
);
CREATE INDEX participants_by_appointment ON participants(appointment_id);

-- A join link is a signed token; only its claims are kept, never the token text.
CREATE TABLE join_links (
    jti            TEXT PRIMARY KEY,
    participant_id INTEGER NOT NULL REFERENCES participants(id) ON DELETE CASCADE,
    appointment_id INTEGER NOT NULL REFERENCES appointments(id) ON DELETE CASCADE,
    issued_at      TEXT NOT NULL,
    expires_at     TEXT NOT NULL,
    revoked_at     TEXT
);
CREATE INDEX join_links_by_participant ON join_links(participant_id);

-- The usage log: who, what, when; never content. Append-only and hash-chained.
CREATE TABLE audit_log (
    id             INTEGER PRIMARY KEY,
    at             TEXT NOT NULL,
    actor_kind     TEXT NOT NULL CHECK (actor_kind IN ('staff', 'participant', 'system')),
    actor_id       INTEGER,
    action         TEXT NOT NULL,
    appointment_id INTEGER,
    subject_id     INTEGER,
    detail         TEXT NOT NULL DEFAULT '',
    prev_hash      TEXT NOT NULL,
    hash           TEXT NOT NULL
);
CREATE INDEX audit_log_by_time ON audit_log(at);
CREATE INDEX audit_log_by_appointment ON audit_log(appointment_id);

CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'the usage log is append-only'); END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'the usage log is append-only'); END;
