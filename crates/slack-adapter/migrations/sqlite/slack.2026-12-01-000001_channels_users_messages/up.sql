-- Slack's own tables. Slack ids and message timestamps are kept as Slack sends them (text: a `ts`
-- rebuilt from a float can lose trailing zeros and then names no message).

-- A local user's Slack identity.
CREATE TABLE slack_users (
    user_id TEXT NOT NULL PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    slack_id TEXT NOT NULL UNIQUE CHECK (length(slack_id) BETWEEN 1 AND 32),
    username TEXT,
    updated_at TIMESTAMP NOT NULL
);

-- Conversations the product knows: incident channels (incident_id set) and the channels operators
-- tag (`tech_incidents`, `it_deploy`, ...).
CREATE TABLE slack_conversations (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    channel_id TEXT NOT NULL UNIQUE CHECK (length(channel_id) BETWEEN 1 AND 128),
    name TEXT NOT NULL CHECK (length(name) <= 80),
    kind TEXT NOT NULL CHECK (kind IN ('unknown', 'public', 'private', 'im', 'mpim')),
    status TEXT NOT NULL CHECK (status IN ('not_opened', 'opened', 'archived')),
    tag TEXT NOT NULL DEFAULT '' CHECK (length(tag) <= 80),
    incident_id BIGINT UNIQUE REFERENCES incidents (id) ON DELETE CASCADE,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX slack_conversations_unique_tag ON slack_conversations (tag) WHERE tag <> '';

-- Messages the bot posted, by kind (`ff_type`), so that UPDATE and REPLACE find them and a retried
-- job does not post twice.
CREATE TABLE slack_messages (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    channel_id TEXT NOT NULL,
    ts TEXT NOT NULL,
    ff_type TEXT NOT NULL CHECK (length(ff_type) BETWEEN 1 AND 128),
    incident_id BIGINT REFERENCES incidents (id) ON DELETE CASCADE,
    created_at TIMESTAMP NOT NULL,
    UNIQUE (channel_id, ts)
);
CREATE INDEX slack_messages_by_kind ON slack_messages (incident_id, ff_type, channel_id);

-- One row per incident Slack works on: a lease so that two workers never run one incident's Slack
-- work at once, and the last side effect Slack refused for good (shown on the incident).
CREATE TABLE slack_incident_work (
    incident_id BIGINT NOT NULL PRIMARY KEY REFERENCES incidents (id) ON DELETE CASCADE,
    lock_token TEXT,
    locked_until TIMESTAMP,
    failed_step TEXT,
    failure TEXT,
    failed_at TIMESTAMP,
    failed_job_id BIGINT
);
