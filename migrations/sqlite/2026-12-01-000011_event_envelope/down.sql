ALTER TABLE outbox_events DROP COLUMN schema_version;
ALTER TABLE outbox_events DROP COLUMN incident_version;
ALTER TABLE outbox_events DROP COLUMN entry_point;
ALTER TABLE outbox_events DROP COLUMN actor_user_id;
