-- Loading an appointment reads its participants' join links by appointment: without
-- this index SQLite scanned every link ever issued, and booking slowed as links grew
-- (docs/performance.md, "Staff API under write load").
CREATE INDEX join_links_by_appointment ON join_links(appointment_id);
