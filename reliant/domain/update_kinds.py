"""The kinds of chat updates and the shape of their payloads (JSON objects).

    message_queued     {message_id, text, attachments?: [{path, kind, error}], images?}
                                                                a user message is waiting its turn
    message_created    {message}                                a message entered the transcript
    message_started    {message_id, turn, attempt, model, step?, thread_id?}
                                                                an assistant message begins streaming;
                                                                a later attempt of the same turn
                                                                replaces the partial one (a workflow
                                                                node's call also names its step and
                                                                thread)
    block_started      {message_id, index, type, tool_call_id?, tool_name?}
    block_delta        {message_id, index, type, offset, text}  `text` starts at `offset` (Unicode code
                                                                points) of the block's text
    message_completed  {message}                                the stored assistant message
    message_aborted    {turn, reason}                           the partial answer of `turn` is dropped
    tool_started       {tool_call_id, tool_name, input, turn, call_key?, thread_id?}
    tool_finished      {tool_call_id, tool_name, status, outcome, output, error, data, duration_ms,
                        call_key?, thread_id?}                  outcome: ok | exit_nonzero | refused |
                                                                timeout | interrupted | denied |
                                                                cancelled | error; call_key: the
                                                                execution's key when it is not the
                                                                tool_call_id (a call on a thread other
                                                                than the chat's main one:
                                                                `<id>@<thread>`; a `run` node's
                                                                command: `run:<step>`, tool_name
                                                                run_command)
    chat_status        {status, reason}
    retry_wait         {seconds, attempt, reason}              the provider asked us to wait, or a
                                                                service is away ("waiting for postgres")
    error              {message}                                something failed: shown as an error
    notice             {message}                                something worth knowing that is no
                                                                failure (the thread was summarised to
                                                                fit the model's context window): shown
                                                                neutrally; a client that does not know
                                                                a kind skips it
    chat_updated       {title?, model?, mode?}
    approval_requested {approval_id, tool_call_id, tool_name, input, turn, agent?}
                                                                agent: {agent_id, name, task} when a
                                                                sub-agent raised it (question_asked too)
                       {approval_id, tool_call_id, kind: "node", question, choices, run_id, node,
                        tool_name: "", input: {}, turn: 0}      an `approval` node asks (tool_call_id is
                                                                its gate key, node:<step>); answered
                                                                through the approvals API with
                                                                decision = one of the choices and an
                                                                optional message (the note)
    approval_resolved  {approval_id, tool_call_id, status, scope, message, choice?}
                                                                status answered (with the choice) for a
                                                                node approval
    question_asked     {question_id, tool_call_id, questions: [{question, choices?}], turn}
    question_answered  {question_id, tool_call_id, answers, status}
    context            {prompt_version, workspace, instructions: [{path, shown, scope, directory,
                        chars, truncated}], environment: {os, shell, date, workspace, git, tree,
                        tree_truncated} | null, thread_id}
                                                                what the agent is told about its project
                                                                and machine: emitted when the chat's
                                                                snapshot is taken and when more
                                                                instruction files come into effect;
                                                                thread_id: the model call's thread (a
                                                                sub-agent's is its own)

    run_started        {run_id, workflow, source, inputs, parent_run_id, node, thread_id, note}
                                                                a message starts the chat's workflow
                                                                (or a `workflow` node a child run):
                                                                source is builtin/<name>.yaml or the
                                                                project file; note says why a project's
                                                                own files were not used (untrusted)
    node_state         {run_id, path, instance, kind, status, iteration, thread, error, version, outputs}
                                                                status: waiting | running | done |
                                                                failed | skipped | cancelled; instance
                                                                has each loop's iteration
                                                                (`fix[2]/check`); a client keeps the
                                                                highest version per (run_id, path);
                                                                outputs: a done node's (each value of
                                                                at most 2,000 characters of JSON)
    run_finished       {run_id, status, outputs, error}         status: done | failed | cancelled

    agent_started      {agent_id, parent_agent_id, depth, name, task, workflow, model, thread_mode, status,
                        worktree: {path, branch, state} | null, error, cost_usd, input_tokens,
                        output_tokens}                          a sub-agent was spawned (parent_agent_id ""
                                                                : by the chat's top agent)
    agent_status       {...the same}                            its status, cost or worktree changed
    agent_finished     {...the same}                            status: done | failed | cancelled

`message` is {id, ordinal, role, model, turn, blocks: [...], usage: {...}, cost_usd, thread_id, step}:
thread_id is the thread it belongs to (the chat's main thread unless a workflow node wrote it on
another), step the model call or node that wrote it.

message_started, block_started and block_delta (the answer in progress) are LIVE: they stream
through the chat's live tail (JetStream), take no seq (0) and leave no row; a reconnecting client is
replayed the answer so far and tells a repeated delta by (message_id, index, offset). Every other
kind is in the log: it takes the chat's next seq in the durable commit of the change it describes.
"""

from __future__ import annotations

MESSAGE_QUEUED = "message_queued"
MESSAGE_CREATED = "message_created"
MESSAGE_STARTED = "message_started"
BLOCK_STARTED = "block_started"
BLOCK_DELTA = "block_delta"
MESSAGE_COMPLETED = "message_completed"
MESSAGE_ABORTED = "message_aborted"
TOOL_STARTED = "tool_started"
TOOL_FINISHED = "tool_finished"
CHAT_STATUS = "chat_status"
RETRY_WAIT = "retry_wait"
ERROR = "error"
NOTICE = "notice"
CHAT_UPDATED = "chat_updated"
APPROVAL_REQUESTED = "approval_requested"
APPROVAL_RESOLVED = "approval_resolved"
QUESTION_ASKED = "question_asked"
QUESTION_ANSWERED = "question_answered"
CONTEXT = "context"
RUN_STARTED = "run_started"
NODE_STATE = "node_state"
RUN_FINISHED = "run_finished"
AGENT_STARTED = "agent_started"
AGENT_STATUS = "agent_status"
AGENT_FINISHED = "agent_finished"

# Streaming progress is plentiful and cheap to lose (the stored message has it all): it is kept out
# of the log, in the chat's live tail.
LIVE = frozenset({MESSAGE_STARTED, BLOCK_STARTED, BLOCK_DELTA})

# Log updates after which the answer in progress is over: its live tail is purged.
ENDS_ANSWER = frozenset({MESSAGE_COMPLETED, MESSAGE_ABORTED})
