-- SOS targets (the original's `slack_sos`): where responders ask for help from the incident's
-- modal: a conversation, and the user group mentioned there (`@here` without one).
CREATE TABLE slack_sos (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 255),
    conversation_id BIGINT NOT NULL REFERENCES slack_conversations (id) ON DELETE CASCADE,
    user_group_id BIGINT REFERENCES slack_user_groups (id) ON DELETE CASCADE,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX slack_sos_by_conversation ON slack_sos (conversation_id);
CREATE INDEX slack_sos_by_user_group ON slack_sos (user_group_id);
