-- Workflows as data: a chat runs a workflow definition for each message. Threads (a chat's
-- conversations), step keys (the idempotency key of a model call, in place of the chat-wide turn),
-- tool executions keyed by thread, and runs (each with the definition it pinned).

-- The workflow every message of the chat runs, and its inputs.
ALTER TABLE chats ADD COLUMN workflow text NOT NULL DEFAULT 'agent';
ALTER TABLE chats ADD COLUMN workflow_inputs jsonb NOT NULL DEFAULT '{}';

-- A chat has one or more threads; every message belongs to one. `main` is the chat's own (created
-- with the chat); a node may work on a thread of its own, and a child workflow on a new thread or a
-- fork. A fork reads as its parent's messages up to `fork_ordinal` followed by its own; a thread that
-- was compacted reads as its summary (`summary_id`, a message) followed by its messages from
-- `start_ordinal` on. Ordinals are chat-wide, so "up to" and "from" compare across threads.
CREATE TABLE threads (
    id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    chat_id        uuid NOT NULL REFERENCES chats (id) ON DELETE CASCADE,
    key            text NOT NULL,  -- 'main', or '<run id>/<name>' for a run's own threads
    parent_id      uuid REFERENCES threads (id) ON DELETE CASCADE,
    fork_ordinal   integer,
    start_ordinal  integer,
    summary_id     uuid,  -- REFERENCES messages (id), added below
    created_at     timestamptz NOT NULL DEFAULT now(),
    UNIQUE (chat_id, key)
);
INSERT INTO threads (chat_id, key) SELECT id, 'main' FROM chats;

-- `step`: the key of the model call that produced an assistant message (and of the tool results that
-- answer it), or of the node that wrote a message. Rows from before map their turn onto 'turn:<n>'.
-- `turn` stays a chat-wide number (clients show a message's streaming by it); model_steps hands
-- one out per step.
ALTER TABLE messages ADD COLUMN thread_id uuid REFERENCES threads (id) ON DELETE CASCADE;
ALTER TABLE messages ADD COLUMN step text;
UPDATE messages m SET thread_id = t.id, step = CASE WHEN m.turn IS NULL THEN NULL ELSE 'turn:' || m.turn END
    FROM threads t WHERE t.chat_id = m.chat_id AND t.key = 'main';
ALTER TABLE messages ALTER COLUMN thread_id SET NOT NULL;
CREATE UNIQUE INDEX messages_step ON messages (chat_id, step, role) WHERE step IS NOT NULL;
CREATE INDEX messages_thread ON messages (thread_id, ordinal);
ALTER TABLE threads ADD FOREIGN KEY (summary_id) REFERENCES messages (id) ON DELETE SET NULL;

CREATE TABLE model_steps (
    chat_id  uuid NOT NULL REFERENCES chats (id) ON DELETE CASCADE,
    step     text NOT NULL,
    turn     integer NOT NULL,
    PRIMARY KEY (chat_id, step),
    UNIQUE (chat_id, turn)
);

-- A tool execution is keyed by `call_key`: the model's tool_call_id on the main thread (as before),
-- `<tool_call_id>@<thread id>` on any other (models number their calls per conversation, so two
-- threads can ask for `call_1_0`), `run:<step>` for a workflow's `run` node (no thread).
ALTER TABLE tool_executions ADD COLUMN thread_id uuid REFERENCES threads (id) ON DELETE CASCADE;
ALTER TABLE tool_executions ADD COLUMN call_key text;
UPDATE tool_executions e SET thread_id = t.id, call_key = e.tool_call_id
    FROM threads t WHERE t.chat_id = e.chat_id AND t.key = 'main';
ALTER TABLE tool_executions ALTER COLUMN call_key SET NOT NULL;
ALTER TABLE tool_executions DROP CONSTRAINT tool_executions_pkey;
ALTER TABLE tool_executions ADD PRIMARY KEY (chat_id, call_key);
CREATE INDEX tool_executions_turn ON tool_executions (chat_id, turn);

-- Runs: one per message x the chat's workflow, and one per child workflow a run starts. A run keeps
-- the definition it started with (the workflow's text and its presets'), so editing a file never
-- changes a run that goes on.
CREATE TABLE runs (
    id           uuid PRIMARY KEY,
    chat_id      uuid NOT NULL REFERENCES chats (id) ON DELETE CASCADE,
    parent_id    uuid REFERENCES runs (id) ON DELETE CASCADE,
    node         text NOT NULL DEFAULT '',  -- the parent's node instance that started it
    message_id   uuid REFERENCES messages (id) ON DELETE SET NULL,  -- the message it answers
    workflow     text NOT NULL,
    source       text NOT NULL,  -- builtin/<name>.yaml, or the project file's path
    definition   jsonb NOT NULL,  -- {workflow: {name, source, text}, presets: [...]}
    inputs       jsonb NOT NULL DEFAULT '{}',
    thread_id    uuid REFERENCES threads (id) ON DELETE SET NULL,
    status       text NOT NULL DEFAULT 'running' CHECK (status IN ('running', 'done', 'failed', 'cancelled')),
    outputs      jsonb NOT NULL DEFAULT '{}',
    error        text NOT NULL DEFAULT '',
    created_at   timestamptz NOT NULL DEFAULT now(),
    finished_at  timestamptz
);
CREATE INDEX runs_chat ON runs (chat_id, created_at);

-- Gates: `tool_call_id` holds the gate's key (a tool execution's call_key, or `node:<step>` for an
-- `approval` node). A node approval asks `question` with `choices` and records the `choice`.
-- `workflow_id` names the workflow that waits for the answer when it is not the chat's own (a child
-- workflow's gate is answered there).
ALTER TABLE approvals ADD COLUMN kind text NOT NULL DEFAULT 'tool' CHECK (kind IN ('tool', 'node'));
ALTER TABLE approvals ADD COLUMN question text NOT NULL DEFAULT '';
ALTER TABLE approvals ADD COLUMN choices jsonb NOT NULL DEFAULT '[]';
ALTER TABLE approvals ADD COLUMN choice text NOT NULL DEFAULT '';
ALTER TABLE approvals ADD COLUMN workflow_id text NOT NULL DEFAULT '';
ALTER TABLE approvals ADD COLUMN run_id uuid REFERENCES runs (id) ON DELETE CASCADE;
ALTER TABLE approvals ADD COLUMN node text NOT NULL DEFAULT '';
ALTER TABLE approvals DROP CONSTRAINT approvals_status_check;
ALTER TABLE approvals ADD CONSTRAINT approvals_status_check
    CHECK (status IN ('pending', 'approved', 'denied', 'answered', 'expired', 'cancelled'));
ALTER TABLE questions ADD COLUMN workflow_id text NOT NULL DEFAULT '';
