"""The kinds of chat updates and the shape of their payloads (JSON objects).

    message_queued     {message_id, text, attachments?: [{path, kind, error}], images?}
                                                                a user message is waiting its turn
    message_created    {message}                                a message entered the transcript
    message_started    {message_id, turn, attempt, model}       an assistant message begins streaming;
                                                                a later attempt of the same turn
                                                                replaces the partial one
    block_started      {message_id, index, type, tool_call_id?, tool_name?}
    block_delta        {message_id, index, type, offset, text}  `text` starts at `offset` (Unicode code
                                                                points) of the block's text
    message_completed  {message}                                the stored assistant message
    message_aborted    {turn, reason}                           the partial answer of `turn` is dropped
    tool_started       {tool_call_id, tool_name, input, turn}
    tool_finished      {tool_call_id, tool_name, status, outcome, output, error, data, duration_ms}
                                                                outcome: ok | exit_nonzero | refused |
                                                                timeout | interrupted | denied |
                                                                cancelled | error
    chat_status        {status, reason}
    retry_wait         {seconds, attempt, reason}              the provider asked us to wait, or a
                                                                service is away ("waiting for postgres")
    error              {message}
    chat_updated       {title?, model?, mode?}
    approval_requested {approval_id, tool_call_id, tool_name, input, turn}
    approval_resolved  {approval_id, tool_call_id, status, scope, message}
    question_asked     {question_id, tool_call_id, questions: [{question, choices?}], turn}
    question_answered  {question_id, tool_call_id, answers, status}
    context            {prompt_version, workspace, instructions: [{path, shown, scope, directory,
                        chars, truncated}], environment: {os, shell, date, workspace, git, tree,
                        tree_truncated} | null}       what the agent is told about its project and
                                                                machine: emitted when the chat's
                                                                snapshot is taken and when more
                                                                instruction files come into effect

`message` is {id, ordinal, role, model, turn, blocks: [...], usage: {...}, cost_usd}.

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
CHAT_UPDATED = "chat_updated"
APPROVAL_REQUESTED = "approval_requested"
APPROVAL_RESOLVED = "approval_resolved"
QUESTION_ASKED = "question_asked"
QUESTION_ANSWERED = "question_answered"
CONTEXT = "context"

# Streaming progress is plentiful and cheap to lose (the stored message has it all): it is kept out
# of the log, in the chat's live tail.
LIVE = frozenset({MESSAGE_STARTED, BLOCK_STARTED, BLOCK_DELTA})

# Log updates after which the answer in progress is over: its live tail is purged.
ENDS_ANSWER = frozenset({MESSAGE_COMPLETED, MESSAGE_ABORTED})
