-- The statements of stationlab/storage/alerts.py: a block starts with "-- name: <name>"
-- and runs to the next one. Parameters are always bound (%(name)s).

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

-- name: alert_resolved_sent
UPDATE alerts SET resolved_sent_to = %(sent_to)s WHERE alert_id = %(alert_id)s

-- name: alerts_open_detail
SELECT alert_id, incident, kind, subject, link, raised_at FROM alerts
WHERE resolved_at IS NULL AND incident = ANY(%(incidents)s)

-- name: alerts_open_for_station
-- The open alerts about one station, found by their incident's key: its loggers (logger_quiet,
-- low_voltage, logger_fault, clock_jump), its channels (sensor_failed, sensor_suspect), the
-- station itself (import_failing) and the fetch sources that feed it (fetch_failing): a source
-- configured for it (the station its newest fetch naming one recorded) or one that brought its
-- files.
WITH st AS (SELECT station_id, name FROM stations WHERE name = %(station)s),
configured AS (
    SELECT DISTINCT ON (source) source, station_name FROM fetch_attempts
    WHERE station_name IS NOT NULL
    ORDER BY source, attempted_at DESC, attempt_id DESC
),
sources AS (
    SELECT c.source FROM configured c JOIN st ON c.station_name = st.name
    UNION
    SELECT f.source FROM files f JOIN st USING (station_id)
    UNION
    SELECT a.source FROM arrivals a JOIN st ON a.station_name = st.name
),
keys AS (
    SELECT k || ':' || l.logger_id AS incident
    FROM loggers l JOIN st USING (station_id),
         unnest(ARRAY['logger_quiet', 'low_voltage', 'logger_fault', 'clock_jump']) AS k
    UNION ALL
    SELECT k || ':' || c.channel_id
    FROM channels c JOIN st USING (station_id), unnest(ARRAY['sensor_failed', 'sensor_suspect']) AS k
    UNION ALL
    SELECT 'import_failing:' || name FROM st
    UNION ALL
    SELECT 'fetch_failing:' || source FROM sources
)
SELECT alert_id, incident, kind, subject, message, link, run_id, raised_at, sent_to,
       send_error, resolved_at, resolved_sent_to
FROM alerts
WHERE resolved_at IS NULL AND incident IN (SELECT incident FROM keys)
ORDER BY raised_at, alert_id
