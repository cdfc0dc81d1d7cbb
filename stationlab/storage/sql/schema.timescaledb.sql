-- The declared schema, TimescaleDB part: readings, its monthly rollup and the functions that
-- depend on how they are kept. Applied before schema.sql (whose role block grants on them).

-- Readings: a hypertable with 30-day chunks, compressed per channel.
CREATE TABLE readings (
    channel_id integer NOT NULL,
    ts timestamptz NOT NULL,
    value double precision NOT NULL,
    PRIMARY KEY (channel_id, ts)
);
SELECT create_hypertable('readings', by_range('ts', INTERVAL '1 month'));
-- TimescaleDB's own switch for compression; its CREATE TABLE ... WITH (tsdb.hypertable) form
-- would add a columnstore policy of its own beside the 60-day one.
ALTER TABLE readings SET (
    timescaledb.compress,
    timescaledb.compress_segmentby = 'channel_id',
    timescaledb.compress_orderby = 'ts'
);
SELECT add_compression_policy('readings', compress_after => INTERVAL '60 days');

-- Hypertable chunks are created by TimescaleDB as rows arrive, so no partition is ever missing
-- and every month loads into `readings`. These keep the plain backend's call sites (and its
-- SECURITY DEFINER, with a fixed search_path, and its grants: only pipelines may call the three
-- that make partitions there).
CREATE FUNCTION ensure_readings_partitions(ts_from timestamptz, ts_to timestamptz)
RETURNS integer LANGUAGE sql SECURITY DEFINER SET search_path = public, pg_temp
AS $$ SELECT 0 $$;

CREATE FUNCTION readings_partitions_missing(ts_from timestamptz, ts_to timestamptz)
RETURNS integer LANGUAGE sql STABLE AS $$ SELECT 0 $$;

CREATE FUNCTION readings_load_table(p_month timestamptz)
RETURNS text LANGUAGE sql SECURITY DEFINER SET search_path = public, pg_temp
AS $$ SELECT 'readings' $$;

CREATE FUNCTION attach_readings_partition(p_month timestamptz)
RETURNS void LANGUAGE sql SECURITY DEFINER SET search_path = public, pg_temp AS $$ SELECT $$;

-- Monthly statistics per channel as a real-time continuous aggregate.
CREATE MATERIALIZED VIEW readings_monthly WITH (timescaledb.continuous,
                                                timescaledb.materialized_only = false) AS
SELECT channel_id, time_bucket(INTERVAL '1 month', ts) AS month, count(*) AS n,
       sum(value) AS total, min(value) AS minimum, max(value) AS maximum
FROM readings
GROUP BY channel_id, time_bucket(INTERVAL '1 month', ts)
WITH NO DATA;
SELECT add_continuous_aggregate_policy('readings_monthly', start_offset => NULL,
                                       end_offset => INTERVAL '1 hour',
                                       schedule_interval => INTERVAL '1 hour');

-- Real-time aggregation answers with fresh data and the policy materialises in the background;
-- the continuous aggregate follows the readings by itself.
CREATE FUNCTION refresh_readings_monthly(p_channels integer[], p_from timestamptz,
                                         p_to timestamptz)
RETURNS void LANGUAGE sql AS $$ SELECT $$;

CREATE FUNCTION add_readings_monthly(p_channels integer[], p_months timestamptz[],
                                     p_n bigint[], p_total double precision[],
                                     p_minimum double precision[], p_maximum double precision[])
RETURNS void LANGUAGE sql AS $$ SELECT $$;

-- Calibrated readings of some channels in [p_from, p_to) (calibration_segments), with the codes
-- of the flags covering each (flag_coverage) and whether one of them excludes it: as on plain
-- PostgreSQL, but the readings joins also state the channel and time bounds as plain quals, so
-- that only the chunks and compressed batches asked for are read (500 ms -> a few ms for one
-- channel-month of a compressed 2-year mast).
CREATE FUNCTION clean_readings(p_channels integer[], p_from timestamptz, p_to timestamptz,
                               p_excluded text[] DEFAULT NULL,
                               p_include_flagged boolean DEFAULT false)
RETURNS TABLE (channel_id integer, ts timestamptz, raw double precision,
               value double precision, flags text[], excluded boolean)
LANGUAGE sql STABLE AS $$
    WITH segs AS MATERIALIZED (
        SELECT * FROM calibration_segments s
        WHERE s.channel_id = ANY(p_channels) AND s.seg_to > p_from AND s.seg_from < p_to
    ),
    cover AS MATERIALIZED (
        SELECT f.channel_id, f.ts_from, f.ts_to, f.code,
               coalesce(f.code = ANY(p_excluded), f.excluded_by_default) AS excludes
        FROM flag_coverage f
        WHERE f.channel_id = ANY(p_channels) AND f.ts_to > p_from AND f.ts_from < p_to
    ),
    flagged AS (
        SELECT r.channel_id, r.ts, array_agg(DISTINCT f.code ORDER BY f.code) AS codes,
               bool_or(f.excludes) AS excluded
        FROM cover f
        JOIN readings r ON r.channel_id = f.channel_id
            AND r.ts >= greatest(f.ts_from, p_from) AND r.ts < least(f.ts_to, p_to)
            AND r.channel_id = ANY(p_channels) AND r.ts >= p_from AND r.ts < p_to
        GROUP BY r.channel_id, r.ts
    )
    SELECT r.channel_id, r.ts, r.value,
           CASE WHEN s.wrap
                THEN (r.value * s.a + s.b) - 360 * floor((r.value * s.a + s.b) / 360)
                ELSE r.value * s.a + s.b END,
           coalesce(fl.codes, '{}'), coalesce(fl.excluded, false)
    FROM segs s
    JOIN readings r ON r.channel_id = s.channel_id
        AND r.ts >= greatest(s.seg_from, p_from) AND r.ts < least(s.seg_to, p_to)
        -- the same bounds as plain quals: TimescaleDB excludes chunks and compressed batches
        -- by them (a join condition alone makes it decompress every chunk)
        AND r.channel_id = ANY(p_channels) AND r.ts >= p_from AND r.ts < p_to
    LEFT JOIN flagged fl ON fl.channel_id = r.channel_id AND fl.ts = r.ts
    WHERE p_include_flagged OR fl.excluded IS NOT TRUE
$$;
