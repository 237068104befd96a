-- How each participant's link reaches them (e-mail, text message, or by hand) and how
-- many times their invitation has changed (the calendar file's SEQUENCE).
ALTER TABLE participants ADD COLUMN delivery TEXT NOT NULL DEFAULT 'manual'
    CHECK (delivery IN ('manual', 'email', 'sms'));
ALTER TABLE participants ADD COLUMN invite_sequence INTEGER NOT NULL DEFAULT 0;

-- Outgoing messages, each written in the same transaction as the change that causes
-- it. Only references and the time the message tells are kept: the text is built when
-- it is sent, and links are signed again from stored claims, so no token is stored.
-- States: pending -> sending -> sent | failed; sending found after a crash becomes
-- unconfirmed (never sent again by itself); pending becomes withdrawn when a later
-- change makes it wrong (a move, a cancel, a removal).
CREATE TABLE outbox (
    id              INTEGER PRIMARY KEY,
    purpose         TEXT NOT NULL CHECK (purpose IN
                    ('invitation', 'update', 'cancellation', 'reminder', 'booking_confirm')),
    channel         TEXT NOT NULL CHECK (channel IN ('email', 'sms')),
    recipient       TEXT NOT NULL,
    language        TEXT NOT NULL CHECK (language IN ('fi', 'sv', 'en', 'se')),
    appointment_id  INTEGER REFERENCES appointments(id) ON DELETE CASCADE,
    participant_id  INTEGER REFERENCES participants(id) ON DELETE CASCADE,
    booking_id      INTEGER REFERENCES bookings(id) ON DELETE CASCADE,
    starts_at       TEXT NOT NULL,
    ends_at         TEXT NOT NULL,
    sequence        INTEGER NOT NULL DEFAULT 0,
    state           TEXT NOT NULL DEFAULT 'pending' CHECK (state IN
                    ('pending', 'sending', 'sent', 'failed', 'unconfirmed', 'withdrawn')),
    due_at          TEXT NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT NOT NULL,
    last_error      TEXT,       -- a code such as smtp_550 or gateway_503, never text
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    sent_at         TEXT
);
CREATE INDEX outbox_due ON outbox(state, next_attempt_at);
CREATE INDEX outbox_by_appointment ON outbox(appointment_id, participant_id);
CREATE INDEX outbox_by_booking ON outbox(booking_id);

-- A professional's private calendar feed; only a hash of its secret is kept.
CREATE TABLE calendar_feeds (
    staff_id    INTEGER PRIMARY KEY REFERENCES staff(id),
    secret_hash TEXT NOT NULL UNIQUE,
    created_at  TEXT NOT NULL
);
