"""From stored tool runs to the tool results the model reads."""

from __future__ import annotations

from reliant.domain.chat import BlockType, ContentBlock, ToolRun, ToolState

MAX_RESULT_CHARS = 100_000


def tool_result_block(run: ToolRun) -> ContentBlock:
    """The result of one tool call as the model will read it."""
    if run.state is ToolState.INTERRUPTED:
        text = f"interrupted: {run.error or 'the tool did not finish'}"
        is_error = True
    elif run.state is ToolState.DENIED:
        text = run.error or "The user denied this tool call."
        is_error = True
    elif run.state is ToolState.FAILED:
        text = run.error or run.output or "the tool failed"
        is_error = True
    else:
        text = run.output
        exit_code = run.data.get("exit_code")
        if exit_code is not None and f"exit code {exit_code}" not in text:
            text = f"{text}\n[exit code {exit_code}]" if text else f"[exit code {exit_code}]"
        is_error = False
    if len(text) > MAX_RESULT_CHARS:
        text = text[:MAX_RESULT_CHARS] + f"\n[... {len(text) - MAX_RESULT_CHARS} more characters]"
    return ContentBlock(
        BlockType.TOOL_RESULT,
        text=text,
        tool_call_id=run.tool_call_id,
        tool_name=run.tool_name,
        is_error=is_error,
    )
