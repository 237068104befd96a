-- Who left a call by themselves, so that their next knock shows "returned" to staff also
-- after a restart or after the idle room was dropped. Participant ids, comma-separated.
ALTER TABLE call_sessions ADD COLUMN left_participants TEXT NOT NULL DEFAULT '';
