"""One executor per node kind: the dispatch table the interpreter runs tasks through. `loop` and
`parallel` nodes are never tasks (the run-state machine drives them)."""

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from reliant.worker.interpreter.interpreter import Executor
    from reliant.worker.interpreter.nodes.child import child
    from reliant.worker.interpreter.nodes.model import agent, call_llm
    from reliant.worker.interpreter.nodes.steps import approval, compact, run, save_message
    from reliant.worker.interpreter.nodes.tools import execute_tools
    from reliant.worker.interpreter.nodes.worktree import worktree

EXECUTORS: dict[str, Executor] = {
    "call_llm": call_llm,
    "execute_tools": execute_tools,
    "agent": agent,
    "run": run,
    "approval": approval,
    "workflow": child,
    "worktree": worktree,
    "compact": compact,
    "save_message": save_message,
}
