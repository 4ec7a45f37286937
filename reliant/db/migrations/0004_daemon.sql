-- What daemons run beyond tool calls: background processes (recorded from the daemons' events by
-- the worker) and git worktrees (one per chat, optionally).

CREATE TABLE background_processes (
    daemon_id     text NOT NULL,
    id            text NOT NULL,                 -- p-<hex>, given by the daemon
    boot_id       text NOT NULL,                 -- the daemon run that started it
    pid           integer NOT NULL DEFAULT 0,
    command       text NOT NULL,
    workspace     text NOT NULL,
    chat_id       text NOT NULL DEFAULT '',
    tool_call_id  text NOT NULL DEFAULT '',
    -- lost: it was running when its daemon went away (the daemon's lifeline took it down).
    state         text NOT NULL CHECK (state IN ('running', 'exited', 'killed', 'failed', 'lost')),
    exit_code     integer,
    ports         integer[] NOT NULL DEFAULT '{}',
    output_bytes  bigint NOT NULL DEFAULT 0,
    started_at    timestamptz NOT NULL,
    finished_at   timestamptz,
    updated_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (daemon_id, id)
);
CREATE INDEX background_processes_running ON background_processes (daemon_id) WHERE state = 'running';
CREATE INDEX background_processes_workspace ON background_processes (daemon_id, workspace, started_at DESC);
CREATE INDEX background_processes_chat ON background_processes (chat_id, started_at DESC) WHERE chat_id <> '';

CREATE TABLE worktrees (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    project_id   uuid NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    chat_id      uuid REFERENCES chats (id) ON DELETE SET NULL,
    name         text NOT NULL,
    branch       text NOT NULL,
    path         text NOT NULL,
    base_commit  text NOT NULL DEFAULT '',
    state        text NOT NULL DEFAULT 'active' CHECK (state IN ('active', 'removed')),
    created_at   timestamptz NOT NULL DEFAULT now(),
    removed_at   timestamptz
);
CREATE UNIQUE INDEX worktrees_name ON worktrees (project_id, name) WHERE state = 'active';
-- A chat's tools run in its one active worktree.
CREATE UNIQUE INDEX worktrees_chat ON worktrees (chat_id) WHERE state = 'active' AND chat_id IS NOT NULL;
