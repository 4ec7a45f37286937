-- Sub-agents: each is a child workflow of the agent that spawned it (spawn_agent), with its own run
-- (agents.id = runs.id once it has started), thread and optionally its own git worktree.
CREATE TABLE agents (
    id               uuid PRIMARY KEY,
    chat_id          uuid NOT NULL REFERENCES chats (id) ON DELETE CASCADE,
    parent_id        uuid REFERENCES agents (id) ON DELETE CASCADE,  -- NULL: spawned by the top agent
    call_key         text NOT NULL,  -- the spawn_agent call (tool_executions.call_key)
    depth            integer NOT NULL,
    name             text NOT NULL,
    task             text NOT NULL,
    workflow         text NOT NULL,
    model            text NOT NULL DEFAULT '',
    thread_mode      text NOT NULL DEFAULT 'new',
    status           text NOT NULL DEFAULT 'running' CHECK (status IN ('running', 'done', 'failed', 'cancelled')),
    worktree_path    text NOT NULL DEFAULT '',
    worktree_branch  text NOT NULL DEFAULT '',
    base_commit      text NOT NULL DEFAULT '',
    worktree_state   text NOT NULL DEFAULT '',  -- '' | active | merged | kept | removed
    text             text NOT NULL DEFAULT '',
    outputs          jsonb NOT NULL DEFAULT '{}',
    error            text NOT NULL DEFAULT '',
    created_at       timestamptz NOT NULL DEFAULT now(),
    finished_at      timestamptz,
    UNIQUE (chat_id, call_key)
);
CREATE INDEX agents_chat ON agents (chat_id, created_at);

-- message_agent: a note waits here until the agent's next model call puts it on its thread.
CREATE TABLE agent_notes (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    agent_id      uuid NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
    text          text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    delivered_at  timestamptz
);
CREATE INDEX agent_notes_waiting ON agent_notes (agent_id) WHERE delivered_at IS NULL;

-- A spending budget for the chat's whole tree of agents, in USD (NULL: the configured default).
ALTER TABLE chats ADD COLUMN budget_usd numeric(12, 4);
