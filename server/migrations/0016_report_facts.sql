-- The organisation report's facts of each appointment whose call is settled (it ended
-- over a day ago and nobody is still in it): anonymous counts and times, never who.
-- A year's report reads one row per settled appointment instead of its call rows, and
-- the figures outlive the usage-log purge (docs/reports.md, "Settled facts").
CREATE TABLE report_facts (
    appointment_id INTEGER PRIMARY KEY REFERENCES appointments(id) ON DELETE CASCADE,
    joined         INTEGER NOT NULL CHECK (joined >= 0),   -- participants by link in the call
    seconds        REAL NOT NULL CHECK (seconds >= 0),     -- their connected time, summed
    waits          TEXT NOT NULL DEFAULT '',  -- each admission's wait in seconds, comma-separated
    marks          TEXT NOT NULL DEFAULT '',  -- test verdicts and 'sound_only', comma-separated
    settled_at     TEXT NOT NULL
);
