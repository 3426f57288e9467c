-- Full-text search on incidents: title weighs more than description. The query side
-- (storage/src/incident_queries.rs) must use exactly this expression for the index to apply.
-- The SQLite tree uses an FTS5 table instead; the schema parity test knows this one difference.
CREATE INDEX incidents_search ON incidents USING GIN (
    (setweight(to_tsvector('english', title), 'A') || setweight(to_tsvector('english', description), 'B'))
);
