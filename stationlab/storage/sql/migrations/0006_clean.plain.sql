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
