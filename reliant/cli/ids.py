"""Ids like git's: any unique prefix names a chat, an approval or a question, and lists show the
shortest prefix (at least SHORT characters) that stays unique. Prefixes are resolved here, from the
same list calls the listings use; a full id goes to the api as it is."""

from __future__ import annotations

import re
from collections.abc import Sequence

from reliant.cli.api import Api, CliError
from reliant.wire.v1 import chat_pb2 as pb
from reliant.wire.v1 import control_pb2 as cpb

SHORT = 8
_FULL = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
_PREFIX = re.compile(r"^[0-9a-f-]+$")
MAX_LISTED = 10


def short_ids(ids: Sequence[str]) -> dict[str, str]:
    """Each id's shortest prefix (at least SHORT characters) that no other id shares."""
    ordered = sorted(set(ids))
    shared = [0] * len(ordered)  # the longest prefix each id shares with a neighbour
    for i in range(1, len(ordered)):
        a, b = ordered[i - 1], ordered[i]
        n = 0
        while n < min(len(a), len(b)) and a[n] == b[n]:
            n += 1
        shared[i - 1] = max(shared[i - 1], n)
        shared[i] = max(shared[i], n)
    return {one: one[: max(SHORT, n + 1)] for one, n in zip(ordered, shared, strict=True)}


def resolve(kind: str, given: str, candidates: Sequence[tuple[str, str]], *, listing: str, gone: str = "") -> str:
    """The one id among `candidates` ((id, what it is) pairs) that starts with `given`.

    A full id is returned as it is (the api says if there is no such thing); `listing` is the
    command that lists them, for the error when none or several match (`gone`: why none may)."""
    wanted = given.strip().lower()
    if _FULL.match(wanted):
        return wanted
    if not wanted or not _PREFIX.match(wanted):
        raise CliError(f"{given!r} is not a {kind} id: ids are hexadecimal (see `{listing}`)")
    found = [(i, what) for i, what in candidates if i.startswith(wanted)]
    if not found:
        raise CliError(f"no {kind} id starts with {given}{gone} (see `{listing}`)")
    if len(found) > 1:
        shorts = short_ids([i for i, _ in candidates])
        lines = [f"  {shorts[i]}  {what}" for i, what in found[:MAX_LISTED]]
        if len(found) > MAX_LISTED:
            lines.append(f"  … and {len(found) - MAX_LISTED} more")
        raise CliError(f"{given} is ambiguous: {len(found)} {kind}s start with it:\n" + "\n".join(lines))
    return found[0][0]


def chat_id(api: Api, given: str) -> str:
    if _FULL.match(given.strip().lower()):
        return given.strip().lower()
    with api.chats() as chats:
        listed = chats.list_chats(pb.ListChatsRequest(), headers=api.headers).chats
    return resolve("chat", given, [(c.id, c.title or "(untitled)") for c in listed], listing="reliant chats")


def approval_id(api: Api, given: str) -> str:
    if _FULL.match(given.strip().lower()):
        return given.strip().lower()
    with api.approvals() as approvals:
        listed = approvals.list_pending_approvals(cpb.ListPendingApprovalsRequest(), headers=api.headers).approvals
    return resolve(
        "pending approval",
        given,
        [(a.id, f"{a.tool_name} in chat {a.chat_title or a.chat_id}") for a in listed],
        listing="reliant approvals",
        gone=": it may have been answered already",
    )


def question_id(api: Api, given: str) -> str:
    if _FULL.match(given.strip().lower()):
        return given.strip().lower()
    with api.questions() as questions:
        listed = questions.list_pending_questions(cpb.ListPendingQuestionsRequest(), headers=api.headers).questions
    return resolve(
        "pending question",
        given,
        [(q.id, f"chat {q.chat_title or q.chat_id}") for q in listed],
        listing="reliant approvals",
        gone=": it may have been answered already",
    )
