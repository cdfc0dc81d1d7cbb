-- The statements of stationlab/storage/health.py: a block starts with "-- name: <name>"
-- and runs to the next one. Parameters are always bound (%(name)s).

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
-- outside both booms' tower shadow (within halfwidth of orientation + 180). A pair without a vane
-- (NULL: every vane has failed) is summed over all directions, as sector -1. The pair's two speeds
-- and its vane's direction are put side by side per time step by grouping one pass over v, not
-- by joining v to itself: the planner has no statistics of a CTE, only its estimate of
-- clean_readings (on TimescaleDB 2 rows for 1,692: its bounds are stated twice), and with it it
-- joined three scans of v by nested loops (211 s for 1.3 days of the demo mast, and more).
WITH p AS (
    SELECT * FROM unnest(%(a)s::integer[], %(b)s::integer[], %(vane)s::integer[],
                         %(shadow_a)s::float8[], %(shadow_b)s::float8[]) WITH ORDINALITY
        AS p(a, b, vane, shadow_a, shadow_b, i)
),
v AS MATERIALIZED (
    SELECT channel_id, ts, value
    FROM clean_readings(%(channel_ids)s, %(week_from)s, %(until)s, NULL, false)
),
w AS (  -- one row per pair and time step ((channel_id, ts) is unique in v)
    SELECT p.i, p.a, p.b, p.vane, p.shadow_a, p.shadow_b, v.ts,
           max(v.value) FILTER (WHERE v.channel_id = p.a) AS va,
           max(v.value) FILTER (WHERE v.channel_id = p.b) AS vb,
           max(v.value) FILTER (WHERE v.channel_id = p.vane) AS vd
    FROM p JOIN v ON v.channel_id IN (p.a, p.b, p.vane)
    GROUP BY p.i, p.a, p.b, p.vane, p.shadow_a, p.shadow_b, v.ts
)
SELECT a, b,
       floor(extract(epoch FROM (%(until)s::timestamptz - ts)) / 86400)::integer AS day_back,
       CASE WHEN vane IS NULL THEN -1 ELSE floor(vd / 30)::integer %% 12 END AS sector,
       count(*) AS n, sum(va) AS sum_a, sum(vb) AS sum_b
FROM w
WHERE va > %(min_speed)s AND vb > %(min_speed)s
  AND (vane IS NULL OR (
      vd IS NOT NULL
      AND abs((vd - shadow_a + 540) - 360 * floor((vd - shadow_a + 540) / 360) - 180)
          >= %(halfwidth)s
      AND abs((vd - shadow_b + 540) - 360 * floor((vd - shadow_b + 540) / 360) - 180)
          >= %(halfwidth)s))
GROUP BY a, b, day_back, sector

-- name: health_vane_pairs
-- Vanes at different heights: per pair, the mean absolute angular difference [deg] where both are
-- valid, over the week window. Side by side per time step by grouping, not by a self-join of v
-- (as the anemometer pairs).
WITH p AS (
    SELECT * FROM unnest(%(a)s::integer[], %(b)s::integer[]) WITH ORDINALITY AS p(a, b, i)
),
v AS MATERIALIZED (
    SELECT channel_id, ts, value
    FROM clean_readings(%(channel_ids)s, %(week_from)s, %(until)s, NULL, false)
),
w AS (  -- the time steps where both vanes have a row ((channel_id, ts) is unique in v)
    SELECT p.i, p.a, p.b,
           max(v.value) FILTER (WHERE v.channel_id = p.a) AS va,
           max(v.value) FILTER (WHERE v.channel_id = p.b) AS vb
    FROM p JOIN v ON v.channel_id IN (p.a, p.b)
    GROUP BY p.i, p.a, p.b, v.ts
    HAVING count(*) = 2
)
SELECT a, b, count(*) AS n,
       avg(abs((va - vb + 540) - 360 * floor((va - vb + 540) / 360) - 180)) AS mean_diff_deg
FROM w
GROUP BY a, b

-- name: health_supply_values
-- The supply voltages [V] the low_voltage alert judges and the weekly report shows, per logger: its
-- voltage channels and its NRG diagnostics whose name (the measurement point's or the column's)
-- matches one of the patterns (VIN%%, %%batt%%, ...: not an analogue input, a loop-back or a PV
-- module's open-circuit voltage); the statistics min, avg and sample. series names each one (the
-- measurement point's or diagnostic's name and the statistic). Within [since, until] (NULL: open)
-- and of one station (station_id; NULL: every station). Not run alone: the statements below
-- read it as their values.
SELECT coalesce(c.logger_id, (SELECT min(x.logger_id) FROM loggers x
                              WHERE x.station_id = c.station_id)) AS logger_id,
       p.name || ' ' || c.statistic AS series, r.ts, r.value
FROM channels c
JOIN measurement_points p USING (measurement_point_id)
JOIN readings r ON r.channel_id = c.channel_id
WHERE p.measurement_type = 'voltage' AND c.statistic IN ('min', 'avg', 'sample')
  AND (p.name ILIKE ANY(%(names)s) OR c.column_name ILIKE ANY(%(names)s))
  AND (%(station_id)s::integer IS NULL OR c.station_id = %(station_id)s::integer)
  AND r.ts >= coalesce(%(since)s::timestamptz, '-infinity')
  AND r.ts <= coalesce(%(until)s::timestamptz, 'infinity')
UNION ALL
SELECT d.logger_id, d.name || ' ' || d.statistic, d.ts, d.value
FROM logger_diagnostics d
JOIN loggers l USING (logger_id)
WHERE d.unit = 'V' AND d.name ILIKE ANY(%(names)s) AND d.statistic IN ('min', 'avg', 'sample')
  AND (%(station_id)s::integer IS NULL OR l.station_id = %(station_id)s::integer)
  AND d.ts >= coalesce(%(since)s::timestamptz, '-infinity')
  AND d.ts <= coalesce(%(until)s::timestamptz, 'infinity')

-- name: health_supply_daily
-- Supply voltages (those of health_supply_values, up to until) per logger by day back from the
-- end (0 = the 24 h up to the logger's newest value, or up to until), their minimum [V] and how
-- many values.
WITH v AS ({values}),
ends AS (
    SELECT logger_id, coalesce(%(until)s::timestamptz, max(ts)) AS until FROM v GROUP BY logger_id
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

-- name: health_supply_series
-- Supply voltages (those of health_supply_values) of one station over [since, until], by logger,
-- series and time.
SELECT l.name AS logger, v.series, v.ts, v.value
FROM ({values}) v
JOIN loggers l USING (logger_id)
ORDER BY l.name, v.series, v.ts

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

-- name: health_clock
-- Whether each logger's clock has jumped, judged on the newest imported file of each of its tables
-- (table and format): ahead, its newest stamp lies after the time the file was received by more
-- than the tolerance; back, its newest stamp lies before the newest stamp of the files of that
-- table received before it (those not ahead themselves) by more than the tolerance: the clock was
-- set back or reset (e.g. to 2000-01-01). Back is judged only on files that came by themselves (a
-- fetch source, the scheduled import's folder): a file imported by hand (cli) or uploaded is as
-- often a backfill of old data. One row per logger: a table whose clock jumped, else its newest
-- file.
WITH f AS (
    SELECT f.logger_id, f.file_id, f.name, f.ts_last, f.received_at, f.source,
           max(f.ts_last) FILTER (WHERE f.ts_last <= f.received_at
                                                    + make_interval(secs => %(tolerance_s)s))
               OVER (PARTITION BY f.logger_id, f.table_name, f.format
                     ORDER BY f.received_at, f.file_id
                     ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS earlier_last,
           row_number() OVER (PARTITION BY f.logger_id, f.table_name, f.format
                              ORDER BY f.received_at DESC, f.file_id DESC) AS back
    FROM files f
    WHERE f.status = 'imported' AND f.ts_last IS NOT NULL AND f.logger_id IS NOT NULL
),
judged AS (
    SELECT f.*, f.ts_last > f.received_at + make_interval(secs => %(tolerance_s)s) AS ahead,
           coalesce(f.ts_last < f.earlier_last - make_interval(secs => %(tolerance_s)s)
                    AND f.source NOT IN ('cli', 'upload'), false) AS behind
    FROM f WHERE f.back = 1
)
SELECT DISTINCT ON (j.logger_id) s.name AS station, j.logger_id, l.name AS logger,
       j.name AS file, j.ts_last, j.received_at, j.earlier_last, j.ahead, j.behind
FROM judged j
JOIN loggers l ON l.logger_id = j.logger_id
JOIN stations s ON s.station_id = l.station_id
ORDER BY j.logger_id, (j.ahead OR j.behind) DESC, j.received_at DESC, j.file_id DESC

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
INSERT INTO fetch_attempts (source, ok, error, station_name)
VALUES (%(source)s, %(ok)s, %(error)s, %(station)s)

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
