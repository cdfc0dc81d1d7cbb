-- The statements of stationlab/storage/databases.py: a block starts with "-- name: <name>"
-- and runs to the next one. Parameters are always bound (%(name)s).

-- name: database_create
CREATE DATABASE {name}

-- name: database_copy
CREATE DATABASE {name} TEMPLATE {template}

-- name: database_sessions_end
SELECT pg_terminate_backend(pid) FROM pg_stat_activity
WHERE datname = %(name)s AND pid <> pg_backend_pid()

-- name: database_drop
DROP DATABASE IF EXISTS {name} WITH (FORCE)

-- name: restore_check
SELECT (SELECT max(version) FROM schema_migrations) AS schema_version,
       (SELECT count(*) FROM readings) AS readings,
       (SELECT count(*) FROM files) AS files,
       (SELECT count(*) FROM flags) AS flags
