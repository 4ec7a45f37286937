"""The agent tree in the web UI, in real Chromium against `reliant up`: it appears beside the
transcript as a chat's agents are spawned, live (name, task, status), with a child under its parent;
an ended agent's worktree is merged from its row, and a sub-agent's approval card names the agent."""

from __future__ import annotations

import subprocess
import unicodedata
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from playwright.sync_api import expect

from tests.e2e.harness import Appliance, Rest, clean_env
from tests.e2e.test_web_daily import Wcag
from tests.web.browser import PageErrors, chromium

pytestmark = [pytest.mark.e2e, pytest.mark.browser]


@pytest.fixture(scope="module")
def appliance(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Appliance]:
    up = Appliance(tmp_path_factory.mktemp("web-agents") / "data", env=clean_env())
    up.start()
    yield up
    up.stop()


# Whether an element matching the selector has a text node "null" (a missing child drawn as text).
NULL_TEXT = """(sel) => [...document.querySelectorAll(sel)].some((el) =>
  [...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim() === "null"))"""


def git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


def git_project(tmp_path: Path) -> tuple[Path, Path]:
    """A git repository with one commit (agents' worktrees branch from it), and its folder of scripts."""
    root = tmp_path / "proj"
    scripts = root / "scripted"
    scripts.mkdir(parents=True)
    git(root, "init", "-q", "-b", "main")
    git(root, "-c", "user.email=t@example.com", "-c", "user.name=t", "commit", "-q", "--allow-empty", "-m", "base")
    return root, scripts


def test_the_agent_tree_shows_live_and_merges_a_worktree(
    appliance: Appliance, tmp_path: Path, artifacts_dir: Path
) -> None:
    root, scripts = git_project(tmp_path)
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


def test_an_agent_opens_from_the_tree_with_its_live_transcript_diff_and_merge_and_the_way_back(
    appliance: Appliance, tmp_path: Path, artifacts_dir: Path
) -> None:
    root, scripts = git_project(tmp_path)
    writer = scripts / "writer.yaml"
    writer.write_text(
        yaml.safe_dump(
            {
                "turns": [
                    {"text": "writing the file", "tools": [{"name": "shell", "input": {"command": "echo w > w.txt"}}]},
                    {"text": "wrote it"},
                ]
            }
        )
    )
    parent = scripts / "parent.yaml"
    spawn = {"task": "write w.txt", "name": "writer", "worktree": True, "model": f"scripted:{writer}"}
    parent.write_text(
        yaml.safe_dump(
            {"turns": [{"tools": [{"name": "spawn_agent", "input": spawn}]}, {"text": "the parent is done"}]}
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
        page.get_by_role("radiogroup", name="Mode").get_by_text("Manual").click()
        expect(page.get_by_role("radiogroup", name="Mode").locator("input[value=manual]")).to_be_checked()
        composer = page.get_by_role("textbox", name="Message")
        composer.fill("go")
        composer.press("Enter")

        row = page.locator("aside.agent-panel .agent-row", has_text="writer")
        expect(row).to_have_attribute("data-status", "running")
        agent_id = row.get_attribute("data-agent-id")
        assert agent_id
        row.locator(".agent-task").click()  # anywhere on the row
        expect(page).to_have_url(f"{appliance.url}/chats/{chat['id']}/agents/{agent_id}")
        view = page.locator("section.agent-view")
        expect(view).to_have_attribute("data-feed", "live")
        expect(view.locator(".chat-title")).to_have_text("writer")
        expect(view).to_have_attribute("data-status", "running")
        expect(view.locator(".agent-view-task")).to_have_text("write w.txt")
        crumbs = page.locator(".crumbs")
        expect(crumbs.get_by_role("link", name="proj", exact=True)).to_be_visible()  # the project, then the chat
        expect(crumbs.get_by_role("link", name="go", exact=True)).to_have_attribute("href", f"/chats/{chat['id']}")
        expect(crumbs).to_contain_text("writer")
        log = view.locator(".rows")
        expect(log).to_contain_text("writing the file")
        # Its approval waits on its own tool card, and is answered here: by key, as in the chat's view.
        card = log.locator(".gate[data-kind=approval][data-status=pending]")
        expect(card).to_be_visible()
        expect(card).to_have_attribute("data-keys", "on")
        # The sidebar shows the chat (current: on the accent background) waiting: still legible.
        sidebar_pill = page.locator(".chat-item:has(.chat-link[aria-current='page']) .pill-waiting")
        expect(sidebar_pill).to_be_visible()
        waiting_check = Wcag()
        waiting_check(page, "an agent's view, its approval waiting")
        waiting_check.check()
        page.keyboard.press("y")
        # Live: its command's result and its answer arrive while the view is open.
        expect(log).to_contain_text("wrote it")
        expect(log.locator(".tool").first).to_contain_text("echo w > w.txt")
        expect(view).to_have_attribute("data-status", "done")
        expect(log).not_to_contain_text("the parent is done")
        expect(log).not_to_contain_text("go")
        worktree = view.locator(".agent-view-worktree")
        expect(worktree).to_contain_text("active")
        expect(worktree.locator(".wt-file[data-path='w.txt']")).to_contain_text("+1")
        expect(worktree.locator(".wt-file[data-path='w.txt'] pre.diff")).to_contain_text("+w")
        assert not page.evaluate(NULL_TEXT, ".agent-view-worktree, .agent-diff"), "nothing drawn as 'null'"
        page.screenshot(path=artifacts_dir / "web-agent-view.png")
        accessible = Wcag()
        accessible(page, "an agent's view, its worktree active")
        # Kept, it is still the user's to merge (or remove) later: only Keep goes.
        worktree.get_by_role("button", name="Keep").click()
        expect(worktree.locator(".agent-wt-state")).to_have_text(" kept")
        expect(worktree.get_by_role("button", name="Keep")).to_have_count(0)
        expect(worktree.get_by_role("button", name="Remove")).to_be_visible()
        worktree.get_by_role("button", name="Merge").click()
        expect(worktree.locator(".agent-wt-state")).to_have_text(" merged")
        assert (root / "w.txt").read_text() == "w\n"
        expect(worktree).to_contain_text("Merged into the project's branch.")
        expect(worktree.get_by_role("button", name="Merge")).to_have_count(0)
        assert not page.evaluate(NULL_TEXT, ".agent-view-worktree, .agent-diff")

        # The way back: the link; the chat's transcript (also after a reload) has not the agent's.
        view.get_by_role("link", name="← Back to the chat").click()
        expect(page).to_have_url(f"{appliance.url}/chats/{chat['id']}")
        chat_log = page.locator("section.chat .rows")
        expect(chat_log).to_contain_text("the parent is done")
        page.reload()
        expect(page.locator("section.chat")).to_have_attribute("data-feed", "live")
        expect(chat_log).to_contain_text("the parent is done")
        expect(chat_log).not_to_contain_text("wrote it")

        # By keyboard: the agent's name is a link; Escape goes back.
        name = page.locator("aside.agent-panel a.agent-name", has_text="writer")
        name.focus()
        page.keyboard.press("Enter")
        expect(page.locator("section.agent-view")).to_have_attribute("data-feed", "live")
        expect(page.locator("section.agent-view .rows")).to_contain_text("wrote it")
        page.keyboard.press("Escape")
        expect(page).to_have_url(f"{appliance.url}/chats/{chat['id']}")
        errors.check()

        # At phone width, opened straight from its address: everything fits and the way back shows.
        phone = browser.new_context(viewport={"width": 390, "height": 800}).new_page()
        phone.set_default_timeout(30_000)
        phone_errors = PageErrors(phone, ())
        phone.goto(f"{appliance.url}/?token={appliance.token}")
        phone.goto(f"{appliance.url}/chats/{chat['id']}/agents/{agent_id}")
        small = phone.locator("section.agent-view")
        expect(small).to_have_attribute("data-feed", "live")
        expect(small.locator(".rows")).to_contain_text("wrote it")
        expect(small.get_by_role("link", name="← Back to the chat")).to_be_in_viewport()
        assert phone.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth")
        phone.screenshot(path=artifacts_dir / "web-agent-view-phone.png")
        accessible(phone, "an agent's view on a phone")
        phone_errors.check()
        accessible.check()


def test_the_settings_screen_shows_and_saves_the_budgets_and_price_overrides(appliance: Appliance) -> None:
    rest = Rest(appliance.url, appliance.token)
    with chromium() as browser:
        page = browser.new_context(viewport={"width": 390, "height": 800}).new_page()  # a phone, too
        page.set_default_timeout(30_000)
        expect.set_options(timeout=30_000)
        errors = PageErrors(page, ())
        page.goto(f"{appliance.url}/?token={appliance.token}")
        page.goto(f"{appliance.url}/settings")
        chat_budget = page.get_by_role("textbox", name="Budget per chat (USD)")
        day_budget = page.get_by_role("textbox", name="Budget per project per day (USD)")
        expect(chat_budget).to_have_value("0")
        chat_budget.fill("abc")
        page.get_by_role("button", name="Save").click()
        expect(page.locator(".form-status")).to_contain_text("Budget per chat (USD): must be a number")
        assert rest.call("GET", "/api/settings")["budget_chat_usd"] == 0, "nothing was saved"
        chat_budget.fill("2.5")
        day_budget.fill("10")
        page.get_by_role("button", name="Add a price").click()
        price = page.locator(".price-row").last
        price.get_by_role("textbox", name="Model").fill("openai:local-llama")
        price.get_by_role("textbox", name="Input USD per million tokens").fill("0.1")
        price.get_by_role("textbox", name="Output USD per million tokens").fill("0.3")
        page.get_by_role("button", name="Save").click()
        expect(page.locator(".form-status")).to_have_text("Saved.")
        saved = rest.call("GET", "/api/settings")
        assert (saved["budget_chat_usd"], saved["budget_project_day_usd"]) == (2.5, 10)
        assert [(p["model"], p["input"], p["output"]) for p in saved["model_prices"]] == [
            ("openai:local-llama", 0.1, 0.3)
        ]
        page.reload()
        expect(page.get_by_role("textbox", name="Budget per chat (USD)")).to_have_value("2.5")
        expect(page.locator(".price-row input[name=priceModel]")).to_have_value("openai:local-llama")
        accessible = Wcag()
        accessible(page, "settings with a price, on a phone")
        accessible.check()
        assert page.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth")
        page.locator(".price-row").get_by_role("button", name="Remove this price").click()
        page.get_by_role("textbox", name="Budget per chat (USD)").fill("0")
        page.get_by_role("button", name="Save").click()
        expect(page.locator(".form-status")).to_have_text("Saved.")
        cleared = rest.call("GET", "/api/settings")
        assert cleared["model_prices"] == [] and cleared["budget_chat_usd"] == 0
        rest.call("PATCH", "/api/settings", {"budget_project_day_usd": 0})
        errors.check()


def test_an_agents_worktree_is_kept_or_removed_from_the_tree(appliance: Appliance, tmp_path: Path) -> None:
    root, scripts = git_project(tmp_path)
    child = scripts / "child.yaml"
    write = {"name": "shell", "input": {"command": "echo k > k.txt"}}
    child.write_text(yaml.safe_dump({"turns": [{"tools": [write]}, {"text": "k"}]}))

    def spawn(name: str) -> dict[str, object]:
        task = {"task": f"{name} writes k.txt", "name": name, "worktree": True, "model": f"scripted:{child}"}
        return {"name": "spawn_agent", "input": task}

    parent = scripts / "parent.yaml"
    parent.write_text(yaml.safe_dump({"turns": [{"tools": [spawn("keeper"), spawn("remover")]}, {"text": "done"}]}))
    rest = Rest(appliance.url, appliance.token)
    chat = rest.chat(rest.project(root)["id"], f"scripted:{parent}")
    rest.send(chat["id"], "go")
    rest.wait_idle(chat["id"])
    worktrees = root / ".reliant" / "worktrees"
    assert len(list(worktrees.iterdir())) == 2

    def branches() -> list[str]:
        listed = subprocess.run(
            ["git", "branch", "--list", "--format=%(refname:short)", "reliant/*"],
            cwd=root,
            check=True,
            capture_output=True,
            text=True,
        )
        return listed.stdout.split()

    assert len(branches()) == 2
    with chromium() as browser:
        page = browser.new_context(viewport={"width": 1440, "height": 900}).new_page()
        page.set_default_timeout(30_000)
        errors = PageErrors(page, ("status of 400",))  # the refused removal: uncommitted changes
        page.goto(f"{appliance.url}/?token={appliance.token}")
        page.goto(f"{appliance.url}/chats/{chat['id']}")
        panel = page.locator("aside.agent-panel")
        keeper = panel.locator(".agent-row", has_text="keeper").locator(".agent-worktree")
        remover = panel.locator(".agent-row", has_text="remover").locator(".agent-worktree")
        expect(keeper).to_contain_text("active")
        expect(remover).to_contain_text("active")
        keeper.get_by_role("button", name="Keep").click()
        expect(keeper).to_contain_text("kept")
        # Kept, it can still be merged or removed later, not kept again.
        expect(keeper.get_by_role("button")).to_have_count(2)
        expect(keeper.get_by_role("button", name="Keep")).to_have_count(0)
        remover.get_by_role("button", name="Remove").click()
        # Its k.txt was never committed: removing it asks first, naming the file.
        confirm = page.locator("dialog.confirm")
        expect(confirm).to_contain_text("k.txt")
        confirm.get_by_role("button", name="Remove anyway").click()
        expect(remover).to_contain_text("removed")
        expect(remover.get_by_role("button")).to_have_count(0)
        errors.check()
    # The kept worktree and its branch stay, with the agent's work; the removed one is gone, branch too.
    [left] = list(worktrees.iterdir())
    assert (left / "k.txt").read_text() == "k\n"
    assert len(branches()) == 1
    assert not (root / "k.txt").exists(), "neither was merged"


# A line an agent writes (the Trojan Source "stretched string"): laid out by its bidi controls it
# reads `if access_level != "user": # Check if admin`, but the comment is inside the string compared.
TROJAN_LINE = 'if access_level != "user\u202e \u2066# Check if admin\u2069 \u2066":'


def test_an_agent_s_diff_names_the_invisible_characters_it_wrote(appliance: Appliance, tmp_path: Path) -> None:
    root, scripts = git_project(tmp_path)
    writer = scripts / "writer.yaml"
    write = {"name": "write", "input": {"path": "check.py", "content": TROJAN_LINE + "\n"}}
    writer.write_text(yaml.safe_dump({"turns": [{"tools": [write]}, {"text": "wrote it"}]}))
    parent = scripts / "parent.yaml"
    spawn = {"task": "write check.py", "name": "writer", "worktree": True, "model": f"scripted:{writer}"}
    parent.write_text(
        yaml.safe_dump({"turns": [{"tools": [{"name": "spawn_agent", "input": spawn}]}, {"text": "done"}]})
    )
    rest = Rest(appliance.url, appliance.token)
    chat = rest.chat(rest.project(root)["id"], f"scripted:{parent}")
    rest.send(chat["id"], "go")
    rest.wait_idle(chat["id"])
    with chromium() as browser:
        page = browser.new_context(viewport={"width": 1440, "height": 900}).new_page()
        page.set_default_timeout(30_000)
        errors = PageErrors(page, ())
        page.goto(f"{appliance.url}/?token={appliance.token}")
        page.goto(f"{appliance.url}/chats/{chat['id']}")
        row = page.locator("aside.agent-panel .agent-row", has_text="writer")
        expect(row).to_have_attribute("data-status", "done", timeout=30_000)
        row.locator(".agent-task").click()
        added = page.locator(".agent-view-worktree .wt-file[data-path='check.py'] pre.diff .diff-add")
        expect(added).to_have_count(1, timeout=30_000)
        shown = added.inner_text()
        assert not [c for c in shown if unicodedata.category(c) == "Cf"], repr(shown)
        assert shown == '+if access_level != "user⟨U+202E⟩ ⟨U+2066⟩# Check if admin⟨U+2069⟩ ⟨U+2066⟩":'
        errors.check()
