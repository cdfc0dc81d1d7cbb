-- 0020: the weekly station reports made (stationlab.report): where each is kept (with the run of
-- the scheduled `report` job that made it, or any folder when made by hand), the week it covers
-- and to whom it was sent, so the health dashboard links each station's newest one.
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
