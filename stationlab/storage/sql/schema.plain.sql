-- The declared schema, plain PostgreSQL part: readings, its monthly rollup and the functions that
-- depend on how they are kept. Applied before schema.sql (whose role block grants on them).

-- Readings, range-partitioned by month on ts; partitions are created on demand.
CREATE TABLE readings (
    channel_id integer NOT NULL,
    ts timestamptz NOT NULL,
    value double precision NOT NULL,
    PRIMARY KEY (channel_id, ts)
) PARTITION BY RANGE (ts);

-- The partition a month's readings go to: its name and range, the UTC month (counted in UTC
-- whatever the session's time zone).
CREATE FUNCTION readings_month_partition(p_month timestamptz, OUT name text,
                                         OUT lower timestamptz, OUT upper timestamptz)
LANGUAGE sql STABLE AS $$
    SELECT 'readings_' || to_char(m, '"y"YYYY"m"MM'), m AT TIME ZONE 'UTC',
           (m + interval '1 month') AT TIME ZONE 'UTC'
    FROM (SELECT date_trunc('month', p_month AT TIME ZONE 'UTC') AS m) month
$$;

-- The UTC months touching [ts_from, ts_to] whose partition is missing (counted in UTC, whatever
-- the session's time zone).
CREATE FUNCTION readings_months_missing(ts_from timestamptz, ts_to timestamptz)
RETURNS SETOF timestamptz LANGUAGE sql STABLE AS $$
    SELECT m AT TIME ZONE 'UTC'
    FROM generate_series(date_trunc('month', ts_from AT TIME ZONE 'UTC'),
                         ts_to AT TIME ZONE 'UTC', interval '1 month') AS m
    WHERE to_regclass((readings_month_partition(m AT TIME ZONE 'UTC')).name) IS NULL
$$;

-- Create the monthly partitions of readings that cover [ts_from, ts_to]; returns how many were
-- created. Safe to call concurrently (an advisory lock serialises creators). It needs DDL, so it
-- runs as its owner; only pipelines may call it (schema.sql's role block).
CREATE FUNCTION ensure_readings_partitions(ts_from timestamptz, ts_to timestamptz)
RETURNS integer LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    part record;
    created integer := 0;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('stationlab.readings_partitions'));
    FOR part IN SELECT p.* FROM readings_months_missing(ts_from, ts_to) AS m,
                                readings_month_partition(m) AS p LOOP
        EXECUTE format('CREATE TABLE %I PARTITION OF readings FOR VALUES FROM (%L) TO (%L)',
                       part.name, part.lower, part.upper);
        created := created + 1;
    END LOOP;
    RETURN created;
END $$;

-- How many monthly partitions covering [ts_from, ts_to] are missing.
CREATE FUNCTION readings_partitions_missing(ts_from timestamptz, ts_to timestamptz)
RETURNS integer LANGUAGE sql STABLE AS $$
    SELECT count(*)::integer FROM readings_months_missing(ts_from, ts_to)
$$;

-- A month without a partition loads faster into a table of its own, keyed after loading and
-- then attached (attaching locks `readings` only against other DDL, not against reads or
-- writes). `readings_load_table` names the table a month's readings are to be copied into:
-- `readings` if its partition exists, else a new table with the partition's name, whose range
-- check lets `attach_readings_partition` attach it without scanning it. Both run inside the
-- import's transaction, as their owner (DDL), and only pipelines may call them.

CREATE FUNCTION readings_load_table(p_month timestamptz)
RETURNS text LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    part record := readings_month_partition(p_month);
BEGIN
    IF to_regclass(part.name) IS NOT NULL THEN
        RETURN 'readings';
    END IF;
    -- Attaching needs this lock (it lets reads and writes go on); taking it now keeps two
    -- imports from making the same partition, and shows this one any partition made meanwhile.
    LOCK TABLE readings IN SHARE UPDATE EXCLUSIVE MODE;
    IF to_regclass(part.name) IS NOT NULL THEN
        RETURN 'readings';
    END IF;
    EXECUTE format('CREATE TABLE %I (LIKE readings, CONSTRAINT %I CHECK '
                   '(ts >= %L AND ts < %L))', part.name, part.name || '_range', part.lower,
                   part.upper);
    RETURN part.name;
END $$;

CREATE FUNCTION attach_readings_partition(p_month timestamptz)
RETURNS void LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    part record := readings_month_partition(p_month);
BEGIN
    EXECUTE format('ALTER TABLE %I ADD PRIMARY KEY (channel_id, ts)', part.name);
    EXECUTE format('ALTER TABLE readings ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)',
                   part.name, part.lower, part.upper);
    EXECUTE format('ALTER TABLE %I DROP CONSTRAINT %I', part.name, part.name || '_range');
END $$;

-- Monthly statistics per channel, kept current by each import.
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

-- An import adds the monthly statistics of the readings it inserted to the rollup (counts and
-- sums add, minima and maxima combine), so that the rollup is kept without reading the readings
-- again.
CREATE FUNCTION add_readings_monthly(p_channels integer[], p_months timestamptz[],
                                     p_n bigint[], p_total double precision[],
                                     p_minimum double precision[], p_maximum double precision[])
RETURNS void LANGUAGE sql AS $$
    INSERT INTO readings_monthly AS m (channel_id, month, n, total, minimum, maximum)
    SELECT * FROM unnest(p_channels, p_months, p_n, p_total, p_minimum, p_maximum)
    ON CONFLICT (channel_id, month) DO UPDATE
    SET n = m.n + EXCLUDED.n, total = m.total + EXCLUDED.total,
        minimum = least(m.minimum, EXCLUDED.minimum),
        maximum = greatest(m.maximum, EXCLUDED.maximum)
$$;

-- The readings clean_readings joins (see schema.sql): here all of them, bounded by its join
-- conditions alone. Stating the bounds again as plain quals, as TimescaleDB needs, makes the
-- planner pick a far worse plan where statistics are missing: tried on 2026-12-07, one station of
-- 5,640 readings and 200 flags, not yet analysed, took minutes instead of milliseconds (on an
-- analysed 2-year mast that form was as fast).
CREATE FUNCTION readings_between(p_channels integer[], p_from timestamptz, p_to timestamptz)
RETURNS SETOF readings LANGUAGE sql STABLE AS $$
    SELECT * FROM readings
$$;
