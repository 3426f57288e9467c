-- Full-text search on incidents: title weighs more than description. The query side
-- (storage/src/incident_queries.rs) must use exactly this expression for the index to apply.
-- The SQLite tree uses an FTS5 table instead; the schema parity test knows this one difference.
-- fastupdate is off: incidents are written rarely and searched often, and a pending list (filled by
-- inserts until the next vacuum) is scanned linearly by every search.
CREATE INDEX incidents_search ON incidents USING GIN (
    (setweight(to_tsvector('english', title), 'A') || setweight(to_tsvector('english', description), 'B'))
) WITH (fastupdate = off);
