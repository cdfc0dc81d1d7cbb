-- 0004: station metadata from IEA Task 43 WRA data model documents.
-- Every table row that holds an object of the document keeps, in an `iea43` jsonb column, the
-- object's fields that have no column of their own (or whose value a column cannot hold exactly),
-- so that an export writes the document back. NULL there: the row did not come from a document.

-- The document each station's metadata came from: its top-level fields (author, organisation,
-- version, ...) and the sha256 of the location as imported (the same location again is a no-op).
CREATE TABLE metadata_documents (
    station_id integer PRIMARY KEY REFERENCES stations ON DELETE CASCADE,
    version text NOT NULL,
    fields jsonb NOT NULL DEFAULT '{}',
    sha256 bytea NOT NULL CHECK (length(sha256) = 32),
    imported_at timestamptz NOT NULL DEFAULT now()
);

ALTER TABLE stations ADD COLUMN iea43 jsonb;
ALTER TABLE measurement_points ADD COLUMN iea43 jsonb;
ALTER TABLE sensor_installations ADD COLUMN iea43 jsonb;
ALTER TABLE calibrations ADD COLUMN iea43 jsonb;
ALTER TABLE mounting_arrangements ADD COLUMN iea43 jsonb;

-- A certificate may state a sensitivity instead of a slope (pyranometers): slope NULL then.
ALTER TABLE calibrations ALTER COLUMN slope DROP NOT NULL;

-- Sensors without a serial number cannot be told apart: each is a row of its own.
ALTER TABLE sensors DROP CONSTRAINT sensors_oem_model_serial_number_key;
CREATE UNIQUE INDEX sensors_identity ON sensors (oem, model, serial_number)
    WHERE serial_number <> '';

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

ALTER TABLE logger_configs ADD COLUMN measurement_config_id integer
    REFERENCES measurement_configs ON DELETE CASCADE;

-- Overlapping configurations of a column: name both periods.
CREATE OR REPLACE FUNCTION logger_configs_no_overlap() RETURNS trigger LANGUAGE plpgsql AS $$
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
