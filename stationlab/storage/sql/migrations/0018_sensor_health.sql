-- 0018: sensor and logger health. Alerts of the new kinds (a failed or suspect sensor, a low
-- supply voltage, a logger's own fault or clock jump, imports or fetches failing), where each
-- incident's "resolved" message went, and every fetch of a source with its outcome (a source
-- failing N times in a row raises fetch_failing).
ALTER TABLE alerts DROP CONSTRAINT alerts_kind_check;
ALTER TABLE alerts ADD CONSTRAINT alerts_kind_check CHECK (kind IN (
    'run_failed', 'logger_quiet', 'sensor_failed', 'sensor_suspect', 'low_voltage',
    'logger_fault', 'clock_jump', 'import_failing', 'fetch_failing'));
ALTER TABLE alerts ADD COLUMN resolved_sent_to text[];

CREATE TABLE fetch_attempts (
    attempt_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    source text NOT NULL,
    attempted_at timestamptz NOT NULL DEFAULT now(),
    ok boolean NOT NULL,
    error text
);
CREATE INDEX fetch_attempts_source ON fetch_attempts (source, attempted_at);
