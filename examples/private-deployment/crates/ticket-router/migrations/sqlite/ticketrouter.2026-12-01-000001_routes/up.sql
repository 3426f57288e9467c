-- Which support queue owns each incident.
CREATE TABLE acme_ticket_routes (
    incident_id BIGINT NOT NULL PRIMARY KEY REFERENCES incidents (id) ON DELETE CASCADE,
    queue TEXT NOT NULL CHECK (length(queue) BETWEEN 1 AND 64),
    routed_at TIMESTAMP NOT NULL
);
