-- 0013: wind vane directions turned by dead band - logger offset, not by the dead band on top
-- of a logger offset already in the recorded value (issue 13). Rules: docs/calibration.md.

-- Per channel, the time segments over which one linear map turns raw values into calibrated ones:
-- value = raw * a + b, wrapped to [0, 360) where wrap is set (wind vane directions). The rules,
-- cited to the IEA Task 43 data model, are in docs/calibration.md.
--
-- With logger slope/offset (m_l, c_l) and certificate slope/offset (m_c, c_c) valid in a segment:
--   value = (raw - c_l) / m_l * m_c + c_c,   so a = m_c / m_l and b = c_c - c_l * m_c / m_l;
-- a standard deviation or range scales but does not shift (b = 0); with no certificate the
-- logger's value stands (a = 1, b = 0). A wind vane's direction statistics (avg, min, max, gust,
-- sample, median, mode) already hold the logger offset c_l (Task 43: the logger offset is in the
-- recorded value), so a known dead-band orientation d turns them by d - c_l:
--   value = wrap((raw - c_l) * a + c + d),   c = c_c with a certificate, else 0 (and a = 1);
-- with no dead band known the direction is left as the logger recorded it (as brightwind's
-- apply_wind_vane_deadband_offset does). A certificate with no slope (it states a sensitivity)
-- is not applied: the logger's value stands, rather than a NULL from the missing slope.
CREATE OR REPLACE VIEW calibration_segments AS
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
       k.a,
       CASE WHEN k.turn
            THEN CASE WHEN k.certified THEN cal."offset" ELSE 0.0 END - lc."offset" * k.a
                 + ma.vane_dead_band_orientation_deg
            WHEN NOT k.certified OR c.statistic NOT IN
                 ('avg', 'max', 'min', 'gust', 'sample', 'median', 'mode')
            THEN 0.0 ELSE cal."offset" - lc."offset" * k.a END AS b,
       k.turn OR (k.direction AND k.certified) AS wrap
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
) ma ON true
CROSS JOIN LATERAL (
    SELECT coalesce(p.measurement_type = 'wind_direction'
                    AND c.statistic IN ('avg', 'max', 'min', 'gust', 'sample', 'median', 'mode'),
                    false) AS direction
) d
CROSS JOIN LATERAL (
    SELECT CASE WHEN cal.slope IS NULL OR c.statistic NOT IN
                     ('avg', 'sd', 'max', 'min', 'gust', 'sample', 'median', 'mode', 'range')
                THEN 1.0 ELSE cal.slope / lc.slope END AS a,
           d.direction AND ma.vane_dead_band_orientation_deg IS NOT NULL AS turn,
           d.direction,
           cal.slope IS NOT NULL AS certified  -- a sensitivity-only certificate is not applied
) k;
