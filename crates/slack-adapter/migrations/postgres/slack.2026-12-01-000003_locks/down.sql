DROP TABLE slack_locks;
