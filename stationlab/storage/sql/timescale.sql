-- The statements of stationlab/storage/timescale.py: a block starts with "-- name: <name>"
-- and runs to the next one. Parameters are always bound (%(name)s).

-- name: refresh_monthly_aggregate
CALL refresh_continuous_aggregate('readings_monthly',
                                  date_trunc('month', %(ts_first)s::timestamptz, 'UTC'),
                                  date_trunc('month', %(ts_last)s::timestamptz, 'UTC')
                                      + interval '1 month')

-- name: uncompressed_chunks
-- Finished chunks (30 days each; ended before this month began) not compressed, or compressed
-- and then written to (status bit 8: partially compressed); optionally only a station's.
SELECT format('%%I.%%I', c.chunk_schema, c.chunk_name) AS chunk, c.range_start, c.range_end,
       c.chunk_schema, c.chunk_name, c.is_compressed AS partial
FROM timescaledb_information.chunks c
JOIN _timescaledb_catalog.chunk k ON k.relid = format('%%I.%%I', c.chunk_schema, c.chunk_name)::regclass
WHERE c.hypertable_schema = current_schema() AND c.hypertable_name = 'readings'
  AND c.range_end <= date_trunc('month', now(), 'UTC')
  AND (NOT c.is_compressed OR (k.status & 8) <> 0)
  AND (%(station)s::text IS NULL OR EXISTS (
        SELECT 1 FROM files f JOIN stations s USING (station_id)
        WHERE s.name = %(station)s AND f.status = 'imported'
          AND f.ts_first < c.range_end AND f.ts_last >= c.range_start))
ORDER BY c.range_start

-- name: compress_chunk
SELECT compress_chunk(%(chunk)s::regclass, if_not_compressed => true) AS chunk

-- name: vacuum_chunk
-- After a recompression: the rows it moved out of the chunk's own table are dead; their space
-- goes back, and the chunk's (now empty) key index is rebuilt small, without blocking anyone.
VACUUM {chunk}

-- name: reindex_chunk
REINDEX TABLE CONCURRENTLY {chunk}

-- name: readings_size
SELECT hypertable_size('readings') AS bytes

-- name: create_extension
CREATE EXTENSION IF NOT EXISTS timescaledb

-- name: pre_restore
SELECT timescaledb_pre_restore()

-- name: post_restore
SELECT timescaledb_post_restore()
