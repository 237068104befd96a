-- Retention (docs/audit.md, "Retention"): personal data of past appointments is removed
-- after KOTA_RETENTION_DAYS, keeping anonymous statistics; usage-log rows older than
-- KOTA_USAGE_LOG_RETENTION_DAYS are purged by `kota audit purge`.

-- When an appointment's names, contacts and booking texts were removed (NULL: not yet).
ALTER TABLE appointments ADD COLUMN personal_data_removed_at TEXT;
CREATE INDEX appointments_personal_data ON appointments(ends_at)
    WHERE personal_data_removed_at IS NULL;

-- Each purge of the usage log's oldest rows: the chain now starts at row `first_id`,
-- whose `prev_hash` is recorded here. `mac` is HMAC-SHA256 under the usage-log key of
-- the other columns, so only a holder of the key can move the chain's start; `kota audit
-- verify` walks the chain from the record with the highest `first_id`.
CREATE TABLE audit_purges (
    id         INTEGER PRIMARY KEY,
    at         TEXT NOT NULL,
    first_id   INTEGER NOT NULL CHECK (first_id > 1),
    prev_hash  TEXT NOT NULL,
    removed    INTEGER NOT NULL CHECK (removed >= 0),  -- rows this purge removed
    mac        TEXT NOT NULL
);
CREATE TRIGGER audit_purges_no_update BEFORE UPDATE ON audit_purges
BEGIN SELECT RAISE(ABORT, 'purge records are append-only'); END;
CREATE TRIGGER audit_purges_no_delete BEFORE DELETE ON audit_purges
BEGIN SELECT RAISE(ABORT, 'purge records are append-only'); END;

-- The usage log stays append-only, except for the prefix a recorded purge gave up: a
-- purge inserts its record, then deletes the rows before `first_id`, in one transaction.
DROP TRIGGER audit_log_no_delete;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
WHEN OLD.id >= COALESCE((SELECT MAX(first_id) FROM audit_purges), 1)
BEGIN SELECT RAISE(ABORT, 'the usage log is append-only'); END;
