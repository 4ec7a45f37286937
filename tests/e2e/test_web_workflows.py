"""Workflows in the web UI, in real Chromium against `reliant up`, at 1440x900 and 390x844: starting a
chat on a workflow from a form built from its typed inputs (defaults filled in, a wrong value named
at its input before anything is sent, the api's answer about an input shown at that input), a
project file that shadows a built-in, the definition viewer (the nodes and the highlighted source).
Screenshots go to the artifacts dir."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Locator, Page, expect

from tests.e2e.harness import Appliance, Rest, clean_env
from tests.web.browser import PageErrors, chromium

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

SIZES = {"desktop": {"width": 1440, "height": 900}, "phone": {"width": 390, "height": 844}}
SHADOW = """name: tdd
description: Our own test-first loop.
inputs:
  task: {type: string, description: What to build}
  rounds: {type: integer, default: 2, description: Rounds at most}
  strict: {type: boolean, default: false}
entry: check
nodes:
  - {id: check, type: run, command: "make test"}
"""


@pytest.fixture(scope="module")
def appliance(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Appliance]:
    up = Appliance(tmp_path_factory.mktemp("web-workflows") / "data", env=clean_env())
    up.start()
    yield up
    up.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as b:
        yield b


def sign_in(browser: Browser, up: Appliance, size: str) -> tuple[Page, PageErrors]:
    context = browser.new_context(viewport=SIZES[size], is_mobile=size == "phone", has_touch=size == "phone")
    context.set_default_timeout(15_000)
    page = context.new_page()
    errors = PageErrors(page, ("status of 400",))  # a refused CreateChat is reported by the console
    page.goto(f"{up.url}/?token={up.token}")
    expect(page).to_have_url(up.url + "/")
    return page, errors


def project(up: Appliance, root: Path, *, shadow: bool = False) -> dict[str, str]:
    root.mkdir()
    rest = Rest(up.url, up.token)
    if shadow:
        (root / ".reliant" / "workflows").mkdir(parents=True)
        (root / ".reliant" / "workflows" / "tdd.yaml").write_text(SHADOW)
    found: dict[str, str] = rest.project(root)
    if shadow:
        trust = rest.call("GET", f"/api/projects/{found['id']}/trust")
        rest.call("POST", f"/api/projects/{found['id']}/trust", {"fingerprint": trust["fingerprint"]})
    return found


@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_a_chat_starts_on_a_workflow_from_a_form_of_its_typed_inputs(
    browser: Browser, appliance: Appliance, tmp_path: Path, artifacts_dir: Path, size: str
) -> None:
    made = project(appliance, tmp_path / "proj")
    page, errors = sign_in(browser, appliance, size)
    page.goto(f"{appliance.url}/projects/{made['id']}")
    page.locator("button.new-workflow-chat:visible").first.click()
    dialog = page.locator("dialog.workflow-start")
    expect(dialog).to_be_visible()
    choices = dialog.locator("label.wf-choice")
    expect(choices).to_have_count(7)  # the built-ins, best-of-n and the children it and review run among them
    expect(dialog.locator("label.wf-choice[data-workflow=best-of-n]")).to_be_visible()
    expect(dialog.locator("input[value=agent]")).to_be_checked()
    dialog.locator("label.wf-choice[data-workflow=tdd]").click()
    task = dialog.locator("#wf-input-task")
    rounds = dialog.locator("#wf-input-max_rounds")
    expect(rounds).to_have_value("5")
    expect(dialog.locator("#wf-input-test_command")).to_have_value("python -m pytest -q")
    expect(dialog.locator(".wf-field[data-input=task] .wf-field-about")).to_have_text("What to build")
    page.screenshot(path=artifacts_dir / f"web-workflow-start-{size}.png")

    rounds.fill("two")
    dialog.locator("button.wf-start").click()
    expect(dialog.locator(".wf-field[data-input=task] .wf-field-error")).to_have_text("required")
    expect(dialog.locator(".wf-field[data-input=max_rounds] .wf-field-error")).to_have_text("must be a whole number")
    expect(task).to_be_focused()
    chats = Rest(appliance.url, appliance.token).call("GET", "/api/chats")
    assert not [c for c in chats if c["project_id"] == made["id"]], "nothing was sent"

    task.fill("leap years")
    rounds.fill("3")
    dialog.locator("button.wf-start").click()
    expect(page).to_have_url(re.compile(r"/chats/[0-9a-f-]{36}$"))
    chat_id = page.url.rsplit("/", 1)[1]
    chat = Rest(appliance.url, appliance.token).get_chat(chat_id)
    assert chat["workflow"] == "tdd" and chat["workflow_inputs"] == {"task": "leap years", "max_rounds": 3.0}
    panel = page.locator("aside.wf-run-panel")
    expect(panel).to_be_visible()
    expect(panel.locator(".wf-run-title")).to_contain_text("tdd")
    page.screenshot(path=artifacts_dir / f"web-workflow-chat-{size}.png")
    errors.check()


def test_a_shadowing_file_is_shown_and_the_definition_is_viewable(
    browser: Browser, appliance: Appliance, tmp_path: Path, artifacts_dir: Path
) -> None:
    made = project(appliance, tmp_path / "proj", shadow=True)
    page, errors = sign_in(browser, appliance, "desktop")
    page.goto(f"{appliance.url}/projects/{made['id']}")
    page.locator("button.new-workflow-chat:visible").first.click()
    dialog = page.locator("dialog.workflow-start")
    builtin = dialog.locator("label.wf-choice[data-workflow=tdd][data-origin=builtin]")
    own = dialog.locator("label.wf-choice[data-workflow=tdd][data-origin=project]")
    expect(builtin.locator(".wf-shadowed")).to_have_text("shadowed")
    expect(builtin.locator("input")).to_be_disabled()
    expect(own.locator(".wf-badge")).to_contain_text(["project", "shadows the built-in"])
    own.click()
    expect(dialog.locator("#wf-input-rounds")).to_have_value("2")
    expect(dialog.locator("#wf-input-strict")).not_to_be_checked()
    # A value the form cannot judge is the api's to refuse: its answer lands at the input.
    dialog.locator("#wf-input-task").fill("x")
    page.route(
        "**/reliant.v1.ChatService/CreateChat",
        lambda route: route.fulfill(
            status=400,
            content_type="application/json",
            body='{"code": "invalid_argument", "message": "inputs.rounds: must be at most 9 (workflow tdd)"}',
        ),
    )
    dialog.locator("button.wf-start").click()
    expect(dialog.locator(".wf-field[data-input=rounds] .wf-field-error")).to_have_text("must be at most 9")
    page.unroute("**/reliant.v1.ChatService/CreateChat")

    dialog.locator("button.wf-view-definition").click()
    viewer = page.locator("dialog.workflow-source")
    expect(viewer).to_be_visible()
    expect(viewer.locator(".wf-tree-node[data-path=check]")).to_contain_text("make test")
    expect(viewer.locator(".wf-source-text code")).to_contain_text("Our own test-first loop.")
    expect(viewer.locator(".wf-source-text .hljs-attr").first).to_be_visible()  # highlighted
    expect(viewer.locator(".wf-inputs tbody tr")).to_have_count(3)
    viewer.screenshot(path=artifacts_dir / "web-workflow-definition.png")
    viewer.get_by_role("button", name="Close").click()
    expect(viewer).to_have_count(0)
    errors.check()


STEPS = """name: steps
description: Prepare, tick twice, then ask.
entry: prepare
nodes:
  - {id: prepare, type: run, command: "echo ready"}
  - id: rounds
    type: loop
    max_iterations: 2
    body:
      entry: tick
      nodes:
        - {id: tick, type: run, command: "echo tick >> ticks.txt"}
  - {id: ask, type: approval, question: "Ship it?", choices: [ship, hold]}
  - {id: shipped, type: save_message, role: assistant, content: "shipped: {{nodes.ask.note}}"}
  - {id: held, type: save_message, role: assistant, content: held}
edges:
  - {from: prepare, default: rounds}
  - {from: rounds, default: ask}
  - from: ask
    cases: [{to: shipped, condition: "nodes.ask.choice == 'ship'"}]
    default: held
"""


def node(page: Page, path: str) -> Locator:
    return page.locator(f"aside.wf-run-panel li.wf-run-node[data-path='{path}']").first


@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_a_runs_nodes_show_live_beside_the_transcript_and_its_approval_node_is_a_card_of_choices(
    browser: Browser, appliance: Appliance, tmp_path: Path, artifacts_dir: Path, size: str
) -> None:
    root = tmp_path / "proj"
    (root / ".reliant" / "workflows").mkdir(parents=True)
    (root / ".reliant" / "workflows" / "steps.yaml").write_text(STEPS)
    rest = Rest(appliance.url, appliance.token)
    made = rest.project(root)
    trust = rest.call("GET", f"/api/projects/{made['id']}/trust")
    rest.call("POST", f"/api/projects/{made['id']}/trust", {"fingerprint": trust["fingerprint"]})
    chat = rest.call("POST", "/api/chats", {"project_id": made["id"], "workflow": "steps"})
    page, errors = sign_in(browser, appliance, size)
    page.goto(f"{appliance.url}/chats/{chat['id']}")
    expect(page.locator("section.chat")).to_have_attribute("data-feed", "live")
    panel = page.locator("aside.wf-run-panel")
    expect(panel).to_be_visible()
    if size == "phone":
        expect(panel.locator("details.wf-run-fold")).not_to_have_attribute("open", "")
        panel.locator("summary").click()  # the strip folds open
    composer = page.get_by_role("textbox", name="Message")
    composer.fill("go")
    composer.press("Enter")

    card = page.locator(".gate[data-kind=approval][data-status=pending]")
    expect(card).to_be_visible(timeout=30_000)
    expect(card.locator(".gate-question")).to_have_text("Ship it?")
    expect(card.locator("button.gate-choose")).to_have_text(["ship", "hold"])
    expect(node(page, "prepare")).to_have_attribute("data-status", "done")
    expect(node(page, "prepare").locator(".wf-node-state").first).to_have_text("done: exit 0")
    expect(node(page, "rounds").locator(".wf-node-state").first).to_have_text("done after 2 rounds")
    expect(node(page, "ask")).to_have_attribute("data-status", "running")
    expect(node(page, "shipped")).to_have_attribute("data-status", "waiting")
    expect(panel.locator(".wf-run-status")).to_contain_text("running")
    page.screenshot(path=artifacts_dir / f"web-workflow-run-waiting-{size}.png")

    card.locator("input.gate-note").fill("looks good")
    card.locator("button.gate-choose", has_text="ship").click()
    expect(page.locator("section.chat")).to_have_attribute("data-status", "idle", timeout=30_000)
    expect(node(page, "shipped")).to_have_attribute("data-status", "done")
    expect(node(page, "held")).to_have_attribute("data-status", "skipped")
    expect(node(page, "ask").locator(".wf-node-state").first).to_have_text("done: ship")
    expect(panel).to_have_attribute("data-status", "done")
    expect(page.locator(".rows")).to_contain_text("shipped: looks good")
    assert (root / "ticks.txt").read_text() == "tick\ntick\n"
    page.screenshot(path=artifacts_dir / f"web-workflow-run-done-{size}.png")
    page.reload()  # a reload shows the same states (read from ListRuns, not the stream)
    expect(node(page, "shipped")).to_have_attribute("data-status", "done")
    expect(node(page, "rounds").locator(".wf-node-state").first).to_have_text("done after 2 rounds")
    errors.check()
