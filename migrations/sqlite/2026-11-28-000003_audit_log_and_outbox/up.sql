-- Who changed what, from where: written in the same transaction as the change, never modified.
CREATE TABLE audit_log (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    occurred_at TIMESTAMP NOT NULL,
    actor_user_id TEXT,
    entry_point TEXT NOT NULL CHECK (entry_point IN ('api', 'slack', 'web', 'jira', 'cli', 'system')),
    action TEXT NOT NULL CHECK (length(action) BETWEEN 1 AND 64),
    object_type TEXT NOT NULL CHECK (length(object_type) BETWEEN 1 AND 64),
    object_id TEXT NOT NULL,
    incident_id BIGINT,
    details TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_log_incident_id ON audit_log (incident_id, id);
CREATE INDEX audit_log_occurred_at ON audit_log (occurred_at);

CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;

-- Domain events, written in the same transaction as the change that caused them (transactional outbox).
-- A relay publishes pending rows and stamps published_at.
CREATE TABLE outbox_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id TEXT NOT NULL UNIQUE,
    event_type TEXT NOT NULL CHECK (length(event_type) BETWEEN 1 AND 64),
    incident_id BIGINT,
    payload TEXT NOT NULL,
    occurred_at TIMESTAMP NOT NULL,
    published_at TIMESTAMP
);
CREATE INDEX outbox_events_pending ON outbox_events (id) WHERE published_at IS NULL;
