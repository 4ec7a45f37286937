"""What the terminal shows for a chat's updates: every tool outcome with its own look, each result
under its call, plain text for pipes, nothing twice."""

from __future__ import annotations

import io
import re
from typing import Any

import pytest

from reliant.cli.render import MARK, Renderer
from reliant.domain.tool_outcome import ToolOutcome

ESC = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")

FINISHED: dict[ToolOutcome, dict[str, Any]] = {
    ToolOutcome.OK: {"status": "ok", "data": {"exit_code": 0}},
    ToolOutcome.EXIT_NONZERO: {"status": "ok", "data": {"exit_code": 1.0}, "output": "FAILED test_x\n[exit code 1]"},
    ToolOutcome.REFUSED: {"status": "error", "error": "refused: /etc/passwd is outside the workspace /w"},
    ToolOutcome.TIMEOUT: {"status": "error", "data": {"timed_out": True}, "error": "command timed out after 1s"},
    ToolOutcome.INTERRUPTED: {"status": "interrupted", "error": "the daemon restarted while this tool was running"},
    ToolOutcome.DENIED: {"status": "denied", "error": "The user denied this tool call."},
    ToolOutcome.CANCELLED: {"status": "interrupted", "error": "cancelled by the user"},
    ToolOutcome.ERROR: {"status": "error", "error": "no such file: a.py"},
}
WORDS = {
    ToolOutcome.OK: "✓ ok",
    ToolOutcome.EXIT_NONZERO: "✗ exit 1",
    ToolOutcome.REFUSED: "⊘ refused",
    ToolOutcome.TIMEOUT: "◷ timed out",
    ToolOutcome.INTERRUPTED: "↯ interrupted",
    ToolOutcome.DENIED: "⊗ denied",
    ToolOutcome.CANCELLED: "■ cancelled",
    ToolOutcome.ERROR: "! failed",
}


def finished(call_id: str, outcome: ToolOutcome, *, with_outcome: bool = True) -> dict[str, Any]:
    payload = {"tool_call_id": call_id, "tool_name": "shell", "duration_ms": 120.0, **FINISHED[outcome]}
    if with_outcome:
        payload["outcome"] = outcome.value
    return payload


def rendered(updates: list[tuple[str, dict[str, Any]]], *, styled: bool, live: bool = True) -> str:
    out = io.StringIO()
    renderer = Renderer(out, io.StringIO(), styled=styled, live=live)
    for kind, payload in updates:
        renderer.update(kind, payload, at=100.0)
    renderer.settle()
    return out.getvalue()


@pytest.mark.parametrize("with_outcome", [True, False])  # False: an update stored before `outcome` was
def test_each_outcome_has_its_own_word_and_symbol(with_outcome: bool) -> None:
    updates: list[tuple[str, dict[str, Any]]] = []
    for i, outcome in enumerate(ToolOutcome):
        updates.append(("tool_started", {"tool_call_id": f"c{i}", "tool_name": "shell", "input": {"command": "x"}}))
        updates.append(("tool_finished", finished(f"c{i}", outcome, with_outcome=with_outcome)))
    text = rendered(updates, styled=False)
    results = [line.strip() for line in text.splitlines() if line.startswith("  └ ")]
    assert len(results) == len(ToolOutcome)
    for line, outcome in zip(results, ToolOutcome, strict=True):
        assert line.startswith(f"└ {WORDS[outcome]}"), (outcome, line)
    assert "ok exit" not in text and "\x1b" not in text
    assert "    FAILED test_x" in text  # a failing command's last lines are shown


def test_each_outcome_has_its_own_colour_on_a_terminal() -> None:
    colours = {}
    for outcome in ToolOutcome:
        text = rendered([("tool_finished", finished("c", outcome))], styled=True)
        line = next(line for line in text.splitlines() if WORDS[outcome] in line)
        colours[outcome] = re.findall(r"\x1b\[([0-9;]+)m" + re.escape(WORDS[outcome]), line)
        assert colours[outcome], (outcome, line)
    assert len({c[0] for c in colours.values()}) == len(ToolOutcome) - 1  # exit_nonzero and error share red…
    assert colours[ToolOutcome.ERROR] != colours[ToolOutcome.EXIT_NONZERO]  # …but not the same style


def test_parallel_calls_each_result_sits_under_its_call() -> None:
    def started(call_id: str, path: str) -> tuple[str, dict[str, Any]]:
        return "tool_started", {"tool_call_id": call_id, "tool_name": "view", "input": {"path": path}}

    text = rendered(
        [
            started("a", "a.py"),
            started("b", "b.py"),
            started("c", "c.py"),
            ("tool_finished", {**finished("b", ToolOutcome.OK), "tool_name": "view"}),
            ("tool_finished", {**finished("a", ToolOutcome.REFUSED), "tool_name": "view"}),
            ("tool_finished", {**finished("c", ToolOutcome.OK), "tool_name": "view"}),
        ],
        styled=False,
    )
    assert text.splitlines() == [
        "● view a.py",
        "● view b.py",
        "  └ ✓ ok (0.12s)",
        "● view a.py",
        "  └ ⊘ refused (0.12s): /etc/passwd is outside the workspace /w",
        "● view c.py",
        "  └ ✓ ok (0.12s)",
    ]


def answer(turn: int, text: str, message_id: str, *, cut: str = "") -> list[tuple[str, dict[str, Any]]]:
    stored = {
        "id": f"stored-{turn}",
        "role": "assistant",
        "turn": turn,
        "blocks": [{"type": "text", "text": text}],
        "usage": {"input_tokens": 1200, "output_tokens": 34, "cache_read_tokens": 300},
        "cost_usd": 0.0123,
        "cut": cut,
    }
    return [
        ("message_started", {"message_id": message_id, "turn": turn, "attempt": 1}),
        ("block_started", {"message_id": message_id, "index": 0, "type": "text"}),
        *[
            ("block_delta", {"message_id": message_id, "index": 0, "type": "text", "text": w})
            for w in re.findall(r"\S*\s*", text)
            if w
        ],
        ("message_completed", {"message": stored}),
    ]


def test_an_answer_is_shown_once_and_pipes_get_the_markdown_as_it_came() -> None:
    text = "# Title\n\n- **one**\n- two\n\n```python\nx = 1\n```\n"
    updates = [
        *answer(1, text, "m1"),
        ("message_completed", {"message": {"id": "stored-1", "turn": 1, "blocks": [{"type": "text", "text": text}]}}),
        ("chat_status", {"status": "idle", "reason": ""}),
    ]
    plain = rendered(updates, styled=False)
    assert plain.count("# Title") == 1 and "```python\nx = 1\n```" in plain and "\x1b" not in plain


@pytest.mark.parametrize("live", [True, False])
def test_an_answer_a_limit_cut_says_so_under_its_text_once(live: bool) -> None:
    cut = "the model reached its output limit (max_tokens 8192)"
    updates = [*answer(1, "The plan: first", "m1", cut=cut), ("chat_status", {"status": "idle", "reason": ""})]
    lines = rendered([*updates, updates[-2]], styled=False, live=live).splitlines()  # completed twice
    assert lines[:2] == ["The plan: first", f"(answer cut: {cut})"]
    assert lines.count(f"(answer cut: {cut})") == 1
    whole = rendered(answer(1, "Done.", "m1"), styled=False, live=live)
    assert "answer cut" not in whole


def test_a_terminal_gets_rendered_markdown_and_the_end_of_turn_line() -> None:
    out, err = io.StringIO(), io.StringIO()
    renderer = Renderer(out, err, styled=True)
    for kind, payload in [
        *answer(1, "# Title\n\nSome **bold** text.\n\n- one\n- two\n\n```python\nx = 1\n```\n", "m1"),
        ("chat_status", {"status": "idle", "reason": ""}),
    ]:
        renderer.update(kind, payload, at=100.0 if kind != "chat_status" else 112.5)
    shown = out.getvalue()
    plain = ESC.sub("", shown)
    assert "**" not in plain and "```" not in plain and "# Title" not in plain
    assert "Title" in plain and "• one" in plain and "bold" in plain
    assert "\x1b[1m" in shown  # bold
    assert re.search(r"\x1b\[[0-9;]+m=", shown), "code is highlighted"
    assert plain.count("Some bold text.") == 1
    assert ESC.sub("", err.getvalue()).strip() == "─ 1.5k in · 34 out · $0.0123 · 12.5s"


def test_no_color_keeps_the_layout_without_colours(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    shown = rendered(
        [*answer(1, "- one\n- two\n", "m1"), ("tool_finished", finished("c", ToolOutcome.EXIT_NONZERO))], styled=True
    )
    assert "• one" in ESC.sub("", shown) and "✗ exit 1" in shown
    assert not re.search(r"\x1b\[(3[0-9]|9[0-7]|38;)", shown), "no colour codes"


def test_a_replay_draws_the_stored_answers_and_what_came_of_the_calls() -> None:
    text = rendered(
        [
            ("message_created", {"message": {"id": "u1", "role": "user", "blocks": [{"type": "text", "text": "fix"}]}}),
            ("context", {"instructions": [{"path": "/p/AGENTS.md", "shown": "AGENTS.md", "scope": "project"}]}),
            *answer(1, "Looking.", "m1"),
            ("approval_requested", {"approval_id": "a1", "tool_name": "shell", "input": {"command": "rm x"}}),
            ("approval_resolved", {"approval_id": "a1", "status": "denied", "message": "no"}),
            ("tool_finished", finished("c", ToolOutcome.DENIED)),
            ("chat_status", {"status": "idle", "reason": ""}),
        ],
        styled=False,
        live=False,
    )
    lines = text.splitlines()
    assert lines[:3] == [f"{MARK} fix", "instructions in effect: AGENTS.md", "Looking."]
    assert "? allow shell rm x" in lines and "  ⊗ denied" in lines
    assert lines[-1].startswith("─ 1.5k in · 34 out · $0.0123")


def test_a_replay_of_two_answers_streaming_side_by_side_drops_only_the_one_that_was_cut_short() -> None:
    out = io.StringIO()
    renderer = Renderer(out, io.StringIO(), styled=False, live=False)
    for message_id, turn, text in (("left", 3, "left so far"), ("right", 4, "right so far")):
        renderer.update("message_started", {"message_id": message_id, "turn": turn, "attempt": 1}, at=100.0)
        renderer.update("block_started", {"message_id": message_id, "index": 0, "type": "text"}, at=100.0)
        payload = {"message_id": message_id, "index": 0, "type": "text", "offset": 0, "text": text}
        renderer.update("block_delta", payload, at=100.0)
    renderer.update("message_aborted", {"turn": 3, "reason": "cancelled"}, at=100.0)
    renderer.finish_replay()
    lines = out.getvalue().splitlines()
    assert "right so far" in lines and "(still being written)" in lines
    assert "left so far" not in out.getvalue()


def test_two_answers_streaming_at_once_are_not_interleaved_on_the_terminal() -> None:
    def started(message_id: str, turn: int) -> list[tuple[str, dict[str, Any]]]:
        return [
            ("message_started", {"message_id": message_id, "turn": turn, "attempt": 1}),
            ("block_started", {"message_id": message_id, "index": 0, "type": "text"}),
        ]

    def delta(message_id: str, offset: int, text: str) -> tuple[str, dict[str, Any]]:
        return ("block_delta", {"message_id": message_id, "index": 0, "type": "text", "offset": offset, "text": text})

    def stored(message_id: str, turn: int, text: str) -> tuple[str, dict[str, Any]]:
        blocks = [{"type": "text", "text": text}]
        return (
            "message_completed",
            {"message": {"id": message_id, "role": "assistant", "turn": turn, "blocks": blocks}},
        )

    text = rendered(
        [
            *started("a", 1),
            delta("a", 0, "Left one, "),
            *started("b", 2),
            delta("b", 0, "Right one, "),
            delta("a", 10, "left two."),
            delta("b", 11, "right two."),
            stored("sa", 1, "Left one, left two."),
            stored("sb", 2, "Right one, right two."),
            *started("c", 3),
            delta("c", 0, "Then alone."),
            stored("sc", 3, "Then alone."),
        ],
        styled=False,
    )
    assert text.splitlines() == ["Left one, left two.", "Right one, right two.", "Then alone."]


def test_an_answer_that_starts_again_names_its_attempt_as_a_whole_number() -> None:
    """Struct payloads come back from JSON with every number a float: 6.0."""
    out, err = io.StringIO(), io.StringIO()
    renderer = Renderer(out, err, styled=False, live=True)
    renderer.update("message_started", {"message_id": "m", "turn": 1.0, "attempt": 6.0}, at=100.0)
    renderer.settle()
    assert "(the answer starts again: attempt 6)" in err.getvalue(), err.getvalue()


def test_a_notice_is_said_plainly_and_only_an_error_in_red() -> None:
    """A notice (the thread was summarised to fit the model's window) is no failure: not red, not
    "error"; a kind this client does not know shows nothing and breaks nothing."""
    told = "The conversation no longer fit the model's context window: it was summarised."
    updates = [("notice", {"message": told}), ("error", {"message": "boom"}), ("a_kind_from_later", {"x": 1})]
    plain = rendered(updates, styled=False, live=False)
    assert plain.splitlines() == [told, "error: boom"]
    styled = rendered(updates, styled=True, live=False)
    red = "\x1b[31m"
    notice = next(line for line in styled.splitlines() if "summarised" in line)
    assert red not in notice and "error" not in ESC.sub("", notice).lower(), notice
    assert red in next(line for line in styled.splitlines() if "boom" in line)
