"""Dangerous workspaces are refused by the daemon: the filesystem root, system directories, a data
dir, its parents and its insides (but the demo project); with roots, anything outside them."""

from __future__ import annotations

import json
from pathlib import Path, PurePosixPath

import pytest

from reliant.daemon.workspaces import WorkspaceError, Workspaces
from reliant.domain.workspace_policy import workspace_refusal


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("/", "the filesystem root"),
        ("//", "the filesystem root"),
        ("/etc", "/etc is a system directory"),
        ("//etc", "/etc is a system directory"),
        ("/usr/share/doc", "inside the system directory /usr"),
        ("/lib64", "/lib64 is a system directory"),
        ("/var/lib", "inside the system directory /var"),
        ("/proc/self", "inside the system directory /proc"),
        ("/srv/data", "it is reliant's data dir"),
        ("/srv", "it contains reliant's data dir /srv/data"),
        ("/srv/data/secrets", "inside reliant's data dir /srv/data"),
        ("/srv/data/postgres", "inside reliant's data dir /srv/data"),
        ("/srv/project", ""),
        ("/srv/data/demo-project", ""),
        ("/home/user/src/app", ""),
        ("/etcetera", ""),
    ],
)
def test_what_can_never_be_a_workspace(path: str, reason: str) -> None:
    refusal = workspace_refusal(PurePosixPath(path), [PurePosixPath("/srv/data")])
    assert (reason in refusal) if reason else refusal == ""


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    data = tmp_path / "data"
    (data / "secrets").mkdir(parents=True)
    (data / "secrets" / "api_token").write_text("api-token-secret\n")
    return data.resolve()


@pytest.mark.parametrize("given", ["/", "/etc", "/usr/lib", "/proc", "DATA", "DATA/secrets", "PARENT", "LINK_TO_ETC"])
def test_the_daemon_refuses_to_add_a_dangerous_workspace(tmp_path: Path, data_dir: Path, given: str) -> None:
    (tmp_path / "etc-link").symlink_to("/etc")
    path = {"DATA": str(data_dir), "PARENT": str(tmp_path), "LINK_TO_ETC": str(tmp_path / "etc-link")}.get(
        given, given.replace("DATA", str(data_dir))
    )
    workspaces = Workspaces(state_file=data_dir / "daemon-workspaces.json", data_dirs=[data_dir])
    with pytest.raises(WorkspaceError) as refused:
        workspaces.add(path)
    assert refused.value.path == path
    assert any(word in refused.value.reason for word in ("root", "system directory", "data dir"))
    assert workspaces.paths == [] and workspaces.find(path) is None
    assert not (data_dir / "daemon-workspaces.json").exists()


def test_the_demo_project_inside_the_data_dir_is_allowed(data_dir: Path) -> None:
    demo = data_dir / "demo-project"
    demo.mkdir()
    assert Workspaces(data_dirs=[data_dir]).add(str(demo)) == demo


def test_configured_and_persisted_dangerous_workspaces_are_dropped(tmp_path: Path, data_dir: Path) -> None:
    """A workspace kept from an earlier version (or edited into the file) is not used."""
    good = tmp_path / "project"
    good.mkdir()
    state = data_dir / "daemon-workspaces.json"
    state.write_text(json.dumps({"workspaces": ["/", str(data_dir), "/etc", str(good)]}))
    workspaces = Workspaces([Path("/"), data_dir, good], state, data_dirs=[data_dir])
    workspaces.load()
    assert workspaces.paths == [good.resolve()]
    assert workspaces.find("/") is None and workspaces.find(str(data_dir)) is None
    assert workspaces.find(str(data_dir / "secrets")) is None


def test_a_daemon_with_roots_accepts_workspaces_only_inside_them(tmp_path: Path, data_dir: Path) -> None:
    root = tmp_path / "src"
    inside, outside = root / "app", tmp_path / "elsewhere"
    inside.mkdir(parents=True)
    outside.mkdir()
    (root / "escape").symlink_to(outside)
    workspaces = Workspaces([root], data_dirs=[data_dir], roots=[root])
    assert workspaces.add(str(inside)) == inside.resolve()
    for path in (outside, root / "escape"):
        with pytest.raises(WorkspaceError) as refused:
            workspaces.add(str(path))
        assert f"outside the directories this daemon may work in ({root.resolve()})" in refused.value.reason
