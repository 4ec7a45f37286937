"""The directory picker's listing on a real filesystem: confined to a daemon's workspace roots
(symlinks resolved), never into system directories or a data dir; `~` is the daemon's home, for
listing and for adding a workspace."""

from __future__ import annotations

from pathlib import Path

import pytest

from reliant.daemon.directories import DirectoryBrowser
from reliant.daemon.tools.base import ToolFailure
from reliant.daemon.workspaces import Workspaces


def test_a_daemon_with_roots_lists_only_inside_them(tmp_path: Path) -> None:
    root = (tmp_path / "code").resolve()
    (root / "app" / ".git").mkdir(parents=True)
    (root / "lib").mkdir()
    (tmp_path / "elsewhere").mkdir()
    (root / "escape").symlink_to(tmp_path / "elsewhere")
    browser = DirectoryBrowser(roots=[root])
    listed = browser.list(str(root))
    shown = [(e["name"], e["git"], e["usable"]) for e in listed["entries"]]
    assert shown == [("app", True, True), ("lib", False, True)]
    assert listed["parent"] == "", "the root is the top of what may be listed"
    assert browser.list(str(root / "app"))["parent"] == str(root)
    for outside in (str(tmp_path), str(root / "escape"), str(root / "app" / ".." / "..")):
        with pytest.raises(ToolFailure, match="outside the directories this daemon may work in"):
            browser.list(outside)


def test_home_is_the_default_and_tilde_means_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = (tmp_path / "home").resolve()
    (home / "src").mkdir(parents=True)
    monkeypatch.setenv("HOME", str(home))
    browser = DirectoryBrowser(data_dirs=[home / ".reliant"])
    assert browser.list("")["path"] == str(home)
    assert browser.list("~/src")["path"] == str(home / "src")
    workspaces = Workspaces()
    assert workspaces.add("~/src") == home / "src"


def test_data_dirs_and_system_directories_are_never_listed(tmp_path: Path) -> None:
    data = (tmp_path / "data").resolve()
    (data / "secrets").mkdir(parents=True)
    (data / "demo-project").mkdir()
    browser = DirectoryBrowser(data_dirs=[data])
    around = browser.list(str(tmp_path))
    assert "data" not in [e["name"] for e in around["entries"]]
    assert not around["usable"] and "contains reliant's data dir" in around["reason"]
    with pytest.raises(ToolFailure, match="data dir"):
        browser.list(str(data / "secrets"))
    assert browser.list(str(data / "demo-project"))["usable"], "the demo project is the one exception"
    with pytest.raises(ToolFailure, match="system directory"):
        browser.list("/usr/lib")
