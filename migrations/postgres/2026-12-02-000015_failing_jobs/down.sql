DROP INDEX jobs_failing;
