"""The agent tree in the web UI, in real Chromium against `reliant up`: it appears beside the
transcript as a chat's agents are spawned, live (name, task, status), with a child under its parent;
an ended agent's worktree is merged from its row, and a sub-agent's approval card names the agent."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from playwright.sync_api import expect

from tests.e2e.harness import Appliance, Rest, clean_env
from tests.web.browser import PageErrors, chromium

pytestmark = [pytest.mark.e2e, pytest.mark.browser]


@pytest.fixture(scope="module")
def appliance(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Appliance]:
    up = Appliance(tmp_path_factory.mktemp("web-agents") / "data", env=clean_env())
    up.start()
    yield up
    up.stop()


def git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


def test_the_agent_tree_shows_live_and_merges_a_worktree(
    appliance: Appliance, tmp_path: Path, artifacts_dir: Path
) -> None:
    root = tmp_path / "proj"
    scripts = root / "scripted"
    scripts.mkdir(parents=True)
    git(root, "init", "-q", "-b", "main")
    git(root, "-c", "user.email=t@example.com", "-c", "user.name=t", "commit", "-q", "--allow-empty", "-m", "base")
    writer = scripts / "writer.yaml"
    writer.write_text(
        yaml.safe_dump(
            {"turns": [{"tools": [{"name": "shell", "input": {"command": "echo w > w.txt"}}]}, {"text": "wrote"}]}
        )
    )
    asker = scripts / "asker.yaml"
    asker.write_text(
        yaml.safe_dump({"turns": [{"tools": [{"name": "shell", "input": {"command": "echo asked"}}]}, {"text": "ran"}]})
    )
    parent = scripts / "parent.yaml"
    spawn = {"name": "spawn_agent"}
    parent.write_text(
        yaml.safe_dump(
            {
                "turns": [
                    {
                        "tools": [
                            {
                                **spawn,
                                "input": {
                                    "task": "write w.txt",
                                    "name": "writer",
                                    "worktree": True,
                                    "model": f"scripted:{writer}",
                                },
                            }
                        ]
                    },
                    {
                        "tools": [
                            {**spawn, "input": {"task": "run a command", "name": "asker", "model": f"scripted:{asker}"}}
                        ]
                    },
                    {"text": "all done"},
                ]
            }
        )
    )
    rest = Rest(appliance.url, appliance.token)
    made = rest.project(root)
    chat = rest.chat(made["id"], f"scripted:{parent}")
    with chromium() as browser:
        page = browser.new_context(viewport={"width": 1440, "height": 900}).new_page()
        page.set_default_timeout(30_000)
        expect.set_options(timeout=30_000)
        errors = PageErrors(page, ())
        page.goto(f"{appliance.url}/?token={appliance.token}")
        page.goto(f"{appliance.url}/chats/{chat['id']}")
        expect(page.locator("section.chat")).to_have_attribute("data-feed", "live")
        panel = page.locator("aside.agent-panel")
        expect(panel).to_be_hidden()  # no agents yet
        page.get_by_role("radiogroup", name="Mode").get_by_text("Manual").click()
        expect(page.get_by_role("radiogroup", name="Mode").locator("input[value=manual]")).to_be_checked()
        composer = page.get_by_role("textbox", name="Message")
        composer.fill("go")
        composer.press("Enter")

        card = page.locator(".gate[data-kind=approval][data-status=pending]")
        expect(card).to_be_visible()
        expect(card.locator(".gate-agent")).to_contain_text("from agent writer — write w.txt")
        expect(panel).to_be_visible()
        writer_row = panel.locator(".agent-row", has_text="writer")
        expect(writer_row).to_have_attribute("data-status", "running")
        card.get_by_role("button", name="Approve").first.click()
        card = page.locator(".gate[data-kind=approval][data-status=pending]")
        expect(card.locator(".gate-agent")).to_contain_text("from agent asker")
        card.get_by_role("button", name="Approve").first.click()
        expect(page.locator("section.chat")).to_have_attribute("data-status", "idle")
        expect(panel.locator(".agent-row")).to_have_count(2)
        expect(writer_row).to_have_attribute("data-status", "done")
        expect(writer_row.locator(".agent-worktree")).to_contain_text("active")
        page.screenshot(path=artifacts_dir / "web-agent-tree.png")
        writer_row.get_by_role("button", name="Merge").click()
        expect(writer_row.locator(".agent-worktree")).to_contain_text("merged")
        assert (root / "w.txt").read_text() == "w\n"
        errors.check()
