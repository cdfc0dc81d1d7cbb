-- 0012: pipelines run as their own role (`stationlab db grant-pipeline NAME`, a member of
-- stationlab_pipeline: reads and writes data, never the schema). An import into a month without
-- a partition needs DDL; the three functions that do it run as their owner (SECURITY DEFINER,
-- with a fixed search_path), and only pipelines (and the owner) may call them: analysts, who may
-- call every other function, may not.
ALTER FUNCTION ensure_readings_partitions(timestamptz, timestamptz)
    SECURITY DEFINER SET search_path = public, pg_temp;
ALTER FUNCTION readings_load_table(timestamptz)
    SECURITY DEFINER SET search_path = public, pg_temp;
ALTER FUNCTION attach_readings_partition(timestamptz)
    SECURITY DEFINER SET search_path = public, pg_temp;
REVOKE EXECUTE ON FUNCTION ensure_readings_partitions(timestamptz, timestamptz),
    readings_load_table(timestamptz), attach_readings_partition(timestamptz)
    FROM PUBLIC, stationlab_analyst;
GRANT EXECUTE ON FUNCTION ensure_readings_partitions(timestamptz, timestamptz),
    readings_load_table(timestamptz), attach_readings_partition(timestamptz)
    TO stationlab_pipeline;
