-- The Slack directory the product routes people with: user groups (with their members), the members
-- of the conversations it knows, and which conversations and user groups respond to each incident
-- category (their members are invited to the category's incident channels). Members are Slack user
-- ids: they are invited by id, and resolved to local users only when they act.
CREATE TABLE slack_user_groups (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    usergroup_id TEXT NOT NULL UNIQUE CHECK (length(usergroup_id) BETWEEN 1 AND 32),
    handle TEXT NOT NULL DEFAULT '' CHECK (length(handle) <= 80),
    name TEXT NOT NULL DEFAULT '' CHECK (length(name) <= 80),
    description TEXT NOT NULL DEFAULT '' CHECK (length(description) <= 140),
    tag TEXT NOT NULL DEFAULT '' CHECK (length(tag) <= 80),
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE TABLE slack_user_group_members (
    user_group_id BIGINT NOT NULL REFERENCES slack_user_groups (id) ON DELETE CASCADE,
    slack_id TEXT NOT NULL,
    PRIMARY KEY (user_group_id, slack_id)
);
CREATE TABLE slack_conversation_members (
    conversation_id BIGINT NOT NULL REFERENCES slack_conversations (id) ON DELETE CASCADE,
    slack_id TEXT NOT NULL,
    PRIMARY KEY (conversation_id, slack_id)
);
CREATE TABLE slack_conversation_categories (
    conversation_id BIGINT NOT NULL REFERENCES slack_conversations (id) ON DELETE CASCADE,
    category_id TEXT NOT NULL REFERENCES incident_categories (id) ON DELETE CASCADE,
    PRIMARY KEY (conversation_id, category_id)
);
CREATE TABLE slack_user_group_categories (
    user_group_id BIGINT NOT NULL REFERENCES slack_user_groups (id) ON DELETE CASCADE,
    category_id TEXT NOT NULL REFERENCES incident_categories (id) ON DELETE CASCADE,
    PRIMARY KEY (user_group_id, category_id)
);
CREATE INDEX slack_conversation_categories_by_category ON slack_conversation_categories (category_id);
CREATE INDEX slack_user_group_categories_by_category ON slack_user_group_categories (category_id);
