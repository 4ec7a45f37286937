"""The dotted paths an expression reads (`nodes.red.exit_code`, `inputs['task']`), found by a small
lexical scan so the validator can check them against the definition before anything runs.

The CEL library reports only top-level names; the scan adds the fields selected after them. It knows
CEL's string literals (so text inside quotes is never mistaken for a path), method calls
(`x.startsWith(…)` ends a path) and the macros that bind a variable (`list.all(x, x > 0)`).
"""

from __future__ import annotations

from dataclasses import dataclass

MACROS = frozenset({"all", "exists", "exists_one", "map", "filter", "transformList", "transformMap"})
ITEM = "[]"  # a path's step into a list by a literal index (`nodes.solve.runs[0].diff`)


@dataclass(frozen=True, slots=True)
class Reference:
    path: tuple[str, ...]  # ("nodes", "red", "exit_code")
    offset: int  # where it starts in the expression

    def __str__(self) -> str:
        return dotted(self.path)


def dotted(path: tuple[str, ...]) -> str:
    """A path as it is written: `nodes.solve.runs[].diff`."""
    return ".".join(path).replace(f".{ITEM}", ITEM)


@dataclass(frozen=True, slots=True)
class Token:
    kind: str  # ident | string | number | punct
    text: str
    offset: int
    value: str | None = None  # a string literal's value, when it has no escapes


def scan(source: str) -> tuple[list[Reference], set[str]]:
    """The paths `source` reads, and the names its macros bind (which are not references)."""
    tokens = lex(source)
    bound: set[str] = set()
    refs: list[Reference] = []
    for i, tok in enumerate(tokens):
        if _is(tokens, i - 1, ".") and tok.kind == "ident" and tok.text in MACROS and _is(tokens, i + 1, "("):
            j = i + 2
            while j + 1 < len(tokens) and tokens[j].kind == "ident" and _is(tokens, j + 1, ","):
                bound.add(tokens[j].text)
                j += 2
    for i, tok in enumerate(tokens):
        if tok.kind != "ident" or _is(tokens, i - 1, ".") or _is(tokens, i + 1, "("):
            continue
        path = [tok.text]
        j = i + 1
        while j < len(tokens):
            if _is(tokens, j, ".") and j + 1 < len(tokens) and tokens[j + 1].kind == "ident":
                if _is(tokens, j + 2, "("):
                    break  # a method call: the path ends before it
                path.append(tokens[j + 1].text)
                j += 2
            elif (
                _is(tokens, j, "[")
                and j + 2 < len(tokens)
                and tokens[j + 1].kind == "string"
                and tokens[j + 1].value is not None
                and _is(tokens, j + 2, "]")
            ):
                path.append(tokens[j + 1].value or "")
                j += 3
            elif (
                _is(tokens, j, "[")
                and j + 2 < len(tokens)
                and tokens[j + 1].kind == "number"
                and _is(tokens, j + 2, "]")
            ):
                path.append(ITEM)  # `runs[0]`: an item of a list
                j += 3
            else:
                break
        if path[0] not in bound and path[0] not in ("true", "false", "null"):
            refs.append(Reference(tuple(path), tok.offset))
    return refs, bound


def token_count(source: str) -> int:
    """How many tokens (names, literals, operator characters) `source` holds."""
    return len(lex(source))


def _is(tokens: list[Token], i: int, punct: str) -> bool:
    return 0 <= i < len(tokens) and tokens[i].kind == "punct" and tokens[i].text == punct


def lex(source: str) -> list[Token]:
    """The tokens of `source`: names, numbers, string literals and punctuation, one character each."""
    tokens: list[Token] = []
    i = 0
    n = len(source)
    while i < n:
        ch = source[i]
        if ch.isspace():
            i += 1
            continue
        prefix = _string_prefix(source, i)
        if prefix >= 0:
            end, value = _string(source, i + prefix, raw="r" in source[i : i + prefix].lower())
            tokens.append(Token("string", source[i:end], i, value))
            i = end
        elif ch.isdigit() or (ch == "." and i + 1 < n and source[i + 1].isdigit()):
            j = i + 1
            while j < n and (source[j].isalnum() or (source[j] == "." and j + 1 < n and source[j + 1].isdigit())):
                j += 1
            tokens.append(Token("number", source[i:j], i))
            i = j
        elif ch.isalpha() or ch == "_":
            j = i + 1
            while j < n and (source[j].isalnum() or source[j] == "_"):
                j += 1
            tokens.append(Token("ident", source[i:j], i))
            i = j
        else:
            tokens.append(Token("punct", ch, i))
            i += 1
    return tokens


def _string_prefix(source: str, i: int) -> int:
    """Length of the prefix (r, b, rb, br…) before a quote at `i`; -1 when no string starts there."""
    j = i
    while j < len(source) and j - i < 2 and source[j] in "rRbB":
        j += 1
    if j < len(source) and source[j] in "'\"":
        return j - i
    return -1


def _string(source: str, i: int, *, raw: bool) -> tuple[int, str | None]:
    """(offset past the literal opening at `i`, its value when it holds no escapes)."""
    quote = source[i] * 3 if source.startswith(source[i] * 3, i) else source[i]
    j = i + len(quote)
    escaped = False
    while j < len(source):
        if source[j] == "\\" and not raw:
            escaped = True
            j += 2
            continue
        if source.startswith(quote, j):
            return j + len(quote), None if escaped else source[i + len(quote) : j]
        j += 1
    return len(source), None
