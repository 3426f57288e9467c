-- Dashboard sessions, kept server-side so that signing out (or an operator) ends them. The browser
-- holds a random 256-bit id; only its SHA-256 is stored, so the table cannot be replayed. Each session
-- has its own CSRF token.
CREATE TABLE dashboard_sessions (
    id_hash TEXT NOT NULL PRIMARY KEY CHECK (length(id_hash) = 64),
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    csrf_token TEXT NOT NULL CHECK (length(csrf_token) = 64),
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    user_agent TEXT NOT NULL DEFAULT '' CHECK (length(user_agent) <= 256),
    address TEXT NOT NULL DEFAULT '' CHECK (length(address) <= 64)
);
CREATE INDEX dashboard_sessions_by_user ON dashboard_sessions (user_id);
CREATE INDEX dashboard_sessions_by_expiry ON dashboard_sessions (expires_at);
