-- 0003: the exports store and its manifest.
-- Every import that stores readings of a station bumps that station's data_version in the
-- import's own transaction, so the export job knows cheaply whether a station's data changed
-- since an export was made (compare the version recorded in the manifest).

ALTER TABLE stations ADD COLUMN data_version bigint NOT NULL DEFAULT 0;

-- One row per file the export job produced: what it holds and from which data version.
CREATE TABLE exports (
    export_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    station_id integer NOT NULL REFERENCES stations,
    format text NOT NULL,
    source text NOT NULL DEFAULT 'raw' CHECK (source IN ('raw', 'clean')),
    options jsonb NOT NULL DEFAULT '{}',
    period_start timestamptz,
    period_end timestamptz,
    ts_first timestamptz,
    ts_last timestamptz,
    n_rows bigint NOT NULL CHECK (n_rows >= 0),
    n_channels integer NOT NULL CHECK (n_channels >= 0),
    n_readings bigint NOT NULL CHECK (n_readings >= 0),
    size_bytes bigint NOT NULL CHECK (size_bytes >= 0),
    sha256 bytea NOT NULL CHECK (length(sha256) = 32),
    path text NOT NULL,
    data_version bigint NOT NULL,
    stationlab_version text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX exports_latest ON exports (station_id, format, source, created_at DESC, export_id DESC);
