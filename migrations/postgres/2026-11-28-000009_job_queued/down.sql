UPDATE jobs SET state = 'pending' WHERE state = 'queued';
ALTER TABLE jobs DROP CONSTRAINT jobs_state_check;
ALTER TABLE jobs ADD CONSTRAINT jobs_state_check CHECK (state IN ('pending', 'running', 'done', 'dead'));
DROP INDEX jobs_due;
CREATE INDEX jobs_due ON jobs (run_at) WHERE state IN ('pending', 'running');
