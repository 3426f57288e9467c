-- Named leases (one job at a time for a piece of Slack work that spans incidents, such as telling a
-- person about a role): the holder's token and until when it holds it.
CREATE TABLE slack_locks (
    name TEXT NOT NULL PRIMARY KEY CHECK (length(name) BETWEEN 1 AND 200),
    token TEXT NOT NULL,
    locked_until TIMESTAMP NOT NULL
);
