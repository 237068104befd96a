-- Contact lines: queues people join (anonymously from a public page, or through a
-- family's own link) and professionals on duty take from, first come first served.
-- Wall times ('HH:MM') and days ('YYYY-MM-DD') are in KOTA_TIMEZONE; instants are UTC
-- text as elsewhere. Nothing here holds chat text; secrets are stored as hashes only.

CREATE TABLE lines (
    id                     INTEGER PRIMARY KEY,
    -- The public page /line/<slug>; personal lines have one too, never shown publicly.
    slug                   TEXT NOT NULL UNIQUE
                           CHECK (length(slug) BETWEEN 1 AND 60 AND slug != 'my'),
    name                   TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 80),
    kind                   TEXT NOT NULL CHECK (kind IN ('public', 'personal')),
    modes                  TEXT NOT NULL CHECK (modes IN ('chat', 'video', 'both')),
    queue_cap              INTEGER NOT NULL CHECK (queue_cap BETWEEN 1 AND 1000),
    grace_minutes          INTEGER NOT NULL CHECK (grace_minutes BETWEEN 0 AND 120),
    callback_after_minutes INTEGER NOT NULL CHECK (callback_after_minutes BETWEEN 1 AND 240),
    active                 INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),
    created_at             TEXT NOT NULL,
    updated_at             TEXT NOT NULL
);

CREATE TABLE line_staff (
    line_id  INTEGER NOT NULL REFERENCES lines(id) ON DELETE CASCADE,
    staff_id INTEGER NOT NULL REFERENCES staff(id),
    PRIMARY KEY (line_id, staff_id)
);
CREATE INDEX line_staff_by_staff ON line_staff(staff_id);

-- The weekly hours; weekday 0 is Monday. Openings of one weekday never overlap.
CREATE TABLE line_hours (
    id      INTEGER PRIMARY KEY,
    line_id INTEGER NOT NULL REFERENCES lines(id) ON DELETE CASCADE,
    weekday INTEGER NOT NULL CHECK (weekday BETWEEN 0 AND 6),
    opens   TEXT NOT NULL CHECK (opens GLOB '[0-2][0-9]:[0-5][0-9]'),
    closes  TEXT NOT NULL CHECK (closes GLOB '[0-2][0-9]:[0-5][0-9]'),
    CHECK (closes > opens)
);
CREATE INDEX line_hours_by_line ON line_hours(line_id, weekday, opens);

-- Whole days the line stays closed (a holiday), both ends included.
CREATE TABLE line_closures (
    id        INTEGER PRIMARY KEY,
    line_id   INTEGER NOT NULL REFERENCES lines(id) ON DELETE CASCADE,
    starts_on TEXT NOT NULL CHECK (starts_on GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]'),
    ends_on   TEXT NOT NULL CHECK (ends_on GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]'),
    note      TEXT NOT NULL DEFAULT '' CHECK (length(note) <= 100),
    CHECK (ends_on >= starts_on)
);
CREATE INDEX line_closures_by_line ON line_closures(line_id, starts_on);

-- A family's link to its personal line. The link's secret is shown once; only its
-- SHA-256 is kept. Revoked enrolments stay (the usage log names them).
CREATE TABLE line_enrolments (
    id           INTEGER PRIMARY KEY,
    line_id      INTEGER NOT NULL REFERENCES lines(id),
    family_name  TEXT NOT NULL CHECK (length(family_name) BETWEEN 1 AND 80),
    language     TEXT NOT NULL CHECK (language IN ('fi', 'sv', 'en', 'se')),
    secret_hash  TEXT NOT NULL UNIQUE CHECK (length(secret_hash) = 64),
    created_at   TEXT NOT NULL,
    created_by   INTEGER NOT NULL REFERENCES staff(id),
    revoked_at   TEXT,
    last_used_at TEXT
);
CREATE INDEX line_enrolments_by_line ON line_enrolments(line_id);

-- The family's own worker(s); none: everyone who serves the line.
CREATE TABLE line_enrolment_staff (
    enrolment_id INTEGER NOT NULL REFERENCES line_enrolments(id) ON DELETE CASCADE,
    staff_id     INTEGER NOT NULL REFERENCES staff(id),
    PRIMARY KEY (enrolment_id, staff_id)
);

-- "Please call us back": a flag with the time, never any text.
CREATE TABLE line_callbacks (
    id           INTEGER PRIMARY KEY,
    line_id      INTEGER NOT NULL REFERENCES lines(id),
    enrolment_id INTEGER NOT NULL REFERENCES line_enrolments(id),
    requested_at TEXT NOT NULL,
    done_at      TEXT,
    done_by      INTEGER REFERENCES staff(id),
    CHECK ((done_at IS NULL) = (done_by IS NULL))
);
-- At most one open call-back per enrolment.
CREATE UNIQUE INDEX line_callbacks_one_open ON line_callbacks(enrolment_id)
    WHERE done_at IS NULL;
CREATE INDEX line_callbacks_by_line ON line_callbacks(line_id, done_at);

-- Service times for the expected wait: an exponentially weighted mean per line.
CREATE TABLE line_stats (
    line_id      INTEGER PRIMARY KEY REFERENCES lines(id) ON DELETE CASCADE,
    ewma_seconds REAL CHECK (ewma_seconds IS NULL OR ewma_seconds >= 0),
    samples      INTEGER NOT NULL CHECK (samples >= 0),
    updated_at   TEXT NOT NULL
);

-- Who is queued right now, so a restart keeps the queue: deleted when the person
-- leaves, is taken, expires or the line closes. Nothing is kept afterwards.
CREATE TABLE line_queue_entries (
    ticket_hash  TEXT PRIMARY KEY CHECK (length(ticket_hash) = 64),
    line_id      INTEGER NOT NULL REFERENCES lines(id) ON DELETE CASCADE,
    mode         TEXT NOT NULL CHECK (mode IN ('chat', 'video')),
    joined_at    TEXT NOT NULL,
    enrolment_id INTEGER REFERENCES line_enrolments(id),
    staff_ids    TEXT NOT NULL DEFAULT '',   -- space-separated ids; '' = anyone on the line
    front        INTEGER NOT NULL DEFAULT 0 CHECK (front IN (0, 1)),
    nickname     TEXT NOT NULL DEFAULT '' CHECK (length(nickname) <= 40)
);
CREATE INDEX line_queue_entries_by_line ON line_queue_entries(line_id, joined_at);
