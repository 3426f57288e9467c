-- An incident's Slack lease moved to slack_locks (one lease mechanism, not two): slack_incident_work
-- keeps the last failure only.
ALTER TABLE slack_incident_work DROP COLUMN lock_token;
ALTER TABLE slack_incident_work DROP COLUMN locked_until;
ALTER TABLE slack_incident_work DROP COLUMN failed_job_id;
