DROP TRIGGER jobs_notify ON jobs;
DROP TRIGGER outbox_events_notify ON outbox_events;
DROP FUNCTION firefighter_notify_jobs();
