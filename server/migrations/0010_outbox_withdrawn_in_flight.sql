-- A change that makes a message wrong while the worker is sending it (an address changed,
-- a time moved, a booking given up) cannot stop that send, but it marks the row: a send
-- that then fails, or must be retried, or is found interrupted after a restart, ends
-- withdrawn instead of being tried again or shown as a failure to staff. A send that
-- succeeded stays sent: that is what happened.
ALTER TABLE outbox ADD COLUMN withdrawn_at TEXT;
