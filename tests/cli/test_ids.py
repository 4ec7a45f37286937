"""Ids like git's: short forms that stay unique, and prefixes resolved or refused with the candidates."""

from __future__ import annotations

import pytest

from reliant.cli.api import CliError
from reliant.cli.ids import resolve, short_ids

A = "1a2b3c4d-0000-4000-8000-000000000001"
B = "1a2b3c4d-9000-4000-8000-000000000002"
C = "77777777-0000-4000-8000-000000000003"


def test_short_ids_are_eight_characters_unless_that_is_not_unique() -> None:
    assert short_ids([A, B, C]) == {A: "1a2b3c4d-0", B: "1a2b3c4d-9", C: "77777777"}
    assert short_ids([]) == {}


def test_a_unique_prefix_names_one() -> None:
    pairs = [(A, "first"), (B, "second"), (C, "third")]
    assert resolve("chat", "7", pairs, listing="reliant chats") == C
    assert resolve("chat", "1A2B3C4D-9", pairs, listing="reliant chats") == B
    assert resolve("chat", A.upper(), [], listing="reliant chats") == A  # a full id needs no list


def test_an_ambiguous_prefix_lists_the_candidates_and_none_says_so() -> None:
    pairs = [(A, "first"), (B, "second"), (C, "third")]
    with pytest.raises(CliError) as ambiguous:
        resolve("chat", "1a2b", pairs, listing="reliant chats")
    assert str(ambiguous.value) == (
        "1a2b is ambiguous: 2 chats start with it:\n  1a2b3c4d-0  first\n  1a2b3c4d-9  second"
    )
    with pytest.raises(CliError, match=r"^no chat id starts with 0bad \(see `reliant chats`\)$"):
        resolve("chat", "0bad", pairs, listing="reliant chats")
    with pytest.raises(CliError, match="is not a chat id: ids are hexadecimal"):
        resolve("chat", "hello", pairs, listing="reliant chats")
