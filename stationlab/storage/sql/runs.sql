-- The statements of stationlab/storage/runs.py: a block starts with "-- name: <name>"
-- and runs to the next one. Parameters are always bound (%(name)s).

-- name: run_start
INSERT INTO pipeline_runs (job, notebook, parameters, scheduled_for, output_path, host)
VALUES (%(job)s, %(notebook)s, %(parameters)s, %(scheduled_for)s, %(output_path)s, %(host)s)
RETURNING run_id, started_at

-- name: run_finish
UPDATE pipeline_runs
SET status = %(status)s, error = %(error)s, finished_at = now(),
    duration_s = extract(epoch FROM now() - started_at)
WHERE run_id = %(run_id)s

-- name: run_get
SELECT * FROM pipeline_runs WHERE run_id = %(run_id)s

-- name: runs_history
SELECT run_id, job, notebook, parameters, status, scheduled_for, started_at, finished_at,
       duration_s, error, output_path, host
FROM pipeline_runs
WHERE (%(job)s::text IS NULL OR job = %(job)s)
ORDER BY started_at DESC, run_id DESC
LIMIT %(limit)s

-- name: runs_last_scheduled
SELECT job, max(scheduled_for) AS scheduled_for
FROM pipeline_runs WHERE scheduled_for IS NOT NULL
GROUP BY job

-- name: job_try_lock
SELECT pg_try_advisory_xact_lock(hashtext('stationlab.pipeline'), hashtext(%(job)s)) AS locked
