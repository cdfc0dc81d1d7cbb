-- 0007: pipeline runs, alerts, and the database roles of analysts and pipelines.

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

-- Alerts raised (a failed run, a quiet logger), once per incident: an incident stays open until
-- resolved (the job succeeds again, the logger delivers again), and an open incident is not
-- raised twice.
CREATE TABLE alerts (
    alert_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    incident text NOT NULL,
    kind text NOT NULL CHECK (kind IN ('run_failed', 'logger_quiet')),
    subject text NOT NULL,
    message text NOT NULL,
    link text,
    run_id bigint REFERENCES pipeline_runs,
    raised_at timestamptz NOT NULL DEFAULT now(),
    sent_to text[] NOT NULL DEFAULT '{}',
    send_error text,
    resolved_at timestamptz
);
CREATE UNIQUE INDEX alerts_open_incident ON alerts (incident) WHERE resolved_at IS NULL;

-- Roles (cluster-wide, so created only if missing). Analysts log in as their own role, a member
-- of stationlab_analyst (`stationlab db grant-analyst NAME`); pipelines as stationlab_pipeline.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'stationlab_analyst') THEN
        CREATE ROLE stationlab_analyst NOLOGIN;
    END IF;
EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;  -- created concurrently
END $$;
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'stationlab_pipeline') THEN
        CREATE ROLE stationlab_pipeline NOLOGIN;
    END IF;
EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
END $$;

-- Analysts read everything and add flags; they remove only their own flags, and nothing else.
REVOKE ALL ON ALL TABLES IN SCHEMA public FROM stationlab_analyst;
GRANT USAGE ON SCHEMA public TO stationlab_analyst;
GRANT SELECT ON ALL TABLES IN SCHEMA public TO stationlab_analyst;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA public TO stationlab_analyst;
GRANT INSERT ON flags TO stationlab_analyst;
GRANT UPDATE (deleted_at, deleted_by) ON flags TO stationlab_analyst;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO stationlab_analyst;

-- Pipelines read and write data, never the schema.
GRANT USAGE ON SCHEMA public TO stationlab_pipeline;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO stationlab_pipeline;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO stationlab_pipeline;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA public TO stationlab_pipeline;
ALTER DEFAULT PRIVILEGES IN SCHEMA public
    GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO stationlab_pipeline;

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
