"""The project page in real Chromium against `reliant up`: the trust step shows exactly what a
project's own files would run and nothing runs before Trust (a marker file the MCP server command
writes proves it); the MCP tab says why its servers are held back and trusts them from there; Remove
forgets a project after a confirmation and leaves its files alone."""

from __future__ import annotations

import json
import re
import sys
import unicodedata
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Locator, Page, expect

from tests.e2e.harness import Appliance, Rest, clean_env
from tests.web.browser import PageErrors, chromium, new_page

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

TEST_SERVER = Path(__file__).resolve().parents[1] / "daemon" / "servers" / "reliant_test_mcp.py"


@pytest.fixture(scope="module")
def appliance(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Appliance]:
    up = Appliance(tmp_path_factory.mktemp("web-projects") / "data", env=clean_env())
    up.start()
    yield up
    up.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as b:
        yield b


def signed_in(browser: Browser, up: Appliance) -> tuple[Page, PageErrors]:
    assert up.proc is not None
    found = re.findall(r"Open (http://\S+/\?token=\S+)", up.proc.output())
    assert found, up.proc.output()
    page = new_page(browser)
    errors = PageErrors(page)
    page.goto(found[-1])
    expect(page).to_have_url(up.url + "/")
    return page, errors


def mcp_tab(page: Page) -> Locator:
    toggle = page.get_by_role("button", name="Workspace panel", exact=True)
    if toggle.get_attribute("aria-expanded") != "true":
        toggle.click()
    page.get_by_role("tab", name="MCP", exact=True).click()
    section = page.get_by_role("tabpanel", name="MCP", exact=True)
    expect(section).to_be_visible()
    return section


def test_the_trust_step_shows_what_would_run_and_nothing_runs_before_trust(
    browser: Browser, appliance: Appliance, tmp_path: Path, artifacts_dir: Path
) -> None:
    marker = tmp_path / "ran.txt"
    path = (tmp_path / "cloned").resolve()
    (path / ".reliant").mkdir(parents=True)
    servers = {
        "repo": {
            "command": sys.executable,
            "args": [str(TEST_SERVER), "--marker", str(marker)],
            "env": {"API_KEY": "x"},
        },
        "remote": {"type": "http", "url": "http://127.0.0.1:9/mcp", "headers": {"X-Key": "k"}, "disabled": True},
    }
    (path / ".reliant" / "mcp.json").write_text(json.dumps({"mcpServers": servers}))
    (path / ".reliant" / "workflows").mkdir()
    (path / ".reliant" / "workflows" / "checks.yaml").write_text(
        "name: checks\nentry: lint\nnodes:\n  - {id: lint, type: run, command: ruff check . && ./lint.sh}\n"
    )
    (path / "lint.sh").write_text("mypy .\n")
    (path / ".reliant" / "presets").mkdir()
    (path / ".reliant" / "presets" / "fast.yaml").write_text("model: scripted:/x.yaml\n")
    project = Rest(appliance.url, appliance.token).project(path)
    command = f"{sys.executable} {TEST_SERVER} --marker {marker}"

    page, errors = signed_in(browser, appliance)
    page.goto(f"{appliance.url}/projects/{project['id']}")
    step = page.get_by_role("region", name="Trust this project")
    expect(step).to_be_visible()
    expect(step.get_by_role("heading")).to_have_text("Trust this project?")
    expect(step.get_by_label("Command of repo")).to_have_text(command)
    repo = step.locator('li.trust-item[data-name="repo"]')
    expect(repo).to_contain_text("Environment API_KEY")
    expect(repo).to_contain_text(f"In {path}")
    remote = step.locator('li.trust-item[data-name="remote"]')
    expect(remote.get_by_label("URL of remote")).to_have_text("http://127.0.0.1:9/mcp")
    expect(remote).to_contain_text("Headers X-Key")
    expect(remote).to_contain_text("disabled")
    checks = ".reliant/workflows/checks.yaml"
    expect(step.get_by_label(f"Command of step lint of {checks}")).to_have_text("ruff check . && ./lint.sh")
    script = step.locator('li.trust-item[data-kind="script"]')
    expect(script).to_contain_text("Script lint.sh")
    preset = step.locator('li.trust-item[data-kind="preset"]')
    expect(preset).to_contain_text("Preset .reliant/presets/fast.yaml")
    expect(step.locator('li.trust-item[data-kind="mcp_server"]')).to_have_count(2)
    page.screenshot(path=artifacts_dir / "web-trust-step.png")

    step.get_by_role("button", name="Not now").click()
    expect(step).to_be_hidden()
    held = page.locator(".trust-line-held")
    expect(held).to_contain_text(f"not trusted: 1 server would run: {command}")
    assert not marker.exists()

    section = mcp_tab(page)
    expect(section.locator(".mcp-trust-note")).to_contain_text(f"not trusted: 1 server would run: {command}")
    card = section.locator('li.mcp[data-name="repo"]')
    expect(card).to_have_attribute("data-status", "untrusted")
    expect(card.get_by_label("What repo would run")).to_have_text(command)
    expect(card.get_by_role("button", name="Restart")).to_have_count(0)
    assert not marker.exists()

    section.get_by_role("button", name="Review and trust").click()
    dialog = page.get_by_role("dialog", name="Trust this project")
    expect(dialog.get_by_label("Command of repo")).to_have_text(command)
    dialog.get_by_role("button", name="Trust and run these").click()
    expect(dialog).to_be_hidden()
    expect(card).to_have_attribute("data-status", "healthy", timeout=30_000)
    expect(section.locator(".mcp-trust-note")).to_have_count(0)
    assert marker.exists()
    page.reload()
    expect(page.locator(".trust-line")).to_contain_text("Trusted: its own MCP servers and workflows may run.")
    errors.check()


def test_the_trust_step_names_the_invisible_characters_of_a_command(
    browser: Browser, appliance: Appliance, tmp_path: Path
) -> None:
    # Bidi controls in the script: laid out by them it reads `sh -c 'echo ok '#  ; touch pwned`.
    path = (tmp_path / "bidi").resolve()
    (path / ".reliant").mkdir(parents=True)
    servers = {"repo": {"command": "sh", "args": ["-c", "echo ok \u202e\u2066 ; touch pwned \u2069 \u2066#\u2069"]}}
    (path / ".reliant" / "mcp.json").write_text(json.dumps({"mcpServers": servers}))
    project = Rest(appliance.url, appliance.token).project(path)

    page, errors = signed_in(browser, appliance)
    page.goto(f"{appliance.url}/projects/{project['id']}")
    step = page.get_by_role("region", name="Trust this project")
    shown = step.get_by_label("Command of repo").inner_text()
    assert not [c for c in shown if unicodedata.category(c) == "Cf"], repr(shown)
    assert shown == "sh -c 'echo ok ⟨U+202E⟩⟨U+2066⟩ ; touch pwned ⟨U+2069⟩ ⟨U+2066⟩#⟨U+2069⟩'"
    step.get_by_role("button", name="Not now").click()
    expect(step).to_be_hidden()
    assert not (path / "pwned").exists()
    errors.check()


def test_remove_asks_then_forgets_the_project_and_keeps_its_files(
    browser: Browser, appliance: Appliance, tmp_path: Path
) -> None:
    path = (tmp_path / "unwanted").resolve()
    path.mkdir()
    (path / "notes.txt").write_text("keep me\n")
    rest = Rest(appliance.url, appliance.token)
    project = rest.project(path)
    rest.chat(project["id"], "scripted:demo")

    page, errors = signed_in(browser, appliance)
    page.goto(f"{appliance.url}/projects/{project['id']}")
    remove = page.get_by_role("button", name="Remove project unwanted")
    remove.click()
    confirm = page.get_by_role("dialog", name="Remove project?")
    expect(confirm).to_contain_text(f"The directory {path} and its files stay on disk.")
    confirm.get_by_role("button", name="Cancel").click()
    expect(page).to_have_url(f"{appliance.url}/projects/{project['id']}")
    assert any(p["id"] == project["id"] for p in rest.call("GET", "/api/projects"))

    remove.click()
    confirm.get_by_role("button", name="Remove project").click()
    expect(page).to_have_url(appliance.url + "/")
    expect(page.get_by_role("list", name="Projects")).not_to_contain_text("unwanted")
    assert all(p["id"] != project["id"] for p in rest.call("GET", "/api/projects"))
    assert (path / "notes.txt").read_text() == "keep me\n"
    errors.check()
