-- Scaled mode (AMQP_URL set): a job handed to RabbitMQ, the broker having confirmed it, is `queued`
-- until a worker starts it. The embedded runner treats a queued job as pending, so switching modes
-- strands nothing. SQLite cannot alter a CHECK constraint: the table is rebuilt.
CREATE TABLE jobs_new (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    queue TEXT NOT NULL CHECK (length(queue) BETWEEN 1 AND 100),
    payload TEXT NOT NULL,
    idempotency_key TEXT NOT NULL UNIQUE CHECK (length(idempotency_key) BETWEEN 1 AND 300),
    event_id TEXT,
    state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'queued', 'running', 'done', 'dead')),
    attempts INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    run_at TIMESTAMP NOT NULL,
    locked_until TIMESTAMP,
    last_error TEXT,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
INSERT INTO jobs_new SELECT id, name, queue, payload, idempotency_key, event_id, state, attempts, run_at,
    locked_until, last_error, created_at, updated_at FROM jobs;
-- Keep the id counter, so ids of deleted rows are never handed out again.
DELETE FROM sqlite_sequence WHERE name = 'jobs_new';
INSERT INTO sqlite_sequence (name, seq) SELECT 'jobs_new', seq FROM sqlite_sequence WHERE name = 'jobs';
DROP TABLE jobs;
ALTER TABLE jobs_new RENAME TO jobs;
CREATE INDEX jobs_due ON jobs (run_at) WHERE state IN ('pending', 'queued', 'running');
CREATE INDEX jobs_state ON jobs (state, id);
