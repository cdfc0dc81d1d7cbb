-- The statements of stationlab/storage/clean.py: a block starts with "-- name: <name>"
-- and runs to the next one. Parameters are always bound (%(name)s).

-- name: copy_clean_readings
-- clean_readings as one binary COPY row per channel, its columns as arrays in time order: a few
-- large rows instead of one message per reading. The flag codes (joined by U+001F) come only for
-- the readings that have any, with their stamps.
COPY (
    SELECT channel_id, array_agg(ts ORDER BY ts), array_agg(raw ORDER BY ts),
           array_agg(value ORDER BY ts), array_agg(excluded ORDER BY ts),
           coalesce(array_agg(ts ORDER BY ts) FILTER (WHERE flags <> '{}'), '{}'),
           coalesce(array_agg(array_to_string(flags, E'\x1f') ORDER BY ts)
                    FILTER (WHERE flags <> '{}'), '{}')
    FROM clean_readings(%(channel_ids)s, %(start)s, %(end)s, %(excluded_codes)s::text[],
                        %(include_flagged)s)
    GROUP BY channel_id
) TO STDOUT (FORMAT binary)

-- name: channel_interval
UPDATE channels SET interval_s = %(interval_s)s
WHERE channel_id = ANY(%(channel_ids)s) AND interval_s IS NULL

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
