-- When the server was last seen alive, so that a call spell cut by a crash ends there
-- and not at the restart. One row, rewritten every KOTA_ALIVE_MARK_SECONDS; `clean` is
-- set by a clean shutdown.
CREATE TABLE server_alive (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    started_at TEXT NOT NULL,
    alive_at   TEXT NOT NULL,
    clean      INTEGER NOT NULL DEFAULT 0 CHECK (clean IN (0, 1))
);
