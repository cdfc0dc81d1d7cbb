-- 0021: one clean_readings for both backends (it was written out in each backend's part, 0006
-- and 0019): the readings come through readings_between, the backend's part, which bounds them
-- as its planner needs. readings_between is made by this migration's backend part, after this
-- file, so the body is not checked now.
SET LOCAL check_function_bodies = off;

CREATE OR REPLACE FUNCTION clean_readings(p_channels integer[], p_from timestamptz, p_to timestamptz,
                               p_excluded text[] DEFAULT NULL,
                               p_include_flagged boolean DEFAULT false)
RETURNS TABLE (channel_id integer, ts timestamptz, raw double precision,
               value double precision, flags text[], excluded boolean)
LANGUAGE sql STABLE AS $$
    WITH segs AS MATERIALIZED (
        SELECT * FROM calibration_segments s
        WHERE s.channel_id = ANY(p_channels) AND s.seg_to > p_from AND s.seg_from < p_to
    ),
    cover AS MATERIALIZED (
        SELECT f.channel_id, f.ts_from, f.ts_to, f.code,
               coalesce(f.code = ANY(p_excluded), f.excluded_by_default) AS excludes
        FROM flag_coverage f
        WHERE f.channel_id = ANY(p_channels) AND f.ts_to > p_from AND f.ts_from < p_to
    ),
    flagged AS (
        SELECT r.channel_id, r.ts, array_agg(DISTINCT f.code ORDER BY f.code) AS codes,
               bool_or(f.excludes) AS excluded
        FROM cover f
        JOIN readings_between(p_channels, p_from, p_to) r ON r.channel_id = f.channel_id
            AND r.ts >= greatest(f.ts_from, p_from) AND r.ts < least(f.ts_to, p_to)
        GROUP BY r.channel_id, r.ts
    )
    SELECT r.channel_id, r.ts, r.value,
           CASE WHEN s.wrap
                THEN (r.value * s.a + s.b) - 360 * floor((r.value * s.a + s.b) / 360)
                ELSE r.value * s.a + s.b END,
           coalesce(fl.codes, '{}'), coalesce(fl.excluded, false)
    FROM segs s
    JOIN readings_between(p_channels, p_from, p_to) r ON r.channel_id = s.channel_id
        AND r.ts >= greatest(s.seg_from, p_from) AND r.ts < least(s.seg_to, p_to)
    LEFT JOIN flagged fl ON fl.channel_id = r.channel_id AND fl.ts = r.ts
    WHERE p_include_flagged OR fl.excluded IS NOT TRUE
$$;

SET LOCAL check_function_bodies = on;
