DROP INDEX jobs_ready;
