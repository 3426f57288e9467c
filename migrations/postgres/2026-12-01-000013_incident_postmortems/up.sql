-- The post-mortem state the close guard reads. The post-mortem integration's jobs (Confluence, Jira)
-- keep it current; a request never asks a remote service. No row: no post-mortem linked.
CREATE TABLE incident_postmortems (
    incident_id BIGINT PRIMARY KEY NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
    state TEXT NOT NULL CHECK (state IN ('not_linked', 'ready', 'not_ready', 'unknown')),
    -- The post-mortem's key (a page id, an issue key), when linked.
    reference TEXT NOT NULL DEFAULT '' CHECK (length(reference) <= 255),
    -- The backend's status when not ready, or why it could not be read.
    detail TEXT NOT NULL DEFAULT '' CHECK (length(detail) <= 1000),
    updated_at TIMESTAMP NOT NULL
);
