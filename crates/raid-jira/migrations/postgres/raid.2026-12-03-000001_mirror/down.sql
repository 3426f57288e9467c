DROP TABLE raid_watcher_messages;
DROP TABLE raid_bot_tickets;
DROP TABLE raid_jira_users;
ALTER TABLE raid_sync_state DROP COLUMN local_value;
