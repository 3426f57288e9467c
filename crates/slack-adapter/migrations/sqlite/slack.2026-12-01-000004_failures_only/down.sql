ALTER TABLE slack_incident_work ADD COLUMN lock_token TEXT;
ALTER TABLE slack_incident_work ADD COLUMN locked_until TIMESTAMP;
ALTER TABLE slack_incident_work ADD COLUMN failed_job_id BIGINT;
