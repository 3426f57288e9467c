-- New outbox events or jobs, whoever inserts them, NOTIFY the relays LISTENing on firefighter_jobs
-- (delivered at the commit; several in one transaction are folded into one). An idle relay sleeps
-- until then instead of polling.
CREATE FUNCTION firefighter_notify_jobs() RETURNS trigger AS $$
BEGIN
    PERFORM pg_notify('firefighter_jobs', '');
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER outbox_events_notify AFTER INSERT ON outbox_events
    FOR EACH STATEMENT EXECUTE FUNCTION firefighter_notify_jobs();
CREATE TRIGGER jobs_notify AFTER INSERT ON jobs
    FOR EACH STATEMENT EXECUTE FUNCTION firefighter_notify_jobs();
