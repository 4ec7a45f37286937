-- Activity attempts running in a worker, by task token. A worker that starts fails the attempts
-- of workers whose database sessions are gone (they died), so that Temporal retries them at once
-- instead of after their heartbeat or start-to-close timeout. Written without waiting for the
-- WAL flush: a row lost in a power cut only means that attempt is retried after its timeout.
CREATE TABLE activity_attempts (
    task_token    bytea PRIMARY KEY,
    worker        text NOT NULL,         -- the worker incarnation (its sessions' application_name)
    workflow_id   text NOT NULL,
    run_id        text NOT NULL,
    activity_type text NOT NULL,
    started_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX activity_attempts_worker ON activity_attempts (worker);
