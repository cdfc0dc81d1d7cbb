-- The statements of stationlab/storage/reports.py: a block starts with "-- name: <name>"
-- and runs to the next one. Parameters are always bound (%(name)s).

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
