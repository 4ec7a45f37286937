"""glob and grep over a real tree: ignores, caps, patterns."""

from __future__ import annotations

from pathlib import Path

import pytest

from reliant.daemon.tools.search import MAX_GLOB_RESULTS, MAX_GREP_MATCHES, compile_glob
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


def test_glob_patterns() -> None:
    assert compile_glob("**/*.py").match("a/b/c.py") and compile_glob("**/*.py").match("c.py")
    assert not compile_glob("*.py").match("a/c.py")
    assert compile_glob("src/*.{ts,tsx}").match("src/v.tsx") and not compile_glob("src/*.{ts,tsx}").match("src/v.js")
    assert compile_glob("file?.[ch]").match("file1.c") and not compile_glob("file?.[!ch]").match("file1.c")
    assert compile_glob("src/**").match("src/a/b") and compile_glob("./a.txt").match("a.txt")


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
