-- 0008, plain PostgreSQL: an import adds the monthly statistics of the readings it inserted to
-- the rollup (counts and sums add, minima and maxima combine), so that the rollup is kept
-- without reading the readings again.

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

-- A month without a partition loads faster into a table of its own, keyed after loading and
-- then attached (attaching locks `readings` only against other DDL, not against reads or
-- writes). `readings_load_table` names the table a month's readings are to be copied into:
-- `readings` if its partition exists, else a new table with the partition's name, whose range
-- check lets `attach_readings_partition` attach it without scanning it. Both run inside the
-- import's transaction.

CREATE FUNCTION readings_month_partition(p_month timestamptz, OUT name text,
                                         OUT lower timestamptz, OUT upper timestamptz)
LANGUAGE sql STABLE AS $$
    SELECT 'readings_' || to_char(m AT TIME ZONE 'UTC', '"y"YYYY"m"MM'), m, m + interval '1 month'
    FROM (SELECT date_trunc('month', p_month, 'UTC') AS m) month
$$;

CREATE FUNCTION readings_load_table(p_month timestamptz)
RETURNS text LANGUAGE plpgsql AS $$
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
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    part record := readings_month_partition(p_month);
BEGIN
    EXECUTE format('ALTER TABLE %I ADD PRIMARY KEY (channel_id, ts)', part.name);
    EXECUTE format('ALTER TABLE readings ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)',
                   part.name, part.lower, part.upper);
    EXECUTE format('ALTER TABLE %I DROP CONSTRAINT %I', part.name, part.name || '_range');
END $$;
