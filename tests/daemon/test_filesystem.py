"""File browsing: lazy tree honouring .gitignore, read with binary/image detection, save with conflict
detection, create/delete/rename, search, and confinement (.., absolute, symlink to /etc)."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path
from typing import Any

import pytest

from reliant.daemon.filesystem import MAX_READ_BYTES, FileService
from reliant.daemon.tools.base import ToolFailure

PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 32


@pytest.fixture
def tree(workspace: Path) -> Path:
    (workspace / ".gitignore").write_text("*.log\nbuild/\n!keep.log\n")
    (workspace / "src" / "pkg").mkdir(parents=True)
    (workspace / "src" / ".gitignore").write_text("generated.py\n")
    (workspace / "src" / "main.py").write_text("print('hello')\n")
    (workspace / "src" / "generated.py").write_text("x = 1\n")
    (workspace / "src" / "pkg" / "mod.py").write_text("def find_me():\n    return 42\n")
    (workspace / "build").mkdir()
    (workspace / "build" / "out.txt").write_text("find_me in build\n")
    (workspace / "debug.log").write_text("noise\n")
    (workspace / "keep.log").write_text("kept\n")
    (workspace / "README.md").write_text("# readme\nfind_me\n")
    (workspace / "logo.png").write_bytes(PNG)
    (workspace / "blob.bin").write_bytes(b"\0\1\2" * 100)
    (workspace / ".git").mkdir()
    return workspace


def names(listing: dict[str, Any]) -> list[str]:
    return [e["name"] for e in listing["entries"]]


def test_tree_is_one_level_dirs_first_and_honours_gitignore(tree: Path) -> None:
    fs = FileService()
    root = fs.tree(tree)
    assert names(root) == ["src", ".gitignore", "blob.bin", "keep.log", "logo.png", "README.md"]
    src = fs.tree(tree, "src")
    assert names(src) == ["pkg", ".gitignore", "main.py"]
    assert src["entries"][2]["path"] == "src/main.py" and src["entries"][2]["size"] == 15
    everything = fs.tree(tree, ".", show_ignored=True)
    ignored = {e["name"] for e in everything["entries"] if e["ignored"]}
    assert ignored == {"build", "debug.log"}


def test_read_detects_text_binary_and_images(tree: Path) -> None:
    fs = FileService()
    text = fs.read(tree, "src/main.py")
    assert text["content"] == "print('hello')\n" and not text["binary"]
    assert text["sha256"] == hashlib.sha256(b"print('hello')\n").hexdigest()
    image = fs.read(tree, "logo.png")
    assert image["mime"] == "image/png" and image["encoding"] == "base64"
    assert base64.b64decode(image["content"]) == PNG
    blob = fs.read(tree, "blob.bin")
    assert blob["binary"] and blob["content"] == "" and blob["size"] == 300
    (tree / "big.txt").write_text("a" * (MAX_READ_BYTES + 10))
    big = fs.read(tree, "big.txt")
    assert big["truncated"] and len(big["content"]) == MAX_READ_BYTES and big["size"] == MAX_READ_BYTES + 10


def test_save_detects_conflicts_by_content_hash(tree: Path) -> None:
    fs = FileService()
    seen = fs.read(tree, "src/main.py")
    saved = fs.save(tree, {"path": "src/main.py", "content": "print('v2')\n", "base_sha256": seen["sha256"]})
    assert saved["ok"] and not saved["created"] and (tree / "src/main.py").read_text() == "print('v2')\n"
    # Someone else changes it; a save based on the old version is a conflict, nothing is written.
    (tree / "src/main.py").write_text("print('external')\n")
    conflict = fs.save(tree, {"path": "src/main.py", "content": "print('v3')\n", "base_sha256": saved["sha256"]})
    assert conflict["ok"] is False and conflict["conflict"] is True
    assert conflict["current_sha256"] == hashlib.sha256(b"print('external')\n").hexdigest()
    assert (tree / "src/main.py").read_text() == "print('external')\n"
    forced = fs.save(tree, {"path": "src/main.py", "content": "print('v3')\n", "force": True})
    assert forced["ok"] and (tree / "src/main.py").read_text() == "print('v3')\n"
    created = fs.save(tree, {"path": "new/dir/file.txt", "content": "new\n"})
    assert created["created"] and (tree / "new/dir/file.txt").read_text() == "new\n"
    clash = fs.save(tree, {"path": "new/dir/file.txt", "content": "again\n"})
    assert clash["conflict"] and "already exists" in clash["error"]


def test_create_delete_rename(tree: Path) -> None:
    fs = FileService()
    assert fs.create(tree, {"path": "docs", "kind": "dir"})["ok"]
    assert fs.create(tree, {"path": "docs/a.md", "content": "A"})["size"] == 1
    with pytest.raises(ToolFailure, match="already exists"):
        fs.create(tree, {"path": "docs/a.md"})
    assert fs.rename(tree, {"path": "docs/a.md", "to": "docs/b.md"})["to"] == "docs/b.md"
    assert (tree / "docs/b.md").read_text() == "A"
    with pytest.raises(ToolFailure, match="not empty"):
        fs.delete(tree, {"path": "docs"})
    assert fs.delete(tree, {"path": "docs", "recursive": True})["ok"] and not (tree / "docs").exists()
    with pytest.raises(ToolFailure, match="workspace itself"):
        fs.delete(tree, {"path": ".", "recursive": True})


async def test_search_by_name_and_content_skips_ignored_files(tree: Path) -> None:
    fs = FileService()
    by_name = await fs.search(tree, {"query": "mod", "mode": "name"})
    assert by_name["results"] == [{"path": "src/pkg/mod.py"}]
    by_content = await fs.search(tree, {"query": "find_me", "mode": "content"})
    assert [(r["path"], r["line"]) for r in by_content["results"]] == [("README.md", 2), ("src/pkg/mod.py", 1)]
    regex = await fs.search(tree, {"query": r"return \d+", "mode": "content", "regex": True})
    assert regex["results"][0]["text"] == "    return 42"
    # Not a regex unless asked: `.` and `(` are plain characters; case is ignored unless asked.
    assert (await fs.search(tree, {"query": "PRINT('", "mode": "content"}))["results"][0]["path"] == "src/main.py"
    assert (await fs.search(tree, {"query": "PRINT", "mode": "content", "case_sensitive": True}))["results"] == []
    assert (await fs.search(tree, {"query": "m.d", "mode": "name"}))["results"] == []
    # Searching a subdirectory keeps the rules of the directories above it (build/ from the root).
    scoped = await fs.search(tree, {"query": "find_me", "mode": "content", "path": "src"})
    assert [r["path"] for r in scoped["results"]] == ["src/pkg/mod.py"]
    capped = await fs.search(tree, {"query": ".", "mode": "name", "regex": True, "max_results": 2})
    assert len(capped["results"]) == 2 and capped["truncated"] is True
    with pytest.raises(ToolFailure, match="invalid regular expression"):
        await fs.search(tree, {"query": "(?<=x)y", "mode": "content", "regex": True})


def test_paths_outside_the_workspace_are_refused(tree: Path, outside: Path) -> None:
    fs = FileService()
    (tree / "etc-link").symlink_to("/etc")
    (tree / "secret-link").symlink_to(outside / "secret.txt")
    for attempt in ("../outside/secret.txt", str(outside / "secret.txt"), "etc-link/passwd", "secret-link"):
        with pytest.raises(ToolFailure, match="outside the workspace"):
            fs.read(tree, attempt)
    with pytest.raises(ToolFailure, match="outside the workspace"):
        fs.tree(tree, "etc-link")
    with pytest.raises(ToolFailure, match="outside the workspace"):
        fs.save(tree, {"path": "../evil.txt", "content": "x"})
    with pytest.raises(ToolFailure, match="outside the workspace"):
        fs.rename(tree, {"path": "README.md", "to": "../stolen.md"})
    with pytest.raises(ToolFailure, match="outside the workspace"):
        fs.delete(tree, {"path": "../outside/secret.txt"})
    # Deleting a link removes the link, never what it points to.
    fs.delete(tree, {"path": "secret-link"})
    assert (outside / "secret.txt").exists() and not (tree / "secret-link").is_symlink()
    listed = {e["name"]: e for e in fs.tree(tree)["entries"]}
    assert listed["etc-link"]["type"] == "symlink" and listed["etc-link"]["target_type"] == "dir"
