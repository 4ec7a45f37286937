"""Inputs and results of the agent loop's activities (node-shaped: each names its chat and step)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from reliant.domain.workflows import ApprovalAnswer, ToolCallRef
from reliant.engine import ChatInfo, Pinned
from reliant.worker.interpreter.cursor import AgentScope, NodeNote

# ApplicationError types the workflow tells apart.
DAEMON_OFFLINE = "DaemonOffline"
DAEMON_OFFLINE_REASON = "daemon offline"  # how a pause for it begins (resumed when the daemon is back)
RETRYABLE_LLM = "RetryableLlmError"
FATAL_LLM = "FatalLlmError"
CONTEXT_TOO_LONG = "ContextTooLong"  # the thread outgrew the model's context window: compact it, ask again
CHAT_GONE = "ChatGone"
BUDGET_REACHED = "BudgetReached"  # the call would cross the chat's or the project's budget: not made
TURN_ABORTED = "TurnAborted"  # a cancelled turn's late attempt: its answer is dropped
# Postgres, NATS or Temporal could not be reached (details[0] names which): waited out, never a pause.
INFRA_UNAVAILABLE = "InfrastructureUnavailable"
# The attempt was running in a worker that died; a restarted worker failed it so that it is retried
# at once instead of after the heartbeat timeout.
WORKER_LOST = "WorkerLost"
# A tool's activity stopped without its result (worker shutdown, timeout) while the tool runs on:
# retried, the next attempt attaches to it.
TOOL_DETACHED = "ToolDetached"
# The daemon refused a project workflow's step, starting nothing: the project's trusted files changed.
# The run pauses with the reason; the call is pending again, asked afresh once the user resumes.
PROJECT_UNTRUSTED = "ProjectUntrusted"


@dataclass
class ToolChoice:
    """Which of the daemon's tools a model call offers: all, or those matching a name (glob) or
    carrying a tag (read_only, mcp, builtin, mcp:<server>)."""

    all: bool = True
    names: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)


@dataclass
class CallLlmInput:
    chat_id: str
    # The idempotency key is `step`: a stored assistant message for (chat, step) is never re-asked.
    # Chats from before workflows name only `turn` (their step is `turn:<turn>`).
    turn: int = 0
    admit_message_id: str = ""  # a queued user message this turn answers
    idle_when_done: bool = True  # an answer without tool calls ends the chat's run
    mode: str = "auto"  # plan: offer read-only tools only, and ask for a plan
    step: str = ""
    thread_id: str = ""  # "" the chat's main thread
    prompt: str = ""  # a user message added to the thread first (once, under the step)
    model: str = ""  # "" the chat's
    system: str = ""  # added to the system prompt (a node's or preset's instructions)
    temperature: float | None = None
    tools: ToolChoice | None = None  # None: all
    response: dict[str, Any] | None = None  # a JSON Schema the model answers through (the `respond` tool)
    notes: list[NodeNote] = field(default_factory=list)  # node states to send first
    agents: bool = False  # offer the agent tools (spawn_agent ...): an `agent` node's calls
    agent_id: str = ""  # the sub-agent making the call: notes sent to it join its thread first
    workspace: str = ""  # a sub-agent's worktree: its tools and prompt work there ("" the chat's)
    # Run the answer's leading read-only calls within this step (an `agent` node's turn: it saves
    # the turn a step of their own); the result's `settled` says which ended.
    run_reads: bool = False


@dataclass
class CallLlmResult:
    message_id: str
    tool_calls: list[ToolCallRef] = field(default_factory=list)
    stop_reason: str = ""
    replayed: bool = False  # found stored: the provider was not called
    turn: int = 0
    text: str = ""  # the answer's text, capped (the message holds all of it)
    response: dict[str, Any] | None = None  # the `respond` tool's arguments, when it was called
    settled: dict[str, str] = field(default_factory=dict)  # calls that ran within the step: key -> state


@dataclass
class ExecuteToolInput:
    chat_id: str
    turn: int
    tool_call_id: str
    approval: ApprovalAnswer | None = None  # the user's approval, recorded as the call starts
    denial: str = ""  # set: do not run; tell the model this instead
    denial_status: str = "denied"  # the approval's status with a denial: denied | expired
    answers: list[str] | None = None  # ask_user: the user's answers are the result
    invalid: str = ""  # malformed input (arguments not a JSON object, a bad ask_user): this error is the result
    notes: list[NodeNote] = field(default_factory=list)  # node states to send first
    workspace: str = ""  # a sub-agent's worktree: the call runs there ("" the chat's workspace)


@dataclass
class ExecuteToolResult:
    tool_call_id: str
    state: str  # completed | failed | interrupted
    replayed: bool = False  # the recorded result of an earlier attempt


@dataclass
class RequestApprovalInput:
    chat_id: str
    turn: int
    tool_call_id: str
    workflow_id: str = ""  # the workflow that waits for the answer ("": the chat's own)


@dataclass
class RequestApprovalResult:
    allowed: bool  # a policy allows the call: no need to ask
    approval_id: str = ""


@dataclass
class RequestQuestionInput:
    chat_id: str
    turn: int
    tool_call_id: str
    workflow_id: str = ""  # the workflow that waits for the answer ("": the chat's own)


@dataclass
class RequestQuestionResult:
    question_id: str = ""
    invalid: str = ""  # the call's input is malformed: this is its result


@dataclass
class FinishTurnInput:
    chat_id: str
    status: str  # idle | paused | running
    reason: str = ""
    settle_tools: bool = False  # mark unfinished tool calls interrupted and give the model their results
    aborted_turn: int = 0  # an LLM turn whose partial answer is dropped (cancelled mid-stream)
    notes: list[NodeNote] = field(default_factory=list)  # node states to send first


# -- runs of workflow definitions ------------------------------------------------------------------


@dataclass
class OpenRunInput:
    """Start a run: its definition read (built-in or the project's, as trusted) and pinned, its
    inputs checked, its thread made, the message it answers admitted, `run_started` sent."""

    chat_id: str
    run_id: str
    message_id: str = ""  # the user message the run answers (the chat's own runs)
    parent_run_id: str = ""
    node: str = ""  # the parent's node instance (a child run)
    workflow: str = ""  # "" the chat's workflow
    inputs: dict[str, Any] | None = None  # None: the chat's workflow inputs
    thread_mode: str = ""  # "" the chat's main thread; inherit | fork | new (a child run)
    parent_thread_id: str = ""
    task: str = ""  # a sub-agent's run: its task joins its thread as the first user message


@dataclass
class OpenRunResult:
    pinned: Pinned | None = None
    workflow: str = ""
    source: str = ""
    inputs: dict[str, Any] = field(default_factory=dict)
    thread_id: str = ""
    chat: ChatInfo = field(default_factory=ChatInfo)
    problem: str = ""  # the run cannot start: why (an invalid definition, bad inputs...)
    # The run's thread is new, made by this opening: the tokens of what it holds (a sub-agent's task);
    # -1 otherwise (and in results recorded before this field: their runs go on as they began).
    fresh_tokens: int = -1


@dataclass
class FinishRunInput:
    chat_id: str
    run_id: str
    status: str  # done | failed | cancelled
    outputs: dict[str, Any] = field(default_factory=dict)
    error: str = ""
    notes: list[NodeNote] = field(default_factory=list)
    chat_status: str = ""  # the chat's own run: the chat's status now (idle), with `reason`
    reason: str = ""
    aborted_steps: list[str] = field(default_factory=list)  # model calls cut short: drop their partial answers
    interrupt_reason: str = ""  # tool calls that never finished are recorded interrupted with this
    workflow_id: str = ""  # whose pending gates to cancel ("": the chat's own)
    threads: list[str] = field(default_factory=list)  # the run's threads: their last answers' calls are settled
    agent_id: str = ""  # the run is this sub-agent's own: its record ends with it


@dataclass
class FinishRunResult:
    report_end: bool = False  # a sub-agent's run: its spawner holds no handle of it, and must be told


@dataclass
class OpenThreadInput:
    chat_id: str
    key: str
    fork_of: str = ""  # a thread id: the new thread forks it (reads it up to now)


@dataclass
class OpenThreadResult:
    thread_id: str


@dataclass
class NotesInput:
    chat_id: str
    notes: list[NodeNote] = field(default_factory=list)


@dataclass
class RunCommandInput:
    chat_id: str
    step: str
    command: str
    timeout_seconds: float = 0.0  # 0: the daemon's longest
    notes: list[NodeNote] = field(default_factory=list)
    workspace: str = ""  # a sub-agent's worktree: the command runs there ("" the chat's workspace)
    # A step of the project's own workflow: the daemon runs it only while the project's files are
    # trusted as they are then (False: a built-in's, or a run started before the field existed).
    project: bool = False


@dataclass
class RunCommandResult:
    exit_code: int
    stdout: str
    stderr: str
    state: str  # completed | failed | interrupted (the tool execution's)


@dataclass
class NodeApprovalInput:
    chat_id: str
    key: str  # the gate key (node:<step>)
    question: str
    choices: list[str]
    run_id: str
    node: str
    workflow_id: str = ""
    notes: list[NodeNote] = field(default_factory=list)


@dataclass
class NodeApprovalResult:
    approval_id: str
    choice: str = ""  # already answered (a retried step): the choice
    note: str = ""


@dataclass
class NodeAnswerInput:
    chat_id: str
    key: str
    choice: str
    note: str = ""


@dataclass
class SaveMessageInput:
    chat_id: str
    step: str
    thread_id: str
    role: str  # user | assistant
    content: str
    notes: list[NodeNote] = field(default_factory=list)


@dataclass
class SaveMessageResult:
    message_id: str


@dataclass
class CompactInput:
    chat_id: str
    step: str
    thread_id: str
    threshold: int
    model: str = ""  # the summarising model; "" the chat's
    notes: list[NodeNote] = field(default_factory=list)
    force: bool = False  # a model call was too long for the context window: compact whatever the threshold
    notice: str = ""  # told to the chat (a `notice` update) with the summary


@dataclass
class CompactResult:
    compacted: bool
    tokens_before: int
    tokens_after: int


# -- sub-agents (spawn_agent and the other agent tools) ---------------------------------------------


@dataclass
class BeginAgentToolInput:
    chat_id: str
    call_key: str
    scope: AgentScope = field(default_factory=AgentScope)
    run_id: str = ""  # the run whose node made the call
    notes: list[NodeNote] = field(default_factory=list)
    mode: str = "auto"  # the gates' mode where the call was made: a spawned agent's workflow must keep to it


@dataclass
class BeginAgentToolResult:
    tool_name: str
    state: str = ""  # set: the call is over (recorded): its final state; the workflow has nothing to do
    # spawn_agent: the agent to start
    agent_id: str = ""
    workflow: str = ""
    inputs: dict[str, Any] = field(default_factory=dict)
    thread_mode: str = ""
    wait: bool = True
    scope: AgentScope | None = None  # the new agent's
    task: str = ""
    # wait_agents / cancel_agent: the agents it is about
    ids: list[str] = field(default_factory=list)
    any: bool = False
    timeout_seconds: float = 0.0


@dataclass
class FinishAgentToolInput:
    chat_id: str
    call_key: str
    ids: list[str] = field(default_factory=list)  # the agents whose results are the call's result
    timed_out: bool = False  # wait_agents: the timeout came first
    spawned: bool = False  # spawn_agent with wait=false: just started
    cancelled: bool = False  # cancel_agent


@dataclass
class AbandonSpawnInput:
    """A spawn_agent call whose run was stopped before it started the agent's workflow."""

    chat_id: str
    call_key: str
    reason: str = ""


@dataclass
class AgentStatusesInput:
    chat_id: str
    ids: list[str] = field(default_factory=list)
    report_ends: bool = False  # the caller continues as new: those still running tell it when they end


@dataclass
class AgentStatusesResult:
    statuses: dict[str, str] = field(default_factory=dict)  # id -> running | done | failed | cancelled


# -- a workflow node's runs side by side (count/worktree) and the worktree node ---------------------


@dataclass
class BeginRunsInput:
    """A `workflow` node with count/worktree: its agents to record (and their worktrees to make)."""

    chat_id: str
    key: str  # the node's step key: the agents' call keys are `<key>#<index>`
    count: int
    workflow: str
    name: str  # the node's id: the agents are named `<name> #<n>`
    task: str
    thread_mode: str
    worktree: bool
    models: list[str] = field(default_factory=list)
    scope: AgentScope = field(default_factory=AgentScope)  # the agent the node's run works for
    notes: list[NodeNote] = field(default_factory=list)


@dataclass
class RunAgent:
    agent_id: str
    scope: AgentScope  # the child run's: its agent, model and workspace (its worktree)


@dataclass
class BeginRunsResult:
    agents: list[RunAgent] = field(default_factory=list)
    problem: str = ""  # set: not started (a limit, no worktree); the node pauses with it


@dataclass
class ReportRunsInput:
    chat_id: str
    agent_ids: list[str]
    # how each child ended (its run's result, in the caller's history): status, error, outputs
    results: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class ReportRunsResult:
    runs: list[dict[str, Any]] = field(default_factory=list)  # a workflow node's `runs` output
    report: str = ""  # the runs in words, for a judge (or a person) to compare


@dataclass
class SettleWorktreesInput:
    chat_id: str
    agent_ids: list[str]
    action: str  # merge | keep | remove
    message: str = ""
    notes: list[NodeNote] = field(default_factory=list)
    force: bool = False  # remove even a worktree with uncommitted changes


@dataclass
class SettleWorktreesResult:
    ok: bool = True
    merged: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)
    commit: str = ""
    reason: str = ""
