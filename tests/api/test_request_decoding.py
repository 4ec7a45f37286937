"""Request decoding names the field at fault, ignores unknown fields and never echoes the input."""

from __future__ import annotations

import pytest

from reliant.api.errors import InvalidArgumentError, InvalidFieldError
from reliant.api.request_decoding import decode_binary, decode_json
from reliant.wire.v1 import chat_pb2, control_pb2, workspace_pb2
from tests.api.malformed import tag, varint


@pytest.mark.parametrize(
    ("cls", "body", "field", "problem"),
    [
        (chat_pb2.CreateChatRequest, b'{"projectId": 5}', "projectId", "expected a string, got a number"),
        (chat_pb2.CreateChatRequest, b'{"project_id": [1]}', "project_id", "expected a string, got a list"),
        (chat_pb2.RenameChatRequest, b'{"title": "a\\u0000b"}', "title", "contains a NUL character"),
        (chat_pb2.SendMessageRequest, b'{"text": "\\ud800"}', "text", "not valid UTF-8"),
        (chat_pb2.SendMessageRequest, b'{"text": "ok \xff\xfe"}', "text", "not valid UTF-8"),
        (chat_pb2.StreamUpdatesRequest, b'{"sinceSeq": "abc"}', "sinceSeq", "expected an integer, got a string"),
        (chat_pb2.StreamUpdatesRequest, b'{"sinceSeq": 1.5}', "sinceSeq", "expected an integer, got a number"),
        (chat_pb2.StreamUpdatesRequest, b'{"sinceSeq": "99999999999999999999"}', "sinceSeq", "out of range"),
        (workspace_pb2.OpenTerminalRequest, b'{"cols": 1099511627776}', "cols", "between -2147483648 and"),
        (workspace_pb2.OpenTerminalRequest, b'{"command": "ls -la /secret"}', "command", "expected a list"),
        (workspace_pb2.OpenTerminalRequest, b'{"command": ["ls", 3]}', "command[1]", "expected a string"),
        (workspace_pb2.SaveFileRequest, b'{"data": "!!!"}', "data", "is not base64"),
        (workspace_pb2.ListDirectoryRequest, b'{"showIgnored": "yes"}', "showIgnored", "expected true or false"),
        (
            control_pb2.AnswerBatchRequest,
            b'{"items": [{"deny": {}}, {"approve": {"approvalId": 3}}]}',
            "items[1].approve.approvalId",
            "expected a string, got a number",
        ),
        (
            control_pb2.AnswerBatchRequest,
            b'{"items": [{"approve": {}, "deny": {}}]}',
            "items[0].deny",
            "cannot be set together with approve",
        ),
        (control_pb2.AnswerQuestionRequest, b'{"answers": ["a", null]}', "answers[1]", "a list cannot hold null"),
    ],
)
def test_json_errors_name_the_field(cls: type, body: bytes, field: str, problem: str) -> None:
    with pytest.raises(InvalidFieldError) as info:
        decode_json(body, cls)
    assert info.value.field == field and problem in info.value.problem
    assert info.value.message.startswith(f"{field}: ")


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (b'{"title": ', "not valid JSON: Expecting value (line 1, column 11)"),
        (b"[1, 2]", "must be a JSON object (a reliant.v1.CreateChatRequest), not a list"),
        (b"null", "must be a JSON object"),
        (b'{"unknown": "\xff"}', "not UTF-8: the byte at offset 13 is invalid"),
        (b"[" * 100_000, "nested too deeply"),
        (b'{"n": ' + b"9" * 5000 + b"}", "a number has too many digits"),
    ],
)
def test_a_body_that_is_not_a_message_says_why(body: bytes, fragment: str) -> None:
    with pytest.raises(InvalidArgumentError) as info:
        decode_json(body, chat_pb2.CreateChatRequest)
    assert fragment in info.value.message


def test_unknown_fields_are_ignored_and_both_field_names_are_accepted() -> None:
    body = b'{"project_id": "p", "title": "t", "newField": {"x": [1, {"y": null}]}, "other": "\\u0000"}'
    message = decode_json(body, chat_pb2.CreateChatRequest)
    assert (message.project_id, message.title) == ("p", "t")
    assert decode_json(b"", chat_pb2.CreateChatRequest) == chat_pb2.CreateChatRequest()
    assert decode_json(b'{"sinceSeq": "12", "chatId": "c"}', chat_pb2.StreamUpdatesRequest).since_seq == 12
    binary = tag(999, 2) + varint(3) + b"abc" + chat_pb2.CreateChatRequest(title="t").SerializeToString()
    assert decode_binary(binary, chat_pb2.CreateChatRequest).title == "t"


@pytest.mark.parametrize(
    ("cls", "body", "field", "problem"),
    [
        (chat_pb2.RenameChatRequest, tag(2, 2) + varint(2) + b"\xff\xfe", "title", "not valid UTF-8"),
        (chat_pb2.RenameChatRequest, tag(2, 2) + varint(3) + b"a\x00b", "title", "contains a NUL character"),
        (chat_pb2.SendMessageRequest, tag(2, 2) + varint(10) + b"abc", "text", "announces 10 bytes, 3 follow"),
        (
            control_pb2.AnswerBatchRequest,
            tag(1, 2) + varint(5) + tag(1, 2) + varint(3) + tag(1, 2) + varint(9) + b"x",
            "items[0].approve.approval_id",
            "announces 9 bytes, 1 follow",
        ),
        (workspace_pb2.OpenTerminalRequest, tag(3, 0) + b"\xff\xff", "cols", "cut short"),
        (chat_pb2.CreateChatRequest, tag(1, 3) + tag(1, 4), "project_id", "wire type 3"),
    ],
)
def test_binary_errors_name_the_field(cls: type, body: bytes, field: str, problem: str) -> None:
    with pytest.raises(InvalidFieldError) as info:
        decode_binary(body, cls)
    assert info.value.field == field and problem in info.value.problem


def test_errors_never_echo_the_input() -> None:
    secret = "hunter2-secret-value"
    bodies = [
        b'{"command": "' + secret.encode() + b'"}',
        b'{"cols": "' + secret.encode() + b'"}',
        b'{"' + secret.encode() + b'": 1, "rows": {"' + secret.encode() + b'": 2}}',
        b'{"command": ["' + secret.encode() + b'\\u0000"]}',
        secret.encode(),
    ]
    for body in bodies:
        with pytest.raises(InvalidArgumentError) as info:
            decode_json(body, workspace_pb2.OpenTerminalRequest)
        assert "hunter2" not in info.value.message
