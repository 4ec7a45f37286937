"""`reliant agents --chat ID`: a chat's tree of sub-agents with their status, cost and tokens, and
what the chat has spent of its budget; `--merge / --keep / --remove AGENT`: an agent's worktree
(`--remove` refuses one with uncommitted changes, naming them, unless `--force`)."""

from __future__ import annotations

import json
import sys
import urllib.error
import urllib.request
from typing import IO, Annotated, Any

import typer

from reliant.cli.app import ApiUrlOpt, DataDirOpt, TokenOpt, api_client, app, connect_error, fail
from reliant.cli.shown import revealed, revealing


@app.command("agents")
def agents(
    chat_id: Annotated[str, typer.Option("--chat", help="The chat (an id or a unique prefix)")],
    as_json: Annotated[bool, typer.Option("--json", help="The tree as JSON")] = False,
    merge: Annotated[
        str,
        typer.Option(
            "--merge", help="Merge this agent's worktree where it started from (its spawner's branch)", metavar="AGENT"
        ),
    ] = "",
    keep: Annotated[
        str,
        typer.Option("--keep", help="Keep this agent's worktree as it is (merge or remove it later)", metavar="AGENT"),
    ] = "",
    remove: Annotated[
        str, typer.Option("--remove", help="Remove this agent's worktree and its branch", metavar="AGENT")
    ] = "",
    force: Annotated[
        bool, typer.Option("--force", help="With --remove: even with uncommitted changes (they are deleted)")
    ] = False,
    data_dir: DataDirOpt = None,
    api_url: ApiUrlOpt = None,
    token: TokenOpt = None,
) -> None:
    """The sub-agents of a chat: a tree with status, model, cost and tokens."""
    from reliant.cli import ids
    from reliant.cli.api import CliError

    actions = [(a, given) for a, given in (("merge", merge), ("keep", keep), ("remove", remove)) if given]
    if len(actions) > 1:
        fail("give one of --merge, --keep and --remove")
    if force and not remove:
        fail("--force goes with --remove")
    api = api_client(data_dir, api_url, token)
    try:
        path = f"/api/chats/{ids.chat_id(api, chat_id)}/agents"
        tree = _get(api.url, api.headers, path)
        if actions:
            action, given = actions[0]
            agent = _agent_id(tree, given)
            body: dict[str, Any] = {"action": action} | ({"force": True} if force else {})
            done = _post(api.url, api.headers, f"{path}/{agent}/worktree", body)
            files = f": {', '.join(done['files'])}" if done.get("files") else ""
            state = done["worktree"]["state"] if done.get("worktree") else action
            sys.stdout.write(revealed(f"agent {done['name']} ({agent[:8]}): worktree {state}{files}\n"))
            return
    except typer.Exit:
        raise
    except CliError as exc:  # the chat id names no chat: said as it is, not as a failed call
        fail(str(exc))
    except urllib.error.HTTPError as exc:
        fail(_detail(exc))
    except Exception as exc:  # noqa: BLE001 - reported as a one-line error
        connect_error(exc, api.url)
    if as_json:
        json.dump(tree, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        print_tree(tree, sys.stdout)


def print_tree(tree: dict[str, Any], out: IO[str]) -> None:
    with revealing(out) as out:
        out.write(f"chat {tree['chat_id']}: spent ${tree.get('spent_usd', 0):.4f}{_budget(tree)}\n")
        agents = tree.get("agents") or []
        children: dict[str, list[dict[str, Any]]] = {}
        for agent in agents:
            children.setdefault(agent.get("parent_agent_id") or "", []).append(agent)

        def draw(parent: str, indent: str) -> None:
            for agent in children.get(parent, []):
                tokens = agent["input_tokens"] + agent["output_tokens"]
                where = f"  [worktree {agent['worktree']['branch']}]" if agent.get("worktree") else ""
                out.write(
                    f"{indent}{agent['agent_id'][:8]}  {agent['name']}  {agent['status']}  "
                    f"${agent['cost_usd']:.4f}  {tokens} tokens  {agent['model'] or '(chat model)'}{where}\n"
                )
                draw(agent["agent_id"], indent + "  ")

        if not agents:
            out.write("no agents\n")
        draw("", "  ")


BUDGET_SOURCES = {"chat": "this chat's own", "api": "the settings screen", "config": "[budget] in reliant.toml"}
# 0 is no budget wherever it is set, and stands over the layers below it (reliant.toml's included).
ZERO_BUDGETS = {"chat": "this chat's own is 0", "api": "the settings screen's is 0"}


def _budget(tree: dict[str, Any]) -> str:
    """The budget in force after "spent $X": ` of $5.00 (where it is set)`, ` (no budget: which 0
    lifts the others)` or ` (no budget)`; from an api too old to say it, the chat's own budget, if it
    has one."""
    if "budget_in_force_usd" not in tree:
        own = tree.get("budget_usd")
        return f" of ${own:.2f}" if own is not None else ""
    source = tree.get("budget_source", "")
    if not tree["budget_in_force_usd"]:
        return f" (no budget: {ZERO_BUDGETS[source]})" if source in ZERO_BUDGETS else " (no budget)"
    source = BUDGET_SOURCES.get(source, "")
    return f" of ${tree['budget_in_force_usd']:.2f}" + (f" ({source})" if source else "")


def _agent_id(tree: dict[str, Any], given: str) -> str:
    """The agent an id or a unique prefix names (in either case: ids are UUIDs)."""
    prefix = given.strip().lower()
    if not prefix:  # the start of every id: it names none
        fail("give the agent's id (or the start of it)")
    matches = [a["agent_id"] for a in tree.get("agents") or () if a["agent_id"].startswith(prefix)]
    if len(matches) != 1:
        fail(f"agent {given!r} {'matches several agents' if matches else 'is not an agent of this chat'}")
    return str(matches[0])


def _post(url: str, headers: dict[str, str], path: str, body: dict[str, Any]) -> Any:
    data = json.dumps(body).encode()
    request = urllib.request.Request(
        url.rstrip("/") + path, data=data, method="POST", headers={**headers, "content-type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=150) as response:
        return json.loads(response.read())


def _get(url: str, headers: dict[str, str], path: str) -> Any:
    request = urllib.request.Request(url.rstrip("/") + path, headers=headers)
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def _detail(exc: urllib.error.HTTPError) -> str:
    try:
        return str(json.loads(exc.read()).get("detail") or exc)
    except ValueError:
        return str(exc)
