"""Request messages decoded strictly, naming the field at fault.

JSON follows protobuf's JSON mapping, with unknown fields ignored so that newer clients keep
working; protobuf binary is walked field by field before it is parsed. Either way a malformed body
becomes an InvalidArgumentError that says what is wrong and where (`items[0].approve.approvalId:
expected a string, got a number`), never the library's own message, which can echo the input. No
string may hold a NUL character (Postgres cannot store one, and no path, id or command has one) or
a lone surrogate.
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
import math
import re
from typing import Any, TypeVar, cast

from google.protobuf import json_format
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import DecodeError, Message

from reliant.api.errors import InvalidArgumentError, InvalidFieldError

M = TypeVar("M", bound=Message)
F = FieldDescriptor

MAX_DEPTH = 32  # nested messages (and Struct values) in one request
_INTEGER = re.compile(r"-?[0-9]+")
_FLOAT = re.compile(r"-?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?")
_SURROGATE = re.compile("[\ud800-\udfff]")
_BASE64 = re.compile(r"[A-Za-z0-9+/\-_]*={0,2}")
_RANGES = {
    F.TYPE_INT32: (-(2**31), 2**31 - 1),
    F.TYPE_SINT32: (-(2**31), 2**31 - 1),
    F.TYPE_SFIXED32: (-(2**31), 2**31 - 1),
    F.TYPE_UINT32: (0, 2**32 - 1),
    F.TYPE_FIXED32: (0, 2**32 - 1),
    F.TYPE_INT64: (-(2**63), 2**63 - 1),
    F.TYPE_SINT64: (-(2**63), 2**63 - 1),
    F.TYPE_SFIXED64: (-(2**63), 2**63 - 1),
    F.TYPE_UINT64: (0, 2**64 - 1),
    F.TYPE_FIXED64: (0, 2**64 - 1),
}
_FLOAT_MAX = 3.4028234663852886e38
_VARINT_TYPES = frozenset({*_RANGES, F.TYPE_BOOL, F.TYPE_ENUM}) - {
    F.TYPE_SFIXED32,
    F.TYPE_FIXED32,
    F.TYPE_SFIXED64,
    F.TYPE_FIXED64,
}
_FIXED_SIZES = {
    F.TYPE_FIXED32: 4,
    F.TYPE_SFIXED32: 4,
    F.TYPE_FLOAT: 4,
    F.TYPE_FIXED64: 8,
    F.TYPE_SFIXED64: 8,
    F.TYPE_DOUBLE: 8,
}
_JSON_VALUES = frozenset({"google.protobuf.Struct", "google.protobuf.Value", "google.protobuf.ListValue"})


def decode_json(body: bytes, cls: type[M]) -> M:
    """The request in `body` (protobuf JSON; empty means the empty message)."""
    bad_byte: int | None = None
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        bad_byte = exc.start
        text = body.decode("utf-8", "surrogateescape")  # so the walk below can name the field
    if not text.strip():
        return cls()
    try:
        doc = json.loads(text)
    except RecursionError:
        raise InvalidArgumentError("the body is nested too deeply to be a request") from None
    except json.JSONDecodeError as exc:
        if bad_byte is not None:
            raise _not_utf8(bad_byte) from None
        where = f"line {exc.lineno}, column {exc.colno}"
        raise InvalidArgumentError(f"the body is not valid JSON: {exc.msg} ({where})") from None
    except ValueError:  # e.g. an integer of more digits than Python converts
        raise InvalidArgumentError("the body is not valid JSON: a number has too many digits") from None
    descriptor = cast(Descriptor, cls.DESCRIPTOR)
    if not isinstance(doc, dict):
        raise InvalidArgumentError(f"the body must be a JSON object (a {descriptor.full_name}), not {_kind(doc)}")
    _message(doc, descriptor, "", 0)
    if bad_byte is not None:
        raise _not_utf8(bad_byte)
    message = cls()
    try:
        json_format.ParseDict(doc, message, ignore_unknown_fields=True, max_recursion_depth=MAX_DEPTH + 8)
    except (json_format.ParseError, ValueError, TypeError, RecursionError):
        raise InvalidArgumentError(f"the body is not a valid {descriptor.full_name}") from None
    return message


def decode_binary(body: bytes, cls: type[M]) -> M:
    """The request in `body` (protobuf binary)."""
    descriptor = cast(Descriptor, cls.DESCRIPTOR)
    _wire(body, descriptor, "", 0)
    message = cls()
    try:
        message.ParseFromString(body)
    except (DecodeError, ValueError, RecursionError):
        raise InvalidArgumentError(f"the body is not a valid {descriptor.full_name} in protobuf binary") from None
    return message


def check_text(field: str, value: str) -> None:
    """Refuse a string that cannot be stored or passed on: a NUL character or a lone surrogate."""
    if "\x00" in value:
        raise InvalidFieldError(field, "contains a NUL character (\\u0000), which reliant cannot store")
    if _SURROGATE.search(value):
        raise InvalidFieldError(field, "is not valid UTF-8 (it holds a lone surrogate or an invalid byte)")


def surrogate_field(body: bytes) -> str | None:
    """Where a JSON body holds a lone surrogate (`"\\ud800"`), as `images[0].media_type`; None when
    it holds none, or is not JSON. For a decoder that refuses one without naming the field."""
    try:
        doc = json.loads(body, parse_constant=_no_constant)
    except (ValueError, RecursionError):
        return None
    pending: list[tuple[str, object]] = [("", doc)]
    while pending:
        path, value = pending.pop()
        if isinstance(value, str) and _SURROGATE.search(value):
            return path or "the body"
        if isinstance(value, dict):
            if any(_SURROGATE.search(key) for key in value):
                return path or "the body"  # a key: named by the object that holds it
            pending.extend((f"{path}.{key}" if path else key, item) for key, item in reversed(value.items()))
        elif isinstance(value, list):
            pending.extend((f"{path}[{i}]", item) for i, item in reversed(list(enumerate(value))))
    return None


def _no_constant(name: str) -> object:
    raise ValueError(f"{name} is not JSON")


def _not_utf8(offset: int) -> InvalidArgumentError:
    return InvalidArgumentError(f"the body is not UTF-8: the byte at offset {offset} is invalid")


# -- JSON ------------------------------------------------------------------------------------------


@functools.cache
def _json_fields(descriptor: Descriptor) -> dict[str, FieldDescriptor]:
    """A message's fields by every name JSON may use for them: the JSON name and the proto name."""
    return {**{f.name: f for f in descriptor.fields}, **{f.json_name: f for f in descriptor.fields}}


def _message(value: object, descriptor: Descriptor, path: str, depth: int) -> None:
    if depth > MAX_DEPTH:
        raise InvalidFieldError(path, f"is nested deeper than {MAX_DEPTH} messages")
    if descriptor.full_name in _JSON_VALUES:
        _any_json(value, descriptor, path, depth)
        return
    if descriptor.full_name.startswith("google.protobuf."):
        _well_known(value, descriptor, path)
        return
    if not isinstance(value, dict):
        raise InvalidFieldError(path, f"expected an object, got {_kind(value)}")
    fields = _json_fields(descriptor)
    oneofs: dict[str, str] = {}
    for key, item in value.items():
        field = fields.get(key)
        if field is None or item is None:
            continue  # unknown fields are ignored; null is the default value
        where = f"{path}.{key}" if path else key
        if field.containing_oneof is not None:
            other = oneofs.setdefault(field.containing_oneof.name, key)
            if other != key:
                raise InvalidFieldError(where, f"cannot be set together with {other} (only one of them may be)")
        _field(item, field, where, depth)


def _field(value: object, field: FieldDescriptor, path: str, depth: int) -> None:
    entry = _map_entry(field)
    if entry is not None:
        if not isinstance(value, dict):
            raise InvalidFieldError(path, f"expected an object (a map), got {_kind(value)}")
        key_field, value_field = entry.fields_by_name["key"], entry.fields_by_name["value"]
        for key, item in value.items():
            where = f"{path}.{key}"
            _map_key(key, key_field, where)
            if item is None:
                raise InvalidFieldError(where, "is null; a map value cannot be")
            _single(item, value_field, where, depth)
    elif field.is_repeated:
        if not isinstance(value, list):
            raise InvalidFieldError(path, f"expected a list, got {_kind(value)}")
        for i, item in enumerate(value):
            if item is None:
                raise InvalidFieldError(f"{path}[{i}]", "is null; a list cannot hold null")
            _single(item, field, f"{path}[{i}]", depth)
    else:
        _single(value, field, path, depth)


def _single(value: object, field: FieldDescriptor, path: str, depth: int) -> None:
    kind = field.type
    if kind == F.TYPE_STRING:
        if not isinstance(value, str):
            raise InvalidFieldError(path, f"expected a string, got {_kind(value)}")
        check_text(path, value)
    elif kind == F.TYPE_BYTES:
        if not isinstance(value, str):
            raise InvalidFieldError(path, f"expected base64 text, got {_kind(value)}")
        _base64(value, path)
    elif kind == F.TYPE_BOOL:
        if not isinstance(value, bool):
            raise InvalidFieldError(path, f"expected true or false, got {_kind(value)}")
    elif kind in _RANGES:
        _integer(value, kind, path)
    elif kind in (F.TYPE_DOUBLE, F.TYPE_FLOAT):
        _float(value, kind, path)
    elif kind == F.TYPE_ENUM:
        _enum(value, field, path)
    elif kind == F.TYPE_MESSAGE:
        _message(value, _message_type(field), path, depth + 1)
    else:
        raise InvalidFieldError(path, "has a type these requests never use")


def _message_type(field: FieldDescriptor) -> Descriptor:
    assert field.message_type is not None, field.full_name
    return field.message_type


def _map_entry(field: FieldDescriptor) -> Descriptor | None:
    """The entry type of a map field; None for any other field."""
    if field.type != F.TYPE_MESSAGE:
        return None
    entry = _message_type(field)
    return entry if entry.GetOptions().map_entry else None


def _integer(value: object, kind: int, path: str) -> None:
    number: int | None = None
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif (isinstance(value, float) and math.isfinite(value) and value.is_integer()) or (
        isinstance(value, str) and _INTEGER.fullmatch(value) and len(value) <= 40
    ):
        number = int(value)
    if number is None:
        raise InvalidFieldError(path, f"expected an integer, got {_kind(value)}")
    low, high = _RANGES[kind]
    if not low <= number <= high:
        raise InvalidFieldError(path, f"is out of range: it must lie between {low} and {high}")


def _float(value: object, kind: int, path: str) -> None:
    if isinstance(value, str):
        if value in ("NaN", "Infinity", "-Infinity"):
            return
        if not _FLOAT.fullmatch(value) or len(value) > 400:
            raise InvalidFieldError(path, "expected a number, got a string that is not one")
        number = float(value)
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        try:
            number = float(value)
        except OverflowError:
            raise InvalidFieldError(path, "is out of range for a number") from None
    else:
        raise InvalidFieldError(path, f"expected a number, got {_kind(value)}")
    if math.isinf(number) or (kind == F.TYPE_FLOAT and abs(number) > _FLOAT_MAX):
        raise InvalidFieldError(path, "is out of range for a number")


def _enum(value: object, field: FieldDescriptor, path: str) -> None:
    assert field.enum_type is not None, field.full_name
    names = field.enum_type.values_by_name
    if isinstance(value, str) and value in names:
        return
    if isinstance(value, int) and not isinstance(value, bool) and -(2**31) <= value < 2**31:
        return
    raise InvalidFieldError(path, f"expected one of {', '.join(names)}")


def _base64(value: str, path: str) -> None:
    compact = "".join(value.split())
    if not _BASE64.fullmatch(compact) or len(compact.rstrip("=")) % 4 == 1:
        raise InvalidFieldError(path, "is not base64")
    try:
        base64.urlsafe_b64decode(compact.replace("+", "-").replace("/", "_").rstrip("=") + "==")
    except (binascii.Error, ValueError):
        raise InvalidFieldError(path, "is not base64") from None


def _map_key(key: str, field: FieldDescriptor, path: str) -> None:
    if field.type == F.TYPE_STRING:
        check_text(path, key)
    elif field.type == F.TYPE_BOOL:
        if key not in ("true", "false"):
            raise InvalidFieldError(path, "is not a valid map key: expected true or false")
    elif not _INTEGER.fullmatch(key) or not _RANGES[field.type][0] <= int(key) <= _RANGES[field.type][1]:
        raise InvalidFieldError(path, "is not a valid map key: expected an integer in range")


def _any_json(value: object, descriptor: Descriptor, path: str, depth: int) -> None:
    """google.protobuf.Struct / Value / ListValue: any JSON, within the depth limit and with storable strings."""
    if descriptor.full_name == "google.protobuf.Struct" and not isinstance(value, dict):
        raise InvalidFieldError(path, f"expected an object, got {_kind(value)}")
    if descriptor.full_name == "google.protobuf.ListValue" and not isinstance(value, list):
        raise InvalidFieldError(path, f"expected a list, got {_kind(value)}")
    stack: list[tuple[object, str, int]] = [(value, path, depth)]
    while stack:
        item, where, level = stack.pop()
        if level > MAX_DEPTH:
            raise InvalidFieldError(where, f"is nested deeper than {MAX_DEPTH} levels")
        if isinstance(item, str):
            check_text(where, item)
        elif isinstance(item, float) and not math.isfinite(item):
            raise InvalidFieldError(where, "is not a finite number")
        elif isinstance(item, dict):
            for key, inner in item.items():
                check_text(f"{where}.{key}", key)
                stack.append((inner, f"{where}.{key}", level + 1))
        elif isinstance(item, list):
            stack.extend((inner, f"{where}[{i}]", level + 1) for i, inner in enumerate(item))


def _well_known(value: object, descriptor: Descriptor, path: str) -> None:
    """Other well-known types (Timestamp, Duration, wrappers, ...): protobuf's own parser, our message."""
    from google.protobuf import message_factory

    try:
        json_format.ParseDict(cast(Any, value), message_factory.GetMessageClass(descriptor)())
    except (json_format.ParseError, ValueError, TypeError, RecursionError):
        raise InvalidFieldError(path, f"is not a valid {descriptor.full_name}") from None


def _kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


# -- protobuf binary -------------------------------------------------------------------------------


def _fail(path: str, problem: str) -> InvalidArgumentError:
    return InvalidFieldError(path, problem) if path else InvalidArgumentError(f"the body {problem}")


def _varint(data: bytes, pos: int, path: str, what: str) -> tuple[int, int]:
    result = shift = 0
    for i in range(pos, min(pos + 10, len(data))):
        byte = data[i]
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, i + 1
        shift += 7
    if pos + 10 <= len(data):
        raise _fail(path, f"holds a {what} longer than 10 bytes, which is not valid protobuf")
    raise _fail(path, f"ends inside a {what}: it is cut short")


def _wire(data: bytes, descriptor: Descriptor, path: str, depth: int) -> None:
    """Walk one message's wire format: every length inside the data, strings UTF-8 without NUL,
    nested messages valid too. Unknown fields are skipped."""
    if depth > MAX_DEPTH:
        raise _fail(path, f"is nested deeper than {MAX_DEPTH} messages")
    seen: dict[int, int] = {}
    pos = 0
    while pos < len(data):
        key, pos = _varint(data, pos, path, "field tag")
        number, wire_type = key >> 3, key & 7
        if number == 0:
            raise _fail(path, "holds field number 0, which is not valid protobuf")
        field = descriptor.fields_by_number.get(number)
        name = field.name if field is not None else f"#{number}"
        if field is not None and field.is_repeated:
            index = seen.get(number, 0)
            seen[number] = index + 1
            name = f"{name}[{index}]"
        where = f"{path}.{name}" if path else name
        if wire_type == 0:
            _, pos = _varint(data, pos, where, "number")
        elif wire_type in (1, 5):
            pos += 8 if wire_type == 1 else 4
            if pos > len(data):
                raise InvalidFieldError(where, "is cut short: the body ends inside it")
        elif wire_type == 2:
            length, pos = _varint(data, pos, where, "length")
            if pos + length > len(data):
                raise InvalidFieldError(where, f"is cut short: it announces {length} bytes, {len(data) - pos} follow")
            chunk, pos = data[pos : pos + length], pos + length
            if field is not None:
                _length_delimited(chunk, field, where, depth)
        else:
            raise InvalidFieldError(where, f"uses wire type {wire_type}, which no reliant request has")


def _length_delimited(chunk: bytes, field: FieldDescriptor, path: str, depth: int) -> None:
    if field.type == F.TYPE_STRING:
        try:
            text = chunk.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InvalidFieldError(path, f"is not valid UTF-8 (the byte at offset {exc.start} is invalid)") from None
        check_text(path, text)
    elif field.type == F.TYPE_MESSAGE:
        _wire(chunk, _message_type(field), path, depth + 1)
    elif field.is_repeated and field.type in _VARINT_TYPES:  # packed numbers
        pos = 0
        while pos < len(chunk):
            _, pos = _varint(chunk, pos, path, "number")
    elif field.is_repeated and field.type in _FIXED_SIZES and len(chunk) % _FIXED_SIZES[field.type]:
        raise InvalidFieldError(path, "is cut short: its packed numbers do not fill it")
