-- The jobs that failed and are not done (dead, or waiting for their next attempt): few, and looked up
-- by event for an incident's page ("failed side effects").
CREATE INDEX jobs_failing ON jobs (event_id) WHERE last_error IS NOT NULL AND state <> 'done';
