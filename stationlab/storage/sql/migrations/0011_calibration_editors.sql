-- 0011: calibration editors. An analyst who is also a member of stationlab_calibrator
-- (`stationlab db grant-analyst NAME --calibrations`) records and corrects sensor calibrations,
-- as the calibration editor widget does; every earlier version is kept (0009). Everything else
-- stays as for analysts: read, and add flags.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'stationlab_calibrator') THEN
        CREATE ROLE stationlab_calibrator NOLOGIN;
    END IF;
EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;  -- created concurrently
END $$;
GRANT INSERT, UPDATE, DELETE ON calibrations TO stationlab_calibrator;
GRANT INSERT ON calibration_history TO stationlab_calibrator;  -- its trigger runs as the editor

-- A calibration an analyst writes carries the analyst's own login as author, whatever the
-- client claims (as their flags do, 0007).
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
