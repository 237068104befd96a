-- Organisation reports: which service an appointment belongs to, the family's
-- municipality and the travel a held appointment avoids (docs/reports.md).

-- The service (NULL: none); the family's municipality, short free text chosen from the
-- service's configured list; a one-way distance and travel time staff set for this
-- appointment (NULL: the service's configured distance for the municipality).
ALTER TABLE appointments ADD COLUMN service_id INTEGER REFERENCES services(id);
ALTER TABLE appointments ADD COLUMN municipality TEXT;
ALTER TABLE appointments ADD COLUMN travel_km REAL;
ALTER TABLE appointments ADD COLUMN travel_minutes INTEGER;

-- Appointments a family booked belong to the booking's service; booking confirmation
-- sets it from now on.
UPDATE appointments SET service_id = (
    SELECT b.service_id FROM bookings b WHERE b.appointment_id = appointments.id
) WHERE id IN (SELECT appointment_id FROM bookings WHERE appointment_id IS NOT NULL);

-- One-way distance and travel time from a municipality to the service's office; a held
-- appointment avoids one round trip (2 x km, 2 x minutes).
CREATE TABLE travel_distances (
    service_id   INTEGER NOT NULL REFERENCES services(id) ON DELETE CASCADE,
    municipality TEXT NOT NULL,
    km           REAL NOT NULL CHECK (km >= 0),
    minutes      INTEGER NOT NULL CHECK (minutes >= 0),
    PRIMARY KEY (service_id, municipality)
);

-- The report reads a range of months: the rows of the appointments that start in it by
-- appointment and action, from the index alone (the many other rows of an appointment
-- are skipped, and the call rows it sums need no table lookup), and the line rows by
-- action and time.
CREATE INDEX audit_log_by_appointment_action
    ON audit_log(appointment_id, action, actor_kind, actor_id, subject_id, at);
CREATE INDEX audit_log_by_action_time ON audit_log(action, at);
