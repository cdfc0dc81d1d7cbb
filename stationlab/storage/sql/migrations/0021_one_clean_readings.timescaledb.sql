-- 0021, TimescaleDB: readings_between for clean_readings, with the bounds 0019 wrote into it.

CREATE FUNCTION readings_between(p_channels integer[], p_from timestamptz, p_to timestamptz)
RETURNS SETOF readings LANGUAGE sql STABLE AS $$
    SELECT * FROM readings WHERE channel_id = ANY(p_channels) AND ts >= p_from AND ts < p_to
$$;
