-- Human control: per-chat modes, approvals with durable always-allow policies, and questions.

ALTER TABLE chats ADD COLUMN mode text NOT NULL DEFAULT 'auto' CHECK (mode IN ('auto', 'manual', 'plan'));
ALTER TABLE chats DROP CONSTRAINT chats_status_check;
ALTER TABLE chats ADD CONSTRAINT chats_status_check
    CHECK (status IN ('idle', 'running', 'waiting', 'paused', 'failed'));

-- A denied call never ran: the model is told the user said no (and why).
ALTER TABLE tool_executions DROP CONSTRAINT tool_executions_state_check;
ALTER TABLE tool_executions ADD CONSTRAINT tool_executions_state_check
    CHECK (state IN ('pending', 'executing', 'completed', 'failed', 'interrupted', 'denied'));

CREATE TABLE approvals (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    chat_id       uuid NOT NULL REFERENCES chats (id) ON DELETE CASCADE,
    tool_call_id  text NOT NULL,
    turn          integer NOT NULL,
    tool_name     text NOT NULL,
    input         jsonb NOT NULL DEFAULT '{}',
    status        text NOT NULL DEFAULT 'pending'
                  CHECK (status IN ('pending', 'approved', 'denied', 'expired', 'cancelled')),
    message       text NOT NULL DEFAULT '',  -- the user's message to the model, with a denial
    scope         text NOT NULL DEFAULT '',  -- '' (just this call), chat, project or prefix
    created_at    timestamptz NOT NULL DEFAULT now(),
    answered_at   timestamptz,
    UNIQUE (chat_id, tool_call_id)
);
CREATE INDEX approvals_pending ON approvals (created_at) WHERE status = 'pending';

-- "Always allow": this tool in this chat, in this project, or shell commands with this prefix.
CREATE TABLE approval_policies (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    project_id      uuid NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    chat_id         uuid REFERENCES chats (id) ON DELETE CASCADE,  -- NULL: the whole project
    tool_name       text NOT NULL,
    command_prefix  text NOT NULL DEFAULT '',
    created_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE NULLS NOT DISTINCT (project_id, chat_id, tool_name, command_prefix)
);

CREATE TABLE questions (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    chat_id       uuid NOT NULL REFERENCES chats (id) ON DELETE CASCADE,
    tool_call_id  text NOT NULL,
    turn          integer NOT NULL,
    questions     jsonb NOT NULL,  -- [{question, choices?}]
    status        text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'answered', 'cancelled')),
    answers       jsonb NOT NULL DEFAULT '[]',
    created_at    timestamptz NOT NULL DEFAULT now(),
    answered_at   timestamptz,
    UNIQUE (chat_id, tool_call_id)
);
CREATE INDEX questions_pending ON questions (created_at) WHERE status = 'pending';
