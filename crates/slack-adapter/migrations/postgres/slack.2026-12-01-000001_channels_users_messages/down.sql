DROP TABLE slack_incident_work;
DROP TABLE slack_messages;
DROP TABLE slack_conversations;
DROP TABLE slack_users;
