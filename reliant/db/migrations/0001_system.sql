-- Results of `reliant doctor`: one row per daemon pinged.
CREATE TABLE doctor_runs (
    id          bigserial PRIMARY KEY,
    workflow_id text NOT NULL,
    daemon_id   text NOT NULL,
    ok          boolean NOT NULL,
    error       text NOT NULL DEFAULT '',
    hops        jsonb NOT NULL DEFAULT '[]',
    total_ms    double precision NOT NULL DEFAULT 0,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX doctor_runs_created_at ON doctor_runs (created_at DESC);
