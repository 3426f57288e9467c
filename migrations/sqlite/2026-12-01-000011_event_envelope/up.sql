-- Every outbox event says who caused it (a user and an entry point), the incident version the change
-- produced, and the version of its payload's shape. Rows written before this migration have none.
ALTER TABLE outbox_events ADD COLUMN actor_user_id TEXT;
ALTER TABLE outbox_events ADD COLUMN entry_point TEXT CHECK (entry_point IS NULL OR length(entry_point) BETWEEN 1 AND 32);
ALTER TABLE outbox_events ADD COLUMN incident_version BIGINT;
ALTER TABLE outbox_events ADD COLUMN schema_version INTEGER NOT NULL DEFAULT 1;
