-- The declared schema, TimescaleDB part.

CREATE TABLE readings (
    channel_id integer NOT NULL,
    ts timestamptz NOT NULL,
    value double precision NOT NULL,
    PRIMARY KEY (channel_id, ts)
);
SELECT create_hypertable('readings', by_range('ts', INTERVAL '1 month'));
ALTER TABLE readings SET (
    timescaledb.compress,
    timescaledb.compress_segmentby = 'channel_id',
    timescaledb.compress_orderby = 'ts'
);
SELECT add_compression_policy('readings', compress_after => INTERVAL '60 days');

-- Hypertable chunks are created by TimescaleDB as rows arrive; kept for a single call site.
CREATE FUNCTION ensure_readings_partitions(ts_from timestamptz, ts_to timestamptz)
RETURNS integer LANGUAGE sql AS $$ SELECT 0 $$;

CREATE FUNCTION readings_partitions_missing(ts_from timestamptz, ts_to timestamptz)
RETURNS integer LANGUAGE sql STABLE AS $$ SELECT 0 $$;
