ALTER TABLE incidents DROP COLUMN version;
