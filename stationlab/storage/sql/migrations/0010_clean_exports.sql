-- 0010: the exports store keeps clean files too. A clean file depends on more than the readings:
-- on what turns them into clean values. `clean_inputs_digest` sums that up for a station (its
-- channels' calibration segments, its active flags, the flag codes); a clean export records the
-- digest it was made from and is made again when the digest differs.

ALTER TABLE exports ADD COLUMN inputs_digest text
    CHECK (inputs_digest IS NOT NULL OR source = 'raw');

CREATE FUNCTION clean_inputs_digest(p_station integer)
RETURNS text LANGUAGE sql STABLE AS $$
    SELECT md5(concat_ws('|',
        (SELECT string_agg(concat_ws(',', s.channel_id, s.seg_from, s.seg_to, s.a, s.b,
                                     s.wrap), ';' ORDER BY s.channel_id, s.seg_from)
         FROM calibration_segments s JOIN channels c USING (channel_id)
         WHERE c.station_id = p_station),
        (SELECT string_agg(concat_ws(',', f.flag_id, f.channel_id, f.measurement_point_id,
                                     f.ts_from, f.ts_to, f.code), ';' ORDER BY f.flag_id)
         FROM flags f WHERE f.station_id = p_station AND f.deleted_at IS NULL),
        (SELECT string_agg(concat_ws(',', fc.code, fc.excluded_by_default), ';'
                           ORDER BY fc.code)
         FROM flag_codes fc)))
$$;
