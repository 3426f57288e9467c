-- Outgoing webhooks: endpoints operators register (with the secret deliveries are signed with and the
-- event types they want), and one delivery row per endpoint and event (the delivery log).
CREATE TABLE webhook_endpoints (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    url TEXT NOT NULL CHECK (length(url) BETWEEN 8 AND 2000),
    secret TEXT NOT NULL CHECK (length(secret) BETWEEN 16 AND 200),
    -- JSON array of event types.
    events TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE TABLE webhook_deliveries (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    endpoint_id BIGINT NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
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
