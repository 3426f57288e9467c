-- API tokens: shown once at creation, stored only as a SHA-256 hash; revocation takes effect at once.
CREATE TABLE api_tokens (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name TEXT NOT NULL DEFAULT '' CHECK (length(name) <= 128),
    token_hash TEXT NOT NULL UNIQUE CHECK (length(token_hash) = 64),
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP,
    last_used_at TIMESTAMP,
    revoked_at TIMESTAMP
);
CREATE INDEX api_tokens_user_id ON api_tokens (user_id);

-- Permissions granted to a user, by Django-style codename (`incidents.view_incident`). Admins
-- (users.is_superuser) hold every permission without rows here.
CREATE TABLE user_permissions (
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    codename TEXT NOT NULL CHECK (length(codename) BETWEEN 3 AND 100),
    PRIMARY KEY (user_id, codename)
);
