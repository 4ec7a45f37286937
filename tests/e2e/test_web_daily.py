"""The web UI as a daily driver, in real Chromium at 1440x900 and 390x844 against `reliant up`:
truthful tool cards (each way a call ends has its own word, icon and colour), a turn as one unit,
choosing a model (the providers' own lists, from a fake provider server through the api), starting
work from the project page and a directory picker, the phone layout, the Worktree and MCP tabs for
a project that is not ready for them, and the small things. Every page is checked for horizontal
overflow, and screenshots go to the artifacts dir."""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, Locator, Page, expect

from tests.e2e.harness import Appliance, Proc, Rest, clean_env
from tests.llm.fakes import FakeLlmServer
from tests.support import wait_until
from tests.web.browser import PageErrors, choose_theme, chromium

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

SIZES = {"desktop": (1440, 900), "phone": (390, 844)}
TEST_MCP_SERVER = Path(__file__).resolve().parents[1] / "daemon" / "servers" / "reliant_test_mcp.py"

# Four calls at once, each ending its own way.
ENDINGS_SCRIPT = """
turns:
  - text: Four things at once.
    tools:
      - {name: shell, input: {command: "echo fine"}}
      - {name: shell, input: {command: "echo broken; exit 3"}}
      - {name: view, input: {path: "../../outside.txt"}}
      - {name: shell, input: {command: "sleep 20", timeout: 1}}
  - text: Done looking.
"""

# In manual mode: one call is denied, the next is stopped while it waits.
GATED_SCRIPT = """
turns:
  - text: May I?
    tools: [{name: shell, input: {command: "echo one >> effects"}}]
  - text: And this one?
    tools: [{name: shell, input: {command: "echo two >> effects"}}]
  - text: Understood.
"""

# On a daemon that dies while the command runs: the call ends interrupted, never run again.
DYING_SCRIPT = """
turns:
  - text: This takes a while.
    tools: [{name: shell, input: {command: "echo start >> effects; sleep 20; echo end >> effects"}}]
  - text: It was cut short.
"""

WORDS = " ".join(f"w{i}" for i in range(80))
# Seven steps that call tools without a word between them, then an answer.
STEPS_SCRIPT = f"""
turns:
  - text: Let me look around.
    tools: [{{name: view, input: {{path: a.py}}}}, {{name: glob, input: {{pattern: "*.py"}}}}]
  - tools: [{{name: view, input: {{path: b.py}}}}]
  - tools: [{{name: grep, input: {{pattern: def}}}}]
  - tools: [{{name: shell, input: {{command: "python3 -c 'print(1)'"}}}}]
  - tools: [{{name: view, input: {{path: a.py}}}}]
  - tools: [{{name: shell, input: {{command: ls}}}}]
  - text: "All read: two modules, one function each. {WORDS}"
    delay_ms: 25
"""


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("home").resolve()
    (path / "src" / "webapp" / ".git").mkdir(parents=True)
    (path / "src" / "notes").mkdir()
    return path


@pytest.fixture(scope="module")
def appliance(tmp_path_factory: pytest.TempPathFactory, home: Path) -> Iterator[Appliance]:
    root = tmp_path_factory.mktemp("web-daily")
    up = Appliance(root / "data", env=clean_env(HOME=str(home)), extra=("--demo", "--temporal-ui"))
    up.start()
    assert up.proc is not None
    up.proc.wait_for_output("Demo project ready at")
    yield up
    up.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as b:
        yield b


@pytest.fixture(params=list(SIZES))
def size(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def rest(appliance: Appliance) -> Rest:
    return Rest(appliance.url, appliance.token)


def signed_in(browser: Browser, up: Appliance, size: str, ignore: tuple[str, ...] = ()) -> tuple[Page, PageErrors]:
    assert up.proc is not None
    url = re.findall(r"Open (http://\S+/\?token=\S+)", up.proc.output())[-1]
    width, height = SIZES[size]
    context = browser.new_context(viewport={"width": width, "height": height})
    context.set_default_timeout(20_000)
    page = context.new_page()
    errors = PageErrors(page, ignore)
    page.goto(url)
    expect(page).to_have_url(up.url + "/")
    return page, errors


def fits(page: Page) -> None:
    """Nothing on the page overflows it horizontally."""
    scroll, body, width = page.evaluate(
        "[document.documentElement.scrollWidth, document.body.scrollWidth, window.innerWidth]"
    )
    assert max(scroll, body) <= width, f"the page is {max(scroll, body)} px wide in a {width} px window"


def inside(page: Page, locator: Locator) -> None:
    """`locator` is shown, whole, within the window's width."""
    expect(locator).to_be_visible()
    box = locator.bounding_box()
    for _ in range(50):  # the status bar is drawn again as the status is polled: measure a drawn one
        if box is not None:
            break
        page.wait_for_timeout(100)
        box = locator.bounding_box()
    width = page.evaluate("window.innerWidth")
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= width + 0.5, (box, width)


@dataclass
class OwnDaemon:
    """A daemon of its own (`reliant daemon start`) dialing the appliance's gateway, for what the
    appliance's built-in one cannot show: a daemon that dies, or is gone."""

    proc: Proc
    id: str

    def kill(self) -> None:
        """SIGKILL (the commands it runs die with it)."""
        self.proc.kill()

    def restart(self) -> None:
        self.proc.start()
        self.proc.wait_for_output("connected to", timeout=60)


@contextmanager
def own_daemon(up: Appliance, where: Path, workspace: Path) -> Iterator[OwnDaemon]:
    gateway = json.loads((up.data_dir / "ports.json").read_text())["gateway"]
    daemon_id = f"d-{uuid.uuid4().hex[:8]}"
    env = clean_env(
        RELIANT_DAEMON_ID=daemon_id, RELIANT_DAEMON_TOKEN_FILE=str(up.data_dir / "secrets" / "daemon_token")
    )
    args = ["daemon", "start", "--gateway", f"127.0.0.1:{gateway}", "--workspace", str(workspace), "--name", "own"]
    proc = Proc([*args, "--data-dir", str(where / "daemon-data")], where / "daemon.log", env=env)
    daemon = OwnDaemon(proc, daemon_id)
    daemon.restart()
    try:
        yield daemon
    finally:
        if proc.process is not None and proc.process.poll() is None:
            proc.stop()


def open_chat(page: Page, up: Appliance, chat_id: str) -> None:
    page.goto(f"{up.url}/chats/{chat_id}")
    expect(page.locator("section.chat")).to_have_attribute("data-feed", "live")


def send(page: Page, text: str) -> None:
    box = page.get_by_role("textbox", name="Message")
    box.fill(text)
    box.press("Enter")
    expect(box).to_have_value("")


def wait_idle(page: Page, timeout: float = 60_000) -> None:
    expect(page.locator("section.chat")).to_have_attribute("data-status", "idle", timeout=timeout)
    expect(page.locator(".msg.streaming")).to_have_count(0, timeout=timeout)


def workspace(tmp_path: Path, name: str = "ws") -> Path:
    path = (tmp_path / name).resolve()
    path.mkdir()
    (path / "a.py").write_text("def a():\n    return 1\n")
    (path / "b.py").write_text("def b():\n    return 2\n")
    return path


def scripted(up: Appliance, name: str, text: str) -> str:
    scripts = up.data_dir / "scripts"
    scripts.mkdir(exist_ok=True)
    (scripts / name).write_text(text)
    return f"scripted:{scripts / name}"


def card(page: Page, command_or_path: str) -> Locator:
    return page.locator("details.tool").filter(has=page.locator(".tool-summary", has_text=command_or_path))


def pill_of(page: Page, where: str) -> str:
    return page.locator(where).first.inner_text().strip()


# -- 1. truthful at a glance ------------------------------------------------------------------------


def test_each_way_a_call_ends_has_its_own_look_and_cancelled_calls_do_not_stay_pending(
    browser: Browser, appliance: Appliance, rest: Rest, tmp_path: Path, artifacts_dir: Path, size: str
) -> None:
    project = rest.project(workspace(tmp_path))
    chat = rest.chat(project["id"], scripted(appliance, f"endings-{size}.yaml", ENDINGS_SCRIPT))
    page, errors = signed_in(browser, appliance, size)
    open_chat(page, appliance, chat["id"])
    send(page, "Try these")
    expect(page.locator(".md").filter(has_text="Done looking.")).to_have_count(1, timeout=60_000)
    wait_idle(page)
    group = page.locator("details.tool-group")
    expect(group.locator(":scope > summary")).to_contain_text("ran 4 tools: 3 shell, 1 view")
    # The group says what did not end well without being opened.
    for word in ("1 non-zero exit", "1 refused", "1 timed out"):
        expect(group.locator(":scope > summary")).to_contain_text(word)
    if group.get_attribute("open") is None:
        group.locator(":scope > summary").click()
    expected = {
        "echo fine": ("ok", "ok"),
        "echo broken; exit 3": ("exit_nonzero", "exit 3"),
        "../../outside.txt": ("refused", "refused"),
        "sleep 20": ("timeout", "timed out"),
    }
    looks: dict[str, tuple[str, str, str]] = {}  # outcome -> (word, colour, icon) of its card's badge
    for summary, (outcome, word) in expected.items():
        looks[outcome] = look(card(page, summary), outcome, word)
    # The exit code is said once, in the footer, not again at the end of the output.
    broken = card(page, "echo broken; exit 3")
    broken.locator("summary").click()
    expect(broken.locator(".tool-foot")).to_have_text("exit code 3")
    expect(broken.locator("pre.terminal")).to_contain_text("broken")
    assert "exit code" not in broken.locator("pre.terminal").inner_text()
    fine = card(page, "echo fine")
    fine.locator("summary").click()
    expect(fine.locator(".tool-foot")).to_have_text("exit code 0")
    assert "exit code" not in fine.locator("pre.terminal").inner_text()
    fits(page)
    page.screenshot(path=artifacts_dir / f"web-daily-outcomes-{size}.png")

    # Manual mode: a denied call, then one stopped while it waits for its approval.
    gated = rest.chat(project["id"], scripted(appliance, f"gated-{size}.yaml", GATED_SCRIPT))
    open_chat(page, appliance, gated["id"])
    page.locator(".composer .mode-option").filter(has_text="Manual").click()
    wait_until(lambda: rest.get_chat(gated["id"])["mode"] == "manual", timeout=10)
    send(page, "Write things")
    first = page.locator(".gate-approval[data-status=pending]")
    expect(first).to_have_count(1, timeout=30_000)
    expect(card(page, "echo one >> effects").locator(".tool-state")).to_have_text("needs approval")
    first.get_by_role("button", name="Deny").click()
    expect(card(page, "echo one >> effects")).to_have_attribute("data-outcome", "denied", timeout=30_000)
    expect(card(page, "echo two >> effects")).to_have_count(1, timeout=30_000)
    expect(page.locator("section.chat")).to_have_attribute("data-status", "waiting")
    # The sidebar and the header say the same (on a phone, the sidebar is the menu's drawer).
    if size == "phone":
        page.get_by_role("button", name="Chats of this project").click()
    row = page.locator(f".sidebar li[data-chat-id='{gated['id']}'] .pill")
    expect(row).to_have_text("waiting")
    assert pill_of(page, ".chat-head .pill") == "waiting"
    if size == "phone":
        page.keyboard.press("Escape")
    page.get_by_role("button", name="Stop the running turn").click()
    wait_idle(page)
    # The call that waited ends as cancelled at once, without a reload; nothing is left pending.
    stopped = card(page, "echo two >> effects")
    expect(stopped).to_have_attribute("data-outcome", "cancelled")
    expect(stopped.locator(".tool-state")).to_have_text("cancelled")
    expect(page.locator("details.tool[data-outcome=pending]")).to_have_count(0)
    looks["denied"] = look(card(page, "echo one >> effects"), "denied", "denied")
    looks["cancelled"] = look(stopped, "cancelled", "cancelled")
    expect(row).to_have_text("idle")
    assert pill_of(page, ".chat-head .pill") == "idle"
    title = page.locator(".chat-head h1").inner_text()
    assert title != "New chat"
    expect(page.locator(f".sidebar li[data-chat-id='{gated['id']}'] .chat-title")).to_have_text(title)
    assert not (tmp_path / "ws" / "effects").exists()
    fits(page)
    page.screenshot(path=artifacts_dir / f"web-daily-denied-cancelled-{size}.png")
    page.reload()
    expect(card(page, "echo two >> effects")).to_have_attribute("data-outcome", "cancelled")
    expect(card(page, "echo one >> effects")).to_have_attribute("data-outcome", "denied")

    # A daemon killed while its command runs, then back: the call ends interrupted, never run again.
    dying = workspace(tmp_path, "dying")
    with own_daemon(appliance, tmp_path, dying) as daemon:
        remote = rest.call("POST", "/api/projects", {"path": str(dying), "daemon_id": daemon.id})
        doomed = rest.chat(remote["id"], scripted(appliance, f"dying-{size}.yaml", DYING_SCRIPT))
        open_chat(page, appliance, doomed["id"])
        send(page, "Take your time")
        cut = card(page, "sleep 20")
        expect(cut).to_have_attribute("data-outcome", "running", timeout=30_000)
        effects = dying / "effects"
        wait_until(lambda: effects.exists() and effects.read_text() == "start\n", timeout=30)
        daemon.kill()
        daemon.restart()
        expect(cut).to_have_attribute("data-outcome", "interrupted", timeout=30_000)
        expect(page.locator(".md").filter(has_text="It was cut short.")).to_have_count(1, timeout=60_000)
        wait_idle(page)
        looks["interrupted"] = look(cut, "interrupted", "interrupted")
        assert effects.read_text() == "start\n", "the command died with its daemon and was not run again"
        fits(page)
        page.screenshot(path=artifacts_dir / f"web-daily-interrupted-{size}.png")
        page.reload()
        expect(cut).to_have_attribute("data-outcome", "interrupted")

    # A failed command is never a green "ok": every ending has a word, a colour and an icon of its own.
    assert set(looks) == {"ok", "exit_nonzero", "refused", "timeout", "denied", "cancelled", "interrupted"}
    for part, name in enumerate(("word", "colour", "icon")):
        assert len({found[part] for found in looks.values()}) == len(looks), (name, looks)
    errors.check()


def look(found: Locator, outcome: str, word: str) -> tuple[str, str, str]:
    """The word, colour and icon of a call's badge, which says `outcome` as `word`."""
    expect(found).to_have_attribute("data-outcome", outcome)
    badge = found.locator("summary .tool-state")
    expect(badge).to_have_text(word)
    color, icon = badge.evaluate("(el) => [getComputedStyle(el).color, el.querySelector('svg').getAttribute('class')]")
    return word, str(color), str(icon)


# -- 2. a turn reads as one unit --------------------------------------------------------------------


def test_a_turn_is_one_unit_with_its_tool_calls_grouped(
    browser: Browser, appliance: Appliance, rest: Rest, tmp_path: Path, artifacts_dir: Path, size: str
) -> None:
    project = rest.project(workspace(tmp_path))
    chat = rest.chat(project["id"], scripted(appliance, f"steps-{size}.yaml", STEPS_SCRIPT))
    page, errors = signed_in(browser, appliance, size)
    open_chat(page, appliance, chat["id"])
    send(page, "Read everything")
    group = page.locator("details.tool-group")
    expect(group).to_have_count(1, timeout=30_000)
    # Marked while the turn streams: the elements must survive the rest of it (nothing redrawn).
    group.evaluate("(el) => { el.dataset.mark = 'kept'; el.querySelector('details.tool').dataset.mark = 'kept'; }")
    expect(page.locator(".msg.streaming .md").filter(has_text="w40")).to_have_count(1, timeout=30_000)
    wait_idle(page)
    turn = page.locator("article.msg-assistant")
    expect(turn).to_have_count(1)
    expect(turn.locator(".msg-head")).to_have_count(1)
    expect(turn.locator(".msg-head .model")).to_have_text(re.compile(r"^scripted:.*steps-"))
    expect(turn.locator(".msg-foot")).to_have_count(1)
    expect(turn.locator(".msg-foot")).to_contain_text(re.compile(r"^7 steps · .* in · .* out"))
    expect(group.locator(":scope > summary")).to_contain_text("ran 7 tools: 3 view, 2 shell, 1 glob, 1 grep")
    expect(group.locator(":scope > summary")).to_contain_text("all ok")
    expect(group).not_to_have_attribute("open", "")  # done: folded to its one line
    expect(page.locator("details.tool-group[data-mark=kept] details.tool[data-mark=kept]")).to_have_count(1)
    assert turn.bounding_box()["height"] < SIZES[size][1]  # type: ignore[index]
    fits(page)
    page.screenshot(path=artifacts_dir / f"web-daily-turn-{size}.png")
    group.locator(":scope > summary").click()
    expect(group.locator("details.tool")).to_have_count(7)
    # The view cards are highlighted the way the editor highlights, with line numbers apart.
    viewed = group.locator("details.tool[data-tool=view]").first
    viewed.locator("summary").click()
    expect(viewed.locator("pre.viewed-gutter")).to_have_text("1\n2")
    expect(viewed.locator("pre.viewed-code .hljs-keyword").first).to_have_text("def")
    fits(page)
    page.screenshot(path=artifacts_dir / f"web-daily-turn-open-{size}.png")
    errors.check()


# The first call reads a file under src/: src/CLAUDE.md joins the instructions from the next call on.
INSTRUCTED_SCRIPT = """
turns:
  - text: Reading the module.
    tools: [{name: view, input: {path: src/app.py}}]
  - text: Read it.
"""


def test_the_instruction_files_in_effect_are_said_atop_the_transcript_live_and_after_a_reload(
    browser: Browser, appliance: Appliance, rest: Rest, tmp_path: Path, artifacts_dir: Path, size: str
) -> None:
    path = workspace(tmp_path)
    (path / "AGENTS.md").write_text("Run the tests with pytest.\n")
    (path / "src").mkdir()
    (path / "src" / "app.py").write_text("print('app')\n")
    (path / "src" / "CLAUDE.md").write_text("Keep src free of globals.\n")
    project = rest.project(path)
    chat = rest.chat(project["id"], scripted(appliance, f"instructed-{size}.yaml", INSTRUCTED_SCRIPT))
    page, errors = signed_in(browser, appliance, size)
    open_chat(page, appliance, chat["id"])
    line = page.locator(".transcript .chat-instructions")
    expect(line).to_be_hidden()  # no model call yet: nothing is in effect
    send(page, "Read the app")
    expect(page.locator(".md").filter(has_text="Read it.")).to_have_count(1, timeout=60_000)
    wait_idle(page)
    # Live, from the chat's `context` updates: the root's file at the first call, src's after the view.
    expect(line).to_have_text("Instructions: AGENTS.md, src/CLAUDE.md")
    tooltip = f"Instruction files in effect:\n{path / 'AGENTS.md'}\n{path / 'src' / 'CLAUDE.md'}"
    expect(line).to_have_attribute("title", tooltip)
    # Atop the transcript: above its first message, within the window.
    first = page.locator("article.msg").first
    assert line.bounding_box()["y"] < first.bounding_box()["y"]  # type: ignore[index]
    inside(page, line)
    fits(page)
    page.screenshot(path=artifacts_dir / f"web-daily-instructions-{size}.png")
    # A reloaded page learns them from the snapshot (the stream resumes after those updates).
    page.reload()
    expect(page.locator("section.chat")).to_have_attribute("data-feed", "live")
    expect(line).to_have_text("Instructions: AGENTS.md, src/CLAUDE.md")
    expect(line).to_have_attribute("title", tooltip)
    page.screenshot(path=artifacts_dir / f"web-daily-instructions-reloaded-{size}.png")
    errors.check()


# -- images and files in the composer ---------------------------------------------------------------

PIXEL_B64 = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="

# A File in a DataTransfer, as a browser hands over a pasted or dropped image.
WITH_PIXEL = """
const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
const data = new DataTransfer();
data.items.add(new File([bytes], "pixel.png", { type: "image/png" }));
"""


def drag(page: Page, kind: str, where: str) -> bool:
    """Drags the pixel over `where` (dragenter, dragover, drop); whether the page took the event
    (cancelled it, so the browser does not open the file)."""
    return not page.evaluate(
        f"""([b64, kind, where]) => {{{WITH_PIXEL}
        const event = new DragEvent(kind, {{ dataTransfer: data, bubbles: true, cancelable: true }});
        return document.querySelector(where).dispatchEvent(event);
      }}""",
        [PIXEL_B64, kind, where],
    )


def test_a_pasted_or_dropped_image_and_at_paths_reach_the_model_and_an_image_goes_alone(
    browser: Browser, appliance: Appliance, rest: Rest, tmp_path: Path, artifacts_dir: Path, size: str
) -> None:
    path = workspace(tmp_path)
    (path / "leapyear.py").write_text("def leap(y):\n    return y % 4 == 0\n")
    log = appliance.data_dir / "scripts" / f"vision-{size}.jsonl"
    script = f"call_log: {log}\nturns:\n  - text: A red pixel, and I read the file.\n  - text: Just the picture.\n"
    chat = rest.chat(rest.project(path)["id"], scripted(appliance, f"vision-{size}.yaml", script))
    page, errors = signed_in(browser, appliance, size)
    open_chat(page, appliance, chat["id"])
    composer = page.get_by_role("textbox", name="Message")
    composer.fill("What is in this image? And see @leapyear.py and @nope.py")
    # Pasted into the message box (a ClipboardEvent carrying a File).
    page.evaluate(
        f"""(b64) => {{{WITH_PIXEL}
        const box = document.querySelector("textarea[aria-label=Message]");
        box.dispatchEvent(new ClipboardEvent("paste", {{ clipboardData: data, bubbles: true, cancelable: true }}));
      }}""",
        PIXEL_B64,
    )
    expect(page.locator(".composer-image img")).to_have_count(1)
    composer.press("Enter")
    expect(page.locator(".form-error")).to_contain_text("Not attached: @nope.py (no such file in the project: nope.py)")
    expect(page.locator(".composer-image")).to_have_count(0)
    expect(page.locator(".md").filter(has_text="A red pixel")).to_have_count(1, timeout=30_000)
    wait_idle(page)
    row = page.locator(".msg-user").first
    expect(row.locator(".user-text")).to_have_text("What is in this image? And see @leapyear.py and @nope.py")
    expect(row.locator(".attachment")).to_have_count(3)
    expect(row.locator(".attachment-error")).to_have_text("@nope.py")
    expect(row.locator(".attachment img.msg-image")).to_have_count(1)
    fits(page)
    page.screenshot(path=artifacts_dir / f"web-daily-attachments-{size}.png")

    # Dragged over the composer (its mode row, not the box): taken, not opened, with a hint.
    hint = page.locator(".composer .drop-hint")
    expect(hint).to_be_hidden()
    assert drag(page, "dragenter", ".composer-tools") and drag(page, "dragover", ".composer-tools")
    expect(hint).to_be_visible()
    expect(hint).to_have_text("Drop images to send them with your message")
    inside(page, hint)
    page.screenshot(path=artifacts_dir / f"web-daily-drop-hint-{size}.png")
    assert drag(page, "drop", ".composer-tools")
    expect(hint).to_be_hidden()
    expect(page.locator(".composer-image img")).to_have_count(1)
    # Sent with no text at all.
    expect(composer).to_have_value("")
    page.get_by_role("button", name="Send message").click()
    expect(page.locator(".composer-image")).to_have_count(0)
    expect(page.locator(".md").filter(has_text="Just the picture.")).to_have_count(1, timeout=30_000)
    wait_idle(page)
    alone = page.locator(".msg-user").nth(1)
    expect(alone.locator(".attachment img.msg-image")).to_have_count(1)
    expect(alone.locator(".user-text")).to_have_count(0)
    fits(page)
    page.screenshot(path=artifacts_dir / f"web-daily-dropped-{size}.png")

    first, second = [json.loads(line) for line in log.read_text().splitlines()]
    blocks = first["messages"][0]["blocks"]
    assert {"type": "image", "media_type": "image/png", "bytes": 70} in blocks
    assert any(b.get("text", "").startswith('<file path="leapyear.py">') for b in blocks)
    assert "[@nope.py was not attached: no such file in the project: nope.py]" in [b.get("text") for b in blocks]
    # The dropped image is the whole of the second message the model reads.
    assert second["messages"][-1]["role"] == "user"
    assert second["messages"][-1]["blocks"] == [{"type": "image", "media_type": "image/png", "bytes": 70}]
    errors.check()


# -- 3. choosing a model ----------------------------------------------------------------------------


@contextmanager
def provider_server(models: list[str]) -> Iterator[FakeLlmServer]:
    """The fake provider server on a loop of its own, for the appliance's api to ask."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="fake-provider", daemon=True)
    thread.start()
    server = FakeLlmServer()
    asyncio.run_coroutine_threadsafe(server.start(), loop).result(15)
    server.listed_models = models
    try:
        yield server
    finally:
        asyncio.run_coroutine_threadsafe(server.shutdown(), loop).result(15)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
        loop.close()


def test_a_model_field_offers_the_providers_models_and_takes_any_typed_one(
    browser: Browser, appliance: Appliance, rest: Rest, tmp_path: Path, artifacts_dir: Path, size: str
) -> None:
    project = rest.project(workspace(tmp_path))
    chat = rest.chat(project["id"], "scripted:demo")
    with provider_server(["claude-fake-opus", "claude-fake-haiku"]) as fake:
        page, errors = signed_in(browser, appliance, size, ignore=("status of 400",))
        # A key and base URL set in Settings: the api asks that provider for its models.
        page.goto(f"{appliance.url}/settings")
        anthropic = page.locator("fieldset[data-provider=anthropic]")
        anthropic.get_by_label("API key", exact=True).fill("sk-ant-fake-key-0123456789")
        anthropic.get_by_label("Base URL (optional)").fill(fake.url)
        page.get_by_role("button", name="Save").click()
        expect(page.locator(".form-status")).to_have_text("Saved.")
        try:
            open_chat(page, appliance, chat["id"])
            field = page.get_by_role("combobox", name="Model for the next message")
            expect(field).to_have_value("scripted:demo")
            field.focus()
            field.press("ArrowDown")
            listbox = page.get_by_role("listbox", name="Model for the next message suggestions")
            expect(listbox.get_by_role("option", name="anthropic:claude-fake-opus")).to_be_visible(timeout=20_000)
            expect(listbox).to_contain_text("Recently used")
            expect(listbox.locator(".model-option[data-source=recent]").first).to_have_text("scripted:demo")
            inside(page, listbox)
            fits(page)
            page.screenshot(path=artifacts_dir / f"web-daily-model-field-{size}.png")
            assert any(r.path == "/v1/models" for r in fake.requests)
            # Typing filters; a suggestion is taken with the arrows and Enter.
            field.fill("fake haiku")
            expect(listbox.get_by_role("option")).to_have_count(1)
            field.press("ArrowDown")
            field.press("Enter")
            expect(field).to_have_value("anthropic:claude-fake-haiku")
            # Any provider:model can be typed, listed or not.
            field.fill("openai:my-own-finetune")
            field.press("Enter")
            expect(field).to_have_value("openai:my-own-finetune")
            box = page.get_by_role("textbox", name="Message")
            box.fill("Hello with a model that has no key")
            box.press("Enter")
            # Refused where it is chosen: no OpenAI key. The composer says so, with the way to
            # Settings, and keeps the message; the chat goes on with its model.
            refused = page.locator(".form-error")
            expect(refused).to_contain_text("Not sent: model: 'openai:my-own-finetune' cannot be called")
            expect(refused).to_contain_text("RELIANT_OPENAI_API_KEY")
            expect(box).to_have_value("Hello with a model that has no key")
            assert rest.get_chat(chat["id"])["model"] == "scripted:demo"
            fits(page)
            page.screenshot(path=artifacts_dir / f"web-daily-no-key-{size}.png")
            refused.get_by_role("link", name="Set the key in Settings").click()
            expect(page).to_have_url(f"{appliance.url}/settings")
            expect(page.get_by_role("heading", name="Settings")).to_be_visible()
            # The default model is a model field too, with the same suggestions; saved, new chats get it.
            default = page.get_by_role("combobox", name="Default model for new chats")
            expect(default).to_have_value("scripted:demo")
            field_box, toggle_box = default.bounding_box(), page.locator(".settings .model-toggle").bounding_box()
            assert field_box and toggle_box, (field_box, toggle_box)
            assert field_box["x"] < toggle_box["x"] and (  # the ▾ sits inside the field's right end
                toggle_box["x"] + toggle_box["width"] <= field_box["x"] + field_box["width"] + 1
            ), (field_box, toggle_box)
            default.fill("fake opus")
            listbox = page.get_by_role("listbox", name="Default model for new chats suggestions")
            expect(listbox.get_by_role("option", name="anthropic:claude-fake-opus")).to_be_visible()
            default.press("ArrowDown")
            default.press("Enter")
            expect(default).to_have_value("anthropic:claude-fake-opus")
            fits(page)
            page.screenshot(path=artifacts_dir / f"web-daily-default-model-{size}.png")
            page.get_by_role("button", name="Save").click()
            expect(page.locator(".form-status")).to_have_text("Saved.")
            assert rest.call("POST", "/reliant.v1.SettingsService/GetSettings", {})["defaultModel"] == (
                "anthropic:claude-fake-opus"
            )
            page.goto(f"{appliance.url}/projects/{project['id']}")
            expect(page.get_by_role("combobox", name="Model of the new chat")).to_have_value(
                "anthropic:claude-fake-opus"
            )
        finally:
            rest.call("POST", "/reliant.v1.SettingsService/UpdateSettings", {"defaultModel": "scripted:demo"})
            cleared = {"anthropicApiKey": "", "anthropicBaseUrl": ""}
            rest.call("POST", "/reliant.v1.SettingsService/UpdateSettings", cleared)
        errors.check()


# -- 4. starting work -------------------------------------------------------------------------------


def test_work_starts_from_the_project_page_and_projects_are_added_by_picking_a_directory(
    browser: Browser, appliance: Appliance, rest: Rest, home: Path, tmp_path: Path, artifacts_dir: Path, size: str
) -> None:
    page, errors = signed_in(browser, appliance, size, ignore=("status of 400",))
    # Project cards: the path and whether the daemon is online, never a bare daemon id.
    demo = page.locator(".project-item").filter(has_text="demo-project")
    expect(demo.locator(".project-path")).to_contain_text("demo-project")
    # (Named when the appliance knows other daemons too, as tests here add their own.)
    expect(demo.locator(".daemon-state.online")).to_have_text(re.compile(r"^(daemon online|online · \S+)$"))
    assert not re.search(r"\bd-[0-9a-f]{12}\b", demo.inner_text()), demo.inner_text()
    fits(page)
    # A project on a daemon of its own: online while it runs, offline once it is stopped.
    away = workspace(tmp_path, "away")
    with own_daemon(appliance, tmp_path, away) as daemon:
        rest.call("POST", "/api/projects", {"path": str(away), "name": f"away-{size}", "daemon_id": daemon.id})
        page.reload()
        state = page.locator(".project-item").filter(has_text=f"away-{size}").locator(".daemon-state")
        expect(state).to_have_text("online · own")
        expect(state).to_have_class(re.compile(r"\bonline\b"))

    def says_offline() -> bool:
        page.reload()
        expect(state).to_be_visible()
        return bool(state.inner_text() == "daemon offline · own")

    wait_until(says_offline, timeout=45, interval=1)
    expect(state).to_have_class(re.compile(r"\boffline\b"))
    inside(page, state)
    fits(page)
    page.screenshot(path=artifacts_dir / f"web-daily-daemon-offline-{size}.png")
    # The directory picker walks the daemon's directories from ~ (its home).
    page.get_by_role("button", name="Browse…").click()
    picker = page.get_by_role("dialog", name="Choose a directory")
    expect(picker.locator(".dir-path")).to_have_text(str(home))
    picker.locator(".dir-entry").filter(has_text="src").click()
    expect(picker.locator(".dir-path")).to_have_text(str(home / "src"))
    webapp = picker.locator(".dir-entry").filter(has_text="webapp")
    expect(webapp.locator(".dir-git")).to_have_text("git")
    inside(page, picker)
    page.screenshot(path=artifacts_dir / f"web-daily-directory-picker-{size}.png")
    webapp.click()
    picker.get_by_role("button", name="Choose this directory").click()
    expect(page.get_by_label("Path")).to_have_value(str(home / "src" / "webapp"))
    # `~` stands for the daemon's home in a typed path too.
    page.get_by_label("Path").fill(f"~/src/notes-{size}")
    page.get_by_role("button", name="Add project").click()
    expect(page.locator(".add-project .form-error")).to_contain_text(f"{home}/src/notes-{size}")
    (home / "src" / f"notes-{size}").mkdir()
    page.get_by_role("button", name="Add project").click()
    expect(page).to_have_url(re.compile(r"/projects/[0-9a-f-]{36}$"))
    expect(page.locator(".project-page .project-path")).to_have_text(str(home / "src" / f"notes-{size}"))
    project_id = page.url.rsplit("/", 1)[1]

    # One way to start a chat, one empty state: the message box, then the table's line.
    expect(page.get_by_role("textbox", name="First message of a new chat")).to_be_visible()
    expect(page.get_by_role("button", name=re.compile("New chat"))).to_have_count(0)
    expect(page.get_by_role("link", name=re.compile("New chat"))).to_have_count(0)
    expect(page.get_by_text(re.compile("^No chats yet"))).to_have_count(1)
    fits(page)
    page.screenshot(path=artifacts_dir / f"web-daily-project-page-{size}.png")
    # A message that cannot be sent leaves no empty chat behind.
    first = page.get_by_role("textbox", name="First message of a new chat")
    first.fill("x" * 200_001)  # over the limit of a message: refused when it is sent
    first.press("Enter")
    expect(page.locator(".start-chat .form-error")).to_contain_text(
        "Not started: text: is 200,001 characters; the limit is 200,000"
    )
    assert rest.call("GET", f"/api/chats?project_id={project_id}") == []
    first.fill("Say hello")
    first.press("Enter")
    expect(page).to_have_url(re.compile(r"/chats/[0-9a-f-]{36}$"))
    expect(page.locator(".msg-user .user-text")).to_have_text("Say hello")
    wait_idle(page)
    chats = rest.call("GET", f"/api/chats?project_id={project_id}")
    assert len(chats) == 1 and chats[0]["model"] == "scripted:demo"
    errors.check()


# -- 5. the phone layout ----------------------------------------------------------------------------


def test_the_phone_layout_fits_and_a_menu_reaches_the_chats(
    browser: Browser, appliance: Appliance, rest: Rest, tmp_path: Path, artifacts_dir: Path, size: str
) -> None:
    project = rest.project(workspace(tmp_path))
    chats = [rest.chat(project["id"], scripted(appliance, f"phone-{size}.yaml", GATED_SCRIPT)) for _ in range(2)]
    rest.call("POST", "/reliant.v1.ChatService/SetMode", {"chatId": chats[0]["id"], "mode": "manual"})
    page, errors = signed_in(browser, appliance, size)
    menu = page.get_by_role("button", name="Chats of this project")
    for path in ("/", f"/projects/{project['id']}", "/settings"):
        page.goto(appliance.url + path)
        expect(page.locator("main h1").first).to_be_visible()
        fits(page)
    open_chat(page, appliance, chats[0]["id"])
    send(page, "Ask me")
    expect(page.locator(".gate-approval[data-status=pending]")).to_have_count(1, timeout=30_000)
    fits(page)
    # The header, the composer, the mode switch and the approval card all fit the window.
    for part in (
        page.locator(".topbar .brand"),
        page.locator(".topbar-actions"),
        page.locator(".chat-head"),
        page.locator(".composer .mode-switch"),
        page.get_by_role("combobox", name="Model for the next message"),
        page.get_by_role("textbox", name="Message"),
        page.get_by_role("button", name="Send message"),
        page.get_by_role("button", name="Stop the running turn"),
        page.locator(".gate-approval"),
    ):
        inside(page, part)
    page.screenshot(path=artifacts_dir / f"web-daily-chat-{size}.png")
    if size == "phone":
        # The chat list is behind the menu button.
        expect(page.locator(".sidebar")).not_to_be_in_viewport()
        menu.click()
        drawer = page.locator(".sidebar")
        expect(drawer).to_have_css("transform", "none")  # slid in
        inside(page, drawer)
        page.screenshot(path=artifacts_dir / "web-daily-drawer-phone.png")
        drawer.locator(f"li[data-chat-id='{chats[1]['id']}'] a.chat-link").click()
        expect(page).to_have_url(f"{appliance.url}/chats/{chats[1]['id']}")
        expect(drawer).not_to_be_in_viewport()
    else:
        expect(menu).to_be_hidden()
        page.locator(f".sidebar li[data-chat-id='{chats[1]['id']}'] a.chat-link").click()
        expect(page).to_have_url(f"{appliance.url}/chats/{chats[1]['id']}")
    # The workspace panel: its tabs fit.
    page.get_by_role("button", name="Workspace panel", exact=True).click()
    for tab in ("Files", "Terminal", "Processes", "MCP", "Worktree"):
        inside(page, page.get_by_role("tab", name=tab, exact=True))
    fits(page)
    page.screenshot(path=artifacts_dir / f"web-daily-panel-{size}.png")
    page.get_by_role("button", name="Close the workspace panel").click()
    rest.call("POST", "/reliant.v1.ChatService/CancelChat", {"chatId": chats[0]["id"]})
    errors.check()


# -- 6. the Worktree and MCP tabs -------------------------------------------------------------------


def test_a_project_without_git_is_offered_git_init_and_the_mcp_tab_adds_a_server_then_asks_for_trust(
    browser: Browser, appliance: Appliance, rest: Rest, tmp_path: Path, artifacts_dir: Path, size: str
) -> None:
    plain = workspace(tmp_path, "plain")
    project = rest.project(plain)
    page, errors = signed_in(browser, appliance, size)
    page.goto(f"{appliance.url}/projects/{project['id']}")
    page.get_by_role("button", name="Workspace panel", exact=True).click()
    page.get_by_role("tab", name="Worktree", exact=True).click()
    tab = page.get_by_role("tabpanel", name="Worktree", exact=True)
    norepo = tab.locator(".wt-norepo")
    expect(norepo.locator("h3")).to_have_text("This project is not a git repository")
    expect(norepo).to_contain_text("git init")
    expect(tab).not_to_contain_text("fatal")
    fits(page)
    page.screenshot(path=artifacts_dir / f"web-daily-worktree-not-git-{size}.png")
    norepo.get_by_role("button", name="Initialize a git repository").click()
    expect(tab.locator(".wt-norepo")).to_have_count(0, timeout=30_000)
    expect(tab).to_contain_text("Open a chat to give it a worktree")
    log = subprocess.run(["git", "log", "--format=%s", "--name-only"], cwd=plain, capture_output=True, text=True)
    assert "Initial commit" in log.stdout and "a.py" in log.stdout

    page.get_by_role("tab", name="MCP", exact=True).click()
    mcp = page.get_by_role("tabpanel", name="MCP", exact=True)
    mcp.locator(".mcp-example summary").click()
    expect(mcp.locator("pre.mcp-example-json")).to_contain_text('"mcpServers"')
    mcp.locator(".mcp-add summary").click()
    form = mcp.get_by_role("form", name="Add an MCP server")
    form.get_by_label("Name", exact=True).fill("tester")
    form.get_by_label("Command line").fill(f"{sys.executable} {TEST_MCP_SERVER}")
    form.get_by_role("button", name="Add server").click()
    # Written to the project's own file, so it waits for trust, and the tab says so up front.
    step = mcp.locator(".mcp-trust-step")
    expect(step).to_contain_text("Not running until you trust this project", timeout=30_000)
    trust = step.get_by_role("button", name="Review and trust")
    expect(trust).to_be_focused()
    written = json.loads((plain / ".reliant" / "mcp.json").read_text())
    assert written == {"mcpServers": {"tester": {"command": sys.executable, "args": [str(TEST_MCP_SERVER)]}}}
    fits(page)
    page.screenshot(path=artifacts_dir / f"web-daily-mcp-trust-{size}.png")
    trust.click()
    dialog = page.get_by_role("dialog", name="Trust this project")
    expect(dialog).to_contain_text(str(TEST_MCP_SERVER))
    dialog.get_by_role("button", name="Trust and run these").click()
    expect(mcp.locator("li.mcp[data-name=tester]")).to_have_attribute("data-status", "healthy", timeout=30_000)
    expect(mcp.locator(".mcp-trust-step")).to_have_count(0)
    fits(page)
    errors.check()


# -- 7. the small things ----------------------------------------------------------------------------


def test_the_small_things(
    browser: Browser, appliance: Appliance, rest: Rest, tmp_path: Path, artifacts_dir: Path, size: str
) -> None:
    project = rest.project(workspace(tmp_path))
    (tmp_path / "ws" / "leapyear.py").write_text("def leap(y):\n    return y % 4 == 0\n")
    chat = rest.chat(project["id"], "scripted:demo")
    page, errors = signed_in(browser, appliance, size)
    # The theme: a menu that says what is in force.
    choose_theme(page, "Dark")
    expect(page.locator("html")).to_have_attribute("data-theme", "dark")
    page.locator(".theme-toggle").click()
    expect(page.get_by_role("menuitemradio", name="Dark")).to_have_attribute("aria-checked", "true")
    page.keyboard.press("Escape")
    choose_theme(page, "System")
    # The status bar: the Temporal UI link says its payloads are sealed.
    temporal = page.locator(".statusbar").get_by_role("link", name=re.compile("^Temporal UI"))
    expect(temporal).to_contain_text("payloads encrypted")
    expect(temporal).to_have_attribute("title", re.compile("cannot show them"))
    inside(page, temporal)

    open_chat(page, appliance, chat["id"])
    # @path completion in the composer.
    box = page.get_by_role("textbox", name="Message")
    box.fill("look at @leap")
    mentions = page.get_by_role("listbox", name="Files to attach")
    expect(mentions.get_by_role("option", name="@leapyear.py")).to_be_visible()
    inside(page, mentions)
    fits(page)
    page.screenshot(path=artifacts_dir / f"web-daily-mention-{size}.png")
    box.press("Enter")
    expect(box).to_have_value("look at @leapyear.py ")
    expect(mentions).to_be_hidden()
    box.fill("")

    # File search as you type: no Enter needed; the last query's results win.
    page.get_by_role("button", name="Workspace panel", exact=True).click()
    page.get_by_role("tab", name="Files", exact=True).click()
    files = page.get_by_role("tabpanel", name="Files", exact=True)
    search = files.get_by_role("searchbox", name="Search files")
    search.press_sequentially("a.p", delay=30)
    results = files.locator(".files-result-list")
    expect(results.locator(".files-result-path")).to_have_text(["a.py"])
    search.press_sequentially("yz", delay=30)
    expect(files.locator(".files-results-head")).to_contain_text("“a.pyz”")
    expect(results.locator(".files-result-path")).to_have_count(0)
    fits(page)
    page.get_by_role("button", name="Close the workspace panel").click()

    # Diff boxes are as wide as their lines, not the card's whole width (the demo's edit).
    assert appliance.proc is not None
    found = re.search(r"Demo project ready at (\S+?)\.?\s", appliance.proc.output())
    assert found
    demo = rest.chat(rest.project(Path(found.group(1).rstrip(".")))["id"], "scripted:demo")
    open_chat(page, appliance, demo["id"])
    send(page, "Fix the failing test")
    edit = page.locator("details.tool[data-tool=edit]")
    expect(edit).to_have_count(1, timeout=60_000)
    wait_idle(page)
    if edit.get_attribute("open") is None:
        edit.locator("summary").click()
    diff = edit.locator("pre.diff")
    expect(diff).to_be_visible()
    sizes = diff.evaluate(
        """(pre) => {
        const text = (span) => {
          const range = document.createRange();
          range.selectNodeContents(span);
          return range.getBoundingClientRect().width;
        };
        const box = pre.getBoundingClientRect(), room = pre.parentElement.getBoundingClientRect();
        const body = pre.closest(".tool-body").getBoundingClientRect();
        return {box: box.width, height: box.height, room: room.width, body: body.width, bodyHeight: body.height,
          em: parseFloat(getComputedStyle(pre).fontSize), scroll: pre.scrollWidth,
          widest: Math.max(...[...pre.children].map(text)),
          rows: [...pre.children].map((s) => s.getBoundingClientRect().width),
          lines: [...pre.children].reduce((sum, s) => sum + s.getBoundingClientRect().height, 0)};
      }"""
    )
    # Sized to its content (app.css pre.diff: fit-content, at least min(100%, 32em), at most 100% of
    # the room it has): its widest line with the lines' padding (10 px each side) and its border,
    # never narrower than 32em unless the room is, and exactly as tall as its lines (6 px padding
    # above and below, a border).
    content = max(sizes["widest"] + 2 * 10 + 2, min(sizes["room"], 32 * sizes["em"]))
    assert abs(sizes["box"] - min(sizes["room"], content)) <= 1.5, sizes
    assert abs(sizes["height"] - (sizes["lines"] + 2 * 6 + 2)) <= 1.5, sizes
    assert sizes["height"] < sizes["bodyHeight"], sizes
    if size == "desktop":  # the demo's short diff: well inside the card's body, not as wide as it
        assert sizes["box"] < sizes["room"] - 100 and sizes["box"] < sizes["body"] - 100, sizes
    assert min(sizes["rows"]) >= sizes["scroll"] - 1, "every line's colour spans the widest line"
    fits(page)
    page.screenshot(path=artifacts_dir / f"web-daily-diff-{size}.png")
    errors.check()


# -- accessibility ----------------------------------------------------------------------------------

# The WCAG 2.2 A and AA rules axe-core checks (contrast among them), on what is on the page now.
AXE_OPTIONS = {
    "runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]},
    "resultTypes": ["violations"],
}


class Wcag:
    """Runs axe-core on the page as it is now; check() fails with every violation found, by screen."""

    def __init__(self) -> None:
        self.axe = Axe()
        self.found: list[str] = []

    def __call__(self, page: Page, where: str) -> None:
        results = self.axe.run(page, options=AXE_OPTIONS)
        if results.violations_count:
            self.found.append(f"{where}: {results.generate_report()}")

    def check(self) -> None:
        assert not self.found, "\n\n".join(self.found)


def test_every_screen_passes_the_wcag_checks_in_both_themes(
    browser: Browser, appliance: Appliance, rest: Rest, tmp_path: Path, artifacts_dir: Path, size: str
) -> None:
    project = rest.project(workspace(tmp_path))
    done = rest.chat(project["id"], scripted(appliance, f"a11y-endings-{size}.yaml", ENDINGS_SCRIPT))
    gated = rest.chat(project["id"], scripted(appliance, f"a11y-gated-{size}.yaml", GATED_SCRIPT))
    rest.call("POST", "/reliant.v1.ChatService/SetMode", {"chatId": gated["id"], "mode": "manual"})
    page, errors = signed_in(browser, appliance, size)
    accessible = Wcag()
    for theme in ("Light", "Dark"):
        choose_theme(page, theme)
        page.goto(appliance.url + "/")
        expect(page.locator(".project-item").first).to_be_visible()
        accessible(page, f"projects, {theme}")
        page.screenshot(path=artifacts_dir / f"web-daily-projects-{theme.lower()}-{size}.png")
        page.goto(f"{appliance.url}/projects/{project['id']}")
        expect(page.get_by_role("textbox", name="First message of a new chat")).to_be_visible()
        accessible(page, f"project page, {theme}")
        page.goto(f"{appliance.url}/settings")
        expect(page.get_by_role("combobox", name="Default model for new chats")).to_be_visible()
        accessible(page, f"settings, {theme}")
    choose_theme(page, "Light")
    open_chat(page, appliance, done["id"])
    send(page, "Try these")
    expect(page.locator(".md").filter(has_text="Done looking.")).to_have_count(1, timeout=60_000)
    wait_idle(page)
    group = page.locator("details.tool-group")
    if group.get_attribute("open") is None:
        group.locator(":scope > summary").click()
    for summary in ("echo broken; exit 3", "../../outside.txt"):
        card(page, summary).locator("summary").click()
    for theme in ("Light", "Dark"):
        choose_theme(page, theme)
        accessible(page, f"a chat with every outcome, {theme}")
        page.screenshot(path=artifacts_dir / f"web-daily-outcomes-{theme.lower()}-{size}.png")
    field = page.get_by_role("combobox", name="Model for the next message")
    field.focus()
    field.press("ArrowDown")
    expect(page.get_by_role("listbox", name="Model for the next message suggestions")).to_be_visible()
    accessible(page, "the model field's suggestions")
    field.press("Escape")

    open_chat(page, appliance, gated["id"])
    send(page, "Ask me")
    expect(page.locator(".gate-approval[data-status=pending]")).to_have_count(1, timeout=30_000)
    accessible(page, "an approval waiting")
    page.get_by_role("button", name="Workspace panel", exact=True).click()
    for tab in ("Files", "Terminal", "Processes", "MCP", "Worktree"):
        page.get_by_role("tab", name=tab, exact=True).click()
        expect(page.get_by_role("tabpanel", name=tab, exact=True)).to_be_visible()
        accessible(page, f"the {tab} tab")
    page.get_by_role("button", name="Close the workspace panel").click()
    menu = page.get_by_role("button", name="Chats of this project")
    current = page.locator(".sidebar a.chat-link[aria-current=page]")
    if size == "phone":
        menu.click()
        expect(page.locator(".sidebar")).to_have_css("transform", "none")
        accessible(page, "the chats drawer")
    else:
        current.focus()
    expect(current).to_be_focused()
    # The chat list is drawn again when a chat changes (here the open chat is stopped): the keyboard
    # focus stays on its row.
    rest.call("POST", "/reliant.v1.ChatService/CancelChat", {"chatId": gated["id"]})
    wait_idle(page)
    expect(page.locator(f".sidebar li[data-chat-id='{gated['id']}'] .pill")).to_have_text("idle")
    expect(current).to_be_focused()
    if size == "phone":
        page.keyboard.press("Escape")
        expect(page.locator(".sidebar")).not_to_be_in_viewport()
        expect(menu).to_be_focused()  # the focus goes back to the menu button
    choose_theme(page, "System")
    accessible.check()
    errors.check()
