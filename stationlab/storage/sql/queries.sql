-- Named queries: a block starts with "-- name: <name>" and runs to the next one.
-- Parameters are always bound (%(name)s).

-- name: create_schema_migrations
CREATE TABLE IF NOT EXISTS schema_migrations (
    version integer PRIMARY KEY,
    name text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
)

-- name: record_migration
INSERT INTO schema_migrations (version, name) VALUES (%(version)s, %(name)s)

-- name: info_get
SELECT value FROM stationlab_info WHERE key = %(key)s

-- name: info_set
INSERT INTO stationlab_info (key, value) VALUES (%(key)s, %(value)s)
ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value

-- name: describe_tables
SELECT c.relname, c.relkind::text, coalesce(pg_get_partkeydef(c.oid), '') AS partkey
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'v', 'm') AND NOT c.relispartition
ORDER BY 1

-- name: describe_columns
SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull,
       coalesce(pg_get_expr(d.adbin, d.adrelid), '') AS default_expr, a.attidentity::text
FROM pg_attribute a
JOIN pg_class c ON c.oid = a.attrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'v', 'm') AND NOT c.relispartition
  AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY 1, 2

-- name: describe_constraints
SELECT c.relname, pg_get_constraintdef(k.oid) AS definition, k.contype::text
FROM pg_constraint k
JOIN pg_class c ON c.oid = k.conrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = 'public' AND NOT c.relispartition
ORDER BY 1, 2

-- name: describe_indexes
SELECT i.tablename, i.indexname, i.indexdef
FROM pg_indexes i JOIN pg_class c ON c.relname = i.indexname
WHERE i.schemaname = 'public' AND NOT c.relispartition
ORDER BY 1, 2

-- name: describe_functions
SELECT p.proname, pg_get_function_identity_arguments(p.oid), md5(pg_get_functiondef(p.oid))
FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
WHERE n.nspname = 'public' AND p.prokind = 'f'
ORDER BY 1, 2

-- name: describe_triggers
SELECT c.relname, t.tgname, pg_get_triggerdef(t.oid)
FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = 'public' AND NOT t.tgisinternal
ORDER BY 1, 2

-- name: describe_flag_codes
SELECT code, version, description, excluded_by_default FROM flag_codes ORDER BY code

-- name: station_by_name
SELECT station_id, name, latitude, longitude, elevation_m, data_version FROM stations
WHERE name = %(name)s

-- name: station_insert
INSERT INTO stations (name) VALUES (%(name)s)
ON CONFLICT (name) DO UPDATE SET name = EXCLUDED.name
RETURNING station_id

-- name: logger_by_serial
SELECT l.logger_id, l.station_id, s.name AS station_name, l.utc_offset
FROM loggers l JOIN stations s USING (station_id)
WHERE l.model = %(model)s AND l.serial_number = %(serial_number)s AND l.serial_number <> ''
ORDER BY l.logger_id

-- name: logger_by_name
SELECT logger_id, station_id, utc_offset FROM loggers
WHERE station_id = %(station_id)s AND model = %(model)s AND serial_number = %(serial_number)s
  AND (serial_number <> '' OR name = %(name)s)
ORDER BY logger_id LIMIT 1

-- name: logger_insert
INSERT INTO loggers (station_id, name, model, serial_number)
VALUES (%(station_id)s, %(name)s, %(model)s, %(serial_number)s)
RETURNING logger_id, station_id, utc_offset

-- name: logger_configs
SELECT column_name, channel_id, source, nullif(valid_from, '-infinity') AS valid_from,
       nullif(valid_to, 'infinity') AS valid_to
FROM logger_configs
WHERE logger_id = %(logger_id)s AND (table_name IS NULL OR table_name = %(table_name)s)
ORDER BY column_name, valid_from

-- name: point_owned_elsewhere
SELECT EXISTS (
    SELECT 1 FROM measurement_points p
    JOIN channels c USING (measurement_point_id)
    JOIN logger_configs lc USING (channel_id)
    WHERE p.station_id = %(station_id)s AND p.name = %(name)s
      AND (lc.logger_id <> %(logger_id)s OR lc.table_name IS DISTINCT FROM %(table_name)s)
) AS elsewhere

-- name: point_upsert
INSERT INTO measurement_points (station_id, name, measurement_type, height_m, orientation_deg, unit)
VALUES (%(station_id)s, %(name)s, %(measurement_type)s, %(height_m)s, %(orientation_deg)s, %(unit)s)
ON CONFLICT (station_id, name) DO UPDATE SET name = EXCLUDED.name
RETURNING measurement_point_id

-- name: channel_for_point
INSERT INTO channels (station_id, measurement_point_id, statistic, kind, unit)
VALUES (%(station_id)s, %(measurement_point_id)s, %(statistic)s, %(kind)s, %(unit)s)
ON CONFLICT (measurement_point_id, statistic) WHERE measurement_point_id IS NOT NULL
DO UPDATE SET unit = coalesce(channels.unit, EXCLUDED.unit)
RETURNING channel_id

-- name: channel_unassigned
INSERT INTO channels (station_id, logger_id, table_name, column_name, statistic, kind, unit)
VALUES (%(station_id)s, %(logger_id)s, %(table_name)s, %(column_name)s, %(statistic)s, %(kind)s,
        %(unit)s)
ON CONFLICT (logger_id, table_name, column_name) WHERE measurement_point_id IS NULL
DO UPDATE SET unit = coalesce(channels.unit, EXCLUDED.unit)
RETURNING channel_id

-- name: config_insert
INSERT INTO logger_configs (logger_id, table_name, column_name, channel_id, valid_from, valid_to,
                            source)
VALUES (%(logger_id)s, %(table_name)s, %(column_name)s, %(channel_id)s, %(valid_from)s,
        %(valid_to)s, %(source)s)

-- name: file_by_sha
SELECT file_id, name, status, error, n_readings FROM files WHERE sha256 = %(sha256)s

-- name: file_insert
INSERT INTO files (sha256, name, source, size_bytes, status)
VALUES (%(sha256)s, %(name)s, %(source)s, %(size_bytes)s, 'pending')
ON CONFLICT (sha256) DO UPDATE SET attempts = files.attempts
RETURNING file_id, status

-- name: file_lock
SELECT file_id, status FROM files WHERE file_id = %(file_id)s FOR UPDATE

-- name: file_imported
UPDATE files SET status = 'imported', error = NULL, error_line = NULL, error_column = NULL,
    format = %(format)s, station_id = %(station_id)s, logger_id = %(logger_id)s,
    table_name = %(table_name)s,
    n_rows = %(n_rows)s, n_readings = %(n_readings)s, n_inserted = %(n_inserted)s,
    n_duplicates = %(n_duplicates)s, n_conflicts = %(n_conflicts)s,
    ts_first = %(ts_first)s, ts_last = %(ts_last)s, header = %(header)s,
    attempts = attempts + 1, imported_at = now()
WHERE file_id = %(file_id)s

-- name: file_failed
UPDATE files SET status = 'failed', format = %(format)s, error = %(error)s,
    error_line = %(error_line)s, error_column = %(error_column)s, attempts = attempts + 1
WHERE file_id = %(file_id)s

-- name: readings_exist
SELECT EXISTS (
    SELECT 1 FROM readings
    WHERE channel_id = ANY(%(channel_ids)s) AND ts >= %(ts_first)s AND ts <= %(ts_last)s
) AS overlap

-- name: stage_create
CREATE TEMPORARY TABLE reading_stage (
    channel_id integer NOT NULL,
    ts timestamptz NOT NULL,
    value double precision NOT NULL
) ON COMMIT DROP

-- name: stage_conflicts
INSERT INTO reading_conflicts (file_id, channel_id, ts, stored_value, file_value)
SELECT %(file_id)s, s.channel_id, s.ts, r.value, s.value
FROM reading_stage s JOIN readings r USING (channel_id, ts)
WHERE r.value IS DISTINCT FROM s.value
ON CONFLICT DO NOTHING

-- name: stage_insert
INSERT INTO readings (channel_id, ts, value)
SELECT s.channel_id, s.ts, s.value FROM reading_stage s
WHERE NOT EXISTS (SELECT 1 FROM readings r WHERE r.channel_id = s.channel_id AND r.ts = s.ts)
ON CONFLICT DO NOTHING

-- name: station_channels
SELECT c.channel_id, c.statistic, c.kind, coalesce(c.unit, p.unit) AS unit,
       c.column_name, p.name AS point_name, p.measurement_type, p.height_m, p.orientation_deg
FROM channels c
JOIN stations s USING (station_id)
LEFT JOIN measurement_points p USING (measurement_point_id)
WHERE s.name = %(station)s
ORDER BY c.channel_id

-- name: readings_range
SELECT min(ts) AS ts_first, max(ts) AS ts_last, count(*) AS n_readings
FROM readings
WHERE channel_id = ANY(%(channel_ids)s)
  AND ts >= coalesce(%(start)s::timestamptz, '-infinity')
  AND ts < coalesce(%(end)s::timestamptz, 'infinity')

-- name: summary
SELECT s.name AS station,
       (SELECT count(*) FROM channels c WHERE c.station_id = s.station_id) AS n_channels,
       (SELECT count(*) FROM files f WHERE f.station_id = s.station_id
            AND f.status = 'imported') AS n_files,
       r.n_readings, r.ts_first, r.ts_last
FROM stations s
LEFT JOIN LATERAL (
    SELECT count(*) AS n_readings, min(ts) AS ts_first, max(ts) AS ts_last
    FROM readings WHERE channel_id IN (SELECT channel_id FROM channels c
                                       WHERE c.station_id = s.station_id)
) r ON true
ORDER BY s.name

-- name: station_data_changed
UPDATE stations SET data_version = data_version + 1 WHERE station_id = %(station_id)s

-- name: export_values
-- The values an export reads, one window [start, end) at a time: raw readings for now.
-- Issue 4 (clean data) switches this one block to calibrated values with flagged ones removed.
SELECT channel_id, ts, value FROM readings
WHERE channel_id = ANY(%(channel_ids)s) AND ts >= %(start)s AND ts < %(end)s

-- name: channel_values
-- One channel's values in [start, end), in time order: raw readings for now (issue 4 switches
-- this block to clean values).
SELECT channel_id, ts, value FROM readings
WHERE channel_id = %(channel_id)s AND ts >= %(start)s AND ts < %(end)s

-- name: station_data_versions
SELECT station_id, name AS station, data_version FROM stations
WHERE %(stations)s::text[] IS NULL OR name = ANY(%(stations)s::text[])
ORDER BY name

-- name: export_insert
INSERT INTO exports (station_id, format, source, options, period_start, period_end, ts_first,
                     ts_last, n_rows, n_channels, n_readings, size_bytes, sha256, path,
                     data_version, stationlab_version, created_at)
VALUES (%(station_id)s, %(format)s, %(source)s, %(options)s, %(period_start)s, %(period_end)s,
        %(ts_first)s, %(ts_last)s, %(n_rows)s, %(n_channels)s, %(n_readings)s, %(size_bytes)s,
        %(sha256)s, %(path)s, %(data_version)s, %(stationlab_version)s, %(created_at)s)
RETURNING export_id

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
SELECT set_config('max_parallel_workers_per_gather', %(workers)s, false)

-- name: copy_values_by_channel
-- One window of values as one COPY row per channel with its stamps and values as arrays (in the
-- same order): a few hundred large rows instead of one message per reading. The values come
-- from a query block returning (channel_id, ts, value), such as export_values.
COPY (
    SELECT channel_id, array_agg(ts) AS ts, array_agg(value) AS value
    FROM ({values}
    ) v
    GROUP BY channel_id
) TO STDOUT (FORMAT binary)

-- name: readings_span
-- First and last stamp of some channels' readings in [start, end): per channel, two index probes.
SELECT min(f.ts_first) AS ts_first, max(f.ts_last) AS ts_last
FROM unnest(%(channel_ids)s::integer[]) AS c(channel_id)
CROSS JOIN LATERAL (
    SELECT (SELECT r.ts FROM readings r
            WHERE r.channel_id = c.channel_id
              AND r.ts >= coalesce(%(start)s::timestamptz, '-infinity')
              AND r.ts < coalesce(%(end)s::timestamptz, 'infinity')
            ORDER BY r.ts LIMIT 1) AS ts_first,
           (SELECT r.ts FROM readings r
            WHERE r.channel_id = c.channel_id
              AND r.ts >= coalesce(%(start)s::timestamptz, '-infinity')
              AND r.ts < coalesce(%(end)s::timestamptz, 'infinity')
            ORDER BY r.ts DESC LIMIT 1) AS ts_last
) f
