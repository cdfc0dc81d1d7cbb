-- 0022: every fetch of a source records the station the source is configured for, so a
-- station's weekly report shows its sources' fetch_failing alerts, even before a source has
-- delivered a file.
ALTER TABLE fetch_attempts ADD COLUMN station_name text;
