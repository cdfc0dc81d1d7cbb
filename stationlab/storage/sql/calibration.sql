-- The statements of stationlab/storage/calibration.py: a block starts with "-- name: <name>"
-- and runs to the next one. Parameters are always bound (%(name)s).

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
