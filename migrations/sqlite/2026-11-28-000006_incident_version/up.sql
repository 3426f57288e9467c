-- Bumped by every change to an incident (or to its roles, key events, metrics, costs): the lifecycle
-- takes the incident's row lock with `UPDATE … SET version = version + 1`. Read caches key on it.
ALTER TABLE incidents ADD COLUMN version BIGINT NOT NULL DEFAULT 0;
