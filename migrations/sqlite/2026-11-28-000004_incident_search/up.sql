-- Full-text search on incidents with FTS5 (an external-content table over incidents, kept in sync
-- by triggers). The PostgreSQL tree uses a GIN expression index instead; the schema parity test
-- knows this one difference.
CREATE VIRTUAL TABLE incidents_search USING fts5(
    title, description, content = 'incidents', content_rowid = 'id', tokenize = 'porter unicode61'
);
INSERT INTO incidents_search (rowid, title, description) SELECT id, title, description FROM incidents;
CREATE TRIGGER incidents_search_insert AFTER INSERT ON incidents
BEGIN
    INSERT INTO incidents_search (rowid, title, description) VALUES (new.id, new.title, new.description);
END;
CREATE TRIGGER incidents_search_delete AFTER DELETE ON incidents
BEGIN
    INSERT INTO incidents_search (incidents_search, rowid, title, description)
        VALUES ('delete', old.id, old.title, old.description);
END;
CREATE TRIGGER incidents_search_update AFTER UPDATE OF title, description ON incidents
BEGIN
    INSERT INTO incidents_search (incidents_search, rowid, title, description)
        VALUES ('delete', old.id, old.title, old.description);
    INSERT INTO incidents_search (rowid, title, description) VALUES (new.id, new.title, new.description);
END;
