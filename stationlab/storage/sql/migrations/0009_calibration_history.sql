-- 0009: a calibration corrected or removed keeps its earlier version, with who replaced it and
-- when, so that what the clean data was computed from can always be told.

CREATE TABLE calibration_history (
    calibration_id integer NOT NULL,
    sensor_id integer NOT NULL,
    slope double precision,  -- null where the certificate states a sensitivity (0004)
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
