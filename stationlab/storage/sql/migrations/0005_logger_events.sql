-- 0005: what loggers say about themselves, for station health: event logs (actions, faults) and
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
