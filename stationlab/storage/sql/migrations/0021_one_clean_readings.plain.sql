-- 0021, plain PostgreSQL: the months without a partition found once (readings_months_missing,
-- in UTC whatever the session's time zone) for both the function that counts them and the one
-- that makes them, and a month's partition range counted in UTC too (in another time zone its
-- end was a day off); and readings_between for clean_readings.

CREATE OR REPLACE FUNCTION readings_month_partition(p_month timestamptz, OUT name text,
                                         OUT lower timestamptz, OUT upper timestamptz)
LANGUAGE sql STABLE AS $$
    SELECT 'readings_' || to_char(m, '"y"YYYY"m"MM'), m AT TIME ZONE 'UTC',
           (m + interval '1 month') AT TIME ZONE 'UTC'
    FROM (SELECT date_trunc('month', p_month AT TIME ZONE 'UTC') AS m) month
$$;

CREATE FUNCTION readings_months_missing(ts_from timestamptz, ts_to timestamptz)
RETURNS SETOF timestamptz LANGUAGE sql STABLE AS $$
    SELECT m AT TIME ZONE 'UTC'
    FROM generate_series(date_trunc('month', ts_from AT TIME ZONE 'UTC'),
                         ts_to AT TIME ZONE 'UTC', interval '1 month') AS m
    WHERE to_regclass((readings_month_partition(m AT TIME ZONE 'UTC')).name) IS NULL
$$;

CREATE OR REPLACE FUNCTION readings_partitions_missing(ts_from timestamptz, ts_to timestamptz)
RETURNS integer LANGUAGE sql STABLE AS $$
    SELECT count(*)::integer FROM readings_months_missing(ts_from, ts_to)
$$;

CREATE OR REPLACE FUNCTION ensure_readings_partitions(ts_from timestamptz, ts_to timestamptz)
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

CREATE FUNCTION readings_between(p_channels integer[], p_from timestamptz, p_to timestamptz)
RETURNS SETOF readings LANGUAGE sql STABLE AS $$
    SELECT * FROM readings
$$;
