-- Endpoint secrets are stored sealed (webhooks::SecretBox: `enc1:<nonce>:<ciphertext>`, up to about
-- 1,700 characters for a 200-character secret). Rows stored before stay readable as they are.
-- SQLite cannot alter a CHECK constraint: both webhook tables are rebuilt, the delivery log kept
-- (the child first, so that dropping the endpoints cascades to nothing).
CREATE TABLE webhook_endpoints_new (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    url TEXT NOT NULL CHECK (length(url) BETWEEN 8 AND 2000),
    secret TEXT NOT NULL CHECK (length(secret) BETWEEN 16 AND 2000),
    -- JSON array of event types.
    events TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);
INSERT INTO webhook_endpoints_new (id, url, secret, events, created_at)
    SELECT id, url, secret, events, created_at FROM webhook_endpoints WHERE length(secret) <= 2000;
CREATE TABLE webhook_deliveries_new (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    endpoint_id BIGINT NOT NULL REFERENCES webhook_endpoints_new (id) ON DELETE CASCADE,
    event_id TEXT NOT NULL,
    event_type TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('pending', 'delivered', 'failing', 'dead')),
    attempts INTEGER NOT NULL DEFAULT 0,
    last_status INTEGER,
    last_error TEXT,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    UNIQUE (endpoint_id, event_id)
);
INSERT INTO webhook_deliveries_new
    SELECT d.id, d.endpoint_id, d.event_id, d.event_type, d.state, d.attempts, d.last_status, d.last_error,
        d.created_at, d.updated_at
    FROM webhook_deliveries d JOIN webhook_endpoints_new e ON e.id = d.endpoint_id;
-- Keep the id counter, so ids of deleted rows are never handed out again.
DELETE FROM sqlite_sequence WHERE name = 'webhook_deliveries_new';
INSERT INTO sqlite_sequence (name, seq) SELECT 'webhook_deliveries_new', seq FROM sqlite_sequence WHERE name = 'webhook_deliveries';
-- Keep the id counter, so ids of deleted rows are never handed out again.
DELETE FROM sqlite_sequence WHERE name = 'webhook_endpoints_new';
INSERT INTO sqlite_sequence (name, seq) SELECT 'webhook_endpoints_new', seq FROM sqlite_sequence WHERE name = 'webhook_endpoints';
DROP TABLE webhook_deliveries;
DROP TABLE webhook_endpoints;
-- Renaming updates the reference in webhook_deliveries_new.
ALTER TABLE webhook_endpoints_new RENAME TO webhook_endpoints;
ALTER TABLE webhook_deliveries_new RENAME TO webhook_deliveries;
