-- 0006, TimescaleDB: monthly statistics per channel as a real-time continuous aggregate.

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

-- Real-time aggregation answers with fresh data; the policy materialises in the background.
CREATE FUNCTION refresh_readings_monthly(p_channels integer[], p_from timestamptz,
                                         p_to timestamptz)
RETURNS void LANGUAGE sql AS $$ SELECT $$;
