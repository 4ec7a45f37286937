"""`reliant agents --chat ID`: a chat's tree of sub-agents with their status, cost and tokens, and
what the chat has spent of its budget."""

from __future__ import annotations

import json
import sys
import urllib.error
import urllib.request
from typing import IO, Annotated, Any

import typer

from reliant.cli.app import ApiUrlOpt, DataDirOpt, TokenOpt, api_client, app, connect_error, fail


@app.command("agents")
def agents(
    chat_id: Annotated[str, typer.Option("--chat", help="The chat (an id or a unique prefix)")],
    as_json: Annotated[bool, typer.Option("--json", help="The tree as JSON")] = False,
    data_dir: DataDirOpt = None,
    api_url: ApiUrlOpt = None,
    token: TokenOpt = None,
) -> None:
    """The sub-agents of a chat: a tree with status, model, cost and tokens."""
    from reliant.cli import ids

    api = api_client(data_dir, api_url, token)
    try:
        tree = _get(api.url, api.headers, f"/api/chats/{ids.chat_id(api, chat_id)}/agents")
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
    budget = tree.get("budget_usd")
    spent = f"spent ${tree.get('spent_usd', 0):.4f}" + (f" of ${budget:.2f}" if budget is not None else "")
    out.write(f"chat {tree['chat_id']}: {spent}\n")
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


def _get(url: str, headers: dict[str, str], path: str) -> Any:
    request = urllib.request.Request(url.rstrip("/") + path, headers=headers)
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def _detail(exc: urllib.error.HTTPError) -> str:
    try:
        return str(json.loads(exc.read()).get("detail") or exc)
    except ValueError:
        return str(exc)
