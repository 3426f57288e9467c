-- Jobs started by outbox events (crates/jobs). A job is pending until a runner claims it (running,
-- with a lease), then done, or pending again after a failure (run_at moves by the retry policy), or
-- dead after its last attempt, keeping its last error. A running job whose lease ran out (its runner
-- died) is claimed again. The idempotency key makes enqueuing the same work twice a no-op.
CREATE TABLE jobs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    queue TEXT NOT NULL CHECK (length(queue) BETWEEN 1 AND 100),
    payload TEXT NOT NULL,
    idempotency_key TEXT NOT NULL UNIQUE CHECK (length(idempotency_key) BETWEEN 1 AND 300),
    event_id TEXT,
    state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'running', 'done', 'dead')),
    attempts INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    run_at TIMESTAMP NOT NULL,
    locked_until TIMESTAMP,
    last_error TEXT,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX jobs_due ON jobs (run_at) WHERE state IN ('pending', 'running');
CREATE INDEX jobs_state ON jobs (state, id);
