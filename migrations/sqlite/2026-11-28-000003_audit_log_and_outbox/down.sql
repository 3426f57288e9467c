DROP TABLE outbox_events;
DROP TABLE audit_log;
