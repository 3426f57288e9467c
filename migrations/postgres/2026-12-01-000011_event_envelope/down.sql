ALTER TABLE outbox_events
    DROP COLUMN schema_version,
    DROP COLUMN incident_version,
    DROP COLUMN entry_point,
    DROP COLUMN actor_user_id;
