-- The test integration's own table: the incidents its job has seen.
CREATE TABLE echo_seen (
    incident_id BIGINT PRIMARY KEY NOT NULL,
    title TEXT NOT NULL,
    entry_point TEXT NOT NULL
);
