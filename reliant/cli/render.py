"""A chat's updates, rendered in the terminal.

On a terminal the answer is markdown: every finished block (paragraph, list, table, code with
highlighting) is printed rendered, and the block still being written shows as a preview that the
next render replaces. Tool calls print one line each with their result under them (parallel calls
included), edits as coloured diffs, and each turn ends with a line of tokens, cost and time.
When stdout is not a terminal the text goes out as it arrives, plain, with no escape codes;
NO_COLOR is honoured.

A view follows one agent (the chat's top agent, or one named with --agent): the sub-agents it
spawns show as a line when each starts and one when it ends (status, cost, its result in a line),
never their answers or tool calls, which run side by side with the view's own; what they wait for
(approvals, questions) is shown, tagged with the agent, since the user answers it
(reliant.cli.agent_scope tells whose an update is).

The renderer only draws: it takes updates (live from the stream, or replayed for `reliant show`)
and never decides when a chat is done (reliant.cli.conversation does).
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TextIO

from rich.console import Console
from rich.text import Text

from reliant.cli import tool_lines
from reliant.cli.agent_scope import AgentScope, one_line, result_of
from reliant.cli.markdown_out import MarkdownOut
from reliant.cli.shown import printable_values

MARK = "\N{SINGLE RIGHT-POINTING ANGLE QUOTATION MARK}"  # before what the user says


@dataclass
class TurnStats:
    started: float
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    answers: int = 0


def _console(stream: TextIO, styled: bool) -> Console:
    return Console(
        file=stream,
        force_terminal=styled,
        no_color=True if os.environ.get("NO_COLOR") else None,
        highlight=False,
        markup=False,
        emoji=False,
    )


@dataclass
class StreamedText:
    """The text of the answers being streamed, put together from their deltas. A delta replayed
    after a reconnect (told by message_id, index and offset) adds nothing; one that comes after a
    gap is left out, and the stored message (message_completed) supplies whatever was missed."""

    texts: dict[tuple[str, int], str] = field(default_factory=dict)  # (message_id, index) -> text
    latest: dict[int, str] = field(default_factory=dict)  # turn -> message_id of its latest attempt

    def started(self, payload: Mapping[str, Any]) -> None:
        self.latest[int(payload.get("turn", 0))] = str(payload.get("message_id", ""))

    def delta(self, payload: Mapping[str, Any]) -> str:
        """The part of the delta's text not seen yet."""
        key = (str(payload.get("message_id", "")), int(payload.get("index", 0)))
        have = self.texts.get(key, "")
        text = str(payload.get("text", ""))
        offset = int(payload.get("offset", len(have)))
        if offset > len(have):
            return ""  # a gap: the stored message fills it in
        new = text[len(have) - offset :]
        self.texts[key] = have + new
        return new

    def rest(self, message: Mapping[str, Any]) -> str:
        """What the stored message has beyond the text already shown for its turn."""
        message_id = self.latest.pop(int(message.get("turn") or 0), "")
        out = []
        for index, block in enumerate(message.get("blocks") or []):
            if block.get("type") != "text":
                continue
            shown = self.texts.pop((message_id, index), "")
            text = str(block.get("text", ""))
            if text.startswith(shown):
                out.append(text[len(shown) :])
        return "".join(out)


class Renderer:
    """Draws a chat's updates. `live`: following a chat as it runs (notes go to stderr; deltas are
    the answer); otherwise replaying a stored one (`reliant show`: everything on stdout, answers
    from the stored messages). `agent`: the sub-agent whose view it is ("" the chat's top agent)."""

    def __init__(
        self,
        out: TextIO | None = None,
        err: TextIO | None = None,
        *,
        styled: bool | None = None,
        live: bool = True,
        echo_user: bool = False,
        agent: str = "",
    ) -> None:
        self.out = out or sys.stdout
        self.err = err or sys.stderr
        self.styled = _isatty(self.out) if styled is None else styled
        self.err_styled = self.styled and _isatty(self.err)
        self.live = live
        self.echo_user = echo_user or not live
        self.console = _console(self.out, self.styled)
        self.err_console = _console(self.err, self.err_styled)
        self.skip_messages: set[str] = set()  # user messages not to echo (the one just typed)
        self.answered_here: set[str] = set()  # approvals and questions this process answered
        self.at_line_start = True
        self.markdown = MarkdownOut(self.console)
        self._writing = False  # answer text is being written (a terminal: through `markdown`)
        self._shown: set[str] = set()  # messages whose text is on screen
        self._partial: dict[str, str] = {}  # replay: text of answers not (yet) stored
        self._calls: dict[str, tuple[str, dict[str, Any]]] = {}
        self._running: list[str] = []
        self._finished: set[str] = set()
        self._printed_calls: set[str] = set()
        self._under: str | None = None  # the call whose line is the last thing printed
        self._turn: TurnStats | None = None
        self._after_tools = False  # the last thing shown was a tool's result: text starts after a gap
        self._turns: dict[str, int] = {}  # streamed answer (message_started id) -> its turn
        self._streamed_turns: set[int] = set()  # turns whose answer text this client has shown
        self._streamed = StreamedText()  # live: drops deltas replayed after a reconnect
        # The turn whose answer is being written on the terminal: answers streamed beside it (a
        # workflow's parallel branches, agents) are not interleaved with it, but shown whole once stored.
        self._voice: int | None = None
        self.scope = AgentScope(agent)
        self._told: set[tuple[str, str]] = set()  # (agent id, started | finished): its lines printed
        self._instructions: list[str] | None = None  # the instruction files last said to be in effect
        self._held: list[Text] = []  # sub-agents' lines that came while the view's answer streamed

    # -- output -----------------------------------------------------------------------------------

    def line(self, text: Text | str = "", *, to_err: bool = False) -> None:
        """One line (styled on a terminal, plain otherwise), after whatever is being written."""
        self.settle()
        text = Text(text) if isinstance(text, str) else text
        stream, console, styled = (
            (self.err, self.err_console, self.err_styled) if to_err else (self.out, self.console, self.styled)
        )
        if styled:
            console.print(text, soft_wrap=True)
        else:
            stream.write(text.plain + "\n")
        stream.flush()
        self._under = None

    def note(self, text: Text | str) -> None:
        """A line about the chat rather than from it: stderr when following, stdout in a replay."""
        self.line(text, to_err=self.live)

    def prompt(self, text: Text) -> None:
        """A question left open on the current line (an approval's choices)."""
        self.settle()
        if self.styled:
            self.console.print(text, end="")
        else:
            self.out.write(text.plain)
        self.out.flush()
        self.at_line_start = False

    def end_prompt(self, replacement: Text | None = None) -> None:
        """Close the open question's line: replaced (on a terminal) or ended."""
        if self.styled:
            self.out.write("\r\x1b[2K")
            if replacement is not None:
                self.console.print(replacement)
        else:
            self.out.write((replacement.plain.strip() if replacement is not None else "") + "\n")
        self.out.flush()
        self.at_line_start = True
        self._under = None

    def settle(self) -> None:
        """Finish what is being written (the answer's last block, a line without its newline)."""
        self._end_text()
        if not self.at_line_start:
            self.out.write("\n")
            self.out.flush()
            self.at_line_start = True

    def _write_plain(self, text: str) -> None:
        if text:
            self.out.write(text)
            self.out.flush()
            self.at_line_start = text.endswith("\n")

    # -- the answer ---------------------------------------------------------------------------------

    def _gap_after_tools(self) -> None:
        if self._after_tools:
            self._after_tools = False
            self.out.write("\n")
            self.out.flush()

    def _text_delta(self, text: str) -> None:
        if text:
            self._gap_after_tools()
        self._under = None
        if not self.styled:
            self._write_plain(text)
            return
        self._writing = True
        self.markdown.feed(text)

    def _end_text(self) -> None:
        if self.styled:
            if self._writing:
                self._writing = False
                self._under = None
            self.markdown.finish()
        elif not self.at_line_start:
            self._write_plain("\n")

    def _stored_text(self, message: Mapping[str, Any]) -> None:
        """An answer's text from the stored message (a replay, or deltas this client never saw)."""
        texts = [str(b.get("text", "")) for b in message.get("blocks") or [] if b.get("type") == "text"]
        source = "\n\n".join(t for t in texts if t.strip())
        if not source:
            return
        self.settle()
        self._gap_after_tools()
        self._under = None
        if self.styled:
            self.markdown.whole(source)
        else:
            self._write_plain(source.rstrip("\n") + "\n")

    # -- updates ------------------------------------------------------------------------------------

    def update(self, kind: str, payload: Mapping[str, Any], at: float | None = None) -> None:
        shown = printable_values(payload)  # what a model or a tool wrote is shown, never acted on by the terminal
        at = time.time() if at is None else at
        agent = self.scope.owner(kind, shown)
        if agent and agent != self.scope.view:
            self._beside(agent, kind, shown, at)
            return
        handler = getattr(self, f"_on_{kind}", None)
        if handler is not None:
            handler(shown, at)

    # -- sub-agents ---------------------------------------------------------------------------------

    def _beside(self, agent_id: str, kind: str, payload: dict[str, Any], at: float) -> None:
        """Another agent's update: what it waits for, and a line when one the view's agent spawned
        starts or ends; never its answer, tool calls or context."""
        agent = self.scope.agents.get(agent_id)
        if kind in ("approval_requested", "question_asked"):
            if agent is not None and not payload.get("agent"):  # a workflow's approval node in its run
                payload = {**payload, "agent": {"agent_id": agent_id, "name": agent.name, "task": agent.task}}
            getattr(self, f"_on_{kind}")(payload, at)
            return
        if agent is None or not self.scope.is_child(agent_id):
            return  # an agent it spawned in turn: that one's view tells
        if kind == "run_finished":
            agent.result = str(payload.get("error") or "") or result_of(payload.get("outputs"))
        elif kind == "agent_started" and (agent_id, "started") not in self._told:
            self._told.add((agent_id, "started"))
            self._aside(Text(f"▸ agent {agent.name} ({agent_id[:8]}) started: {one_line(agent.task)}", style="cyan"))
        elif kind == "agent_finished" and (agent_id, "finished") not in self._told:
            self._told.add((agent_id, "finished"))
            self._agent_ended(agent_id, payload, at)

    def _agent_ended(self, agent_id: str, payload: Mapping[str, Any], at: float) -> None:
        agent = self.scope.agents[agent_id]
        status = str(payload.get("status", ""))
        cost = float(payload.get("cost_usd") or 0)
        self._begin_turn(at)
        if self._turn is not None:  # the turn's line counts what its agents spent
            self._turn.input_tokens += int(payload.get("input_tokens") or 0)
            self._turn.output_tokens += int(payload.get("output_tokens") or 0)
            self._turn.cost_usd += cost
        result = str(payload.get("error") or "") or agent.result
        mark, style = ("■", "green") if status == "done" else ("✗", "red")
        text = f"{mark} agent {agent.name} ({agent_id[:8]}) {status} · ${cost:.4f}" + (f" · {result}" if result else "")
        self._aside(Text(one_line(text, 160), style=style))

    def _aside(self, text: Text) -> None:
        """A sub-agent's line: held while the view's own answer streams (it would break a sentence
        in two), printed once that answer is stored."""
        if self.live and self._voice is not None:
            self._held.append(text)
        else:
            self.line(text)

    def _release(self) -> None:
        held, self._held = self._held, []
        for text in held:
            self.line(text)

    def _begin_turn(self, at: float) -> None:
        if self._turn is None:
            self._turn = TurnStats(started=at)

    def _on_message_created(self, payload: Mapping[str, Any], at: float) -> None:
        message = payload.get("message") or {}
        if message.get("role") != "user":
            return
        self._begin_turn(at)
        message_id = str(message.get("id", ""))
        if not self.echo_user or message_id in self.skip_messages or message_id in self._shown:
            return
        self._shown.add(message_id)
        text = "\n".join(str(b.get("text", "")) for b in message.get("blocks") or [] if b.get("type") == "text")
        attached = [str(b.get("path")) for b in message.get("blocks") or [] if b.get("path")]
        self.settle()
        if self.at_line_start and (self._calls or self._shown - {message_id}):
            self.line()
        self._after_tools = False
        first, *rest = text.strip().splitlines() or [""]
        self.line(Text(f"{MARK} ", style="bold cyan") + Text(first, style="bold"))
        for more in rest:
            self.line(Text("  " + more, style="bold"))
        if attached:
            self.line(Text(f"  attached: {', '.join('@' + p for p in attached)}", style="bright_black"))

    def _on_message_started(self, payload: Mapping[str, Any], at: float) -> None:
        self._begin_turn(at)
        self._turns[str(payload.get("message_id", ""))] = int(payload.get("turn") or 0)
        self._streamed.started(payload)
        attempt = int(payload.get("attempt") or 1)  # a float once it has been through JSON
        if attempt > 1 and self.live:
            self.note(Text(f"(the answer starts again: attempt {attempt})", style="bright_black"))

    def _speaks(self, message_id: str) -> bool:
        """Whether a streamed answer's text is written as it comes (no other answer's is)."""
        turn = self._turns.get(message_id, 0)
        if self._voice is None:
            self._voice = turn
        return self._voice == turn

    def _on_block_started(self, payload: Mapping[str, Any], at: float) -> None:
        if self.live and not self._speaks(str(payload.get("message_id", ""))):
            return
        if payload.get("type") == "thinking":
            self._end_text()
            if self.styled and self.live:
                self.markdown.thinking()
        elif payload.get("type") == "text":
            self._end_text()

    def _on_block_delta(self, payload: Mapping[str, Any], at: float) -> None:
        if payload.get("type") != "text":
            return
        message_id = str(payload.get("message_id", ""))
        turn = self._turns.get(message_id, 0)
        if not self.live:  # a replay prints the stored answer; this is kept only in case none comes
            self._partial[message_id] = self._partial.get(message_id, "") + str(payload.get("text", ""))
            return
        if not self._speaks(message_id):
            return  # shown whole once stored
        self._streamed_turns.add(turn)
        self._text_delta(self._streamed.delta(payload))

    def _on_message_completed(self, payload: Mapping[str, Any], at: float) -> None:
        message = payload.get("message") or {}
        message_id = str(message.get("id", ""))
        turn_no = int(message.get("turn") or 0)
        self._partial = {m: t for m, t in self._partial.items() if self._turns.get(m) != turn_no}
        if self._voice == turn_no:
            self._voice = None
        for block in message.get("blocks") or []:
            if block.get("type") == "tool_call":
                self._calls.setdefault(
                    str(block.get("tool_call_id")), (str(block.get("tool_name")), dict(block.get("tool_input") or {}))
                )
        self._begin_turn(at)
        turn = self._turn
        if turn is not None and message_id not in self._shown:
            usage = message.get("usage") or {}
            turn.input_tokens += sum(
                int(usage.get(k) or 0) for k in ("input_tokens", "cache_read_tokens", "cache_write_tokens")
            )
            turn.output_tokens += int(usage.get("output_tokens") or 0)
            turn.cost_usd += float(message.get("cost_usd") or 0)
            turn.answers += 1
        if turn_no in self._streamed_turns:
            if turn_no in self._streamed.latest:  # whatever a gap in the deltas left out
                self._text_delta(self._streamed.rest(message))
            self._end_text()
        elif message_id not in self._shown:
            self._stored_text(message)
        if message.get("cut") and message_id not in self._shown:  # a limit cut it: it is not the whole answer
            self.line(Text(f"(answer cut: {message['cut']})", style="yellow"))
        self._shown.add(message_id)
        self._release()

    def _on_message_aborted(self, payload: Mapping[str, Any], at: float) -> None:
        turn_no = int(payload.get("turn") or 0)  # only this answer: another may be streaming beside it
        self._partial = {m: t for m, t in self._partial.items() if self._turns.get(m) != turn_no}
        if self._voice == turn_no:
            self._voice = None
        reason = payload.get("reason") or "stopped"
        self.line(Text(f"({reason}: the answer was cut short)", style="bright_black"))
        self._release()

    def _on_tool_started(self, payload: Mapping[str, Any], at: float) -> None:
        call_id = str(payload.get("tool_call_id", ""))
        if call_id in self._finished or call_id in self._running:
            return
        self._calls[call_id] = (str(payload.get("tool_name", "")), dict(payload.get("input") or {}))
        self.settle()
        if not self._running:
            self._print_call(call_id)
        self._running.append(call_id)

    def _on_tool_finished(self, payload: Mapping[str, Any], at: float) -> None:
        call_id = str(payload.get("tool_call_id", ""))
        if call_id in self._finished:
            return
        self._finished.add(call_id)
        if call_id in self._running:
            self._running.remove(call_id)
        self._calls.setdefault(call_id, (str(payload.get("tool_name", "")), {}))
        self.settle()
        if self._under != call_id:
            self._print_call(call_id)
        self.line(tool_lines.result_line(payload))
        for text in tool_lines.details(payload):
            self.line(text)
        self._after_tools = True

    def _print_call(self, call_id: str) -> None:
        name, args = self._calls[call_id]
        self.line(tool_lines.call_line(name, args, again=call_id in self._printed_calls))
        self._printed_calls.add(call_id)
        self._under = call_id

    def _on_approval_requested(self, payload: Mapping[str, Any], at: float) -> None:
        if self.live:
            return  # the prompt (reliant.cli.gates) shows it
        first, *more = tool_lines.whole(str(payload.get("tool_name")), dict(payload.get("input") or {}))
        self.line(Text(f"? allow {first}{agent_tag(payload)}", style="yellow"))
        for line in more:
            self.line(Text(line, style="yellow"))

    def _on_approval_resolved(self, payload: Mapping[str, Any], at: float) -> None:
        status = str(payload.get("status", ""))
        if status == "cancelled" or str(payload.get("approval_id", "")) in self.answered_here:
            return  # the call's own line says it was cancelled; an answer given here was just typed
        where = " elsewhere" if self.live else ""
        if status == "approved":
            scope = {
                "chat": " (always, in this chat)",
                "project": " (always, in this project)",
                "prefix": " (shell commands with this prefix)",
            }.get(str(payload.get("scope", "")), "")
            self.line(Text(f"  ✓ approved{where}{scope}", style="green"))
        elif status == "denied":
            self.line(Text(f"  ⊗ denied{where}", style="blue"))  # the call's line gives the message
        else:
            self.line(Text(f"  ◷ {status}: no answer in time", style="yellow"))

    def _on_question_asked(self, payload: Mapping[str, Any], at: float) -> None:
        if self.live:
            return  # the prompt asks it
        for item in payload.get("questions") or []:
            self.line(Text(f"? {item.get('question', '')}{agent_tag(payload)}", style="yellow"))

    def _on_question_answered(self, payload: Mapping[str, Any], at: float) -> None:
        status = payload.get("status")
        if status != "answered":
            return
        where = ""
        if self.live and str(payload.get("question_id", "")) not in self.answered_here:
            where = " elsewhere"
        answers = " | ".join(str(a) for a in payload.get("answers") or [])
        self.line(Text(f"  → answered{where}: {answers}", style="green"))

    def _on_retry_wait(self, payload: Mapping[str, Any], at: float) -> None:
        seconds = float(payload.get("seconds") or 0)
        self.note(Text(f"waiting {seconds:.0f}s: {payload.get('reason', '')}", style="yellow"))

    def _on_error(self, payload: Mapping[str, Any], at: float) -> None:
        self.note(Text(f"error: {payload.get('message', '')}", style="red"))

    def _on_notice(self, payload: Mapping[str, Any], at: float) -> None:
        """Something worth knowing that is no failure (the thread was summarised): said plainly."""
        self.note(Text(str(payload.get("message", "")), style="bright_black"))

    def _on_context(self, payload: Mapping[str, Any], at: float) -> None:
        """Said when the files in effect are first known and when they change, not at each call that
        takes the snapshot again."""
        files = [str(f.get("shown") or f.get("path")) for f in payload.get("instructions") or []]
        if files == self._instructions:
            return
        self._instructions = files
        if files:
            self.note(Text(f"instructions in effect: {', '.join(files)}", style="bright_black"))
        elif not self.live:
            self.note(Text("no instruction files in effect (AGENTS.md, CLAUDE.md)", style="bright_black"))

    def _on_chat_updated(self, payload: Mapping[str, Any], at: float) -> None:
        if self.live:
            return
        for key in ("model", "mode"):
            if payload.get(key):
                self.note(Text(f"{key}: {payload[key]}", style="bright_black"))

    def _on_chat_status(self, payload: Mapping[str, Any], at: float) -> None:
        status, reason = str(payload.get("status", "")), str(payload.get("reason") or "")
        if status == "paused":
            self.note(Text(f"paused: {reason}", style="yellow"))
        elif status == "failed":
            self.note(Text(f"failed: {reason}", style="red"))
        elif status == "idle":
            if reason:
                self.note(Text(reason, style="bright_black"))
            self._end_turn(at)

    def _end_turn(self, at: float) -> None:
        self._voice = None
        self._release()
        turn, self._turn = self._turn, None
        self._running.clear()
        if turn is None or not turn.answers:
            return
        parts = [
            f"{_count(turn.input_tokens)} in",
            f"{_count(turn.output_tokens)} out",
            f"${turn.cost_usd:.4f}",
            _duration(max(0.0, at - turn.started)),
        ]
        self.note(Text("─ " + " · ".join(parts), style="bright_black"))

    def finish_replay(self) -> None:
        """The end of a replay: an answer still being written is shown as far as it got."""
        for text in self._partial.values():
            if text.strip():
                self._stored_text({"blocks": [{"type": "text", "text": text}]})
                self.line(Text("(still being written)", style="bright_black"))
        self._partial.clear()
        self.settle()


def agent_tag(payload: Mapping[str, Any]) -> str:
    """Which sub-agent raised a gate (its answer goes to that agent only); "" for the chat's own."""
    tag = payload.get("agent")
    return f"  (agent {tag.get('name', '')})" if isinstance(tag, Mapping) and tag.get("agent_id") else ""


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def _count(n: int) -> str:
    if n >= 1_000_000:
        return f"{n / 1_000_000:.1f}M"
    if n >= 10_000:
        return f"{n / 1000:.0f}k"
    if n >= 1000:
        return f"{n / 1000:.1f}k"
    return str(n)


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, rest = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m {rest:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m"
