-- The declared schema, common to both backends, as of the latest migration.
-- The readings table is backend-specific: see 0001_initial.plain.sql / .timescaledb.sql.

CREATE TABLE stationlab_info (
    key text PRIMARY KEY,
    value text NOT NULL
);

CREATE TABLE stations (
    station_id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name text NOT NULL UNIQUE CHECK (name <> ''),
    station_type text NOT NULL DEFAULT 'mast',
    latitude double precision CHECK (latitude BETWEEN -90 AND 90),
    longitude double precision CHECK (longitude BETWEEN -180 AND 180),
    elevation_m double precision,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- A data logger (one physical logger; its files may come from several tables, such as Campbell's
-- Hourly and Daily). Its clock runs at a fixed offset from UTC (no daylight saving).
CREATE TABLE loggers (
    logger_id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    station_id integer NOT NULL REFERENCES stations,
    name text NOT NULL,
    model text NOT NULL DEFAULT '',
    serial_number text NOT NULL DEFAULT '',
    utc_offset interval NOT NULL DEFAULT '0',
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (station_id, model, serial_number, name)
);
CREATE INDEX loggers_serial ON loggers (model, serial_number) WHERE serial_number <> '';

-- A sensor position: type (IEA Task 43 measurement_type_id), height [m], orientation [deg].
CREATE TABLE measurement_points (
    measurement_point_id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    station_id integer NOT NULL REFERENCES stations,
    name text NOT NULL,
    measurement_type text NOT NULL DEFAULT 'other',
    height_m double precision,
    orientation_deg double precision CHECK (orientation_deg >= 0 AND orientation_deg < 360),
    unit text,
    UNIQUE (station_id, name)
);

-- The unit of storage: one measurement point x one statistic. A file column that no logger
-- configuration explains is kept as an *unassigned* channel of its logger (no measurement point).
CREATE TABLE channels (
    channel_id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    station_id integer NOT NULL REFERENCES stations,
    measurement_point_id integer REFERENCES measurement_points,
    statistic text CHECK (statistic IN ('avg', 'sd', 'max', 'min', 'count', 'availability',
        'quality', 'sum', 'median', 'mode', 'range', 'gust', 'ti', 'ti30sec', 'text', 'sample',
        'time_of_max', 'time_of_min')),
    kind text NOT NULL DEFAULT 'number' CHECK (kind IN ('number', 'timestamp')),
    unit text,
    logger_id integer REFERENCES loggers,
    table_name text,
    column_name text,
    created_at timestamptz NOT NULL DEFAULT now(),
    CHECK (measurement_point_id IS NOT NULL OR (logger_id IS NOT NULL AND column_name IS NOT NULL))
);
CREATE UNIQUE INDEX channels_point_statistic ON channels (measurement_point_id, statistic)
    NULLS NOT DISTINCT WHERE measurement_point_id IS NOT NULL;
CREATE UNIQUE INDEX channels_unassigned ON channels (logger_id, table_name, column_name)
    NULLS NOT DISTINCT WHERE measurement_point_id IS NULL;
CREATE INDEX channels_station ON channels (station_id);

-- Which column of which logger's files holds which channel, with the slope and offset the
-- logger applied, valid over [valid_from, valid_to). table_name NULL: the column in any table.
CREATE TABLE logger_configs (
    logger_config_id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    logger_id integer NOT NULL REFERENCES loggers,
    table_name text,
    column_name text NOT NULL,
    channel_id integer NOT NULL REFERENCES channels,
    slope double precision NOT NULL DEFAULT 1 CHECK (slope <> 0),
    "offset" double precision NOT NULL DEFAULT 0,
    valid_from timestamptz NOT NULL DEFAULT '-infinity',
    valid_to timestamptz NOT NULL DEFAULT 'infinity',
    source text NOT NULL DEFAULT 'file_header',
    CHECK (valid_from < valid_to)
);
CREATE INDEX logger_configs_logger ON logger_configs (logger_id, column_name, valid_from);

CREATE FUNCTION logger_configs_no_overlap() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (
        SELECT 1 FROM logger_configs c
        WHERE c.logger_id = NEW.logger_id AND c.column_name = NEW.column_name
          AND (c.table_name IS NULL OR NEW.table_name IS NULL OR c.table_name = NEW.table_name)
          AND c.logger_config_id <> NEW.logger_config_id
          AND c.valid_from < NEW.valid_to AND NEW.valid_from < c.valid_to
    ) THEN
        RAISE EXCEPTION 'column % of logger % already has a configuration overlapping [%, %)',
            NEW.column_name, NEW.logger_id, NEW.valid_from, NEW.valid_to
            USING ERRCODE = 'exclusion_violation';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER logger_configs_no_overlap BEFORE INSERT OR UPDATE ON logger_configs
    FOR EACH ROW EXECUTE FUNCTION logger_configs_no_overlap();

-- Sensors (IEA Task 43 sensor), where they were installed, and their calibration certificates.
CREATE TABLE sensors (
    sensor_id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    sensor_type text NOT NULL DEFAULT 'other',
    oem text NOT NULL DEFAULT '',
    model text NOT NULL DEFAULT '',
    serial_number text NOT NULL DEFAULT '',
    notes text,
    UNIQUE (oem, model, serial_number)
);

-- A sensor mounted on a measurement point over [valid_from, valid_to).
CREATE TABLE sensor_installations (
    sensor_installation_id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    sensor_id integer NOT NULL REFERENCES sensors,
    measurement_point_id integer NOT NULL REFERENCES measurement_points,
    valid_from timestamptz NOT NULL DEFAULT '-infinity',
    valid_to timestamptz NOT NULL DEFAULT 'infinity',
    CHECK (valid_from < valid_to)
);
CREATE INDEX sensor_installations_point ON sensor_installations (measurement_point_id, valid_from);

-- A calibration certificate of a sensor: value = raw * slope + offset, applied to readings in
-- [valid_from, valid_to) (by default from the calibration's use onwards).
CREATE TABLE calibrations (
    calibration_id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    sensor_id integer NOT NULL REFERENCES sensors,
    slope double precision NOT NULL CHECK (slope <> 0),
    "offset" double precision NOT NULL DEFAULT 0,
    calibration_date date,
    place_of_calibration text,
    certificate text,
    uncertainty double precision,
    valid_from timestamptz NOT NULL DEFAULT '-infinity',
    valid_to timestamptz NOT NULL DEFAULT 'infinity',
    author text NOT NULL DEFAULT current_user,
    created_at timestamptz NOT NULL DEFAULT now(),
    CHECK (valid_from < valid_to)
);
CREATE INDEX calibrations_sensor ON calibrations (sensor_id, valid_from);

-- How a measurement point's sensor is mounted over [valid_from, valid_to): boom orientation and,
-- for a wind vane, where its dead band points. [deg]
CREATE TABLE mounting_arrangements (
    mounting_arrangement_id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    measurement_point_id integer NOT NULL REFERENCES measurement_points,
    boom_orientation_deg double precision,
    vane_dead_band_orientation_deg double precision,
    orientation_reference text,
    valid_from timestamptz NOT NULL DEFAULT '-infinity',
    valid_to timestamptz NOT NULL DEFAULT 'infinity',
    CHECK (valid_from < valid_to)
);
CREATE INDEX mounting_arrangements_point ON mounting_arrangements (measurement_point_id, valid_from);

-- No two periods of the same thing may overlap: one trigger function serves every such table,
-- told by its arguments which column holds the thing.
CREATE FUNCTION no_overlapping_periods() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    key_column text := TG_ARGV[0];
    id_column text := TG_ARGV[1];
    clash record;
    clashes integer;
BEGIN
    EXECUTE format(
        'SELECT valid_from, valid_to FROM %I.%I WHERE %I = $1.%I AND %I <> $1.%I '
        'AND valid_from < $1.valid_to AND $1.valid_from < valid_to LIMIT 1',
        TG_TABLE_SCHEMA, TG_TABLE_NAME, key_column, key_column, id_column, id_column)
    INTO clash USING NEW;
    GET DIAGNOSTICS clashes = ROW_COUNT;  -- EXECUTE does not set FOUND
    IF clashes > 0 THEN
        RAISE EXCEPTION '% [%, %) overlaps [%, %) of the same %', TG_TABLE_NAME,
            NEW.valid_from, NEW.valid_to, clash.valid_from, clash.valid_to, key_column
            USING ERRCODE = 'exclusion_violation';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER no_overlap BEFORE INSERT OR UPDATE ON sensor_installations
    FOR EACH ROW EXECUTE FUNCTION no_overlapping_periods('measurement_point_id',
                                                         'sensor_installation_id');
CREATE TRIGGER no_overlap BEFORE INSERT OR UPDATE ON calibrations
    FOR EACH ROW EXECUTE FUNCTION no_overlapping_periods('sensor_id', 'calibration_id');
CREATE TRIGGER no_overlap BEFORE INSERT OR UPDATE ON mounting_arrangements
    FOR EACH ROW EXECUTE FUNCTION no_overlapping_periods('measurement_point_id',
                                                         'mounting_arrangement_id');

-- One row per file received; the same bytes (sha256) are one file.
CREATE TABLE files (
    file_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    sha256 bytea NOT NULL UNIQUE CHECK (length(sha256) = 32),
    name text NOT NULL,
    source text NOT NULL DEFAULT 'cli',
    size_bytes bigint NOT NULL CHECK (size_bytes >= 0),
    format text,
    station_id integer REFERENCES stations,
    logger_id integer REFERENCES loggers,
    table_name text,
    status text NOT NULL DEFAULT 'pending'
        CHECK (status IN ('pending', 'imported', 'failed')),
    error text,
    error_line integer,
    error_column text,
    n_rows integer,
    n_readings bigint,
    n_inserted bigint,
    n_duplicates bigint,
    n_conflicts bigint,
    ts_first timestamptz,
    ts_last timestamptz,
    header jsonb NOT NULL DEFAULT '{}',
    attempts integer NOT NULL DEFAULT 0,
    received_at timestamptz NOT NULL DEFAULT now(),
    imported_at timestamptz
);
CREATE INDEX files_open ON files (status, received_at) WHERE status <> 'imported';

-- A value in a file that differs from the value already stored for that channel and time.
-- The stored value is kept; the difference is recorded here, never silently dropped.
CREATE TABLE reading_conflicts (
    file_id bigint NOT NULL REFERENCES files,
    channel_id integer NOT NULL REFERENCES channels,
    ts timestamptz NOT NULL,
    stored_value double precision NOT NULL,
    file_value double precision NOT NULL,
    PRIMARY KEY (file_id, channel_id, ts)
);

-- Flag codes are versioned and append-only: never renumbered, never changed.
CREATE TABLE flag_codes (
    code text PRIMARY KEY,
    version integer NOT NULL DEFAULT 1,
    description text NOT NULL,
    excluded_by_default boolean NOT NULL DEFAULT true,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE FUNCTION flag_codes_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'flag codes are append-only: % cannot be changed or removed', OLD.code
        USING ERRCODE = 'restrict_violation';
END $$;
CREATE TRIGGER flag_codes_append_only BEFORE UPDATE OR DELETE ON flag_codes
    FOR EACH ROW EXECUTE FUNCTION flag_codes_append_only();
INSERT INTO flag_codes (code, description, excluded_by_default) VALUES
    ('bad', 'Invalid data: sensor fault, out of range, disconnected.', true),
    ('suspect', 'Questionable data kept for review.', false),
    ('icing', 'Sensor iced: stalled anemometer or vane.', true),
    ('maintenance', 'Site visit or maintenance work.', true),
    ('tower_shadow', 'Wind from the sector shadowed by the mast.', true),
    ('missing', 'Data missing or logger not recording.', true);

-- Flagged intervals [ts_from, ts_to) on a channel, a measurement point or a whole station.
-- Edits and removals are soft: a removed or superseded flag keeps its row.
CREATE TABLE flags (
    flag_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    station_id integer NOT NULL REFERENCES stations,
    measurement_point_id integer REFERENCES measurement_points,
    channel_id integer REFERENCES channels,
    ts_from timestamptz NOT NULL,
    ts_to timestamptz NOT NULL,
    code text NOT NULL REFERENCES flag_codes,
    reason text NOT NULL DEFAULT '',
    author text NOT NULL DEFAULT current_user,
    source text NOT NULL DEFAULT 'manual' CHECK (source IN ('manual', 'rule', 'imported')),
    rule_name text,
    rule_version integer,
    created_at timestamptz NOT NULL DEFAULT now(),
    deleted_at timestamptz,
    deleted_by text,
    supersedes bigint REFERENCES flags,
    CHECK (ts_from < ts_to),
    CHECK (channel_id IS NULL OR measurement_point_id IS NULL),
    CHECK (source <> 'rule' OR (rule_name IS NOT NULL AND rule_version IS NOT NULL))
);
CREATE INDEX flags_station_time ON flags (station_id, ts_from) WHERE deleted_at IS NULL;

-- From 0003_exports.
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
