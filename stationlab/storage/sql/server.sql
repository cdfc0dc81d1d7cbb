-- The statements of stationlab/storage/server.py: a block starts with "-- name: <name>"
-- and runs to the next one. Parameters are always bound (%(name)s).

-- name: database_exists
SELECT 1 FROM pg_database WHERE datname = %(name)s

-- name: server_version
SHOW server_version

-- name: timescaledb_version
SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'

-- name: server_major
SELECT current_setting('server_version_num')::integer AS version_num,
       current_database() AS dbname
