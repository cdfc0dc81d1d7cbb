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

-- Site and clock from file headers (issue 13): fill what is empty, never overwrite.
