-- Scaled mode (AMQP_URL set): a job handed to RabbitMQ, the broker having confirmed it, is `queued`
-- until a worker starts it. The embedded runner treats a queued job as pending, so switching modes
-- strands nothing.
ALTER TABLE jobs DROP CONSTRAINT jobs_state_check;
ALTER TABLE jobs ADD CONSTRAINT jobs_state_check
    CHECK (state IN ('pending', 'queued', 'running', 'done', 'dead'));
DROP INDEX jobs_due;
CREATE INDEX jobs_due ON jobs (run_at) WHERE state IN ('pending', 'queued', 'running');
