"""Where a scripted model's file (and its call_log) may be, and errors that never echo a script's text."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from reliant.llm.errors import FatalLlmError, UnknownModelError
from reliant.llm.script import MAX_SCRIPT_BYTES, ScriptPlaceError, check_script_place, load_script

SECRET = "hunter2-do-not-print"


@pytest.fixture
def places(tmp_path: Path) -> tuple[Path, Path, Path]:
    """A project, a data dir, and a directory outside both."""
    dirs = tuple(tmp_path / name for name in ("project", "data", "elsewhere"))
    for d in dirs:
        d.mkdir()
    return dirs  # type: ignore[return-value]


def test_a_script_outside_the_project_and_data_dir_is_refused_before_it_is_read(
    places: tuple[Path, Path, Path],
) -> None:
    project, data, elsewhere = places
    outside = elsewhere / "secret.yaml"
    outside.write_text(f"{SECRET}: 1\n")
    outside.chmod(0)  # were it read, this would fail differently
    with pytest.raises(ScriptPlaceError) as info:
        check_script_place(str(outside), [project, data])
    message = str(info.value)
    assert "must lie inside one of the chat's project directories or the data dir" in message
    assert str(project) in message and str(data) in message and SECRET not in message
    assert info.value.kind == "script_place"
    for name in ("/etc/shadow", "/etc/passwd", "../x.yaml"):
        with pytest.raises(UnknownModelError):
            check_script_place(name, [project, data])  # not a .yaml path: never a script


def test_links_and_dot_dots_are_resolved_before_the_check(places: tuple[Path, Path, Path]) -> None:
    project, data, elsewhere = places
    (elsewhere / "real.yaml").write_text("turns: []\n")
    (project / "link.yaml").symlink_to(elsewhere / "real.yaml")
    with pytest.raises(ScriptPlaceError, match="it leads to"):
        check_script_place(str(project / "link.yaml"), [project, data])
    with pytest.raises(ScriptPlaceError):
        check_script_place(f"{project}/../elsewhere/real.yaml", [project, data])
    (project / "ok.yaml").write_text("turns: []\n")
    (data / "ok.yaml").write_text("turns: []\n")
    check_script_place(str(project / "ok.yaml"), [project, data])
    check_script_place(str(data / "ok.yaml"), [project, data])
    check_script_place("demo", [])  # a shipped script


def test_the_call_log_must_be_inside_too(places: tuple[Path, Path, Path]) -> None:
    project, data, elsewhere = places
    for call_log in (str(elsewhere / "calls.jsonl"), "../elsewhere/calls.jsonl", "~/.bashrc"):
        script = project / "script.yaml"
        script.write_text(f"call_log: {call_log}\nturns: []\n")
        with pytest.raises(ScriptPlaceError, match="the call_log"):
            check_script_place(str(script), [project, data])
    (project / "logs").mkdir()
    (project / "logs" / "calls.jsonl").symlink_to(elsewhere / "calls.jsonl")
    script.write_text("call_log: logs/calls.jsonl\nturns: []\n")
    with pytest.raises(ScriptPlaceError, match="the call_log"):
        check_script_place(str(script), [project, data])
    script.write_text("call_log: calls.jsonl\nturns: []\n")
    check_script_place(str(script), [project, data])


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        (f"root:x:0:0:{SECRET}:/root:/bin/bash\n", "a script is a mapping"),
        (f"{SECRET}: 1\nturns: []\n", "script: unknown key (line 1, column 1); the known keys are call_log"),
        (f"turns:\n  - text: a\n    {SECRET}: b\n    {SECRET}2: c\n", "unknown key (line 3, column 5), and 1 more"),
        (f"turns: *{SECRET}\n", "invalid YAML at line 1, column 8: found undefined alias '…'"),
        (f"turns: !{SECRET} x\n", "could not determine a constructor for the tag '…'"),
        (f"turns: [\n  {SECRET}", "invalid YAML at line 2"),
        ("turns:\n\t- a\n", "found character '\\t' that cannot start any token"),
        (f"turns:\n  - text: {{{SECRET}: 1}}\n", "turn 0 (line 2): `text` must be a string (line 2, column 5)"),
        (
            'turns:\n  - tools: [{name: view, input: {path: "a\\0b"}}]\n',
            "`input` holds a NUL character, which reliant cannot store (line 2, column 26)",
        ),
        ('turns:\n  - text: "a\\0"\n', "`text` holds a NUL character, which reliant cannot store (line 2, column 5)"),
        (f"turns:\n  - {{[{SECRET}]: 1}}\n", "found unhashable key"),
    ],
)
def test_invalid_scripts_say_what_and_where_without_their_text(tmp_path: Path, text: str, complaint: str) -> None:
    script = tmp_path / "script.yaml"
    script.write_text(text)
    with pytest.raises(FatalLlmError) as info:
        load_script(str(script))
    assert info.value.kind == "invalid_script"
    assert complaint in str(info.value) and SECRET not in str(info.value)


def test_only_regular_files_of_reasonable_size_are_read(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo.yaml"
    os.mkfifo(fifo)  # reading it would block the caller for ever
    with pytest.raises(FatalLlmError, match="not a regular file"):
        load_script(str(fifo))
    big = tmp_path / "big.yaml"
    big.write_text("turns: []\n" + "#" * MAX_SCRIPT_BYTES)
    with pytest.raises(FatalLlmError, match="a script is at most"):
        load_script(str(big))
    binary = tmp_path / "binary.yaml"
    binary.write_bytes(b"turns: [\xff]\n")
    with pytest.raises(FatalLlmError, match="not UTF-8 text"):
        load_script(str(binary))
