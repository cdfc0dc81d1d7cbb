-- 0002, plain PostgreSQL: how many monthly partitions covering [ts_from, ts_to] are missing.
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
