-- Attendance reads the `server.lost` rows (crashes) after a call's first row. Without
-- an index that read scanned the whole usage log; this one holds only those rows.
CREATE INDEX audit_log_server_lost ON audit_log(id) WHERE action = 'server.lost';
