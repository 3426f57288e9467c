-- What a runner claims, found without reading the backlog: the due jobs of one queue in run_at order,
-- so that a claim stops after its batch however many jobs wait. The claim query repeats this WHERE
-- clause word for word, as SQLite needs to use a partial index. (Running jobs whose lease ran out are
-- few; `jobs_state` finds them.)
CREATE INDEX jobs_ready ON jobs (queue, run_at) WHERE state IN ('pending', 'queued');

-- A dead job given another series of attempts (`retry_dead`) keeps its attempt count, which fences
-- the messages of earlier attempts still in the broker: the series starts after `attempt_base`.
ALTER TABLE jobs ADD COLUMN attempt_base INTEGER NOT NULL DEFAULT 0;
