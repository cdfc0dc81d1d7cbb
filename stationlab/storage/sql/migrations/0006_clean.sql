-- 0006: calibrated and clean readings, flag coverage, QC rule settings.
-- Raw readings are never changed: calibrated and clean values are derived here at read time.

-- The channel's averaging interval, so data recovery knows how many readings to expect. [s]
ALTER TABLE channels ADD COLUMN interval_s integer CHECK (interval_s > 0);

-- Per channel, the time segments over which one linear map turns raw values into calibrated ones:
-- value = raw * a + b, wrapped to [0, 360) where wrap is set (wind vane directions).
--
-- With logger slope/offset (m_l, c_l) and certificate slope/offset (m_c, c_c) valid in a segment:
--   value = (raw - c_l) / m_l * m_c + c_c,   so a = m_c / m_l and b = c_c - c_l * m_c / m_l;
-- a standard deviation scales but does not shift (b = 0); with no certificate the logger's value
-- stands (a = 1, b = 0). A wind vane adds its dead-band orientation to directions and wraps.
CREATE VIEW calibration_segments AS
WITH bounds AS (
    SELECT c.channel_id, b.ts
    FROM channels c
    CROSS JOIN LATERAL (
        SELECT '-infinity'::timestamptz AS ts
        UNION SELECT lc.valid_from FROM logger_configs lc WHERE lc.channel_id = c.channel_id
        UNION SELECT lc.valid_to FROM logger_configs lc WHERE lc.channel_id = c.channel_id
        UNION SELECT greatest(si.valid_from, cal.valid_from)
            FROM sensor_installations si JOIN calibrations cal USING (sensor_id)
            WHERE si.measurement_point_id = c.measurement_point_id
        UNION SELECT least(si.valid_to, cal.valid_to)
            FROM sensor_installations si JOIN calibrations cal USING (sensor_id)
            WHERE si.measurement_point_id = c.measurement_point_id
        UNION SELECT si.valid_from FROM sensor_installations si
            WHERE si.measurement_point_id = c.measurement_point_id
        UNION SELECT si.valid_to FROM sensor_installations si
            WHERE si.measurement_point_id = c.measurement_point_id
        UNION SELECT ma.valid_from FROM mounting_arrangements ma
            WHERE ma.measurement_point_id = c.measurement_point_id
        UNION SELECT ma.valid_to FROM mounting_arrangements ma
            WHERE ma.measurement_point_id = c.measurement_point_id
    ) b
),
segments AS (
    SELECT channel_id, ts AS seg_from,
           coalesce(lead(ts) OVER (PARTITION BY channel_id ORDER BY ts), 'infinity') AS seg_to
    FROM bounds WHERE ts < 'infinity'
)
SELECT s.channel_id, s.seg_from, s.seg_to,
       lc.slope AS logger_slope, lc."offset" AS logger_offset,
       cal.calibration_id, cal.slope AS cert_slope, cal."offset" AS cert_offset,
       ma.vane_dead_band_orientation_deg AS dead_band_deg,
       CASE WHEN cal.calibration_id IS NULL OR c.statistic NOT IN
                 ('avg', 'sd', 'max', 'min', 'gust', 'sample', 'median', 'mode', 'range')
            THEN 1.0 ELSE cal.slope / lc.slope END AS a,
       CASE WHEN cal.calibration_id IS NULL OR c.statistic NOT IN
                 ('avg', 'max', 'min', 'gust', 'sample', 'median', 'mode')
            THEN 0.0 ELSE cal."offset" - lc."offset" * cal.slope / lc.slope END
       + CASE WHEN p.measurement_type = 'wind_direction'
                   AND c.statistic IN ('avg', 'max', 'min', 'sample', 'median', 'mode')
              THEN coalesce(ma.vane_dead_band_orientation_deg, 0) ELSE 0 END AS b,
       p.measurement_type = 'wind_direction'
           AND c.statistic IN ('avg', 'max', 'min', 'sample', 'median', 'mode') AS wrap
FROM segments s
JOIN channels c USING (channel_id)
LEFT JOIN measurement_points p USING (measurement_point_id)
LEFT JOIN LATERAL (
    SELECT x.slope, x."offset" FROM logger_configs x
    WHERE x.channel_id = s.channel_id AND x.valid_from <= s.seg_from AND s.seg_from < x.valid_to
    ORDER BY x.source = 'file_header', x.valid_from DESC LIMIT 1
) lc0 ON true
CROSS JOIN LATERAL (SELECT coalesce(lc0.slope, 1.0) AS slope,
                           coalesce(lc0."offset", 0.0) AS "offset") lc
LEFT JOIN LATERAL (
    SELECT x.calibration_id, x.slope, x."offset"
    FROM sensor_installations si JOIN calibrations x USING (sensor_id)
    WHERE si.measurement_point_id = c.measurement_point_id
      AND si.valid_from <= s.seg_from AND s.seg_from < si.valid_to
      AND x.valid_from <= s.seg_from AND s.seg_from < x.valid_to
    ORDER BY x.valid_from DESC LIMIT 1
) cal ON true
LEFT JOIN LATERAL (
    SELECT x.vane_dead_band_orientation_deg FROM mounting_arrangements x
    WHERE x.measurement_point_id = c.measurement_point_id
      AND x.valid_from <= s.seg_from AND s.seg_from < x.valid_to
    LIMIT 1
) ma ON true;

-- Active (not removed) flags, spread over the channels they cover: a flag on a measurement point
-- covers its channels, a flag on a station every channel of the station.
CREATE VIEW flag_coverage AS
SELECT f.flag_id, c.channel_id, f.ts_from, f.ts_to, f.code, fc.excluded_by_default, f.source,
       f.reason
FROM flags f
JOIN flag_codes fc USING (code)
JOIN channels c ON c.station_id = f.station_id
    AND (f.channel_id IS NULL OR c.channel_id = f.channel_id)
    AND (f.measurement_point_id IS NULL OR c.measurement_point_id = f.measurement_point_id)
WHERE f.deleted_at IS NULL;

-- Calibrated readings of some channels in [p_from, p_to), with the codes of the flags covering
-- each and whether one of them excludes it. p_excluded: the codes that exclude (NULL: each
-- code's excluded_by_default). With p_include_flagged false, excluded readings are left out.
CREATE FUNCTION clean_readings(p_channels integer[], p_from timestamptz, p_to timestamptz,
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
        JOIN readings r ON r.channel_id = f.channel_id
            AND r.ts >= greatest(f.ts_from, p_from) AND r.ts < least(f.ts_to, p_to)
        GROUP BY r.channel_id, r.ts
    )
    SELECT r.channel_id, r.ts, r.value,
           CASE WHEN s.wrap
                THEN (r.value * s.a + s.b) - 360 * floor((r.value * s.a + s.b) / 360)
                ELSE r.value * s.a + s.b END,
           coalesce(fl.codes, '{}'), coalesce(fl.excluded, false)
    FROM segs s
    JOIN readings r ON r.channel_id = s.channel_id
        AND r.ts >= greatest(s.seg_from, p_from) AND r.ts < least(s.seg_to, p_to)
    LEFT JOIN flagged fl ON fl.channel_id = r.channel_id AND fl.ts = r.ts
    WHERE p_include_flagged OR fl.excluded IS NOT TRUE
$$;

-- QC rule settings per station (and measurement type); defaults live in the code.
CREATE TABLE qc_settings (
    station_id integer NOT NULL REFERENCES stations,
    rule text NOT NULL,
    measurement_type text NOT NULL DEFAULT '*',
    params jsonb NOT NULL DEFAULT '{}',
    enabled boolean NOT NULL DEFAULT true,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (station_id, rule, measurement_type)
);
CREATE INDEX flags_rule ON flags (station_id, rule_name, ts_from) WHERE source = 'rule';
