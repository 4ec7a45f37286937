"""ScriptedProvider: a deterministic model that plays a YAML script, for offline demos and tests.

The turn played follows from the request alone (script.py: the number of assistant messages in it,
or the branches those answers took), so a retried call of a turn plays the same turn again, with
the same tool call ids (`call_<n>_<i>`, n the number of assistant messages before it).

With `call_log`, every call appends one JSON line: the turn played, the tools offered, the system
prompt, and the messages as the model received them (an image as its media type and size).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import time
from dataclasses import dataclass, field

from reliant.domain.chat import BlockType, ContentBlock, Message, Role, Usage
from reliant.llm.base import BlockDelta, BlockStart, ListedModel, LlmRequest, LlmResponse, OnEvent
from reliant.llm.classify import error_for_status
from reliant.llm.errors import LlmError
from reliant.llm.script import (
    RESULT_PLACEHOLDER,
    SCRIPTS_DIR,
    Script,
    Turn,
    load_script,
    next_turn,
    quoted_result,
    script_path,
)

logger = logging.getLogger(__name__)

NAME = "scripted"
_CHUNK = re.compile(r"\s*\S+\s*|\s+")  # a word with the spaces around it


class ScriptedProvider:
    """Plays `scripted:<name>` scripts; scripts are re-read when their file changes.

    Scripted errors are counted per (script, turn) in this instance's memory.
    """

    name = NAME

    def __init__(self) -> None:
        self._scripts: dict[str, tuple[float, Script]] = {}
        self._failures: dict[tuple[str, int], int] = {}

    def script(self, model: str) -> Script:
        """The script `model` names, validated (UnknownModelError / FatalLlmError if it cannot be)."""
        path = script_path(model)
        try:
            mtime = path.stat().st_mtime
        except OSError:
            mtime = -1.0
        cached = self._scripts.get(model)
        if cached is not None and cached[0] == mtime:
            return cached[1]
        script = load_script(model)
        self._scripts[model] = (mtime, script)
        return script

    async def stream(self, request: LlmRequest, on_event: OnEvent) -> LlmResponse:
        script = self.script(request.model)
        answered = sum(1 for m in request.messages if m.role is Role.ASSISTANT)
        turn_index, results = next_turn(script, request.messages)
        turn = script.turns[turn_index] if turn_index < len(script.turns) else Turn(text=script.final_text)
        error = self._scripted_error(script, turn_index, turn)
        if script.call_log is not None:
            _append_call(script, turn_index, error, request)
        if error is not None:
            raise error
        delay = (turn.delay_ms if turn.delay_ms is not None else script.delay_ms) / 1000.0
        player = _Player(on_event, delay)
        if turn.thinking:
            await player.block(BlockType.THINKING, turn.thinking)
        if turn.text:
            await player.block(BlockType.TEXT, turn.text.replace(RESULT_PLACEHOLDER, quoted_result(results)))
        for i, tool in enumerate(turn.tools):
            await player.tool_call(f"call_{answered}_{i}", tool.name, dict(tool.input))
        blocks = tuple(player.blocks)
        usage = turn.usage or _estimated_usage(request, blocks)
        stop = "tool_use" if turn.tools else "end_turn"
        return LlmResponse(blocks=blocks, usage=usage, stop_reason=stop, model=request.model)

    async def list_models(self, timeout: float) -> list[ListedModel]:
        """The scripts that ship with reliant (a script of your own is named by its path), but
        not a workflow's own demo script (`demo-<workflow>`): a chat on that workflow with
        `scripted:demo` gets it (demo.demo_model), and on its own it is no model to pick."""
        return [
            ListedModel(path.stem, "scripted, offline")
            for path in sorted(SCRIPTS_DIR.glob("*.yaml"))
            if not path.stem.startswith("demo-")
        ]

    async def close(self) -> None:
        self._scripts.clear()

    def _scripted_error(self, script: Script, turn_index: int, turn: Turn) -> LlmError | None:
        if turn.error is None:
            return None
        key = (str(script.path), turn_index)
        failed = self._failures.get(key, 0)
        if failed >= turn.error.times:
            return None
        self._failures[key] = failed + 1
        headers = {"retry-after": str(turn.error.retry_after)} if turn.error.retry_after is not None else {}
        error = error_for_status(NAME, turn.error.status, turn.error.message, headers)
        logger.info(
            "scripted %s turn %d: failing with HTTP %d (%d of %d)",
            script.name,
            turn_index,
            turn.error.status,
            failed + 1,
            turn.error.times,
        )
        return error


@dataclass(slots=True)
class _Player:
    on_event: OnEvent
    delay: float
    blocks: list[ContentBlock] = field(default_factory=list)

    async def block(self, kind: BlockType, text: str) -> None:
        index = len(self.blocks)
        await self.on_event(BlockStart(index, kind))
        for chunk in _CHUNK.findall(text):
            await self._pause()
            await self.on_event(BlockDelta(index, kind, chunk))
        self.blocks.append(ContentBlock(kind, text=text))

    async def tool_call(self, call_id: str, name: str, tool_input: dict[str, object]) -> None:
        index = len(self.blocks)
        await self.on_event(BlockStart(index, BlockType.TOOL_CALL, tool_call_id=call_id, tool_name=name))
        await self._pause()
        await self.on_event(BlockDelta(index, BlockType.TOOL_CALL, json.dumps(tool_input)))
        self.blocks.append(
            ContentBlock(BlockType.TOOL_CALL, tool_call_id=call_id, tool_name=name, tool_input=tool_input)
        )

    async def _pause(self) -> None:
        if self.delay > 0:
            await asyncio.sleep(self.delay)


def _append_call(script: Script, turn_index: int, error: LlmError | None, request: LlmRequest) -> None:
    assert script.call_log is not None
    status = getattr(error, "status", None) if error is not None else None
    line = {
        "script": script.name,
        "turn": turn_index,
        "time": time.time(),
        "error": status,
        "tools": [t.name for t in request.tools],  # what the model was offered
        "system": request.full_system(),  # the whole prompt, as the model reads it
        "context": request.context,  # its per-chat part
        "messages": [_logged_message(m) for m in request.messages],
        "thinking_budget": request.thinking_budget,
        "temperature": request.temperature,
    }
    script.call_log.parent.mkdir(parents=True, exist_ok=True)
    # Never through a link: its place was checked (script.check_script_place), a link could move it.
    fd = os.open(script.call_log, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    with os.fdopen(fd, "a", encoding="utf-8") as log:
        log.write(json.dumps(line) + "\n")


def _logged_message(message: Message) -> dict[str, object]:
    blocks: list[dict[str, object]] = []
    for block in message.blocks:
        doc: dict[str, object] = {"type": block.type.value}
        if block.type is BlockType.IMAGE:
            data = block.text.rstrip("=")
            doc |= {"media_type": block.media_type, "bytes": len(data) * 3 // 4}
        elif block.type is BlockType.TOOL_CALL:
            doc |= {"tool_name": block.tool_name, "input": block.tool_input}
        else:
            doc["text"] = block.text
        if block.tool_call_id:
            doc["tool_call_id"] = block.tool_call_id
        if block.tool_name:
            doc["tool_name"] = block.tool_name
        if block.is_error:
            doc["is_error"] = True
        blocks.append(doc)
    return {"role": message.role.value, "blocks": blocks}


def _estimated_usage(request: LlmRequest, blocks: tuple[ContentBlock, ...]) -> Usage:
    """About four characters a token, so demos show plausible, deterministic counts."""
    prompt = len(request.full_system()) + sum(
        len(b.text) + len(json.dumps(b.tool_input)) for m in request.messages for b in m.blocks
    )
    answer = sum(len(b.text) + (len(json.dumps(b.tool_input)) if b.tool_input else 0) for b in blocks)
    return Usage(input_tokens=max(prompt // 4, 1), output_tokens=max(answer // 4, 1))
