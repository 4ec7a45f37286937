"""Which of a repository's files its trusted commands run directly (daemon/trust_scripts.py): the
program when it is a path, an interpreter's script, each simple command of a shell text."""

from __future__ import annotations

from pathlib import Path

import pytest

from reliant.daemon.trust_scripts import argv_scripts, inside, shell_scripts

W = Path("/w")


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["./tools/server.sh", "--port", "1"], ["/w/tools/server.sh"]),
        (["python", "tools/mcp_server.py"], ["/w/tools/mcp_server.py"]),
        (["/usr/bin/python3", "-u", "-W", "ignore", "srv.py", "x.py"], ["/usr/bin/python3", "/w/srv.py"]),
        (["python3", "-m", "pkg.server"], ["/w/pkg/server.py", "/w/pkg/server/__main__.py"]),
        (["python", "-c", "import x"], []),
        (["node", "./srv/index.js"], ["/w/srv/index.js"]),
        (["deno", "run", "--allow-net", "main.ts"], ["/w/main.ts"]),
        (["uv", "run", "--with", "httpx", "server.py"], ["/w/server.py"]),
        (["uv", "run", "python", "tools/m.py"], ["/w/python", "/w/tools/m.py"]),
        (["bash", "-c", "cd t && ./go.sh"], ["/w/t/go.sh"]),
        (["npx", "-y", "some-server"], []),  # a package from the registry, not a file of the repository
        (["uvx", "tool"], []),
    ],
)
def test_the_program_and_an_interpreters_script_count(argv: list[str], expected: list[str]) -> None:
    assert [str(p) for p in argv_scripts(argv, W)] == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("cd x && ./build.sh > out.log 2>&1", ["/w/x/build.sh"]),
        ("bash scripts/check.sh # then ./not.sh\npython -m a", ["/w/scripts/check.sh", "/w/a.py", "/w/a/__main__.py"]),
        ("(cd sub; ./in.sh) && FOO=1 env -i ./out.sh | sh", ["/w/sub/in.sh", "/w/out.sh"]),
        ("cd $DIR; ./a.sh", []),  # where it runs is not known before the step runs
        ("{{inputs.cmd}} -q; ./b.sh {{inputs.x}}", ["/w/b.sh"]),
        ("pytest -q; ruff check .", []),  # what a program reads is out of sight
        ('bash "unclosed', []),
    ],
)
def test_each_simple_command_of_a_run_step_counts(text: str, expected: list[str]) -> None:
    assert [str(p) for p in shell_scripts(text, W)] == expected


def test_only_an_existing_file_inside_the_workspace_counts(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    (root / "tools").mkdir(parents=True)
    (root / "tools" / "a.sh").write_text("a")
    (tmp_path / "out.sh").write_text("o")
    (root / "tools" / "out.sh").symlink_to(tmp_path / "out.sh")
    (root / "tools" / "alias.sh").symlink_to(root / "tools" / "a.sh")
    assert inside(root / "tools" / "a.sh", root) == "tools/a.sh"
    assert inside(root / "tools" / "alias.sh", root) == "tools/a.sh"
    assert inside(root / ".." / "out.sh", root) is None
    assert inside(root / "tools" / "out.sh", root) is None
    assert inside(root / "tools", root) is None
    assert inside(root / "missing.sh", root) is None
    assert inside(Path("tools/a.sh"), root) is None
