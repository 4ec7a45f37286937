"""From stored messages and tool runs to what the model reads."""

from __future__ import annotations

from reliant.domain.chat import BlockType, ContentBlock, Message, Role, StoredMessage, ToolRun, ToolState
from reliant.domain.context import DIRECTORY_MEDIA_TYPE


def model_messages(transcript: list[StoredMessage]) -> tuple[Message, ...]:
    """The transcript as the model reads it: a user message's attachments (`@path`) as text that
    names each file, an image with a line that names it."""
    return tuple(_model_message(m) for m in transcript)


def _model_message(stored: StoredMessage) -> Message:
    if stored.role is not Role.USER or not any(b.path for b in stored.blocks):
        return stored.as_message()
    blocks: list[ContentBlock] = []
    for block in stored.blocks:
        if not block.path:
            blocks.append(block)
        elif block.is_error:
            blocks.append(ContentBlock.of_text(f"[@{block.path} was not attached: {block.text}]"))
        elif block.type is BlockType.IMAGE:
            blocks.append(ContentBlock.of_text(f"[the image @{block.path} is attached below]"))
            blocks.append(ContentBlock(BlockType.IMAGE, text=block.text, media_type=block.media_type))
        else:
            tag = "directory" if block.media_type == DIRECTORY_MEDIA_TYPE else "file"
            blocks.append(ContentBlock.of_text(f'<{tag} path="{block.path}">\n{block.text}\n</{tag}>'))
    return Message(Role.USER, tuple(blocks))


MAX_RESULT_CHARS = 100_000


def tool_result_blocks(run: ToolRun) -> list[ContentBlock]:
    """The result of one tool call as the model will read it, then the images it returned (an MCP
    tool's image content), each an image block carrying the call's id."""
    blocks = [tool_result_block(run)]
    if run.state is ToolState.COMPLETED or run.state is ToolState.FAILED:
        content = run.data.get("content")
        for item in content if isinstance(content, list) else []:
            if isinstance(item, dict) and item.get("type") == "image" and isinstance(item.get("data"), str):
                blocks.append(
                    ContentBlock(
                        BlockType.IMAGE,
                        text=item["data"],
                        media_type=str(item.get("mime_type", "")),
                        tool_call_id=run.tool_call_id,
                        tool_name=run.tool_name,
                    )
                )
    return blocks


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
