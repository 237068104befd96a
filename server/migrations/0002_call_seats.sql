-- What lets a call survive a restart of the server: the seats of admitted participants
-- and whether staff ended the session. Never the resume secret itself, only its hash.
-- Written when seats change (admit, leave, remove, end, disconnect), never per message.

CREATE TABLE call_sessions (
    appointment_id INTEGER PRIMARY KEY REFERENCES appointments(id) ON DELETE CASCADE,
    seats_taken    INTEGER NOT NULL DEFAULT 0,
    ended          INTEGER NOT NULL DEFAULT 0 CHECK (ended IN (0, 1)),
    updated_at     TEXT NOT NULL
);

-- One row per seat: exactly one of staff_id / participant_id names its holder.
-- held_until is NULL while the holder's socket was connected.
CREATE TABLE call_seats (
    appointment_id INTEGER NOT NULL REFERENCES call_sessions(appointment_id) ON DELETE CASCADE,
    staff_id       INTEGER REFERENCES staff(id) ON DELETE CASCADE,
    participant_id INTEGER REFERENCES participants(id) ON DELETE CASCADE,
    seat           INTEGER NOT NULL,
    secret_hash    TEXT NOT NULL,
    held_until     TEXT,
    CHECK ((staff_id IS NULL) != (participant_id IS NULL))
);
CREATE UNIQUE INDEX call_seats_by_staff ON call_seats(appointment_id, staff_id)
    WHERE staff_id IS NOT NULL;
CREATE UNIQUE INDEX call_seats_by_participant ON call_seats(appointment_id, participant_id)
    WHERE participant_id IS NOT NULL;
