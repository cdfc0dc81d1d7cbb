-- The declared schema: every table as the migrations leave it, one CREATE each, in the order the
-- data flows (stations, loggers, measurement points, channels, configurations, sensors and
-- calibrations, files and readings, flags and QC, exports, pipelines and health), then the roles.
-- Databases get the numbered migrations in migrations/; this file is what they add up to, and
-- tests/test_schema.py proves a fresh migrate equal to it.
--
-- The readings table, its monthly rollup and the functions that depend on how readings are kept
-- are backend-specific: schema.plain.sql or schema.timescaledb.sql, applied before this file.

-- What this database is: its backend (plain or timescaledb), recorded by the first migrate.
CREATE TABLE stationlab_info (
    key text PRIMARY KEY,
    value text NOT NULL
);

-- --- stations ------------------------------------------------------------------------------------

-- A measurement station. Every import that stores readings of a station bumps its data_version in
-- the import's own transaction, so the export job knows cheaply whether its data changed since an
-- export was made. iea43: the fields of an IEA Task 43 document's object that have no column of
-- their own (NULL: the row did not come from a document; so in every table below).
CREATE TABLE stations (
    station_id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name text NOT NULL UNIQUE CHECK (name <> ''),
    station_type text NOT NULL DEFAULT 'mast',
    latitude double precision CHECK (latitude BETWEEN -90 AND 90),
    longitude double precision CHECK (longitude BETWEEN -180 AND 180),
    elevation_m double precision,
    created_at timestamptz NOT NULL DEFAULT now(),
    data_version bigint NOT NULL DEFAULT 0,
    iea43 jsonb
);

-- The IEA Task 43 WRA data model document each station's metadata came from: its top-level fields
-- (author, organisation, version, ...) and the sha256 of the location as imported (the same
-- location again is a no-op).
CREATE TABLE metadata_documents (
    station_id integer PRIMARY KEY REFERENCES stations ON DELETE CASCADE,
    version text NOT NULL,
    fields jsonb NOT NULL DEFAULT '{}',
    sha256 bytea NOT NULL CHECK (length(sha256) = 32),
    imported_at timestamptz NOT NULL DEFAULT now()
);

-- --- loggers -------------------------------------------------------------------------------------

-- A data logger (one physical logger; its files may come from several tables, such as Campbell's
-- Hourly and Daily). Its clock runs at a fixed offset from UTC (no daylight saving): utc_offset,
-- the offset naive stamps are read with. header_utc_offset: the logger's own time zone as its file
-- headers state it (NRG `Time Zone`, a lidar's `timezone`), NULL where no file said. Stored stamps
-- are UTC whatever it is.
CREATE TABLE loggers (
    logger_id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    station_id integer NOT NULL REFERENCES stations,
    name text NOT NULL,
    model text NOT NULL DEFAULT '',
    serial_number text NOT NULL DEFAULT '',
    utc_offset interval NOT NULL DEFAULT '0',
    created_at timestamptz NOT NULL DEFAULT now(),
    header_utc_offset interval,
    UNIQUE (station_id, model, serial_number, name)
);
CREATE INDEX loggers_serial ON loggers (model, serial_number) WHERE serial_number <> '';

-- --- measurement points --------------------------------------------------------------------------

-- A sensor position: type (IEA Task 43 measurement_type_id), height [m], orientation [deg].
CREATE TABLE measurement_points (
    measurement_point_id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    station_id integer NOT NULL REFERENCES stations,
    name text NOT NULL,
    measurement_type text NOT NULL DEFAULT 'other',
    height_m double precision,
    orientation_deg double precision CHECK (orientation_deg >= 0 AND orientation_deg < 360),
    unit text,
    iea43 jsonb,
    UNIQUE (station_id, name)
);

-- --- channels ------------------------------------------------------------------------------------

-- The unit of storage: one measurement point x one statistic. A file column that no logger
-- configuration explains is kept as an *unassigned* channel of its logger (no measurement point).
-- interval_s: the averaging interval, so data recovery knows how many readings to expect. [s]
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
    interval_s integer CHECK (interval_s > 0),
    CHECK (measurement_point_id IS NOT NULL OR (logger_id IS NOT NULL AND column_name IS NOT NULL))
);
CREATE UNIQUE INDEX channels_point_statistic ON channels (measurement_point_id, statistic)
    NULLS NOT DISTINCT WHERE measurement_point_id IS NOT NULL;
CREATE UNIQUE INDEX channels_unassigned ON channels (logger_id, table_name, column_name)
    NULLS NOT DISTINCT WHERE measurement_point_id IS NULL;
CREATE INDEX channels_station ON channels (station_id);

-- --- configurations ------------------------------------------------------------------------------

-- One period of a logger's main configuration (IEA Task 43 logger_main_config) over
-- [valid_from, valid_to): a physical logger may have several (redeployed, reprogrammed). A logger
-- with such periods is described by a document.
CREATE TABLE logger_main_configs (
    logger_main_config_id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    logger_id integer NOT NULL REFERENCES loggers ON DELETE CASCADE,
    valid_from timestamptz NOT NULL DEFAULT '-infinity',
    valid_to timestamptz NOT NULL DEFAULT 'infinity',
    iea43 jsonb,
    CHECK (valid_from < valid_to)
);
CREATE INDEX logger_main_configs_logger ON logger_main_configs (logger_id, valid_from);

-- One logger measurement configuration of a measurement point (IEA Task 43
-- logger_measurement_config) over [valid_from, valid_to): the slope and offset the logger
-- applied, the unit, and the file columns (name, statistic, ignored) as the document lists them.
-- Its rows in logger_configs (one per logger and column) are what imports use.
CREATE TABLE measurement_configs (
    measurement_config_id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    measurement_point_id integer NOT NULL REFERENCES measurement_points ON DELETE CASCADE,
    slope double precision,
    "offset" double precision,
    unit text,
    valid_from timestamptz NOT NULL DEFAULT '-infinity',
    valid_to timestamptz NOT NULL DEFAULT 'infinity',
    columns jsonb NOT NULL DEFAULT '[]',
    iea43 jsonb,
    CHECK (valid_from < valid_to)
);
CREATE INDEX measurement_configs_point ON measurement_configs (measurement_point_id, valid_from);

-- Which column of which logger's files holds which channel, with the slope and offset the
-- logger applied, valid over [valid_from, valid_to). table_name NULL: the column in any table.
-- measurement_config_id: the document's configuration the row came from, if any.
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
    measurement_config_id integer REFERENCES measurement_configs ON DELETE CASCADE,
    CHECK (valid_from < valid_to)
);
CREATE INDEX logger_configs_logger ON logger_configs (logger_id, column_name, valid_from);

-- Overlapping configurations of a column: name both periods.
CREATE FUNCTION logger_configs_no_overlap() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    clash record;
BEGIN
    SELECT c.valid_from, c.valid_to, c.source INTO clash FROM logger_configs c
    WHERE c.logger_id = NEW.logger_id AND c.column_name = NEW.column_name
      AND (c.table_name IS NULL OR NEW.table_name IS NULL OR c.table_name = NEW.table_name)
      AND c.logger_config_id <> NEW.logger_config_id
      AND c.valid_from < NEW.valid_to AND NEW.valid_from < c.valid_to
    ORDER BY c.valid_from LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'column % of logger % already has a configuration overlapping [%, %): '
            '[%, %) (source %)', NEW.column_name, NEW.logger_id, NEW.valid_from, NEW.valid_to,
            clash.valid_from, clash.valid_to, clash.source
            USING ERRCODE = 'exclusion_violation';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER logger_configs_no_overlap BEFORE INSERT OR UPDATE ON logger_configs
    FOR EACH ROW EXECUTE FUNCTION logger_configs_no_overlap();

-- --- sensors and calibrations --------------------------------------------------------------------

-- No two periods of the same thing may overlap: one trigger function serves every such table
-- (sensor installations, calibrations, mounting arrangements), told by its arguments which column
-- holds the thing.
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

-- Sensors (IEA Task 43 sensor). Sensors without a serial number cannot be told apart: each is a
-- row of its own.
CREATE TABLE sensors (
    sensor_id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    sensor_type text NOT NULL DEFAULT 'other',
    oem text NOT NULL DEFAULT '',
    model text NOT NULL DEFAULT '',
    serial_number text NOT NULL DEFAULT '',
    notes text
);
CREATE UNIQUE INDEX sensors_identity ON sensors (oem, model, serial_number)
    WHERE serial_number <> '';

-- A sensor mounted on a measurement point over [valid_from, valid_to).
CREATE TABLE sensor_installations (
    sensor_installation_id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    sensor_id integer NOT NULL REFERENCES sensors,
    measurement_point_id integer NOT NULL REFERENCES measurement_points,
    valid_from timestamptz NOT NULL DEFAULT '-infinity',
    valid_to timestamptz NOT NULL DEFAULT 'infinity',
    iea43 jsonb,
    CHECK (valid_from < valid_to)
);
CREATE INDEX sensor_installations_point ON sensor_installations (measurement_point_id, valid_from);
CREATE TRIGGER no_overlap BEFORE INSERT OR UPDATE ON sensor_installations
    FOR EACH ROW EXECUTE FUNCTION no_overlapping_periods('measurement_point_id',
                                                         'sensor_installation_id');

-- A calibration certificate of a sensor: value = raw * slope + offset, applied to readings in
-- [valid_from, valid_to) (by default from the calibration's use onwards). A certificate may state
-- a sensitivity instead of a slope (pyranometers): slope NULL then.
CREATE TABLE calibrations (
    calibration_id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    sensor_id integer NOT NULL REFERENCES sensors,
    slope double precision CHECK (slope <> 0),
    "offset" double precision NOT NULL DEFAULT 0,
    calibration_date date,
    place_of_calibration text,
    certificate text,
    uncertainty double precision,
    valid_from timestamptz NOT NULL DEFAULT '-infinity',
    valid_to timestamptz NOT NULL DEFAULT 'infinity',
    author text NOT NULL DEFAULT current_user,
    created_at timestamptz NOT NULL DEFAULT now(),
    iea43 jsonb,
    CHECK (valid_from < valid_to)
);
CREATE INDEX calibrations_sensor ON calibrations (sensor_id, valid_from);
CREATE TRIGGER no_overlap BEFORE INSERT OR UPDATE ON calibrations
    FOR EACH ROW EXECUTE FUNCTION no_overlapping_periods('sensor_id', 'calibration_id');

-- A calibration an analyst writes carries the analyst's own login as author, whatever the
-- client claims (as their flags do).
CREATE FUNCTION calibrations_author_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF pg_has_role(session_user, 'stationlab_analyst', 'MEMBER')
       AND NOT (SELECT rolsuper FROM pg_roles WHERE rolname = session_user) THEN
        NEW.author := session_user;
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER calibrations_author BEFORE INSERT OR UPDATE ON calibrations
FOR EACH ROW EXECUTE FUNCTION calibrations_author_guard();

-- A calibration corrected or removed keeps its earlier version, with who replaced it and when,
-- so that what the clean data was computed from can always be told.
CREATE TABLE calibration_history (
    calibration_id integer NOT NULL,
    sensor_id integer NOT NULL,
    slope double precision,  -- null where the certificate states a sensitivity
    "offset" double precision NOT NULL,
    calibration_date date,
    place_of_calibration text,
    certificate text,
    uncertainty double precision,
    valid_from timestamptz NOT NULL,
    valid_to timestamptz NOT NULL,
    author text NOT NULL,
    created_at timestamptz NOT NULL,
    iea43 jsonb,
    replaced_at timestamptz NOT NULL DEFAULT now(),
    replaced_by text NOT NULL,
    change text NOT NULL CHECK (change IN ('corrected', 'deleted'))
);
CREATE INDEX calibration_history_sensor ON calibration_history (sensor_id, calibration_id);

CREATE FUNCTION keep_calibration_history() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO calibration_history (
        calibration_id, sensor_id, slope, "offset", calibration_date, place_of_calibration,
        certificate, uncertainty, valid_from, valid_to, author, created_at, iea43, replaced_by,
        change)
    VALUES (
        OLD.calibration_id, OLD.sensor_id, OLD.slope, OLD."offset", OLD.calibration_date,
        OLD.place_of_calibration, OLD.certificate, OLD.uncertainty, OLD.valid_from,
        OLD.valid_to, OLD.author, OLD.created_at, OLD.iea43,
        CASE TG_OP WHEN 'UPDATE' THEN NEW.author ELSE current_user END,
        CASE TG_OP WHEN 'UPDATE' THEN 'corrected' ELSE 'deleted' END);
    RETURN NULL;
END $$;

CREATE TRIGGER calibrations_keep_history AFTER UPDATE OR DELETE ON calibrations
FOR EACH ROW EXECUTE FUNCTION keep_calibration_history();

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
    iea43 jsonb,
    CHECK (valid_from < valid_to)
);
CREATE INDEX mounting_arrangements_point ON mounting_arrangements (measurement_point_id, valid_from);
CREATE TRIGGER no_overlap BEFORE INSERT OR UPDATE ON mounting_arrangements
    FOR EACH ROW EXECUTE FUNCTION no_overlapping_periods('measurement_point_id',
                                                         'mounting_arrangement_id');

-- Per channel, the time segments over which one linear map turns raw values into calibrated ones:
-- value = raw * a + b, wrapped to [0, 360) where wrap is set (wind vane directions). The rules,
-- cited to the IEA Task 43 data model, are in docs/calibration.md. Raw readings are never changed:
-- calibrated and clean values are derived at read time (clean_readings).
--
-- With logger slope/offset (m_l, c_l) and certificate slope/offset (m_c, c_c) valid in a segment:
--   value = (raw - c_l) / m_l * m_c + c_c,   so a = m_c / m_l and b = c_c - c_l * m_c / m_l;
-- a standard deviation or range scales but does not shift (b = 0); with no certificate the
-- logger's value stands (a = 1, b = 0). A wind vane's direction statistics (avg, min, max, gust,
-- sample, median, mode) already hold the logger offset c_l (Task 43: the logger offset is in the
-- recorded value), so a known dead-band orientation d turns them by d - c_l:
--   value = wrap((raw - c_l) * a + c + d),   c = c_c with a certificate, else 0 (and a = 1);
-- with no dead band known the direction is left as the logger recorded it (as brightwind's
-- apply_wind_vane_deadband_offset does). A certificate with no slope (it states a sensitivity)
-- is not applied: the logger's value stands, rather than a NULL from the missing slope.
CREATE VIEW calibration_segments AS
WITH bounds AS (
    SELECT c.channel_id, b.ts
    FROM channels c
    CROSS JOIN LATERAL (
        SELECT '-infinity'::timestamptz AS ts
        UNION SELECT lc.valid_from FROM logger_configs lc WHERE lc.channel_id = c.channel_id
        UNION SELECT lc.valid_to FROM logger_configs lc WHERE lc.channel_id = c.channel_id
        UNION SELECT greatest(si.valid_from, cal.valid_from)
            FROM sensor_installations si JOIN calibrations cal USING (sensor_id)
            WHERE si.measurement_point_id = c.measurement_point_id
        UNION SELECT least(si.valid_to, cal.valid_to)
            FROM sensor_installations si JOIN calibrations cal USING (sensor_id)
            WHERE si.measurement_point_id = c.measurement_point_id
        UNION SELECT si.valid_from FROM sensor_installations si
            WHERE si.measurement_point_id = c.measurement_point_id
        UNION SELECT si.valid_to FROM sensor_installations si
            WHERE si.measurement_point_id = c.measurement_point_id
        UNION SELECT ma.valid_from FROM mounting_arrangements ma
            WHERE ma.measurement_point_id = c.measurement_point_id
        UNION SELECT ma.valid_to FROM mounting_arrangements ma
            WHERE ma.measurement_point_id = c.measurement_point_id
    ) b
),
segments AS (
    SELECT channel_id, ts AS seg_from,
           coalesce(lead(ts) OVER (PARTITION BY channel_id ORDER BY ts), 'infinity') AS seg_to
    FROM bounds WHERE ts < 'infinity'
)
SELECT s.channel_id, s.seg_from, s.seg_to,
       lc.slope AS logger_slope, lc."offset" AS logger_offset,
       cal.calibration_id, cal.slope AS cert_slope, cal."offset" AS cert_offset,
       ma.vane_dead_band_orientation_deg AS dead_band_deg,
       k.a,
       CASE WHEN k.turn
            THEN CASE WHEN k.certified THEN cal."offset" ELSE 0.0 END - lc."offset" * k.a
                 + ma.vane_dead_band_orientation_deg
            WHEN NOT k.certified OR c.statistic NOT IN
                 ('avg', 'max', 'min', 'gust', 'sample', 'median', 'mode')
            THEN 0.0 ELSE cal."offset" - lc."offset" * k.a END AS b,
       k.turn OR (k.direction AND k.certified) AS wrap
FROM segments s
JOIN channels c USING (channel_id)
LEFT JOIN measurement_points p USING (measurement_point_id)
LEFT JOIN LATERAL (
    SELECT x.slope, x."offset" FROM logger_configs x
    WHERE x.channel_id = s.channel_id AND x.valid_from <= s.seg_from AND s.seg_from < x.valid_to
    ORDER BY x.source = 'file_header', x.valid_from DESC LIMIT 1
) lc0 ON true
CROSS JOIN LATERAL (SELECT coalesce(lc0.slope, 1.0) AS slope,
                           coalesce(lc0."offset", 0.0) AS "offset") lc
LEFT JOIN LATERAL (
    SELECT x.calibration_id, x.slope, x."offset"
    FROM sensor_installations si JOIN calibrations x USING (sensor_id)
    WHERE si.measurement_point_id = c.measurement_point_id
      AND si.valid_from <= s.seg_from AND s.seg_from < si.valid_to
      AND x.valid_from <= s.seg_from AND s.seg_from < x.valid_to
    ORDER BY x.valid_from DESC LIMIT 1
) cal ON true
LEFT JOIN LATERAL (
    SELECT x.vane_dead_band_orientation_deg FROM mounting_arrangements x
    WHERE x.measurement_point_id = c.measurement_point_id
      AND x.valid_from <= s.seg_from AND s.seg_from < x.valid_to
    LIMIT 1
) ma ON true
CROSS JOIN LATERAL (
    SELECT coalesce(p.measurement_type = 'wind_direction'
                    AND c.statistic IN ('avg', 'max', 'min', 'gust', 'sample', 'median', 'mode'),
                    false) AS direction
) d
CROSS JOIN LATERAL (
    SELECT CASE WHEN cal.slope IS NULL OR c.statistic NOT IN
                     ('avg', 'sd', 'max', 'min', 'gust', 'sample', 'median', 'mode', 'range')
                THEN 1.0 ELSE cal.slope / lc.slope END AS a,
           d.direction AND ma.vane_dead_band_orientation_deg IS NOT NULL AS turn,
           d.direction,
           cal.slope IS NOT NULL AS certified  -- a sensitivity-only certificate is not applied
) k;

-- --- files and readings --------------------------------------------------------------------------
-- (readings itself: schema.plain.sql / schema.timescaledb.sql)

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

-- One row per file received; the same bytes (sha256) are one file. The files table is the import
-- queue: workers take pending rows with FOR UPDATE SKIP LOCKED in the transaction that stores
-- their readings (the row lock is the claim).
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
    imported_at timestamptz,
    arrival_id bigint REFERENCES arrivals,
    stored_path text,
    station_name text,
    imported_by text
);
CREATE INDEX files_open ON files (status, received_at) WHERE status <> 'imported';
CREATE INDEX files_pending ON files (station_name, file_id) WHERE status = 'pending';

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

-- What loggers say about themselves, for station health: event logs (actions, faults) and
-- diagnostics (supply voltages, currents), as NRG LOGR .log and .diag files carry them.
-- One logged event. The same event in two files (logs overlap) is stored once.
CREATE TABLE logger_events (
    logger_id integer NOT NULL REFERENCES loggers,
    ts timestamptz NOT NULL,
    kind text NOT NULL,
    code text NOT NULL DEFAULT '',
    message text NOT NULL DEFAULT '',
    file_id bigint NOT NULL REFERENCES files,
    PRIMARY KEY (logger_id, ts, kind, code, message)
);
CREATE INDEX logger_events_kind ON logger_events (logger_id, kind, ts);

-- One diagnostic value of a logger: a quantity (e.g. VIN_RP) and its statistic over the
-- interval starting at ts, in its unit (e.g. V).
CREATE TABLE logger_diagnostics (
    logger_id integer NOT NULL REFERENCES loggers,
    ts timestamptz NOT NULL,
    name text NOT NULL,
    statistic text NOT NULL DEFAULT 'sample',
    value double precision NOT NULL,
    unit text,
    file_id bigint NOT NULL REFERENCES files,
    PRIMARY KEY (logger_id, name, statistic, ts)
);

-- --- flags and QC --------------------------------------------------------------------------------

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
CREATE INDEX flags_rule ON flags (station_id, rule_name, ts_from) WHERE source = 'rule';

-- An analyst's flag carries the analyst's own login as author (whatever the client claims), may
-- not pose as a QC rule, and only its author can remove it.
CREATE FUNCTION flags_analyst_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NOT pg_has_role(session_user, 'stationlab_analyst', 'MEMBER')
       OR (SELECT rolsuper FROM pg_roles WHERE rolname = session_user) THEN
        RETURN NEW;
    END IF;
    IF TG_OP = 'INSERT' THEN
        IF NEW.source = 'rule' THEN
            RAISE EXCEPTION 'analysts add manual or imported flags, not rule flags'
                USING ERRCODE = 'insufficient_privilege';
        END IF;
        NEW.author := session_user;
    ELSE
        IF OLD.author IS DISTINCT FROM session_user::text THEN
            RAISE EXCEPTION 'flag % belongs to %; only its author can remove it',
                OLD.flag_id, OLD.author USING ERRCODE = 'insufficient_privilege';
        END IF;
        NEW.deleted_by := session_user;
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER flags_analyst_guard BEFORE INSERT OR UPDATE ON flags
    FOR EACH ROW EXECUTE FUNCTION flags_analyst_guard();

-- Active (not removed) flags, spread over the channels they cover: a flag on a measurement point
-- covers its channels, a flag on a station every channel of the station. clean_readings joins
-- readings with calibration_segments and this.
CREATE VIEW flag_coverage AS
SELECT f.flag_id, c.channel_id, f.ts_from, f.ts_to, f.code, fc.excluded_by_default, f.source,
       f.reason
FROM flags f
JOIN flag_codes fc USING (code)
JOIN channels c ON c.station_id = f.station_id
    AND (f.channel_id IS NULL OR c.channel_id = f.channel_id)
    AND (f.measurement_point_id IS NULL OR c.measurement_point_id = f.measurement_point_id)
WHERE f.deleted_at IS NULL;

-- Calibrated readings of some channels in [p_from, p_to) (calibration_segments), with the codes
-- of the flags covering each (flag_coverage) and whether one of them excludes it. p_excluded: the
-- codes that exclude (NULL: each code's excluded_by_default). With p_include_flagged false,
-- excluded readings are left out. The readings come through readings_between (an inlined
-- function of the backend part: each backend bounds them in the way its planner needs).
CREATE FUNCTION clean_readings(p_channels integer[], p_from timestamptz, p_to timestamptz,
                               p_excluded text[] DEFAULT NULL,
                               p_include_flagged boolean DEFAULT false)
RETURNS TABLE (channel_id integer, ts timestamptz, raw double precision,
               value double precision, flags text[], excluded boolean)
LANGUAGE sql STABLE AS $$
    WITH segs AS MATERIALIZED (
        SELECT * FROM calibration_segments s
        WHERE s.channel_id = ANY(p_channels) AND s.seg_to > p_from AND s.seg_from < p_to
    ),
    cover AS MATERIALIZED (
        SELECT f.channel_id, f.ts_from, f.ts_to, f.code,
               coalesce(f.code = ANY(p_excluded), f.excluded_by_default) AS excludes
        FROM flag_coverage f
        WHERE f.channel_id = ANY(p_channels) AND f.ts_to > p_from AND f.ts_from < p_to
    ),
    flagged AS (
        SELECT r.channel_id, r.ts, array_agg(DISTINCT f.code ORDER BY f.code) AS codes,
               bool_or(f.excludes) AS excluded
        FROM cover f
        JOIN readings_between(p_channels, p_from, p_to) r ON r.channel_id = f.channel_id
            AND r.ts >= greatest(f.ts_from, p_from) AND r.ts < least(f.ts_to, p_to)
        GROUP BY r.channel_id, r.ts
    )
    SELECT r.channel_id, r.ts, r.value,
           CASE WHEN s.wrap
                THEN (r.value * s.a + s.b) - 360 * floor((r.value * s.a + s.b) / 360)
                ELSE r.value * s.a + s.b END,
           coalesce(fl.codes, '{}'), coalesce(fl.excluded, false)
    FROM segs s
    JOIN readings_between(p_channels, p_from, p_to) r ON r.channel_id = s.channel_id
        AND r.ts >= greatest(s.seg_from, p_from) AND r.ts < least(s.seg_to, p_to)
    LEFT JOIN flagged fl ON fl.channel_id = r.channel_id AND fl.ts = r.ts
    WHERE p_include_flagged OR fl.excluded IS NOT TRUE
$$;

-- QC rule settings per station (and measurement type); defaults live in the code.
CREATE TABLE qc_settings (
    station_id integer NOT NULL REFERENCES stations,
    rule text NOT NULL,
    measurement_type text NOT NULL DEFAULT '*',
    params jsonb NOT NULL DEFAULT '{}',
    enabled boolean NOT NULL DEFAULT true,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (station_id, rule, measurement_type)
);

-- --- exports -------------------------------------------------------------------------------------

-- One row per file the export job produced: what it holds and from which data version (the
-- station's data_version when it was made). A clean file depends on more than the readings: on
-- what turns them into clean values, summed up by clean_inputs_digest; a clean export records the
-- digest it was made from and is made again when the digest differs.
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
    created_at timestamptz NOT NULL DEFAULT now(),
    inputs_digest text CHECK (inputs_digest IS NOT NULL OR source = 'raw')
);
CREATE INDEX exports_latest ON exports (station_id, format, source, created_at DESC, export_id DESC);

-- What a station's clean data is computed from: its channels' calibration segments, its active
-- flags, the flag codes.
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

-- --- pipelines, alerts and health ----------------------------------------------------------------

-- One row per execution of a scheduled notebook job.
CREATE TABLE pipeline_runs (
    run_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    job text NOT NULL,
    notebook text NOT NULL,
    parameters jsonb NOT NULL DEFAULT '{}',
    status text NOT NULL DEFAULT 'running' CHECK (status IN ('running', 'success', 'failed')),
    scheduled_for timestamptz,
    started_at timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz,
    duration_s double precision CHECK (duration_s >= 0),
    error text,
    output_path text,
    host text NOT NULL DEFAULT ''
);
CREATE INDEX pipeline_runs_job ON pipeline_runs (job, started_at DESC);

-- Alerts raised (a failed run, a quiet logger, a failed or suspect sensor, a low supply voltage,
-- a logger's own fault or clock jump, imports or fetches failing), once per incident: an incident
-- stays open until resolved (the job succeeds again, the logger delivers again), and an open
-- incident is not raised twice. resolved_sent_to: where its "resolved" message went.
CREATE TABLE alerts (
    alert_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    incident text NOT NULL,
    kind text NOT NULL CHECK (kind IN (
        'run_failed', 'logger_quiet', 'sensor_failed', 'sensor_suspect', 'low_voltage',
        'logger_fault', 'clock_jump', 'import_failing', 'fetch_failing')),
    subject text NOT NULL,
    message text NOT NULL,
    link text,
    run_id bigint REFERENCES pipeline_runs,
    raised_at timestamptz NOT NULL DEFAULT now(),
    sent_to text[] NOT NULL DEFAULT '{}',
    send_error text,
    resolved_at timestamptz,
    resolved_sent_to text[]
);
CREATE UNIQUE INDEX alerts_open_incident ON alerts (incident) WHERE resolved_at IS NULL;

-- Every fetch of a source with its outcome (a source failing N times in a row raises
-- fetch_failing) and the station the source is configured for (its weekly report shows the
-- source's alerts, even before the source has delivered a file).
CREATE TABLE fetch_attempts (
    attempt_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    source text NOT NULL,
    attempted_at timestamptz NOT NULL DEFAULT now(),
    ok boolean NOT NULL,
    error text,
    station_name text
);
CREATE INDEX fetch_attempts_source ON fetch_attempts (source, attempted_at);

-- The weekly station reports made (stationlab.report): where each is kept (with the run of the
-- scheduled `report` job that made it, or any folder when made by hand), the week it covers and
-- to whom it was sent, so the health dashboard links each station's newest one.
CREATE TABLE station_reports (
    report_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    station_id integer NOT NULL REFERENCES stations,
    run_id bigint REFERENCES pipeline_runs ON DELETE SET NULL,
    made_at timestamptz NOT NULL DEFAULT now(),
    week_to timestamptz,
    html_path text NOT NULL,
    pdf_path text,
    sent_to text[] NOT NULL DEFAULT '{}',
    send_error text
);
CREATE INDEX station_reports_station ON station_reports (station_id, made_at DESC);

-- --- roles ---------------------------------------------------------------------------------------

-- Roles are cluster-wide, so created only if missing. Analysts log in as their own role, a member
-- of stationlab_analyst (`stationlab db grant-analyst NAME`); calibration editors are also members
-- of stationlab_calibrator (`--calibrations`); pipelines log in as members of stationlab_pipeline
-- (`stationlab db grant-pipeline NAME`).
DO $$
DECLARE
    role_name text;
BEGIN
    FOREACH role_name IN ARRAY ARRAY['stationlab_analyst', 'stationlab_pipeline',
                                'stationlab_calibrator'] LOOP
        BEGIN
            IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = role_name) THEN
                EXECUTE format('CREATE ROLE %I NOLOGIN', role_name);
            END IF;
        EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;  -- created concurrently
        END;
    END LOOP;
END $$;

-- Analysts read everything and add flags; they remove only their own flags (flags_analyst_guard),
-- and nothing else.
GRANT USAGE ON SCHEMA public TO stationlab_analyst;
GRANT SELECT ON ALL TABLES IN SCHEMA public TO stationlab_analyst;
GRANT INSERT ON flags TO stationlab_analyst;
GRANT UPDATE (deleted_at, deleted_by) ON flags TO stationlab_analyst;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO stationlab_analyst;

-- Calibration editors record and correct sensor calibrations, as the calibration editor widget
-- does; every earlier version is kept (calibration_history, whose trigger runs as the editor).
GRANT INSERT, UPDATE, DELETE ON calibrations TO stationlab_calibrator;
GRANT INSERT ON calibration_history TO stationlab_calibrator;

-- Pipelines read and write data, never the schema. The identity sequences of the two tables
-- below need no grant (an identity column needs none to insert), and databases made before this
-- schema was declared have none on them.
GRANT USAGE ON SCHEMA public TO stationlab_pipeline;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO stationlab_pipeline;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO stationlab_pipeline;
REVOKE USAGE, SELECT ON SEQUENCE fetch_attempts_attempt_id_seq, station_reports_report_id_seq
    FROM stationlab_pipeline;
ALTER DEFAULT PRIVILEGES IN SCHEMA public
    GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO stationlab_pipeline;

-- Analysts and pipelines may call every function but three: an import into a month without a
-- partition needs DDL, and the three functions that do it run as their owner (SECURITY DEFINER,
-- with a fixed search_path, in the backend part), so only pipelines (and the owner) may call them.
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA public TO stationlab_analyst, stationlab_pipeline;
REVOKE EXECUTE ON FUNCTION ensure_readings_partitions(timestamptz, timestamptz),
    readings_load_table(timestamptz), attach_readings_partition(timestamptz)
    FROM PUBLIC, stationlab_analyst;
GRANT EXECUTE ON FUNCTION ensure_readings_partitions(timestamptz, timestamptz),
    readings_load_table(timestamptz), attach_readings_partition(timestamptz)
    TO stationlab_pipeline;
