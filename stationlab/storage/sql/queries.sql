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
SELECT c.relname, a.attnum, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull,
       coalesce(pg_get_expr(d.adbin, d.adrelid), '') AS default_expr, a.attidentity::text
FROM pg_attribute a
JOIN pg_class c ON c.oid = a.attrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'v', 'm') AND NOT c.relispartition
  AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY 1, 2

-- name: describe_constraints
SELECT c.relname, pg_get_constraintdef(k.oid) AS definition, k.contype::text, k.conname
FROM pg_constraint k
JOIN pg_class c ON c.oid = k.conrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = 'public' AND NOT c.relispartition
ORDER BY 1, 4

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

-- name: describe_views
SELECT c.relname, c.relkind::text, pg_get_viewdef(c.oid) AS definition
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = 'public' AND c.relkind IN ('v', 'm')
ORDER BY 1

-- name: describe_privileges
-- What each stationlab role (and PUBLIC) may do, as the server decides it (has_*_privilege:
-- grants to PUBLIC and to the role alike), on the public schema, its tables and views, their
-- columns (where the column is granted but not the whole table), sequences and functions; and
-- the default privileges that tables made later get.
WITH roles (role) AS (
    VALUES ('public'), ('stationlab_analyst'), ('stationlab_calibrator'), ('stationlab_pipeline')
),
relations AS (
    SELECT c.oid, c.relname, c.relkind FROM pg_class c
    JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S')
      AND NOT c.relispartition
),
held (role, kind, object, privileges) AS (
    SELECT r.role, 'schema'::text, 'public'::text,
           array(SELECT p FROM unnest(ARRAY['USAGE', 'CREATE']) p
                 WHERE has_schema_privilege(r.role, 'public', p))
    FROM roles r
    UNION ALL
    SELECT r.role, 'table', t.relname::text,
           array(SELECT p FROM unnest(ARRAY['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'TRUNCATE',
                                            'REFERENCES', 'TRIGGER']) p
                 WHERE has_table_privilege(r.role, t.oid, p))
    FROM roles r CROSS JOIN relations t WHERE t.relkind <> 'S'
    UNION ALL
    SELECT r.role, 'column', t.relname::text || '.' || a.attname::text,
           array(SELECT p FROM unnest(ARRAY['SELECT', 'INSERT', 'UPDATE', 'REFERENCES']) p
                 WHERE has_column_privilege(r.role, t.oid, a.attnum, p)
                   AND NOT has_table_privilege(r.role, t.oid, p))
    FROM roles r CROSS JOIN relations t
    JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum > 0 AND NOT a.attisdropped
    WHERE t.relkind <> 'S'
    UNION ALL
    SELECT r.role, 'sequence', t.relname::text,
           array(SELECT p FROM unnest(ARRAY['USAGE', 'SELECT', 'UPDATE']) p
                 WHERE has_sequence_privilege(r.role, t.oid, p))
    FROM roles r CROSS JOIN relations t WHERE t.relkind = 'S'
    UNION ALL
    SELECT r.role, 'function',
           p.proname::text || '(' || pg_get_function_identity_arguments(p.oid) || ')',
           CASE WHEN has_function_privilege(r.role, p.oid, 'EXECUTE') THEN ARRAY['EXECUTE']
                ELSE ARRAY[]::text[] END
    FROM roles r CROSS JOIN pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
    WHERE n.nspname = 'public' AND p.prokind = 'f'
    UNION ALL
    SELECT CASE WHEN x.grantee = 0 THEN 'public' ELSE pg_get_userbyid(x.grantee)::text END,
           'default for ' || d.defaclobjtype::text, coalesce(n.nspname::text, ''),
           array_agg(x.privilege_type ORDER BY x.privilege_type)
    FROM pg_default_acl d LEFT JOIN pg_namespace n ON n.oid = d.defaclnamespace
    CROSS JOIN LATERAL aclexplode(d.defaclacl) x
    WHERE x.grantee = 0 OR pg_get_userbyid(x.grantee) LIKE 'stationlab\_%'
    GROUP BY 1, 2, 3
)
SELECT role, kind, object, array_to_string(privileges, ', ') AS privileges FROM held
WHERE cardinality(privileges) > 0
ORDER BY 1, 2, 3

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
SELECT l.logger_id, l.station_id, s.name AS station_name, l.model, l.utc_offset
FROM loggers l JOIN stations s USING (station_id)
WHERE l.serial_number = %(serial_number)s AND l.serial_number <> ''
ORDER BY (l.model = %(model)s) DESC, l.logger_id

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

-- name: stage_months_unpartitioned
-- The months of the staged readings whose partitions do not exist yet; each call of
-- readings_load_table makes the (empty) table that attach_readings_partition then attaches.
SELECT month FROM (
    SELECT DISTINCT date_trunc('month', ts, 'UTC') AS month FROM reading_stage
) m
WHERE readings_load_table(month) <> 'readings'
ORDER BY month

-- name: stage_conflicts
INSERT INTO reading_conflicts (file_id, channel_id, ts, stored_value, file_value)
SELECT %(file_id)s, s.channel_id, s.ts, r.value, s.value
FROM reading_stage s JOIN readings r USING (channel_id, ts)
WHERE r.value IS DISTINCT FROM s.value
  AND r.ts >= %(ts_first)s AND r.ts <= %(ts_last)s  -- only the file's partitions
ON CONFLICT DO NOTHING

-- name: stage_insert
-- The staged readings not stored yet go in; returns their statistics per channel and month
-- (for the monthly rollup).
WITH inserted AS (
    INSERT INTO readings (channel_id, ts, value)
    SELECT s.channel_id, s.ts, s.value FROM reading_stage s
    WHERE NOT EXISTS (SELECT 1 FROM readings r
                      WHERE r.channel_id = s.channel_id AND r.ts = s.ts
                        AND r.ts >= %(ts_first)s AND r.ts <= %(ts_last)s)
    ON CONFLICT DO NOTHING
    RETURNING channel_id, ts, value
)
SELECT channel_id, date_trunc('month', ts, 'UTC') AS month, count(*) AS n, sum(value) AS total,
       min(value) AS minimum, max(value) AS maximum
FROM inserted
GROUP BY 1, 2

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

-- name: channel_table
SELECT c.channel_id, c.station_id, c.measurement_point_id, c.statistic, c.kind,
       coalesce(c.unit, p.unit) AS unit, c.interval_s, c.logger_id, c.table_name, c.column_name,
       p.name AS point_name, p.measurement_type, p.height_m, p.orientation_deg
FROM channels c
JOIN stations s USING (station_id)
LEFT JOIN measurement_points p USING (measurement_point_id)
WHERE s.name = %(station)s
ORDER BY c.channel_id

-- name: clean_readings
SELECT channel_id, ts, raw, value, flags, excluded
FROM clean_readings(%(channel_ids)s, %(start)s, %(end)s, %(excluded_codes)s, %(include_flagged)s)
ORDER BY ts, channel_id

-- name: channel_interval
UPDATE channels SET interval_s = %(interval_s)s
WHERE channel_id = ANY(%(channel_ids)s) AND interval_s IS NULL

-- name: refresh_monthly
SELECT refresh_readings_monthly(%(channel_ids)s, %(ts_first)s, %(ts_last)s)

-- name: add_monthly
SELECT add_readings_monthly(%(channel_ids)s, %(months)s, %(n)s, %(total)s, %(minimum)s,
                            %(maximum)s)

-- name: monthly
SELECT m.channel_id, m.month, m.n, m.total / m.n AS mean, m.minimum, m.maximum,
       m.n::double precision / nullif(
           extract(epoch FROM (m.month + interval '1 month') - m.month) / c.interval_s, 0
       ) AS recovery
FROM readings_monthly m JOIN channels c USING (channel_id)
WHERE m.channel_id = ANY(%(channel_ids)s)
  AND m.month >= coalesce(%(start)s::timestamptz, '-infinity')
  AND m.month < coalesce(%(end)s::timestamptz, 'infinity')
ORDER BY m.channel_id, m.month

-- name: monthly_clean
SELECT r.channel_id, date_trunc('month', r.ts, 'UTC') AS month, count(*) AS n,
       avg(r.value) AS mean, min(r.value) AS minimum, max(r.value) AS maximum,
       count(*)::double precision / nullif(extract(epoch FROM
           (date_trunc('month', r.ts, 'UTC') + interval '1 month')
           - date_trunc('month', r.ts, 'UTC')) / max(c.interval_s), 0) AS recovery
FROM clean_readings(%(channel_ids)s, coalesce(%(start)s::timestamptz, '-infinity'),
                    coalesce(%(end)s::timestamptz, 'infinity'), %(excluded_codes)s, false) r
JOIN channels c USING (channel_id)
GROUP BY 1, 2
ORDER BY 1, 2

-- name: flag_code_exists
SELECT code FROM flag_codes WHERE code = %(code)s

-- name: flag_code_insert
INSERT INTO flag_codes (code, description, excluded_by_default)
VALUES (%(code)s, %(description)s, %(excluded_by_default)s)
ON CONFLICT (code) DO NOTHING

-- name: flag_codes
SELECT code, version, description, excluded_by_default FROM flag_codes ORDER BY code

-- name: flag_insert
INSERT INTO flags (station_id, measurement_point_id, channel_id, ts_from, ts_to, code, reason,
                   author, source, rule_name, rule_version, supersedes)
VALUES (%(station_id)s, %(measurement_point_id)s, %(channel_id)s, %(ts_from)s, %(ts_to)s,
        %(code)s, %(reason)s, %(author)s, %(source)s, %(rule_name)s, %(rule_version)s,
        %(supersedes)s)
RETURNING flag_id

-- name: flag_get
SELECT * FROM flags WHERE flag_id = %(flag_id)s FOR UPDATE

-- name: flag_delete
UPDATE flags SET deleted_at = now(), deleted_by = %(author)s
WHERE flag_id = %(flag_id)s AND deleted_at IS NULL

-- name: flags_list
SELECT f.flag_id, f.ts_from, f.ts_to, f.code, f.reason, f.author, f.source, f.rule_name,
       f.rule_version, f.created_at, f.deleted_at, f.deleted_by, f.supersedes,
       f.channel_id, f.measurement_point_id, p.name AS point_name, c.column_name,
       cp.name AS channel_point_name, c.statistic
FROM flags f
JOIN stations s USING (station_id)
LEFT JOIN measurement_points p ON p.measurement_point_id = f.measurement_point_id
LEFT JOIN channels c ON c.channel_id = f.channel_id
LEFT JOIN measurement_points cp ON cp.measurement_point_id = c.measurement_point_id
WHERE s.name = %(station)s AND (%(include_deleted)s OR f.deleted_at IS NULL)
  AND f.ts_to > coalesce(%(start)s::timestamptz, '-infinity')
  AND f.ts_from < coalesce(%(end)s::timestamptz, 'infinity')
ORDER BY f.ts_from, f.flag_id

-- name: rule_flags_in_period
DELETE FROM flags
WHERE station_id = %(station_id)s AND source = 'rule' AND rule_name = %(rule_name)s
  AND ts_to > %(start)s AND ts_from < %(end)s
RETURNING measurement_point_id, channel_id, ts_from, ts_to, code, reason, author, rule_name,
          rule_version

-- name: qc_settings
SELECT rule, measurement_type, params, enabled FROM qc_settings q
JOIN stations s USING (station_id) WHERE s.name = %(station)s

-- name: qc_setting_upsert
INSERT INTO qc_settings (station_id, rule, measurement_type, params, enabled)
VALUES (%(station_id)s, %(rule)s, %(measurement_type)s, %(params)s, %(enabled)s)
ON CONFLICT (station_id, rule, measurement_type) DO UPDATE
SET params = EXCLUDED.params, enabled = EXCLUDED.enabled, updated_at = now()

-- name: station_columns
SELECT DISTINCT lc.column_name, lc.channel_id
FROM logger_configs lc JOIN loggers l USING (logger_id)
WHERE l.station_id = %(station_id)s
UNION
SELECT column_name, channel_id FROM channels
WHERE station_id = %(station_id)s AND measurement_point_id IS NULL
ORDER BY 1, 2

-- name: flag_coverage
SELECT channel_id, ts_from, ts_to, code, reason, source, flag_id
FROM flag_coverage
WHERE channel_id = ANY(%(channel_ids)s)
  AND ts_to > coalesce(%(start)s::timestamptz, '-infinity')
  AND ts_from < coalesce(%(end)s::timestamptz, 'infinity')
ORDER BY ts_from, channel_id, flag_id

-- name: statistics_clean
SELECT channel_id, count(*) AS n, avg(value) AS mean, stddev_samp(value) AS sd,
       min(value) AS minimum, max(value) AS maximum
FROM clean_readings(%(channel_ids)s, %(start)s, %(end)s, %(excluded_codes)s, false)
GROUP BY channel_id
ORDER BY channel_id

-- name: statistics_raw
SELECT channel_id, count(*) AS n, avg(value) AS mean, stddev_samp(value) AS sd,
       min(value) AS minimum, max(value) AS maximum
FROM readings
WHERE channel_id = ANY(%(channel_ids)s) AND ts >= %(start)s AND ts < %(end)s
GROUP BY channel_id
ORDER BY channel_id

-- name: logger_health
SELECT s.name AS station, l.logger_id, l.name AS logger, l.model, l.serial_number,
       max(f.ts_last) FILTER (WHERE f.status = 'imported') AS last_reading,
       max(f.received_at) AS last_file_at,
       count(f.file_id) FILTER (WHERE f.status = 'imported') AS files_imported,
       count(f.file_id) FILTER (WHERE f.status = 'failed') AS files_failed
FROM loggers l
JOIN stations s USING (station_id)
LEFT JOIN files f USING (logger_id)
GROUP BY s.name, l.logger_id, l.name, l.model, l.serial_number
ORDER BY s.name, l.logger_id

-- name: failed_files
SELECT file_id, name, source, format, error, error_line, error_column, attempts, received_at
FROM files WHERE status = 'failed' ORDER BY received_at, file_id

-- name: station_lock
SELECT pg_advisory_xact_lock(hashtext('stationlab.station'), hashtext(%(name)s))

-- name: partitions_missing
SELECT readings_partitions_missing(%(ts_first)s, %(ts_last)s) AS missing

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

-- name: meta_document
SELECT d.station_id, d.version, d.fields, d.sha256
FROM metadata_documents d JOIN stations s USING (station_id) WHERE s.name = %(station)s

-- name: meta_document_upsert
INSERT INTO metadata_documents (station_id, version, fields, sha256)
VALUES (%(station_id)s, %(version)s, %(fields)s, %(sha256)s)
ON CONFLICT (station_id) DO UPDATE SET version = EXCLUDED.version, fields = EXCLUDED.fields,
    sha256 = EXCLUDED.sha256, imported_at = now()

-- name: meta_station_upsert
INSERT INTO stations (name, station_type, latitude, longitude, iea43)
VALUES (%(name)s, %(station_type)s, %(latitude)s, %(longitude)s, %(iea43)s)
ON CONFLICT (name) DO UPDATE SET station_type = EXCLUDED.station_type,
    latitude = EXCLUDED.latitude, longitude = EXCLUDED.longitude, iea43 = EXCLUDED.iea43
RETURNING station_id

-- name: meta_station
SELECT station_id, name, station_type, latitude, longitude, elevation_m, iea43
FROM stations WHERE name = %(station)s

-- name: meta_clear_configs
DELETE FROM measurement_configs WHERE measurement_point_id IN (
    SELECT measurement_point_id FROM measurement_points WHERE station_id = %(station_id)s)

-- name: meta_clear_mountings
DELETE FROM mounting_arrangements WHERE measurement_point_id IN (
    SELECT measurement_point_id FROM measurement_points WHERE station_id = %(station_id)s)

-- name: meta_clear_installations
DELETE FROM sensor_installations WHERE measurement_point_id IN (
    SELECT measurement_point_id FROM measurement_points WHERE station_id = %(station_id)s)
RETURNING sensor_id

-- name: meta_clear_calibrations
DELETE FROM calibrations WHERE sensor_id = ANY(%(sensor_ids)s)

-- name: meta_drop_unused_sensors
DELETE FROM sensors s WHERE s.sensor_id = ANY(%(sensor_ids)s)
  AND NOT EXISTS (SELECT 1 FROM sensor_installations i WHERE i.sensor_id = s.sensor_id)

-- name: meta_clear_logger_main_configs
DELETE FROM logger_main_configs WHERE logger_id IN (
    SELECT logger_id FROM loggers WHERE station_id = %(station_id)s)

-- name: meta_logger_find
SELECT logger_id FROM loggers
WHERE station_id = %(station_id)s
  AND CASE WHEN %(serial_number)s <> '' THEN serial_number = %(serial_number)s
           ELSE serial_number = '' AND model = %(model)s AND name = %(name)s END
ORDER BY (model = %(model)s) DESC, logger_id LIMIT 1

-- name: meta_logger_update
UPDATE loggers SET model = %(model)s, utc_offset = %(utc_offset)s WHERE logger_id = %(logger_id)s

-- name: meta_logger_insert
INSERT INTO loggers (station_id, name, model, serial_number, utc_offset)
VALUES (%(station_id)s, %(name)s, %(model)s, %(serial_number)s, %(utc_offset)s)
RETURNING logger_id

-- name: meta_logger_main_config_insert
INSERT INTO logger_main_configs (logger_id, valid_from, valid_to, iea43)
VALUES (%(logger_id)s, coalesce(%(valid_from)s, '-infinity'::timestamptz),
        coalesce(%(valid_to)s, 'infinity'::timestamptz), %(iea43)s)

-- name: meta_drop_header_configs
DELETE FROM logger_configs WHERE logger_id = ANY(%(logger_ids)s) AND source = 'file_header'

-- name: meta_documented_points
SELECT measurement_point_id, name FROM measurement_points
WHERE station_id = %(station_id)s AND iea43 IS NOT NULL

-- name: meta_point_upsert
INSERT INTO measurement_points (station_id, name, measurement_type, height_m, orientation_deg,
                                unit, iea43)
VALUES (%(station_id)s, %(name)s, %(measurement_type)s, %(height_m)s,
        %(orientation_deg)s, %(unit)s, %(iea43)s)
ON CONFLICT (station_id, name) DO UPDATE SET measurement_type = EXCLUDED.measurement_type,
    height_m = EXCLUDED.height_m, orientation_deg = EXCLUDED.orientation_deg,
    unit = EXCLUDED.unit, iea43 = EXCLUDED.iea43
RETURNING measurement_point_id

-- name: meta_point_in_use
SELECT EXISTS (SELECT 1 FROM readings r JOIN channels c USING (channel_id)
               WHERE c.measurement_point_id = %(measurement_point_id)s)
    OR EXISTS (SELECT 1 FROM reading_conflicts r JOIN channels c USING (channel_id)
               WHERE c.measurement_point_id = %(measurement_point_id)s)
    OR EXISTS (SELECT 1 FROM flags f LEFT JOIN channels c USING (channel_id)
               WHERE f.measurement_point_id = %(measurement_point_id)s
                  OR c.measurement_point_id = %(measurement_point_id)s) AS in_use

-- name: meta_point_delete_configs
DELETE FROM logger_configs WHERE channel_id IN (
    SELECT channel_id FROM channels WHERE measurement_point_id = %(measurement_point_id)s)

-- name: meta_point_delete_channels
DELETE FROM channels WHERE measurement_point_id = %(measurement_point_id)s

-- name: meta_point_delete
DELETE FROM measurement_points WHERE measurement_point_id = %(measurement_point_id)s

-- name: meta_mounting_insert
INSERT INTO mounting_arrangements (measurement_point_id, boom_orientation_deg,
    vane_dead_band_orientation_deg, orientation_reference, valid_from, valid_to, iea43)
VALUES (%(measurement_point_id)s, %(boom_orientation_deg)s, %(vane_dead_band_orientation_deg)s,
        %(orientation_reference)s, coalesce(%(valid_from)s, '-infinity'::timestamptz),
        coalesce(%(valid_to)s, 'infinity'::timestamptz), %(iea43)s)

-- name: meta_sensor_upsert
INSERT INTO sensors (sensor_type, oem, model, serial_number)
VALUES (%(sensor_type)s, %(oem)s, %(model)s, %(serial_number)s)
ON CONFLICT (oem, model, serial_number) WHERE serial_number <> ''
DO UPDATE SET sensor_type = EXCLUDED.sensor_type
RETURNING sensor_id

-- name: meta_calibration_insert
INSERT INTO calibrations (sensor_id, slope, "offset", calibration_date, place_of_calibration,
    certificate, valid_from, valid_to, iea43)
VALUES (%(sensor_id)s, %(slope)s, %(offset)s, %(calibration_date)s,
        %(place_of_calibration)s, %(certificate)s,
        coalesce(%(valid_from)s, '-infinity'::timestamptz),
        coalesce(%(valid_to)s, 'infinity'::timestamptz), %(iea43)s)

-- name: meta_installation_insert
INSERT INTO sensor_installations (sensor_id, measurement_point_id, valid_from, valid_to, iea43)
VALUES (%(sensor_id)s, %(measurement_point_id)s,
        coalesce(%(valid_from)s, '-infinity'::timestamptz),
        coalesce(%(valid_to)s, 'infinity'::timestamptz), %(iea43)s)

-- name: meta_measurement_config_insert
INSERT INTO measurement_configs (measurement_point_id, slope, "offset", unit, valid_from,
    valid_to, columns, iea43)
VALUES (%(measurement_point_id)s, %(slope)s, %(offset)s, %(unit)s,
        coalesce(%(valid_from)s, '-infinity'::timestamptz),
        coalesce(%(valid_to)s, 'infinity'::timestamptz), %(columns)s, %(iea43)s)
RETURNING measurement_config_id

-- name: meta_logger_config_insert
INSERT INTO logger_configs (logger_id, table_name, column_name, channel_id, slope, "offset",
    valid_from, valid_to, source, measurement_config_id)
VALUES (%(logger_id)s, NULL, %(column_name)s, %(channel_id)s, %(slope)s, %(offset)s,
        coalesce(%(valid_from)s, '-infinity'::timestamptz),
        coalesce(%(valid_to)s, 'infinity'::timestamptz), 'iea43', %(measurement_config_id)s)

-- name: meta_read_main_configs
SELECT m.logger_main_config_id AS id, m.logger_id, l.name, l.model, l.serial_number,
       l.utc_offset, nullif(m.valid_from, '-infinity') AS valid_from,
       nullif(m.valid_to, 'infinity') AS valid_to, m.iea43
FROM logger_main_configs m JOIN loggers l USING (logger_id)
WHERE l.station_id = %(station_id)s
ORDER BY m.logger_main_config_id

-- name: meta_read_points
SELECT measurement_point_id, name, measurement_type, height_m, orientation_deg, unit, iea43
FROM measurement_points WHERE station_id = %(station_id)s AND iea43 IS NOT NULL
ORDER BY measurement_point_id

-- name: meta_read_mountings
SELECT m.measurement_point_id, m.boom_orientation_deg, m.vane_dead_band_orientation_deg,
       m.orientation_reference, nullif(m.valid_from, '-infinity') AS valid_from,
       nullif(m.valid_to, 'infinity') AS valid_to, m.iea43
FROM mounting_arrangements m JOIN measurement_points p USING (measurement_point_id)
WHERE p.station_id = %(station_id)s
ORDER BY m.mounting_arrangement_id

-- name: meta_read_installations
SELECT i.measurement_point_id, i.sensor_id, s.sensor_type, s.oem, s.model, s.serial_number,
       nullif(i.valid_from, '-infinity') AS valid_from, nullif(i.valid_to, 'infinity') AS valid_to,
       i.iea43
FROM sensor_installations i JOIN sensors s USING (sensor_id)
JOIN measurement_points p USING (measurement_point_id)
WHERE p.station_id = %(station_id)s
ORDER BY i.sensor_installation_id

-- name: meta_read_calibrations
SELECT c.sensor_id, c.slope, c."offset", c.calibration_date, c.place_of_calibration,
       c.certificate, nullif(c.valid_from, '-infinity') AS valid_from,
       nullif(c.valid_to, 'infinity') AS valid_to, c.iea43
FROM calibrations c
WHERE c.sensor_id IN (SELECT i.sensor_id FROM sensor_installations i
                      JOIN measurement_points p USING (measurement_point_id)
                      WHERE p.station_id = %(station_id)s)
ORDER BY c.sensor_id, c.valid_from, c.calibration_id

-- name: meta_read_measurement_configs
SELECT m.measurement_point_id, m.slope, m."offset", m.unit,
       nullif(m.valid_from, '-infinity') AS valid_from, nullif(m.valid_to, 'infinity') AS valid_to,
       m.columns, m.iea43
FROM measurement_configs m JOIN measurement_points p USING (measurement_point_id)
WHERE p.station_id = %(station_id)s
ORDER BY m.measurement_config_id

-- name: meta_read_channels
SELECT c.channel_id, p.name AS point_name, c.logger_id, c.column_name, c.statistic, c.kind,
       c.unit
FROM channels c LEFT JOIN measurement_points p USING (measurement_point_id)
WHERE c.station_id = %(station_id)s
ORDER BY c.channel_id

-- name: meta_read_logger_configs
SELECT l.logger_id, l.name AS logger_name, l.model, l.serial_number, l.utc_offset,
       lc.table_name, lc.column_name, lc.channel_id, lc.slope, lc."offset",
       nullif(lc.valid_from, '-infinity') AS valid_from,
       nullif(lc.valid_to, 'infinity') AS valid_to, lc.source
FROM logger_configs lc JOIN loggers l USING (logger_id)
WHERE l.station_id = %(station_id)s
ORDER BY l.logger_id, lc.column_name, lc.valid_from, lc.table_name NULLS FIRST

-- name: meta_documented_loggers
SELECT DISTINCT l.logger_id, l.name, l.model, l.serial_number, l.utc_offset
FROM loggers l JOIN logger_main_configs m USING (logger_id) JOIN stations s USING (station_id)
WHERE s.name = %(station)s
ORDER BY l.logger_id

-- name: meta_stations
SELECT s.name FROM stations s JOIN metadata_documents d USING (station_id) ORDER BY s.name

-- name: config_insert_calibrated
INSERT INTO logger_configs (logger_id, table_name, column_name, channel_id, slope, "offset",
                            valid_from, valid_to, source)
VALUES (%(logger_id)s, %(table_name)s, %(column_name)s, %(channel_id)s, %(slope)s, %(offset)s,
        %(valid_from)s, %(valid_to)s, %(source)s)

-- name: point_update
UPDATE measurement_points SET measurement_type = %(measurement_type)s, height_m = %(height_m)s,
    orientation_deg = %(orientation_deg)s, unit = coalesce(unit, %(unit)s)
WHERE measurement_point_id = %(measurement_point_id)s

-- name: events_insert
INSERT INTO logger_events (logger_id, ts, kind, code, message, file_id)
SELECT %(logger_id)s, e.ts, e.kind, e.code, e.message, %(file_id)s
FROM unnest(%(ts)s::timestamptz[], %(kind)s::text[], %(code)s::text[], %(message)s::text[])
     AS e(ts, kind, code, message)
ON CONFLICT DO NOTHING

-- name: diagnostics_insert
INSERT INTO logger_diagnostics (logger_id, ts, name, statistic, value, unit, file_id)
SELECT %(logger_id)s, d.ts, d.name, d.statistic, d.value, d.unit, %(file_id)s
FROM unnest(%(ts)s::timestamptz[], %(name)s::text[], %(statistic)s::text[],
            %(value)s::float8[], %(unit)s::text[]) AS d(ts, name, statistic, value, unit)
ON CONFLICT DO NOTHING

-- name: logger_events
SELECT ts, kind, code, message FROM logger_events WHERE logger_id = %(logger_id)s ORDER BY ts, code

-- name: logger_diagnostics
SELECT ts, name, statistic, value, unit FROM logger_diagnostics
WHERE logger_id = %(logger_id)s ORDER BY name, statistic, ts

-- name: sensors_list
SELECT se.sensor_id, se.sensor_type, se.oem, se.model, se.serial_number,
       string_agg(DISTINCT st.name, ', ') AS stations,
       string_agg(DISTINCT p.name, ', ') AS points
FROM sensors se
LEFT JOIN sensor_installations si USING (sensor_id)
LEFT JOIN measurement_points p USING (measurement_point_id)
LEFT JOIN stations st ON st.station_id = p.station_id
WHERE %(station)s::text IS NULL OR st.name = %(station)s
GROUP BY se.sensor_id
ORDER BY se.sensor_id

-- name: sensor_insert
INSERT INTO sensors (sensor_type, oem, model, serial_number)
VALUES (%(sensor_type)s, %(oem)s, %(model)s, %(serial_number)s)
RETURNING sensor_id

-- name: sensor_install
INSERT INTO sensor_installations (sensor_id, measurement_point_id, valid_from, valid_to)
VALUES (%(sensor_id)s, %(measurement_point_id)s, %(valid_from)s, %(valid_to)s)
RETURNING sensor_installation_id

-- name: calibrations_list
SELECT calibration_id, sensor_id, slope, "offset", calibration_date, certificate,
       nullif(valid_from, '-infinity') AS valid_from, nullif(valid_to, 'infinity') AS valid_to,
       author, created_at
FROM calibrations WHERE sensor_id = %(sensor_id)s
ORDER BY valid_from, calibration_id

-- name: calibration_history
-- Earlier versions of a sensor's calibrations (each as it was until replaced_at), newest first.
SELECT calibration_id, sensor_id, slope, "offset", calibration_date, certificate,
       nullif(valid_from, '-infinity') AS valid_from, nullif(valid_to, 'infinity') AS valid_to,
       author, created_at, replaced_at, replaced_by, change
FROM calibration_history WHERE sensor_id = %(sensor_id)s
ORDER BY replaced_at DESC, calibration_id

-- name: calibration_insert
INSERT INTO calibrations (sensor_id, slope, "offset", calibration_date, certificate, valid_from,
                          valid_to, author)
VALUES (%(sensor_id)s, %(slope)s, %(offset)s, %(calibration_date)s, %(certificate)s,
        coalesce(%(valid_from)s::timestamptz, '-infinity'),
        coalesce(%(valid_to)s::timestamptz, 'infinity'), %(author)s)
RETURNING calibration_id

-- name: calibration_update
UPDATE calibrations SET slope = %(slope)s, "offset" = %(offset)s,
       calibration_date = %(calibration_date)s, certificate = %(certificate)s,
       valid_from = coalesce(%(valid_from)s::timestamptz, '-infinity'),
       valid_to = coalesce(%(valid_to)s::timestamptz, 'infinity'), author = %(author)s,
       created_at = now()
WHERE calibration_id = %(calibration_id)s
RETURNING calibration_id

-- name: sensor_channels
SELECT DISTINCT c.channel_id
FROM sensor_installations si
JOIN channels c USING (measurement_point_id)
WHERE si.sensor_id = %(sensor_id)s AND c.kind = 'number'
ORDER BY c.channel_id

-- name: recent_logger_events
SELECT s.name AS station, l.name AS logger, e.ts, e.kind, e.code, e.message
FROM logger_events e JOIN loggers l USING (logger_id) JOIN stations s USING (station_id)
ORDER BY e.ts DESC
LIMIT %(limit)s

-- name: supply_voltages
SELECT s.name AS station, l.name AS logger, d.ts, d.name, d.statistic, d.value
FROM logger_diagnostics d JOIN loggers l USING (logger_id) JOIN stations s USING (station_id)
WHERE d.unit = 'V' AND d.ts >= %(since)s
ORDER BY s.name, l.name, d.name, d.ts

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

-- name: alert_open
INSERT INTO alerts (incident, kind, subject, message, link, run_id)
VALUES (%(incident)s, %(kind)s, %(subject)s, %(message)s, %(link)s, %(run_id)s)
ON CONFLICT (incident) WHERE resolved_at IS NULL DO NOTHING
RETURNING alert_id

-- name: alert_sent
UPDATE alerts SET sent_to = %(sent_to)s, send_error = %(send_error)s
WHERE alert_id = %(alert_id)s

-- name: alerts_resolve
UPDATE alerts SET resolved_at = now()
WHERE resolved_at IS NULL AND incident = ANY(%(incidents)s)
RETURNING alert_id, incident

-- name: alerts_open_like
SELECT alert_id, incident FROM alerts
WHERE resolved_at IS NULL AND incident LIKE %(prefix)s || '%%'

-- name: alerts_list
SELECT alert_id, incident, kind, subject, message, link, run_id, raised_at, sent_to,
       send_error, resolved_at, resolved_sent_to
FROM alerts
WHERE %(open_only)s IS FALSE OR resolved_at IS NULL
ORDER BY raised_at, alert_id

-- name: server_version
SELECT current_setting('server_version_num')::integer AS version_num,
       current_database() AS dbname

-- name: role_exists
SELECT 1 FROM pg_roles WHERE rolname = %(name)s

-- name: role_create_login
CREATE ROLE {name} LOGIN IN ROLE {group}

-- name: role_grant
GRANT {group} TO {name}

-- name: role_memberships
SELECT g.rolname FROM pg_auth_members m
JOIN pg_roles g ON g.oid = m.roleid JOIN pg_roles u ON u.oid = m.member
WHERE u.rolname = %(name)s AND g.rolname LIKE 'stationlab\_%%'
ORDER BY g.rolname

-- name: role_revoke
REVOKE {group} FROM {name}

-- name: role_set_password
ALTER ROLE {name} PASSWORD {password}

-- name: role_grant_connect
GRANT CONNECT ON DATABASE {database} TO {name}

-- name: database_create
CREATE DATABASE {name}

-- name: database_drop
DROP DATABASE IF EXISTS {name} WITH (FORCE)

-- name: restore_check
SELECT (SELECT max(version) FROM schema_migrations) AS schema_version,
       (SELECT count(*) FROM readings) AS readings,
       (SELECT count(*) FROM files) AS files,
       (SELECT count(*) FROM flags) AS flags

-- name: station_data_changed
UPDATE stations SET data_version = data_version + 1 WHERE station_id = %(station_id)s

-- name: export_values
-- The raw values an export reads, one window [start, end) at a time (export_clean_values: the
-- clean ones).
SELECT channel_id, ts, value FROM readings
WHERE channel_id = ANY(%(channel_ids)s) AND ts >= %(start)s AND ts < %(end)s

-- name: channel_values
-- One channel's raw values in [start, end) (channel_clean_values: the clean ones).
SELECT channel_id, ts, value FROM readings
WHERE channel_id = %(channel_id)s AND ts >= %(start)s AND ts < %(end)s

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

-- name: export_clean_values
-- Clean values for an export: calibrated, readings under an excluding flag NaN (their cells stay
-- blank, their time steps stay in the file; stored readings are never NaN). excluded_codes NULL:
-- each flag code's excluded_by_default.
SELECT channel_id, ts, CASE WHEN excluded THEN 'NaN'::double precision ELSE value END AS value
FROM clean_readings(%(channel_ids)s, %(start)s, %(end)s, %(excluded_codes)s::text[], true)

-- name: channel_clean_values
-- One channel's clean values in [start, end).
SELECT channel_id, ts, value
FROM clean_readings(ARRAY[%(channel_id)s]::integer[], %(start)s, %(end)s)

-- name: excluded_by_default
SELECT code FROM flag_codes WHERE excluded_by_default ORDER BY code

-- name: health_newest_reading
SELECT max(r.ts) AS ts_last
FROM readings r
WHERE r.channel_id IN (SELECT channel_id FROM channels WHERE station_id = %(station_id)s)

-- name: health_channel_windows
-- Per channel over (week_from, until): rows present, valid (not excluded by flags), flagged bad or
-- iced (by manual flags or QC rules other than the flat line, range and missing ones, which the
-- health checks judge themselves), outside [low, high], the trailing run of one value (flat line) and the usual step; the
-- same over the day window (ts >= day_from). until is the window's end, exclusive.
WITH r AS MATERIALIZED (
    SELECT channel_id, ts, value, flags, excluded
    FROM clean_readings(%(channel_ids)s, %(week_from)s, %(until)s, NULL, true)
),
lim AS (
    SELECT * FROM unnest(%(channel_ids)s::integer[], %(low)s::float8[], %(high)s::float8[])
        AS l(channel_id, low, high)
),
newest AS (
    SELECT DISTINCT ON (channel_id) channel_id, ts AS last_ts, value AS last_value
    FROM r WHERE value IS NOT NULL ORDER BY channel_id, ts DESC
),
steps AS (
    SELECT channel_id, ts - lag(ts) OVER (PARTITION BY channel_id ORDER BY ts) AS step FROM r
),
agg AS (
    SELECT r.channel_id,
           count(r.value) FILTER (WHERE r.ts >= %(day_from)s) AS n_day,
           count(r.value) AS n_week,
           count(r.value) FILTER (WHERE r.ts >= %(day_from)s AND NOT r.excluded) AS valid_day,
           count(r.value) FILTER (WHERE NOT r.excluded) AS valid_week,
           count(*) FILTER (WHERE r.ts >= %(day_from)s
                            AND (r.value < l.low OR r.value > l.high)) AS out_day,
           min(r.ts) FILTER (WHERE r.ts >= %(day_from)s
                             AND (r.value < l.low OR r.value > l.high)) AS out_since,
           max(r.ts) FILTER (WHERE r.value IS DISTINCT FROM n.last_value) AS changed_at,
           min(r.ts) AS first_ts
    FROM r
    LEFT JOIN newest n USING (channel_id)
    LEFT JOIN lim l USING (channel_id)
    GROUP BY r.channel_id
),
flat AS (
    SELECT r.channel_id, min(r.ts) AS flat_since, count(*) AS n_flat
    FROM r JOIN agg a USING (channel_id)
    WHERE r.ts > coalesce(a.changed_at, '-infinity') AND r.value IS NOT NULL
    GROUP BY r.channel_id
),
step AS (
    SELECT channel_id, mode() WITHIN GROUP (ORDER BY step) AS step
    FROM steps WHERE step IS NOT NULL GROUP BY channel_id
),
bad AS MATERIALIZED (  -- flags bad or icing, but not the rules health judges itself
    SELECT fc.channel_id, fc.ts_from, fc.ts_to, coalesce(f.rule_name, f.code) AS why
    FROM flag_coverage fc JOIN flags f USING (flag_id)
    WHERE fc.channel_id = ANY(%(channel_ids)s) AND fc.code IN ('bad', 'icing')
      AND coalesce(f.rule_name, '') NOT IN ('flat_line', 'range', 'missing')
      AND fc.ts_to > %(day_from)s AND fc.ts_from < %(until)s
),
rules AS (
    SELECT b.channel_id, string_agg(DISTINCT b.why, ', ') AS bad_rules,
           min(b.ts_from) AS bad_since,
           (SELECT count(DISTINCT r.ts) FROM r JOIN bad x USING (channel_id)
            WHERE x.channel_id = b.channel_id AND r.ts >= %(day_from)s
              AND r.ts >= x.ts_from AND r.ts < x.ts_to) AS bad_day
    FROM bad b GROUP BY b.channel_id
)
SELECT c.channel_id, coalesce(a.n_day, 0) AS n_day, coalesce(a.n_week, 0) AS n_week,
       coalesce(a.valid_day, 0) AS valid_day, coalesce(a.valid_week, 0) AS valid_week,
       coalesce(ru.bad_day, 0) AS bad_day, coalesce(a.out_day, 0) AS out_day, a.out_since,
       a.first_ts, n.last_ts, n.last_value, f.flat_since, coalesce(f.n_flat, 0) AS n_flat,
       extract(epoch FROM s.step)::float8 AS step_s, ru.bad_rules, ru.bad_since
FROM unnest(%(channel_ids)s::integer[]) AS c(channel_id)
LEFT JOIN agg a USING (channel_id)
LEFT JOIN newest n USING (channel_id)
LEFT JOIN flat f USING (channel_id)
LEFT JOIN step s USING (channel_id)
LEFT JOIN rules ru USING (channel_id)

-- name: health_anemometer_pairs
-- Paired anemometers: per pair, day back from the end (0 = the last 24 h) and 30-degree direction
-- sector, the sums of both speeds where both are valid and above min_speed and the wind is
-- outside both booms' tower shadow (within halfwidth of orientation + 180).
WITH p AS (
    SELECT * FROM unnest(%(a)s::integer[], %(b)s::integer[], %(vane)s::integer[],
                         %(shadow_a)s::float8[], %(shadow_b)s::float8[])
        AS p(a, b, vane, shadow_a, shadow_b)
),
v AS MATERIALIZED (
    SELECT channel_id, ts, value
    FROM clean_readings(%(channel_ids)s, %(week_from)s, %(until)s, NULL, false)
)
SELECT p.a, p.b,
       floor(extract(epoch FROM (%(until)s::timestamptz - ra.ts)) / 86400)::integer AS day_back,
       floor(d.value / 30)::integer %% 12 AS sector,
       count(*) AS n, sum(ra.value) AS sum_a, sum(rb.value) AS sum_b
FROM p
JOIN v ra ON ra.channel_id = p.a
JOIN v rb ON rb.channel_id = p.b AND rb.ts = ra.ts
JOIN v d ON d.channel_id = p.vane AND d.ts = ra.ts
WHERE ra.value > %(min_speed)s AND rb.value > %(min_speed)s
  AND abs((d.value - p.shadow_a + 540) - 360 * floor((d.value - p.shadow_a + 540) / 360) - 180)
      >= %(halfwidth)s
  AND abs((d.value - p.shadow_b + 540) - 360 * floor((d.value - p.shadow_b + 540) / 360) - 180)
      >= %(halfwidth)s
GROUP BY p.a, p.b, day_back, sector

-- name: health_vane_pairs
-- Vanes at different heights: per pair, the mean absolute angular difference [deg] where both are
-- valid, over the week window.
WITH p AS (
    SELECT * FROM unnest(%(a)s::integer[], %(b)s::integer[]) AS p(a, b)
),
v AS MATERIALIZED (
    SELECT channel_id, ts, value
    FROM clean_readings(%(channel_ids)s, %(week_from)s, %(until)s, NULL, false)
)
SELECT p.a, p.b, count(*) AS n,
       avg(abs((ra.value - rb.value + 540) - 360 * floor((ra.value - rb.value + 540) / 360) - 180))
           AS mean_diff_deg
FROM p
JOIN v ra ON ra.channel_id = p.a
JOIN v rb ON rb.channel_id = p.b AND rb.ts = ra.ts
GROUP BY p.a, p.b

-- name: health_supply_daily
-- Supply voltages per logger by day back from the end (0 = the 24 h up to the logger's newest
-- value, or up to at): Campbell battery channels (measurement type voltage) and NRG diagnostics
-- whose name matches one of the patterns (VIN%%), their minimum [V] and how many values.
WITH v AS (
    SELECT coalesce(c.logger_id, (SELECT min(x.logger_id) FROM loggers x
                                  WHERE x.station_id = c.station_id)) AS logger_id,
           r.ts, r.value
    FROM channels c
    JOIN measurement_points p USING (measurement_point_id)
    JOIN readings r ON r.channel_id = c.channel_id
    WHERE p.measurement_type = 'voltage' AND c.statistic IN ('min', 'avg', 'sample')
      AND r.ts <= coalesce(%(at)s::timestamptz, 'infinity')
    UNION ALL
    SELECT d.logger_id, d.ts, d.value
    FROM logger_diagnostics d
    WHERE d.unit = 'V' AND d.name ILIKE ANY(%(names)s) AND d.statistic IN ('min', 'avg', 'sample')
      AND d.ts <= coalesce(%(at)s::timestamptz, 'infinity')
),
ends AS (
    SELECT logger_id, coalesce(%(at)s::timestamptz, max(ts)) AS until FROM v GROUP BY logger_id
)
SELECT s.name AS station, l.logger_id, l.name AS logger, e.until,
       floor(extract(epoch FROM (e.until - v.ts)) / 86400)::integer AS day_back,
       min(v.value) AS v_min, count(*) AS n
FROM v
JOIN ends e USING (logger_id)
JOIN loggers l USING (logger_id)
JOIN stations s ON s.station_id = l.station_id
WHERE v.ts > e.until - make_interval(days => %(days)s)
GROUP BY s.name, l.logger_id, l.name, e.until, day_back
ORDER BY l.logger_id, day_back

-- name: health_logger_faults
-- FAULT events each logger reported in the day up to its newest event (or up to at).
WITH ends AS (
    SELECT logger_id, coalesce(%(at)s::timestamptz, max(ts)) AS until
    FROM logger_events WHERE ts <= coalesce(%(at)s::timestamptz, 'infinity') GROUP BY logger_id
)
SELECT s.name AS station, l.logger_id, l.name AS logger,
       count(*) FILTER (WHERE e.kind = 'FAULT') AS n_faults,
       min(e.ts) FILTER (WHERE e.kind = 'FAULT') AS since,
       string_agg(DISTINCT e.code || ': ' || e.message, '; ') FILTER (WHERE e.kind = 'FAULT')
           AS faults
FROM logger_events e
JOIN ends n USING (logger_id)
JOIN loggers l USING (logger_id)
JOIN stations s ON s.station_id = l.station_id
WHERE e.ts > n.until - interval '1 day' AND e.ts <= n.until
GROUP BY s.name, l.logger_id, l.name

-- name: health_clock_ahead
-- Each logger's newest imported file: whether its newest stamp lies ahead of the time the file
-- was received by more than the tolerance (the logger's clock has jumped ahead).
SELECT DISTINCT ON (f.logger_id) s.name AS station, f.logger_id, l.name AS logger,
       f.name AS file, f.ts_last, f.received_at,
       f.ts_last > f.received_at + make_interval(secs => %(tolerance_s)s) AS ahead
FROM files f
JOIN loggers l ON l.logger_id = f.logger_id
JOIN stations s ON s.station_id = l.station_id
WHERE f.status = 'imported' AND f.ts_last IS NOT NULL
ORDER BY f.logger_id, f.received_at DESC, f.file_id DESC

-- name: health_import_failures
-- Per station (the file's, else the one it arrived for), how many of its newest files failed to
-- import in a row (0: the newest imported), since when, and the newest failure's name and reason.
WITH f AS (
    SELECT coalesce(s.name, f.station_name) AS station, f.name, f.status, f.error,
           f.received_at,
           row_number() OVER (PARTITION BY coalesce(s.name, f.station_name)
                              ORDER BY f.received_at DESC, f.file_id DESC) AS back
    FROM files f LEFT JOIN stations s USING (station_id)
    WHERE f.status <> 'pending'
),
good AS (
    SELECT station, min(back) FILTER (WHERE status = 'imported') AS first_ok FROM f GROUP BY station
)
SELECT f.station,
       count(*) FILTER (WHERE f.back < coalesce(g.first_ok, 9223372036854775807)) AS n_failed,
       min(f.received_at) FILTER (WHERE f.back < coalesce(g.first_ok, 9223372036854775807))
           AS since,
       (array_agg(f.name ORDER BY f.back))[1] AS newest_name,
       (array_agg(f.error ORDER BY f.back))[1] AS newest_error
FROM f JOIN good g USING (station)
WHERE f.station IS NOT NULL
GROUP BY f.station

-- name: fetch_attempt_record
INSERT INTO fetch_attempts (source, ok, error) VALUES (%(source)s, %(ok)s, %(error)s)

-- name: health_fetch_failures
-- Per fetch source, how many of its newest attempts failed in a row (0: the newest worked),
-- since when, and the newest error.
WITH a AS (
    SELECT source, ok, error, attempted_at,
           row_number() OVER (PARTITION BY source ORDER BY attempted_at DESC, attempt_id DESC)
               AS back
    FROM fetch_attempts
),
good AS (SELECT source, min(back) FILTER (WHERE ok) AS first_ok FROM a GROUP BY source)
SELECT a.source,
       count(*) FILTER (WHERE a.back < coalesce(g.first_ok, 9223372036854775807)) AS n_failed,
       min(a.attempted_at) FILTER (WHERE a.back < coalesce(g.first_ok, 9223372036854775807))
           AS since,
       (array_agg(a.error ORDER BY a.back))[1] AS last_error
FROM a JOIN good g USING (source)
GROUP BY a.source

-- name: alert_resolved_sent
UPDATE alerts SET resolved_sent_to = %(sent_to)s WHERE alert_id = %(alert_id)s

-- name: alerts_open_detail
SELECT alert_id, incident, kind, subject, link, raised_at FROM alerts
WHERE resolved_at IS NULL AND incident = ANY(%(incidents)s)

-- Site and clock from file headers (issue 13): fill what is empty, never overwrite.

-- name: station_fill_site
UPDATE stations SET latitude = coalesce(latitude, %(latitude)s),
    longitude = coalesce(longitude, %(longitude)s),
    elevation_m = coalesce(elevation_m, %(elevation_m)s)
WHERE station_id = %(station_id)s
RETURNING latitude, longitude, elevation_m

-- name: logger_fill_time_zone
UPDATE loggers SET header_utc_offset = coalesce(header_utc_offset, %(utc_offset)s)
WHERE logger_id = %(logger_id)s
RETURNING header_utc_offset

-- name: meta_file_loggers
-- A station's loggers as its files describe them (the time zone a header states, else the offset
-- applied on import).
SELECT l.logger_id, l.name, l.model, l.serial_number,
       coalesce(l.header_utc_offset, l.utc_offset) AS utc_offset,
       (SELECT min(f.ts_first) FROM files f WHERE f.logger_id = l.logger_id) AS ts_first
FROM loggers l JOIN stations s USING (station_id)
WHERE s.name = %(station)s
ORDER BY l.logger_id

-- name: meta_file_columns
-- The file column each channel of a station is read from (the first name, where files differ).
SELECT c.channel_id, coalesce(c.column_name, min(lc.column_name)) AS column_name
FROM channels c JOIN stations s USING (station_id)
LEFT JOIN logger_configs lc USING (channel_id)
WHERE s.name = %(station)s
GROUP BY c.channel_id, c.column_name

-- name: refresh_monthly_aggregate
CALL refresh_continuous_aggregate('readings_monthly',
                                  date_trunc('month', %(ts_first)s::timestamptz, 'UTC'),
                                  date_trunc('month', %(ts_last)s::timestamptz, 'UTC')
                                      + interval '1 month')

-- name: uncompressed_chunks
-- Finished chunks (30 days each; ended before this month began) not compressed, or compressed
-- and then written to (status bit 8: partially compressed); optionally only a station's.
SELECT format('%%I.%%I', c.chunk_schema, c.chunk_name) AS chunk, c.range_start, c.range_end,
       c.chunk_schema, c.chunk_name, c.is_compressed AS partial
FROM timescaledb_information.chunks c
JOIN _timescaledb_catalog.chunk k ON k.relid = format('%%I.%%I', c.chunk_schema, c.chunk_name)::regclass
WHERE c.hypertable_schema = current_schema() AND c.hypertable_name = 'readings'
  AND c.range_end <= date_trunc('month', now(), 'UTC')
  AND (NOT c.is_compressed OR (k.status & 8) <> 0)
  AND (%(station)s::text IS NULL OR EXISTS (
        SELECT 1 FROM files f JOIN stations s USING (station_id)
        WHERE s.name = %(station)s AND f.status = 'imported'
          AND f.ts_first < c.range_end AND f.ts_last >= c.range_start))
ORDER BY c.range_start

-- name: compress_chunk
SELECT compress_chunk(%(chunk)s::regclass, if_not_compressed => true) AS chunk

-- name: vacuum_chunk
-- After a recompression: the rows it moved out of the chunk's own table are dead; their space
-- goes back, and the chunk's (now empty) key index is rebuilt small, without blocking anyone.
VACUUM {chunk}

-- name: reindex_chunk
REINDEX TABLE CONCURRENTLY {chunk}

-- name: readings_size
SELECT hypertable_size('readings') AS bytes

-- name: report_record
-- A weekly station report made (stationlab.report.make_report).
INSERT INTO station_reports (station_id, run_id, week_to, html_path, pdf_path, sent_to,
                             send_error)
SELECT station_id, %(run_id)s, %(week_to)s, %(html_path)s, %(pdf_path)s, %(sent_to)s,
       %(send_error)s
FROM stations WHERE name = %(station)s
RETURNING report_id

-- name: reports_latest
-- Each station's newest report (station NULL: every station), by station name.
SELECT DISTINCT ON (s.name) r.report_id, s.name AS station, r.run_id, r.made_at, r.week_to,
       r.html_path, r.pdf_path, r.sent_to, r.send_error
FROM station_reports r JOIN stations s USING (station_id)
WHERE %(station)s::text IS NULL OR s.name = %(station)s
ORDER BY s.name, r.made_at DESC, r.report_id DESC
