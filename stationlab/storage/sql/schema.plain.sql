-- The declared schema, plain PostgreSQL part.

CREATE TABLE readings (
    channel_id integer NOT NULL,
    ts timestamptz NOT NULL,
    value double precision NOT NULL,
    PRIMARY KEY (channel_id, ts)
) PARTITION BY RANGE (ts);

-- Create the monthly partitions of readings that cover [ts_from, ts_to]; returns how many were
-- created. Safe to call concurrently (an advisory lock serialises creators).
CREATE FUNCTION ensure_readings_partitions(ts_from timestamptz, ts_to timestamptz)
RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    month timestamptz;
    part text;
    created integer := 0;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('stationlab.readings_partitions'));
    month := date_trunc('month', ts_from AT TIME ZONE 'UTC') AT TIME ZONE 'UTC';
    WHILE month <= ts_to LOOP
        part := 'readings_' || to_char(month AT TIME ZONE 'UTC', '"y"YYYY"m"MM');
        IF to_regclass(part) IS NULL THEN
            EXECUTE format('CREATE TABLE %I PARTITION OF readings FOR VALUES FROM (%L) TO (%L)',
                           part, month, month + interval '1 month');
            created := created + 1;
        END IF;
        month := month + interval '1 month';
    END LOOP;
    RETURN created;
END $$;

-- 0006, plain PostgreSQL: monthly statistics per channel, kept current by each import.

CREATE TABLE readings_monthly (
    channel_id integer NOT NULL,
    month timestamptz NOT NULL,
    n bigint NOT NULL,
    total double precision NOT NULL,
    minimum double precision NOT NULL,
    maximum double precision NOT NULL,
    PRIMARY KEY (channel_id, month)
);

-- Recompute the monthly rows of some channels for the months touching [p_from, p_to].
CREATE FUNCTION refresh_readings_monthly(p_channels integer[], p_from timestamptz,
                                         p_to timestamptz)
RETURNS void LANGUAGE sql AS $$
    INSERT INTO readings_monthly (channel_id, month, n, total, minimum, maximum)
    SELECT channel_id, date_trunc('month', ts, 'UTC'), count(*), sum(value), min(value),
           max(value)
    FROM readings
    WHERE channel_id = ANY(p_channels)
      AND ts >= date_trunc('month', p_from, 'UTC')
      AND ts < date_trunc('month', p_to, 'UTC') + interval '1 month'
    GROUP BY 1, 2
    ON CONFLICT (channel_id, month) DO UPDATE
    SET n = EXCLUDED.n, total = EXCLUDED.total, minimum = EXCLUDED.minimum,
        maximum = EXCLUDED.maximum
$$;

CREATE FUNCTION readings_partitions_missing(ts_from timestamptz, ts_to timestamptz)
RETURNS integer LANGUAGE plpgsql STABLE AS $$
DECLARE
    month timestamptz;
    missing integer := 0;
BEGIN
    month := date_trunc('month', ts_from AT TIME ZONE 'UTC') AT TIME ZONE 'UTC';
    WHILE month <= ts_to LOOP
        IF to_regclass('readings_' || to_char(month AT TIME ZONE 'UTC', '"y"YYYY"m"MM')) IS NULL
        THEN
            missing := missing + 1;
        END IF;
        month := month + interval '1 month';
    END LOOP;
    RETURN missing;
END $$;
