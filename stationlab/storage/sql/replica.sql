-- Reads on a streaming replica (STATIONLAB_READ_DSN): which database it copies, how far behind
-- it is.

-- name: database_id_set
-- A random id, made once by the first migrate: a physical replica holds the same row, so a
-- read server is known to copy this database and not another one.
INSERT INTO stationlab_info (key, value) VALUES ('database_id', gen_random_uuid()::text)
ON CONFLICT (key) DO NOTHING

-- name: database_id
SELECT value FROM stationlab_info WHERE key = 'database_id'

-- name: primary_lsn
-- Where the primary's WAL ends now (a replica has caught up with a write once it has replayed
-- this far).
SELECT pg_current_wal_lsn()::text AS lsn

-- name: replica_position
-- On the replica: whether it is one, what it has replayed, and the age of the newest replayed
-- transaction (which also grows while the primary is idle). [s]
SELECT pg_is_in_recovery() AS in_recovery,
       pg_last_wal_receive_lsn()::text AS receive_lsn,
       pg_last_wal_replay_lsn()::text AS replay_lsn,
       extract(epoch FROM now() - pg_last_xact_replay_timestamp()) AS replay_age_s

-- name: replica_replayed
-- (A primary has everything it wrote.)
SELECT NOT pg_is_in_recovery() OR coalesce(pg_last_wal_replay_lsn() >= %(lsn)s::pg_lsn, false)
       AS done

-- name: lsn_diff
SELECT pg_wal_lsn_diff(%(a)s::pg_lsn, %(b)s::pg_lsn)::bigint AS bytes

-- name: primary_replication
-- On the primary: its streaming replicas as it sees them (the lags are visible to superusers
-- and members of pg_monitor only). [s]
SELECT application_name, client_addr::text AS client_addr, state,
       replay_lsn::text AS replay_lsn, extract(epoch FROM replay_lag) AS replay_lag_s
FROM pg_stat_replication
ORDER BY application_name, client_addr
