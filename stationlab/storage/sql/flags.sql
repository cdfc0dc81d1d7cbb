-- The statements of stationlab/storage/flags.py: a block starts with "-- name: <name>"
-- and runs to the next one. Parameters are always bound (%(name)s).

-- name: flag_code_exists
SELECT code FROM flag_codes WHERE code = %(code)s

-- name: flag_code_insert
INSERT INTO flag_codes (code, description, excluded_by_default)
VALUES (%(code)s, %(description)s, %(excluded_by_default)s)
ON CONFLICT (code) DO NOTHING

-- name: flag_codes
SELECT code, version, description, excluded_by_default FROM flag_codes ORDER BY code

-- name: flag_insert
INSERT INTO flags (station_id, measurement_point_id, channel_id, ts_from, ts_to, code, reason,
                   author, source, rule_name, rule_version, supersedes)
VALUES (%(station_id)s, %(measurement_point_id)s, %(channel_id)s, %(ts_from)s, %(ts_to)s,
        %(code)s, %(reason)s, %(author)s, %(source)s, %(rule_name)s, %(rule_version)s,
        %(supersedes)s)
RETURNING flag_id

-- name: flag_get
SELECT * FROM flags WHERE flag_id = %(flag_id)s FOR UPDATE

-- name: flag_delete
UPDATE flags SET deleted_at = now(), deleted_by = %(author)s
WHERE flag_id = %(flag_id)s AND deleted_at IS NULL

-- name: flags_list
SELECT f.flag_id, f.ts_from, f.ts_to, f.code, f.reason, f.author, f.source, f.rule_name,
       f.rule_version, f.created_at, f.deleted_at, f.deleted_by, f.supersedes,
       f.channel_id, f.measurement_point_id, p.name AS point_name, c.column_name,
       cp.name AS channel_point_name, c.statistic
FROM flags f
JOIN stations s USING (station_id)
LEFT JOIN measurement_points p ON p.measurement_point_id = f.measurement_point_id
LEFT JOIN channels c ON c.channel_id = f.channel_id
LEFT JOIN measurement_points cp ON cp.measurement_point_id = c.measurement_point_id
WHERE s.name = %(station)s AND (%(include_deleted)s OR f.deleted_at IS NULL)
  AND f.ts_to > coalesce(%(start)s::timestamptz, '-infinity')
  AND f.ts_from < coalesce(%(end)s::timestamptz, 'infinity')
ORDER BY f.ts_from, f.flag_id

-- name: rule_flags_in_period
DELETE FROM flags
WHERE station_id = %(station_id)s AND source = 'rule' AND rule_name = %(rule_name)s
  AND ts_to > %(start)s AND ts_from < %(end)s
RETURNING measurement_point_id, channel_id, ts_from, ts_to, code, reason, author, rule_name,
          rule_version

-- name: qc_settings
SELECT rule, measurement_type, params, enabled FROM qc_settings q
JOIN stations s USING (station_id) WHERE s.name = %(station)s

-- name: qc_setting_upsert
INSERT INTO qc_settings (station_id, rule, measurement_type, params, enabled)
VALUES (%(station_id)s, %(rule)s, %(measurement_type)s, %(params)s, %(enabled)s)
ON CONFLICT (station_id, rule, measurement_type) DO UPDATE
SET params = EXCLUDED.params, enabled = EXCLUDED.enabled, updated_at = now()

-- name: flag_coverage
SELECT channel_id, ts_from, ts_to, code, reason, source, flag_id
FROM flag_coverage
WHERE channel_id = ANY(%(channel_ids)s)
  AND ts_to > coalesce(%(start)s::timestamptz, '-infinity')
  AND ts_from < coalesce(%(end)s::timestamptz, 'infinity')
ORDER BY ts_from, channel_id, flag_id
