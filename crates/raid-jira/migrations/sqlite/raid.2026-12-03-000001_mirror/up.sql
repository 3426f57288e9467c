-- The mirror remembers both sides of the last agreement: the incident's value then (in Jira's
-- terms), beside what Jira held (sync-engine's FieldState).
ALTER TABLE raid_sync_state ADD COLUMN local_value TEXT;

-- Jira accounts and the users they are (the original's jira_app_jirauser): one account per user.
CREATE TABLE raid_jira_users (
    account_id TEXT PRIMARY KEY CHECK (length(account_id) BETWEEN 1 AND 128),
    user_id TEXT NOT NULL UNIQUE REFERENCES users (id) ON DELETE CASCADE,
    updated_at TIMESTAMP NOT NULL
);

-- Tickets made for Landbot requests (no incident): who asked, and the attachments still to upload.
CREATE TABLE raid_bot_tickets (
    issue_key TEXT PRIMARY KEY,
    issue_id TEXT NOT NULL,
    reporter_email TEXT NOT NULL,
    requested_by TEXT REFERENCES users (id) ON DELETE SET NULL,
    attachments TEXT NOT NULL DEFAULT '[]',
    created_at TIMESTAMP NOT NULL
);

-- Watcher messages sent, per Jira delivery and recipient: a retried job does not send one twice.
CREATE TABLE raid_watcher_messages (
    delivery TEXT NOT NULL,
    recipient TEXT NOT NULL,
    sent_at TIMESTAMP NOT NULL,
    PRIMARY KEY (delivery, recipient)
);
