-- 0002: the raw file store's record (arrivals, what each source fetched) and the files table as
-- the import queue.

-- Every file that arrived (fetched, uploaded, or registered by path), as it arrived. Its bytes
-- are in the raw store ($STATIONLAB_HOME/raw) under stored_path, named by their sha256. An
-- archive is one arrival; each file inside it becomes a files row of that arrival.
CREATE TABLE arrivals (
    arrival_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    source text NOT NULL,
    original_name text NOT NULL,
    sha256 bytea NOT NULL CHECK (length(sha256) = 32),
    size_bytes bigint NOT NULL CHECK (size_bytes >= 0),
    stored_path text NOT NULL,
    station_name text,
    author text NOT NULL DEFAULT current_user,
    arrived_at timestamptz NOT NULL DEFAULT now()
);

-- What each configured source has fetched: a remote file is fetched again only when its key
-- (size and modification time, or the server's ETag) changes.
CREATE TABLE fetched (
    source text NOT NULL,
    remote_path text NOT NULL,
    remote_key text NOT NULL,
    arrival_id bigint NOT NULL REFERENCES arrivals,
    fetched_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (source, remote_path, remote_key)
);

-- The files table is the import queue: workers take pending rows with FOR UPDATE SKIP LOCKED in
-- the transaction that stores their readings (the row lock is the claim).
ALTER TABLE files
    ADD COLUMN arrival_id bigint REFERENCES arrivals,
    ADD COLUMN stored_path text,
    ADD COLUMN station_name text,
    ADD COLUMN imported_by text;
CREATE INDEX files_pending ON files (station_name, file_id) WHERE status = 'pending';
