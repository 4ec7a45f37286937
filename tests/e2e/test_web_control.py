"""The human in control, from the web UI in real Chromium against `reliant up`: approval cards
(approve, deny with a message, always allow, keys), a question answered in its card, the mode
switcher, pause / resume and interrupt, the waiting badge across chats, and a card answered
elsewhere. Screenshots of an approval card and a question card go to the artifacts dir."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from itertools import count
from pathlib import Path
from typing import Any

import pytest
import yaml
from playwright.sync_api import Browser, Locator, Page, Route, expect

from tests.e2e.harness import Appliance, Rest, clean_env, http_json
from tests.support import wait_until
from tests.web.browser import PageErrors, choose_theme, chromium, new_page

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

# The api answers a refused approval with 400 (failed_precondition), which the console reports.
REFUSED = ("status of 400",)


@pytest.fixture(scope="module")
def appliance(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Appliance]:
    up = Appliance(tmp_path_factory.mktemp("web-control") / "data", env=clean_env())
    up.start()
    yield up
    up.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as b:
        yield b


_workspaces = count()


class Setup:
    """A fresh project (its own workspace: always-allow policies stay in it) and chat per test."""

    def __init__(self, up: Appliance, root: Path, turns: list[dict[str, Any]], **script: Any) -> None:
        self.up = up
        self.rest = Rest(up.url, up.token)
        self.workspace = root / f"workspace-{next(_workspaces)}"
        self.workspace.mkdir()
        path = up.data_dir / "scripts" / f"{self.workspace.name}.yaml"  # scripts live in the data dir or a project
        path.parent.mkdir(exist_ok=True)
        path.write_text(yaml.safe_dump({"turns": turns, **script}))
        self.project = self.rest.project(self.workspace)
        self.chat = self.rest.chat(self.project["id"], f"scripted:{path}")
        self.chat_id: str = self.chat["id"]

    def connect(self, service: str, method: str, body: dict[str, Any]) -> tuple[int, Any]:
        """A ConnectRPC call as any other client (the CLI, another tab) makes it."""
        return http_json("POST", f"{self.up.url}/reliant.v1.{service}/{method}", token=self.up.token, body=body)

    def effects(self) -> str:
        path = self.workspace / "effects"
        return path.read_text() if path.exists() else ""

    def tool_results(self) -> list[str]:
        return [
            b["text"]
            for m in self.rest.messages(self.chat_id)
            if m["role"] == "tool"
            for b in m["blocks"]
            if b["type"] == "tool_result"
        ]


def sign_in(browser: Browser, up: Appliance, ignore: tuple[str, ...] = ()) -> tuple[Page, PageErrors]:
    page = new_page(browser)
    errors = PageErrors(page, ignore)
    page.goto(f"{up.url}/?token={up.token}")
    expect(page).to_have_url(up.url + "/")
    return page, errors


def open_chat(page: Page, up: Appliance, chat_id: str) -> None:
    page.goto(f"{up.url}/chats/{chat_id}")
    expect(page.locator("section.chat")).to_have_attribute("data-feed", "live")


def send(page: Page, text: str) -> None:
    composer = page.get_by_role("textbox", name="Message")
    composer.fill(text)
    composer.press("Enter")
    expect(composer).to_have_value("")


def pending_card(page: Page, command: str) -> Locator:
    """The approval card of `command` once it waits; the locator keeps finding it when answered."""
    waiting = page.locator(".gate-approval[data-status=pending]").filter(has_text=command)
    expect(waiting).to_be_visible(timeout=30_000)
    return page.locator(f".gate-approval[data-tool-call-id='{waiting.get_attribute('data-tool-call-id')}']")


def tool_card(page: Page, card: Locator) -> Locator:
    tool_call_id = card.get_attribute("data-tool-call-id")
    return page.locator(f"details.tool[data-tool-call-id='{tool_call_id}']")


def wait_idle(page: Page) -> None:
    expect(page.locator("section.chat")).to_have_attribute("data-status", "idle", timeout=60_000)


def test_approve_and_deny_from_the_ui(
    browser: Browser, appliance: Appliance, tmp_path: Path, artifacts_dir: Path
) -> None:
    s = Setup(
        appliance,
        tmp_path,
        [
            {
                "text": "I will record it.",
                "tools": [{"name": "shell", "input": {"command": "echo approved >> effects"}}],
            },
            {"text": "And once more.", "tools": [{"name": "shell", "input": {"command": "echo denied >> effects"}}]},
            {"text": "Understood: I did not run it."},
        ],
    )
    page, errors = sign_in(browser, appliance)
    open_chat(page, appliance, s.chat_id)
    page.locator(".mode-option").filter(has_text="Manual").click()
    wait_until(lambda: s.rest.get_chat(s.chat_id)["mode"] == "manual", timeout=10)
    send(page, "Record a line")

    card = pending_card(page, "echo approved >> effects")
    expect(card.locator("pre.gate-command")).to_have_text("$ echo approved >> effects")
    expect(card).to_have_attribute("data-keys", "on")  # the oldest waiting card takes the keys
    expect(page.locator("section.chat")).to_have_attribute("data-status", "waiting")
    expect(page.locator(".chat-head .chat-reason")).to_have_text("approve shell?")
    card.scroll_into_view_if_needed()
    card.screenshot(path=artifacts_dir / "web-approval-card.png")
    page.screenshot(path=artifacts_dir / "web-approval-chat.png")
    choose_theme(page, "Dark")
    expect(page.locator("html")).to_have_attribute("data-theme", "dark")
    card.screenshot(path=artifacts_dir / "web-approval-card-dark.png")
    choose_theme(page, "System")  # back to following the system
    # Waiting shows across the app: the sidebar's badge, and the top bar's button that leads here.
    expect(page.locator(f".sidebar li[data-chat-id='{s.chat_id}'] .badge-waiting")).to_have_text("1 waiting")
    page.goto(appliance.url + "/")
    waiting = page.locator(".waiting-button")
    expect(waiting).to_have_text("1 waiting")
    waiting.click()
    page.locator(".waiting-menu a").filter(has_text="Approve shell: echo approved >> effects").click()
    expect(page).to_have_url(f"{appliance.url}/chats/{s.chat_id}")
    card = pending_card(page, "echo approved >> effects")

    # From the keyboard: the composer has the focus after sending, where y is just a letter;
    # Escape leaves it for the waiting card, where y approves.
    composer = page.get_by_role("textbox", name="Message")
    composer.focus()
    composer.press("y")
    expect(composer).to_have_value("y")
    composer.fill("")
    composer.press("Escape")
    expect(card).to_be_focused()
    page.keyboard.press("y")
    done = page.locator(".gate-approval").filter(has_text="Approved").first
    expect(done).to_be_visible()
    expect(tool_card(page, done)).to_have_attribute("data-status", "ok", timeout=30_000)
    assert s.effects() == "approved\n"

    # Deny, with a message for the agent.
    card = pending_card(page, "echo denied >> effects")
    card.get_by_label("Why not: a note the agent reads with the denial (optional)").fill("not twice, please")
    card.get_by_role("button", name="Deny").click()
    denied = page.locator(".gate-approval[data-status=denied]")
    expect(denied).to_contain_text("Denied")
    expect(denied).to_contain_text("not twice, please")
    expect(tool_card(page, denied)).to_have_attribute("data-status", "denied")
    expect(page.locator(".msg-assistant .md").filter(has_text="Understood: I did not run it.")).to_have_count(
        1, timeout=30_000
    )
    wait_idle(page)
    assert s.effects() == "approved\n", "the denied command ran"
    assert any("not twice, please" in text for text in s.tool_results()), s.tool_results()
    expect(page.locator(".waiting-button")).to_be_hidden()
    expect(page.locator(f".sidebar li[data-chat-id='{s.chat_id}'] .badge-waiting")).to_have_count(0)
    # After a reload the cards of settled approvals are gone; the tool cards keep their outcome.
    page.reload()
    expect(page.locator("section.chat")).to_have_attribute("data-feed", "live")
    expect(page.locator("details.tool[data-status=denied]")).to_have_count(1)
    expect(page.locator(".gate[data-status=pending]")).to_have_count(0)
    errors.check()


# Markup in the model's text that would lie over the approval card after it: a fixed full-page layer
# (one of the page's own classes) and a tall open <dialog>, each showing a harmless command; either
# alone covered the card.
COVERING_TEXT = (
    "I will only list the files.\n\n"
    f'<dialog open><pre class="terminal">$ ls{"<br>" * 14}</pre></dialog>\n\n'
    '<div class="signed-out"><div class="signed-out-box"><pre class="terminal">$ ls</pre> Approve it.</div></div>\n'
)

# Whether the element's centre, seen by the user, is the element itself (nothing lies over it).
UNCOVERED = """el => {
  const box = el.getBoundingClientRect();
  const hit = document.elementFromPoint(box.x + box.width / 2, box.y + box.height / 2);
  return el.contains(hit);
}"""


def test_the_model_s_text_cannot_cover_an_approval_card(browser: Browser, appliance: Appliance, tmp_path: Path) -> None:
    s = Setup(
        appliance,
        tmp_path,
        [
            {"text": COVERING_TEXT, "tools": [{"name": "shell", "input": {"command": "echo covered >> effects"}}]},
            {"text": "Done."},
        ],
    )
    page, errors = sign_in(browser, appliance)
    open_chat(page, appliance, s.chat_id)
    page.locator(".mode-option").filter(has_text="Manual").click()
    wait_until(lambda: s.rest.get_chat(s.chat_id)["mode"] == "manual", timeout=10)
    send(page, "List the files")
    card = pending_card(page, "echo covered >> effects")
    expect(page.locator(".msg-assistant .md").first).to_contain_text("I will only list the files.")
    card.scroll_into_view_if_needed()
    for part in (card.locator("pre.gate-command"), card.get_by_role("button", name="Approve")):
        assert part.evaluate(UNCOVERED), f"something lies over the approval card's {part}"
    card.get_by_role("button", name="Deny").click()
    wait_idle(page)
    assert s.effects() == ""
    errors.check()


# Appends to `effects` when run (each bidi control is a word of its own, an argument of echo), but
# laid out by those controls it reads `echo listed #  ; echo tricked >> effects`: as if commented out.
BIDI_COMMAND = "echo listed \u202e\u2066 ; echo tricked >> effects \u2069 \u2066#\u2069"


def test_an_approval_card_names_the_invisible_characters_of_a_command(
    browser: Browser, appliance: Appliance, tmp_path: Path
) -> None:
    s = Setup(
        appliance,
        tmp_path,
        [{"text": "Listing.", "tools": [{"name": "shell", "input": {"command": BIDI_COMMAND}}]}, {"text": "Done."}],
    )
    page, errors = sign_in(browser, appliance)
    open_chat(page, appliance, s.chat_id)
    page.locator(".mode-option").filter(has_text="Manual").click()
    wait_until(lambda: s.rest.get_chat(s.chat_id)["mode"] == "manual", timeout=10)
    send(page, "List the files")
    card = pending_card(page, "echo tricked >> effects")
    shown = card.locator("pre.gate-command").inner_text()
    assert not [c for c in shown if unicodedata.category(c) == "Cf"], repr(shown)
    assert shown == "$ echo listed ⟨U+202E⟩⟨U+2066⟩ ; echo tricked >> effects ⟨U+2069⟩ ⟨U+2066⟩#⟨U+2069⟩"
    card.get_by_role("button", name="Deny").click()
    wait_idle(page)
    assert s.effects() == ""
    errors.check()


def test_always_allow_a_prefix_and_in_this_chat(browser: Browser, appliance: Appliance, tmp_path: Path) -> None:
    s = Setup(
        appliance,
        tmp_path,
        [
            {"tools": [{"name": "shell", "input": {"command": "mkdir one"}}]},
            {"tools": [{"name": "shell", "input": {"command": "mkdir two"}}]},
            {"tools": [{"name": "shell", "input": {"command": "touch marker"}}]},
            {"tools": [{"name": "shell", "input": {"command": "ls one two"}}]},
            {"text": "All four ran."},
        ],
    )
    s.connect("ChatService", "SetMode", {"chatId": s.chat_id, "mode": "manual"})
    page, errors = sign_in(browser, appliance)
    open_chat(page, appliance, s.chat_id)
    expect(page.get_by_role("radio", name="Manual")).to_be_checked()
    send(page, "Run them")

    card = pending_card(page, "mkdir one")
    prefix = card.get_by_label("Command prefix to always allow")
    expect(prefix).to_have_value("mkdir")  # prefilled with the command's first word
    card.get_by_role("button", name="Always allow shell commands starting with this prefix").click()
    expect(page.locator(".gate-approval").first).to_contain_text("always for commands starting with “mkdir”")
    # `mkdir two` matches: it runs without a card. `touch marker` does not: it asks.
    card = pending_card(page, "touch marker")
    assert (s.workspace / "one").is_dir() and (s.workspace / "two").is_dir()
    page.locator("section.chat .transcript").click(position={"x": 5, "y": 5})  # out of any text box
    page.keyboard.press("a")  # always allow shell in this chat
    expect(page.locator(".msg-assistant .md").filter(has_text="All four ran.")).to_have_count(1, timeout=30_000)
    wait_idle(page)
    cards = page.locator(".gate-approval")
    expect(cards).to_have_count(2)  # `ls` ran under the chat's rule, without asking
    expect(cards.nth(1)).to_contain_text("always in this chat")
    assert (s.workspace / "marker").exists()
    statuses = page.locator("details.tool").evaluate_all("cards => cards.map(c => c.dataset.status)")
    assert statuses == ["ok", "ok", "ok", "ok"]
    errors.check()


def test_a_question_answered_in_its_card(
    browser: Browser, appliance: Appliance, tmp_path: Path, artifacts_dir: Path
) -> None:
    questions = [
        {"question": "Which colour should the button be?", "choices": ["red", "blue", "green"]},
        {"question": "Anything else I should know?"},
    ]
    s = Setup(
        appliance,
        tmp_path,
        [
            {"text": "Two questions first.", "tools": [{"name": "ask_user", "input": {"questions": questions}}]},
            {"text": "Thanks, noted."},
        ],
    )
    page, errors = sign_in(browser, appliance)
    open_chat(page, appliance, s.chat_id)
    send(page, "Make a button")
    card = page.locator(".gate-question[data-status=pending]")
    expect(card).to_be_visible(timeout=30_000)
    expect(card.locator("legend")).to_have_text(
        ["1. Which colour should the button be?", "2. Anything else I should know?"]
    )
    expect(page.locator("section.chat")).to_have_attribute("data-status", "waiting")
    # The top bar's list leads to the card, also from within its chat (no reload, the card has the focus).
    page.locator(".waiting-button").click()
    page.locator(".waiting-menu a").filter(has_text="Question: Which colour should the button be? (+1)").click()
    expect(card).to_be_focused()
    expect(page.locator(".waiting-menu")).to_be_hidden()
    card.get_by_label("blue").check()
    card.screenshot(path=artifacts_dir / "web-question-card.png")
    # Every question needs an answer.
    card.get_by_role("button", name="Send answers").click()
    expect(card.locator(".gate-error")).to_have_text("Answer question 2 too.")
    expect(card.get_by_label("Anything else I should know?")).to_be_focused()
    card.get_by_label("Anything else I should know?").fill("It is for the dark theme.")
    card.get_by_role("button", name="Send answers").click()
    answered = page.locator(".gate-question[data-status=answered]")
    expect(answered).to_contain_text("Answered")
    expect(answered.locator("dd")).to_have_text(["blue", "It is for the dark theme."])
    expect(page.locator(".msg-assistant .md").filter(has_text="Thanks, noted.")).to_have_count(1, timeout=30_000)
    wait_idle(page)
    assert s.tool_results() == [
        "Q: Which colour should the button be?\nA: blue\n\n"
        "Q: Anything else I should know?\nA: It is for the dark theme."
    ]
    expect(page.locator(".waiting-button")).to_be_hidden()
    errors.check()


def test_the_mode_switcher(browser: Browser, appliance: Appliance, tmp_path: Path) -> None:
    s = Setup(appliance, tmp_path, [{"text": "Nothing to do."}])
    page, errors = sign_in(browser, appliance)
    open_chat(page, appliance, s.chat_id)
    modes = page.get_by_role("radiogroup", name="Mode")
    expect(modes.get_by_role("radio", name="Auto")).to_be_checked()
    expect(page.locator(".mode-hint")).to_have_text("Runs every tool without asking.")
    page.locator(".mode-option").filter(has_text="Plan").click()
    expect(page.locator(".mode-hint")).to_contain_text("Read-only tools only")
    wait_until(lambda: s.rest.get_chat(s.chat_id)["mode"] == "plan", timeout=10)
    # From the keyboard: arrow keys move between the modes, each a switch.
    modes.get_by_role("radio", name="Plan").focus()
    page.keyboard.press("ArrowLeft")
    expect(modes.get_by_role("radio", name="Manual")).to_be_checked()
    wait_until(lambda: s.rest.get_chat(s.chat_id)["mode"] == "manual", timeout=10)
    # Switched elsewhere (the CLI, another tab): the switcher follows.
    status, _ = s.connect("ChatService", "SetMode", {"chatId": s.chat_id, "mode": "auto"})
    assert status == 200
    expect(modes.get_by_role("radio", name="Auto")).to_be_checked()
    expect(page.locator(".mode-hint")).to_have_text("Runs every tool without asking.")
    page.reload()
    expect(page.get_by_role("radio", name="Auto")).to_be_checked()
    errors.check()


def test_pause_then_resume_and_interrupt(browser: Browser, appliance: Appliance, tmp_path: Path) -> None:
    s = Setup(
        appliance,
        tmp_path,
        [
            {"tools": [{"name": "shell", "input": {"command": "sleep 3; echo one >> effects"}}]},
            {"tools": [{"name": "shell", "input": {"command": "echo two >> effects"}}]},
            {"text": "Both written."},
        ],
    )
    page, errors = sign_in(browser, appliance)
    open_chat(page, appliance, s.chat_id)
    send(page, "Write two lines")
    expect(page.locator("details.tool[data-status=running]")).to_have_count(1, timeout=30_000)
    pause = page.get_by_role("button", name="Pause after the current step")
    pause.click()
    expect(pause).to_have_text("Pausing…")
    expect(page.locator(".chat-head .chat-reason")).to_have_text("pausing after the current step…")
    # The step in flight finishes, then the chat waits.
    expect(page.locator("section.chat")).to_have_attribute("data-status", "paused", timeout=30_000)
    expect(page.locator(".chat-head .chat-reason")).to_have_text("paused by the user")
    expect(page.locator(".notice-paused")).to_contain_text("paused by the user")
    expect(pause).to_be_hidden()
    assert s.effects() == "one\n"
    # One Resume, where the chat says why it waits.
    resume = page.get_by_role("button", name="Resume")
    expect(resume).to_have_count(1)
    expect(page.locator(".notice-paused").get_by_role("button", name="Resume")).to_be_visible()
    resume.click()
    expect(page.locator(".msg-assistant .md").filter(has_text="Both written.")).to_have_count(1, timeout=30_000)
    wait_idle(page)
    assert s.effects() == "one\ntwo\n"
    expect(resume).to_be_hidden()

    # Interrupt: Ctrl+Enter while a turn runs (here, a long command) stops it and sends the message
    # in its place.
    slow = Setup(
        appliance,
        tmp_path,
        [
            {"text": "This takes a while.", "tools": [{"name": "shell", "input": {"command": "sleep 60"}}]},
            {"text": "Switched to the new request."},
        ],
    )
    open_chat(page, appliance, slow.chat_id)
    send(page, "Start something long")
    expect(page.locator("details.tool[data-status=running]")).to_have_count(1, timeout=30_000)
    interrupt = page.get_by_role("button", name="Interrupt: send this message now, in place of the running turn")
    expect(interrupt).to_be_visible()
    composer = page.get_by_role("textbox", name="Message")
    expect(composer).to_have_attribute("placeholder", re.compile("Ctrl\\+Enter interrupts"))
    composer.fill("Do this instead")
    composer.press("Control+Enter")
    expect(composer).to_have_value("")
    expect(page.locator("details.tool[data-tool=shell]")).to_have_attribute("data-status", "interrupted")
    expect(page.locator(".msg-assistant .md").filter(has_text="Switched to the new request.")).to_have_count(
        1, timeout=30_000
    )
    wait_idle(page)
    stored = [m for m in slow.rest.messages(slow.chat_id) if m["role"] != "tool"]
    texts = [" ".join(b["text"] for b in m["blocks"] if b["type"] == "text") for m in stored]
    assert texts == ["Start something long", "This takes a while.", "Do this instead", "Switched to the new request."]
    expect(interrupt).to_be_hidden()
    errors.check()


def test_a_card_answered_elsewhere_follows_and_a_raced_answer_is_refused_clearly(
    browser: Browser, appliance: Appliance, tmp_path: Path
) -> None:
    s = Setup(
        appliance,
        tmp_path,
        [
            {"tools": [{"name": "shell", "input": {"command": "echo first >> effects"}}]},
            {"tools": [{"name": "shell", "input": {"command": "echo second >> effects"}}]},
            {"text": "Finished."},
        ],
    )
    s.connect("ChatService", "SetMode", {"chatId": s.chat_id, "mode": "manual"})
    page, errors = sign_in(browser, appliance, ignore=REFUSED)
    other, other_errors = sign_in(browser, appliance)
    open_chat(page, appliance, s.chat_id)
    open_chat(other, appliance, s.chat_id)
    send(page, "Go")
    pending_card(page, "echo first >> effects")
    # Denied in another tab: this tab's card says so without a click.
    card = pending_card(other, "echo first >> effects")
    card.get_by_role("button", name="Deny").click()
    expect(page.locator(".gate-approval[data-status=denied]")).to_contain_text("Denied")

    # A race: another client approves while this tab's answer is on its way. The refusal shows on
    # the card, and the card ends in the state that won.
    card = pending_card(page, "echo second >> effects")
    approval_id = s.connect("ApprovalService", "ListPendingApprovals", {"chatId": s.chat_id})[1]["approvals"][0]["id"]

    def approve_elsewhere_first(route: Route) -> None:
        status, _ = s.connect("ApprovalService", "Approve", {"approvalId": approval_id})
        assert status == 200
        route.continue_()

    page.route("**/reliant.v1.ApprovalService/Deny", approve_elsewhere_first)
    card.get_by_role("button", name="Deny").click()
    expect(card.locator(".gate-error")).to_contain_text(re.compile("Could not deny: .*(not pending|already answered)"))
    expect(card).to_have_attribute("data-status", "approved")
    expect(card).to_contain_text("Approved")
    expect(page.locator(".msg-assistant .md").filter(has_text="Finished.")).to_have_count(1, timeout=30_000)
    wait_idle(page)
    assert s.effects() == "second\n"
    errors.check()
    other_errors.check()
