-- The statements of stationlab/storage/queue.py: a block starts with "-- name: <name>"
-- and runs to the next one. Parameters are always bound (%(name)s).

-- name: arrival_insert
INSERT INTO arrivals (source, original_name, sha256, size_bytes, stored_path, station_name,
                      author)
VALUES (%(source)s, %(original_name)s, %(sha256)s, %(size_bytes)s, %(stored_path)s,
        %(station_name)s, coalesce(%(author)s, current_user))
RETURNING arrival_id

-- name: fetched_keys
SELECT remote_path, remote_key FROM fetched WHERE source = %(source)s

-- name: fetched_insert
INSERT INTO fetched (source, remote_path, remote_key, arrival_id)
VALUES (%(source)s, %(remote_path)s, %(remote_key)s, %(arrival_id)s)
ON CONFLICT DO NOTHING

-- name: file_enqueue
INSERT INTO files (sha256, name, source, size_bytes, status, arrival_id, stored_path,
                   station_name)
VALUES (%(sha256)s, %(name)s, %(source)s, %(size_bytes)s, 'pending', %(arrival_id)s,
        %(stored_path)s, %(station_name)s)
ON CONFLICT (sha256) DO UPDATE SET
    arrival_id = coalesce(files.arrival_id, EXCLUDED.arrival_id),
    stored_path = coalesce(files.stored_path, EXCLUDED.stored_path),
    station_name = coalesce(files.station_name, EXCLUDED.station_name)
RETURNING file_id, status, error, (xmax = 0) AS created

-- name: file_fail_new
INSERT INTO files (sha256, name, source, size_bytes, status, arrival_id, stored_path,
                   station_name, error, attempts)
VALUES (%(sha256)s, %(name)s, %(source)s, %(size_bytes)s, 'failed', %(arrival_id)s,
        %(stored_path)s, %(station_name)s, %(error)s, 1)
ON CONFLICT (sha256) DO UPDATE SET attempts = files.attempts
RETURNING file_id, status, error, (xmax = 0) AS created

-- name: file_claim
SELECT f.file_id, f.sha256, f.name, f.source, f.stored_path, f.station_name
FROM files f
WHERE f.status = 'pending' AND f.stored_path IS NOT NULL
  AND NOT EXISTS (
      SELECT 1 FROM files e
      WHERE e.status = 'pending' AND e.stored_path IS NOT NULL
        AND e.station_name = f.station_name AND e.file_id < f.file_id)
ORDER BY f.file_id
LIMIT 1
FOR UPDATE OF f SKIP LOCKED

-- name: file_imported_by
UPDATE files SET imported_by = %(worker)s WHERE file_id = %(file_id)s

-- name: files_list
SELECT file_id, name, source, status, station_name, error, error_line, error_column, attempts,
       n_inserted, received_at, imported_at, stored_path
FROM files
WHERE %(status)s::text IS NULL OR status = %(status)s
ORDER BY file_id

-- name: files_retry
UPDATE files SET status = 'pending', error = NULL, error_line = NULL, error_column = NULL
WHERE status = 'failed' AND stored_path IS NOT NULL
  AND (%(file_ids)s::bigint[] IS NULL OR file_id = ANY(%(file_ids)s))
RETURNING file_id

-- name: files_by_id
SELECT file_id, name, status, stored_path FROM files WHERE file_id = ANY(%(file_ids)s)
ORDER BY file_id

-- name: queue_counts
SELECT status, count(*) AS n FROM files GROUP BY status ORDER BY status

-- IEA Task 43 station metadata (storage/metadata.py). Open period ends travel as NULL.
