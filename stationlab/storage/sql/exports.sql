-- The statements of stationlab/storage/exports.py: a block starts with "-- name: <name>"
-- and runs to the next one. Parameters are always bound (%(name)s).

-- name: station_data_versions
SELECT station_id, name AS station, data_version FROM stations
WHERE %(stations)s::text[] IS NULL OR name = ANY(%(stations)s::text[])
ORDER BY name

-- name: export_insert
INSERT INTO exports (station_id, format, source, options, period_start, period_end, ts_first,
                     ts_last, n_rows, n_channels, n_readings, size_bytes, sha256, path,
                     data_version, inputs_digest, stationlab_version, created_at)
VALUES (%(station_id)s, %(format)s, %(source)s, %(options)s, %(period_start)s, %(period_end)s,
        %(ts_first)s, %(ts_last)s, %(n_rows)s, %(n_channels)s, %(n_readings)s, %(size_bytes)s,
        %(sha256)s, %(path)s, %(data_version)s, %(inputs_digest)s, %(stationlab_version)s,
        %(created_at)s)
RETURNING export_id

-- name: clean_inputs_digest
SELECT clean_inputs_digest(%(station_id)s) AS digest

-- name: export_latest
SELECT e.*, s.name AS station, s.data_version AS station_data_version
FROM exports e JOIN stations s USING (station_id)
WHERE s.name = %(station)s AND e.format = %(format)s AND e.source = %(source)s
ORDER BY e.created_at DESC, e.export_id DESC
LIMIT 1

-- name: export_list
SELECT DISTINCT ON (e.station_id, e.format, e.source)
       e.*, s.name AS station, s.data_version AS station_data_version
FROM exports e JOIN stations s USING (station_id)
ORDER BY e.station_id, e.format, e.source, e.created_at DESC, e.export_id DESC

-- name: set_parallel_workers
-- Local to the export's one transaction: through a transaction pooler a session setting would
-- stay on the server connection for whoever gets it next.
SELECT set_config('max_parallel_workers_per_gather', %(workers)s, true)
