-- When a feed's last read was written to the usage log: reads are logged at most once
-- an hour per feed, across restarts too (calendar programs poll every few minutes).
ALTER TABLE calendar_feeds ADD COLUMN read_logged_at TEXT;
