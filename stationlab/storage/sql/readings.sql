-- The statements of stationlab/storage/readings.py: a block starts with "-- name: <name>"
-- and runs to the next one. Parameters are always bound (%(name)s).

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

-- name: readings_range
SELECT min(ts) AS ts_first, max(ts) AS ts_last, count(*) AS n_readings
FROM readings
WHERE channel_id = ANY(%(channel_ids)s)
  AND ts >= coalesce(%(start)s::timestamptz, '-infinity')
  AND ts < coalesce(%(end)s::timestamptz, 'infinity')

-- name: partitions_missing
SELECT readings_partitions_missing(%(ts_first)s, %(ts_last)s) AS missing

-- name: export_values
-- The raw values an export reads, one window [start, end) at a time (export_clean_values: the
-- clean ones).
SELECT channel_id, ts, value FROM readings
WHERE channel_id = ANY(%(channel_ids)s) AND ts >= %(start)s AND ts < %(end)s

-- name: channel_values
-- One channel's raw values in [start, end) (channel_clean_values: the clean ones).
SELECT channel_id, ts, value FROM readings
WHERE channel_id = %(channel_id)s AND ts >= %(start)s AND ts < %(end)s

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

-- name: ensure_partitions
SELECT ensure_readings_partitions(%(ts_first)s, %(ts_last)s) AS n

-- name: no_decompression_cap
-- TimescaleDB decompresses the batches a write into a compressed month touches, and since
-- 2.14 refuses a transaction that decompresses more than 100,000 rows: no file may fail on
-- that (0 = no cap). A mere placeholder setting on plain PostgreSQL.
SET LOCAL timescaledb.max_tuples_decompressed_per_dml_transaction = 0

-- name: load_table
-- The table a month's readings are copied into: readings itself if the month's partition
-- exists, else a new unkeyed table made in this transaction (see schema.plain.sql).
SELECT readings_load_table(%(month)s) AS name

-- name: copy_in
COPY {table} (channel_id, ts, value) FROM STDIN (FORMAT binary)

-- name: copy_in_frozen
-- A table made in this transaction takes its rows frozen: no hint bits to set and no
-- freezing vacuum later.
COPY {table} (channel_id, ts, value) FROM STDIN (FORMAT binary, FREEZE)

-- name: attach_partition
SELECT attach_readings_partition(%(month)s)

-- name: stage_copy_in
COPY reading_stage (channel_id, ts, value) FROM STDIN (FORMAT binary)

-- name: stage_analyze
ANALYZE reading_stage

-- name: stage_drop
DROP TABLE reading_stage
