-- Projects, chats, messages, content blocks, tool executions and the per-chat update log.

CREATE TABLE projects (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name        text NOT NULL,
    daemon_id   text NOT NULL,
    path        text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (daemon_id, path)
);

CREATE TABLE chats (
    id                  uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    project_id          uuid NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    title               text NOT NULL DEFAULT '',
    model               text NOT NULL,
    status              text NOT NULL DEFAULT 'idle'
                        CHECK (status IN ('idle', 'running', 'paused', 'failed')),
    status_reason       text NOT NULL DEFAULT '',
    input_tokens        bigint NOT NULL DEFAULT 0,
    output_tokens       bigint NOT NULL DEFAULT 0,
    cache_read_tokens   bigint NOT NULL DEFAULT 0,
    cache_write_tokens  bigint NOT NULL DEFAULT 0,
    cost_usd            numeric(14, 6) NOT NULL DEFAULT 0,
    last_seq            bigint NOT NULL DEFAULT 0,  -- the per-chat update sequence
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX chats_project ON chats (project_id, updated_at DESC);

-- A user message is stored at once with ordinal NULL ("queued"); it gets its ordinal when the
-- workflow takes it, so queued messages never land between a tool call and its result.
CREATE TABLE messages (
    id                  uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    chat_id             uuid NOT NULL REFERENCES chats (id) ON DELETE CASCADE,
    ordinal             integer,
    role                text NOT NULL CHECK (role IN ('user', 'assistant', 'tool')),
    model               text NOT NULL DEFAULT '',
    turn                integer,  -- assistant: the LLM call that produced it; tool: the turn answered
    stop_reason         text NOT NULL DEFAULT '',
    input_tokens        integer NOT NULL DEFAULT 0,
    output_tokens       integer NOT NULL DEFAULT 0,
    cache_read_tokens   integer NOT NULL DEFAULT 0,
    cache_write_tokens  integer NOT NULL DEFAULT 0,
    cost_usd            numeric(14, 6) NOT NULL DEFAULT 0,
    -- A cancelled turn's placeholder: it holds the (chat, turn) key so that a late answer from the
    -- cancelled call can never be stored; never part of the transcript.
    aborted             boolean NOT NULL DEFAULT false,
    created_at          timestamptz NOT NULL DEFAULT now(),
    UNIQUE (chat_id, ordinal)
);
-- Idempotency of LLM calls and of tool-result messages: one per (chat, turn, role).
CREATE UNIQUE INDEX messages_turn ON messages (chat_id, turn, role) WHERE turn IS NOT NULL;
CREATE INDEX messages_queued ON messages (chat_id, created_at) WHERE ordinal IS NULL AND NOT aborted;

CREATE TABLE content_blocks (
    message_id    uuid NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    position      integer NOT NULL,
    type          text NOT NULL CHECK (type IN ('text', 'thinking', 'tool_call', 'tool_result', 'image')),
    text          text NOT NULL DEFAULT '',
    tool_call_id  text NOT NULL DEFAULT '',
    tool_name     text NOT NULL DEFAULT '',
    data          jsonb NOT NULL DEFAULT '{}',  -- tool input, is_error, signature, media type
    PRIMARY KEY (message_id, position)
);

CREATE TABLE tool_executions (
    chat_id       uuid NOT NULL REFERENCES chats (id) ON DELETE CASCADE,
    tool_call_id  text NOT NULL,
    turn          integer NOT NULL,
    tool_name     text NOT NULL,
    input         jsonb NOT NULL DEFAULT '{}',
    position      integer NOT NULL DEFAULT 0,  -- order of the call in its assistant message
    read_only     boolean NOT NULL DEFAULT false,
    state         text NOT NULL DEFAULT 'pending'
                  CHECK (state IN ('pending', 'executing', 'completed', 'failed', 'interrupted')),
    attempts      integer NOT NULL DEFAULT 0,
    output        text NOT NULL DEFAULT '',
    error         text NOT NULL DEFAULT '',
    data          jsonb NOT NULL DEFAULT '{}',
    duration_ms   double precision NOT NULL DEFAULT 0,
    started_at    timestamptz,
    finished_at   timestamptz,
    PRIMARY KEY (chat_id, tool_call_id)
);

CREATE TABLE chat_updates (
    chat_id     uuid NOT NULL REFERENCES chats (id) ON DELETE CASCADE,
    seq         bigint NOT NULL,
    kind        text NOT NULL,
    payload     jsonb NOT NULL DEFAULT '{}',
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (chat_id, seq)
);
