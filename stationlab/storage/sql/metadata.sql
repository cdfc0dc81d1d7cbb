-- The statements of stationlab/storage/metadata.py: a block starts with "-- name: <name>"
-- and runs to the next one. Parameters are always bound (%(name)s).

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
