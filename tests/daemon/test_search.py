"""glob and grep over a real tree: ignores, caps, patterns."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import pytest

from reliant.daemon.tools import search
from reliant.daemon.tools.ripgrep import Deadline, _read_capped, glob_regex, matching
from reliant.daemon.tools.search import MAX_GLOB_RESULTS, MAX_GREP_MATCHES
from reliant.domain.tools import ToolStatus
from tests.daemon.conftest import Run


@pytest.fixture
def tree(workspace: Path) -> Path:
    files = {
        "README.md": "# demo\nTODO: docs\n",
        "setup.py": "import setuptools\n",
        "src/app/main.py": "def main():\n    # TODO: argv\n    return 0\n",
        "src/app/view.tsx": "export const View = () => null // todo\n",
        "src/app/util.ts": "export const x = 1\n",
        ".git/config": "TODO in git\n",
        "node_modules/lib/index.js": "// TODO vendored\n",
        ".venv/lib/site.py": "# TODO venv\n",
        "src/__pycache__/main.cpython-311.pyc": "TODO cache\n",
    }
    for name, text in files.items():
        path = workspace / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    (workspace / "src" / "blob.bin").write_bytes(b"TODO\0binary")
    return workspace


async def globbed(pattern: str, *paths: str) -> list[str]:
    """Those of `paths` the glob matches, matched as the tools do (by ripgrep)."""
    hits, _ = await matching(glob_regex(pattern), list(paths), deadline=Deadline(10), limit=100, whole=True)
    return [paths[i] for i in hits]


async def test_glob_patterns() -> None:
    assert await globbed("**/*.py", "a/b/c.py", "c.py", "c.pyc", "a/c.txt") == ["a/b/c.py", "c.py"]
    assert await globbed("*.py", "a/c.py", "c.py") == ["c.py"]
    assert await globbed("src/*.{ts,tsx}", "src/v.tsx", "src/v.js", "src/a/v.ts") == ["src/v.tsx"]
    assert await globbed("file?.[ch]", "file1.c", "file1.o", "file12.c") == ["file1.c"]
    assert await globbed("file?.[!ch]", "file1.c", "file1.o") == ["file1.o"]
    assert await globbed("src/**", "src/a/b", "srcs/a") == ["src/a/b"]
    assert await globbed("./a.txt", "a.txt", "b/a.txt") == ["a.txt"]
    # Characters that mean something to a regex are taken literally.
    assert await globbed("a+b (1)[&]-$^.txt", "a+b (1)&-$^.txt", "aab (1)&-$^.txt") == ["a+b (1)&-$^.txt"]


async def test_patterns_that_make_a_backtracking_engine_explode_take_no_time() -> None:
    """`*a*a*a*a*a*b` over a long name took ~30 s in Python's re; `**/` repeated, seconds."""
    names = ["a" * 250, "a/" * 40 + "y", "a" * 249 + "b"]
    started = time.perf_counter()
    assert await globbed("*a*a*a*a*a*a*a*b", *names) == ["a" * 249 + "b"]
    assert await globbed("**/" * 12 + "z", *names) == []
    assert time.perf_counter() - started < 5


async def test_glob_finds_files_and_skips_ignored_directories(run: Run, tree: Path) -> None:
    result = await run("glob", pattern="**/*.py")
    assert result.status is ToolStatus.OK
    assert result.output.splitlines() == ["setup.py", "src/app/main.py"]
    assert result.data == {"count": 2, "shown": 2, "truncated": False}
    top = await run("glob", pattern="*.py")
    assert top.output == "setup.py"
    scoped = await run("glob", pattern="*.{ts,tsx}", path="src/app")
    assert scoped.output.splitlines() == ["src/app/util.ts", "src/app/view.tsx"]
    absolute = await run("glob", pattern=f"{tree}/src/**/*.ts")
    assert absolute.output == "src/app/util.ts"
    none = await run("glob", pattern="**/*.rs")
    assert none.status is ToolStatus.OK and none.output.startswith("no files match **/*.rs")


async def test_glob_caps_its_results_and_says_so(run: Run, workspace: Path) -> None:
    many = workspace / "many"
    many.mkdir()
    for i in range(MAX_GLOB_RESULTS + 50):
        (many / f"f{i:05}.txt").write_text("")
    result = await run("glob", pattern="many/*.txt")
    lines = result.output.splitlines()
    assert len(lines) == MAX_GLOB_RESULTS + 1
    assert (
        lines[-1] == f"[showing {MAX_GLOB_RESULTS} of {MAX_GLOB_RESULTS + 50} matches; narrow the pattern or the path]"
    )
    assert result.data == {"count": MAX_GLOB_RESULTS + 50, "shown": MAX_GLOB_RESULTS, "truncated": True}


async def test_glob_errors(run: Run, tree: Path) -> None:
    not_dir = await run("glob", pattern="*", path="setup.py")
    assert not_dir.status is ToolStatus.ERROR and "not a directory" in not_dir.error
    missing = await run("glob", pattern="*", path="nope")
    assert missing.status is ToolStatus.ERROR and "not found: nope" in missing.error


async def test_grep_prints_path_line_text_and_skips_ignored_and_binary_files(run: Run, tree: Path) -> None:
    result = await run("grep", pattern="TODO")
    assert result.status is ToolStatus.OK
    assert result.output.splitlines() == ["README.md:2:TODO: docs", "src/app/main.py:2:    # TODO: argv"]
    assert result.data == {"matches": 2, "files": 2, "truncated": False}
    insensitive = await run("grep", pattern="(?i)todo", glob="*.tsx")
    assert insensitive.output == "src/app/view.tsx:1:export const View = () => null // todo"
    by_path = await run("grep", pattern=r"return \d", glob="src/**/*.py")
    assert by_path.output == "src/app/main.py:3:    return 0"
    one_file = await run("grep", pattern="^#", path="README.md")
    assert one_file.output == "README.md:1:# demo"
    none = await run("grep", pattern="nothing-like-this")
    assert none.status is ToolStatus.OK and none.output.startswith("no matches")
    assert none.data["matches"] == 0


async def test_grep_rejects_a_bad_regex(run: Run, tree: Path) -> None:
    result = await run("grep", pattern="(unclosed")
    assert result.status is ToolStatus.ERROR and "invalid regular expression" in result.error


async def test_grep_caps_matches_and_long_lines(run: Run, workspace: Path) -> None:
    (workspace / "big.txt").write_text("hit\n" * (MAX_GREP_MATCHES + 100))
    (workspace / "wide.txt").write_text("hit" + "x" * 5000 + "\n")
    result = await run("grep", pattern="hit", path="big.txt")
    lines = result.output.splitlines()
    assert len(lines) == MAX_GREP_MATCHES + 1 and lines[-1].startswith(f"[stopped at {MAX_GREP_MATCHES}")
    assert result.data["truncated"] is True
    wide = await run("grep", pattern="hit", path="wide.txt")
    assert len(wide.output) < 400 and wide.output.endswith("…")


async def test_glob_and_grep_honour_gitignore_files(run: Run, workspace: Path) -> None:
    files = {
        ".gitignore": "build/\n*.log\n!keep.log\n",
        "src/.gitignore": "generated_*.py\n",
        "src/app.py": "# TODO app\n",
        "src/generated_api.py": "# TODO generated\n",
        "build/out.py": "# TODO built\n",
        "debug.log": "TODO log\n",
        "keep.log": "TODO kept\n",
    }
    for name, text in files.items():
        (workspace / name).parent.mkdir(parents=True, exist_ok=True)
        (workspace / name).write_text(text)
    (workspace / ".git" / "info").mkdir(parents=True)
    (workspace / ".git" / "info" / "exclude").write_text("scratch.py\n")
    (workspace / "scratch.py").write_text("# TODO scratch\n")

    assert (await run("glob", pattern="**/*.py")).output.splitlines() == ["src/app.py"]
    assert (await run("glob", pattern="*.log")).output == "keep.log"
    grep = await run("grep", pattern="TODO")
    assert grep.output.splitlines() == ["keep.log:1:TODO kept", "src/app.py:1:# TODO app"]
    # An ignored directory named as the path is searched as asked.
    assert (await run("glob", pattern="*.py", path="build")).output == "build/out.py"
    assert (await run("grep", pattern="TODO", path="build")).output == "build/out.py:1:# TODO built"


async def test_directory_links_are_neither_walked_nor_listed(run: Run, workspace: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.py").write_text("# TODO secret\n")
    (workspace / "linked").symlink_to(outside)
    (workspace / "real.py").write_text("# TODO real\n")

    assert (await run("glob", pattern="**/*")).output == "real.py"
    assert (await run("grep", pattern="TODO")).output == "real.py:1:# TODO real"


async def test_a_subdirectory_search_keeps_the_rules_above_it_and_none_above_the_workspace(
    run: Run, workspace: Path
) -> None:
    (workspace.parent / ".gitignore").write_text("*\n")  # outside the workspace: not ours
    files = {
        ".gitignore": "*.tmp\n/src/lib/vendored.py\n",
        "src/.gitignore": "gen/\n/top_only.py\n!keep.tmp\n",
        "src/lib/a.py": "# TODO a\n",
        "src/lib/vendored.py": "# TODO vendored\n",
        "src/lib/x.tmp": "# TODO tmp\n",
        "src/lib/keep.tmp": "# TODO keep\n",
        "src/lib/gen/g.py": "# TODO generated\n",
        "src/lib/top_only.py": "# TODO deeper, not anchored here\n",
        "src/top_only.py": "# TODO anchored\n",
    }
    for name, text in files.items():
        (workspace / name).parent.mkdir(parents=True, exist_ok=True)
        (workspace / name).write_text(text)
    expected = ["src/lib/a.py", "src/lib/keep.tmp", "src/lib/top_only.py"]
    listed = {
        ".": [".gitignore", "src/.gitignore", *expected],
        "src": ["src/.gitignore", *expected],
        "src/lib": expected,
    }
    for path, files_there in listed.items():
        assert (await run("glob", pattern="**/*", path=path)).output.splitlines() == files_there, path
        grep = await run("grep", pattern="TODO", path=path)
        assert [line.split(":")[0] for line in grep.output.splitlines()] == expected, path


async def test_a_pathological_pattern_is_answered_at_once(run: Run, workspace: Path) -> None:
    """`(a+)+$` over 30 a's and a `!` took ~30 s in Python's re, holding the GIL of every role."""
    (workspace / "evil.txt").write_text("a" * 30 + "!\n" + "aaa\n")
    started = time.perf_counter()
    result = await run("grep", pattern="(a+)+$")
    assert result.output == "evil.txt:2:aaa"
    assert time.perf_counter() - started < 5


async def test_a_search_rg_cannot_finish_in_time_stops_at_its_deadline_and_says_so(
    run: Run, workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """10 MB of lines linked a thousand times: 10 GB for rg to read, far more than a second's work."""
    monkeypatch.setattr(search, "SEARCH_SECONDS", 1.0)
    big = workspace / "big.txt"
    big.write_text("lorem ipsum dolor sit amet 12345\n" * 300_000)
    for i in range(1000):
        os.link(big, workspace / f"copy{i}.txt")
    started = time.monotonic()
    result = await run("grep", pattern=r"\w+\s\w+\s\d{6,}")
    took = time.monotonic() - started
    assert result.status is ToolStatus.OK
    assert result.output.splitlines()[-1] == "[search stopped after 1s; results may be incomplete]"
    assert result.data["truncated"] is True
    assert took < 1.0 + 2.0, took  # the deadline, and a margin for a loaded machine to stop rg


async def test_patterns_ripgrep_cannot_run_are_refused_with_its_reason(run: Run, workspace: Path) -> None:
    (workspace / "a.txt").write_text("x\n")
    lookaround = await run("grep", pattern="(?<=x)y")
    assert lookaround.status is ToolStatus.ERROR
    assert "invalid regular expression '(?<=x)y'" in lookaround.error and "look-around" in lookaround.error
    bad_glob = await run("grep", pattern="x", glob="[z-a]")
    assert bad_glob.status is ToolStatus.ERROR and "invalid glob pattern '[z-a]'" in bad_glob.error


async def test_an_error_written_in_pieces_is_read_whole_and_capped() -> None:
    """ripgrep writes "rg: " and its reason in two writes; one read took only the first, and every
    refusal said "ripgrep failed" when the machine was busy."""
    script = "printf 'rg: ' >&2; sleep 0.2; printf 'regex parse error' >&2; printf '%0200d' 0 >&2"
    proc = await asyncio.create_subprocess_exec("sh", "-c", script, stderr=asyncio.subprocess.PIPE)
    assert proc.stderr is not None
    said = await _read_capped(proc.stderr, 100)
    await proc.wait()
    assert said.startswith(b"rg: regex parse error") and len(said) == 100
