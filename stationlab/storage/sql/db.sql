-- The statements of stationlab/storage/db.py: a block starts with "-- name: <name>"
-- and runs to the next one. Parameters are always bound (%(name)s).

-- name: create_schema_migrations
CREATE TABLE IF NOT EXISTS schema_migrations (
    version integer PRIMARY KEY,
    name text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
)

-- name: record_migration
INSERT INTO schema_migrations (version, name) VALUES (%(version)s, %(name)s)

-- name: info_get
SELECT value FROM stationlab_info WHERE key = %(key)s

-- name: info_set
INSERT INTO stationlab_info (key, value) VALUES (%(key)s, %(value)s)
ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value

-- name: describe_tables
SELECT c.relname, c.relkind::text, coalesce(pg_get_partkeydef(c.oid), '') AS partkey
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'v', 'm') AND NOT c.relispartition
ORDER BY 1

-- name: describe_columns
SELECT c.relname, a.attnum, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull,
       coalesce(pg_get_expr(d.adbin, d.adrelid), '') AS default_expr, a.attidentity::text
FROM pg_attribute a
JOIN pg_class c ON c.oid = a.attrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'v', 'm') AND NOT c.relispartition
  AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY 1, 2

-- name: describe_constraints
SELECT c.relname, pg_get_constraintdef(k.oid) AS definition, k.contype::text, k.conname
FROM pg_constraint k
JOIN pg_class c ON c.oid = k.conrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = 'public' AND NOT c.relispartition
ORDER BY 1, 4

-- name: describe_indexes
SELECT i.tablename, i.indexname, i.indexdef
FROM pg_indexes i JOIN pg_class c ON c.relname = i.indexname
WHERE i.schemaname = 'public' AND NOT c.relispartition
ORDER BY 1, 2

-- name: describe_functions
SELECT p.proname, pg_get_function_identity_arguments(p.oid), md5(pg_get_functiondef(p.oid))
FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
WHERE n.nspname = 'public' AND p.prokind = 'f'
ORDER BY 1, 2

-- name: describe_triggers
SELECT c.relname, t.tgname, pg_get_triggerdef(t.oid)
FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = 'public' AND NOT t.tgisinternal
ORDER BY 1, 2

-- name: describe_views
SELECT c.relname, c.relkind::text, pg_get_viewdef(c.oid) AS definition
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = 'public' AND c.relkind IN ('v', 'm')
ORDER BY 1

-- name: describe_privileges
-- What each stationlab role (and PUBLIC) may do, as the server decides it (has_*_privilege:
-- grants to PUBLIC and to the role alike), on the public schema, its tables and views, their
-- columns (where the column is granted but not the whole table), sequences and functions; and
-- the default privileges that tables made later get.
WITH roles (role) AS (
    VALUES ('public'), ('stationlab_analyst'), ('stationlab_calibrator'), ('stationlab_pipeline')
),
relations AS (
    SELECT c.oid, c.relname, c.relkind FROM pg_class c
    JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S')
      AND NOT c.relispartition
),
held (role, kind, object, privileges) AS (
    SELECT r.role, 'schema'::text, 'public'::text,
           array(SELECT p FROM unnest(ARRAY['USAGE', 'CREATE']) p
                 WHERE has_schema_privilege(r.role, 'public', p))
    FROM roles r
    UNION ALL
    SELECT r.role, 'table', t.relname::text,
           array(SELECT p FROM unnest(ARRAY['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'TRUNCATE',
                                            'REFERENCES', 'TRIGGER']) p
                 WHERE has_table_privilege(r.role, t.oid, p))
    FROM roles r CROSS JOIN relations t WHERE t.relkind <> 'S'
    UNION ALL
    SELECT r.role, 'column', t.relname::text || '.' || a.attname::text,
           array(SELECT p FROM unnest(ARRAY['SELECT', 'INSERT', 'UPDATE', 'REFERENCES']) p
                 WHERE has_column_privilege(r.role, t.oid, a.attnum, p)
                   AND NOT has_table_privilege(r.role, t.oid, p))
    FROM roles r CROSS JOIN relations t
    JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum > 0 AND NOT a.attisdropped
    WHERE t.relkind <> 'S'
    UNION ALL
    SELECT r.role, 'sequence', t.relname::text,
           array(SELECT p FROM unnest(ARRAY['USAGE', 'SELECT', 'UPDATE']) p
                 WHERE has_sequence_privilege(r.role, t.oid, p))
    FROM roles r CROSS JOIN relations t WHERE t.relkind = 'S'
    UNION ALL
    SELECT r.role, 'function',
           p.proname::text || '(' || pg_get_function_identity_arguments(p.oid) || ')',
           CASE WHEN has_function_privilege(r.role, p.oid, 'EXECUTE') THEN ARRAY['EXECUTE']
                ELSE ARRAY[]::text[] END
    FROM roles r CROSS JOIN pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
    WHERE n.nspname = 'public' AND p.prokind = 'f'
    UNION ALL
    SELECT CASE WHEN x.grantee = 0 THEN 'public' ELSE pg_get_userbyid(x.grantee)::text END,
           'default for ' || d.defaclobjtype::text, coalesce(n.nspname::text, ''),
           array_agg(x.privilege_type ORDER BY x.privilege_type)
    FROM pg_default_acl d LEFT JOIN pg_namespace n ON n.oid = d.defaclnamespace
    CROSS JOIN LATERAL aclexplode(d.defaclacl) x
    WHERE x.grantee = 0 OR pg_get_userbyid(x.grantee) LIKE 'stationlab\_%'
    GROUP BY 1, 2, 3
)
SELECT role, kind, object, array_to_string(privileges, ', ') AS privileges FROM held
WHERE cardinality(privileges) > 0
ORDER BY 1, 2, 3

-- name: describe_flag_codes
SELECT code, version, description, excluded_by_default FROM flag_codes ORDER BY code

-- name: schema_migrations_exist
SELECT to_regclass('schema_migrations') IS NOT NULL AS ok

-- name: schema_version
SELECT max(version) AS v FROM schema_migrations

-- name: info_exists
SELECT to_regclass('stationlab_info') IS NOT NULL AS ok

-- name: migrate_lock
-- One migrate at a time (a transaction lock: safe through a pooler).
SELECT pg_advisory_xact_lock(hashtext('stationlab.migrate'))

-- name: timescaledb_available
SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb'

-- name: preload_libraries
SELECT current_setting('shared_preload_libraries') AS libs


-- name: no_function_body_checks
-- The declared schema's functions name tables it creates after them.
SET LOCAL check_function_bodies = false

-- name: session_utc
SET TIME ZONE 'UTC'
