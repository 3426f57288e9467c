ALTER TABLE jobs DROP COLUMN attempt_base;
DROP INDEX jobs_ready;
