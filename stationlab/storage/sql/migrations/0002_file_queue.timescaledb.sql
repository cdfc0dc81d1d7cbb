-- 0002, TimescaleDB: chunks are created as rows arrive, so no partition is ever missing.
CREATE FUNCTION readings_partitions_missing(ts_from timestamptz, ts_to timestamptz)
RETURNS integer LANGUAGE sql STABLE AS $$ SELECT 0 $$;
