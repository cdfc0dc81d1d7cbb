-- The statements of stationlab/storage/catalog.py: a block starts with "-- name: <name>"
-- and runs to the next one. Parameters are always bound (%(name)s).

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

-- name: station_channels
SELECT c.channel_id, c.statistic, c.kind, coalesce(c.unit, p.unit) AS unit,
       c.column_name, p.name AS point_name, p.measurement_type, p.height_m, p.orientation_deg,
       c.interval_s
FROM channels c
JOIN stations s USING (station_id)
LEFT JOIN measurement_points p USING (measurement_point_id)
WHERE s.name = %(station)s
ORDER BY c.channel_id

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

-- name: station_columns
SELECT DISTINCT lc.column_name, lc.channel_id
FROM logger_configs lc JOIN loggers l USING (logger_id)
WHERE l.station_id = %(station_id)s
UNION
SELECT column_name, channel_id FROM channels
WHERE station_id = %(station_id)s AND measurement_point_id IS NULL
ORDER BY 1, 2

-- name: station_lock
SELECT pg_advisory_xact_lock(hashtext('stationlab.station'), hashtext(%(name)s))

-- name: config_insert_calibrated
INSERT INTO logger_configs (logger_id, table_name, column_name, channel_id, slope, "offset",
                            valid_from, valid_to, source)
VALUES (%(logger_id)s, %(table_name)s, %(column_name)s, %(channel_id)s, %(slope)s, %(offset)s,
        %(valid_from)s, %(valid_to)s, %(source)s)

-- name: point_update
UPDATE measurement_points SET measurement_type = %(measurement_type)s, height_m = %(height_m)s,
    orientation_deg = %(orientation_deg)s, unit = coalesce(unit, %(unit)s)
WHERE measurement_point_id = %(measurement_point_id)s

-- name: station_data_changed
UPDATE stations SET data_version = data_version + 1 WHERE station_id = %(station_id)s

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
