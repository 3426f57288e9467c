-- One Jira ticket per incident. 'creating' while an attempt to create it may have reached Jira
-- (attempt_started_at), 'created' once Jira answered with its id and key.
CREATE TABLE raid_tickets (
    incident_id BIGINT PRIMARY KEY REFERENCES incidents (id) ON DELETE CASCADE,
    state TEXT NOT NULL CHECK (state IN ('creating', 'created')),
    issue_id TEXT,
    issue_key TEXT,
    project_key TEXT NOT NULL DEFAULT '',
    business_impact TEXT NOT NULL DEFAULT '',
    attempt_started_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX raid_tickets_issue_key ON raid_tickets (issue_key);

-- The mirror's state, per incident and field (sync-engine): the value Jira holds as far as we know,
-- the incident version of the last change pushed, and a lease so one push runs at a time.
CREATE TABLE raid_sync_state (
    incident_id BIGINT NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
    field TEXT NOT NULL CHECK (length(field) BETWEEN 1 AND 64),
    external_value TEXT,
    pushed_version BIGINT NOT NULL DEFAULT 0,
    lease_until TIMESTAMP,
    updated_at TIMESTAMP NOT NULL,
    PRIMARY KEY (incident_id, field)
);

-- Routing: a feature team's Jira project (the original's raid_featureteam).
CREATE TABLE raid_feature_teams (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 80),
    jira_project_key TEXT NOT NULL UNIQUE CHECK (length(jira_project_key) BETWEEN 1 AND 10),
    UNIQUE (name, jira_project_key)
);
