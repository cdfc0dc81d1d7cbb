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

-- The readings clean_readings joins (see schema.sql), with its channel and time bounds as plain
-- quals: TimescaleDB excludes chunks and compressed batches by them (by a join condition alone
-- it decompresses every chunk: 500 ms -> a few ms for one channel-month of a compressed 2-year
-- mast).
CREATE FUNCTION readings_between(p_channels integer[], p_from timestamptz, p_to timestamptz)
RETURNS SETOF readings LANGUAGE sql STABLE AS $$
    SELECT * FROM readings WHERE channel_id = ANY(p_channels) AND ts >= p_from AND ts < p_to
$$;
