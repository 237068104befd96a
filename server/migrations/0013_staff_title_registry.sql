-- The client's access report (client-data law 703/2023, section 11): a staff member's
-- job title is shown as their role, and registry staff may produce a report by contact.

ALTER TABLE staff ADD COLUMN title TEXT NOT NULL DEFAULT '';
ALTER TABLE staff ADD COLUMN registry INTEGER NOT NULL DEFAULT 0 CHECK (registry IN (0, 1));

-- A contact's appointments are found case-blind (e-mail addresses) by this index and
-- bookings_by_contact (0007).
CREATE INDEX participants_by_contact ON participants(contact COLLATE NOCASE)
    WHERE contact IS NOT NULL;
