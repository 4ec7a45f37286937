"""What a user message brings besides its text: the files it names with `@path` (read by the
project's daemon, confined to the workspace) and the images sent with it.

A reference is `@` at the start of the text or after a space or an opening bracket or quote,
followed by a path; trailing punctuation is not part of it. One that looks like a path (it has a
`/` or a `.`) is always reported: attached, or an error block that says why not (the model is told
too, and the answer lists it). A bare `@word` attaches only when such a file exists, so `@property`
or `@alice` stay text. Attachments are stored in the message as blocks with their `path`, as they
were when the message was sent.
"""

from __future__ import annotations

import base64
import logging
import re
from dataclasses import dataclass

from reliant.api.errors import InvalidArgumentError
from reliant.bus import Bus
from reliant.clients import context as context_client
from reliant.clients.context import ContextRefusedError
from reliant.domain.chat import BlockType, ContentBlock
from reliant.domain.context import DIRECTORY_MEDIA_TYPE, Attachment
from reliant.errors import DaemonUnavailableError

logger = logging.getLogger(__name__)

MAX_REFERENCES = 20
MAX_IMAGES = 8
MAX_IMAGE_BYTES = 3_750_000  # per image: about 5 MB of base64, the providers' limit
MAX_IMAGES_BYTES = 3_750_000  # all of one message's images (pasted and attached)
IMAGE_TYPES = ("image/png", "image/jpeg", "image/gif", "image/webp")

_REFERENCE = re.compile(r"""(?:^|(?<=[\s(\[{"'`]))@([^\s@"'`<>]+)""")
_TRAILING = ".,;:!?)]}"


@dataclass(frozen=True, slots=True)
class ImageInput:
    media_type: str
    data: bytes


@dataclass(frozen=True, slots=True)
class AttachmentReport:
    """What became of one `@path` (kind "error": not attached, and why)."""

    path: str
    kind: str
    error: str = ""
    truncated: bool = False
    size: int = 0


@dataclass(frozen=True, slots=True)
class Attached:
    blocks: tuple[ContentBlock, ...]  # stored after the message's text
    reports: tuple[AttachmentReport, ...]


def references(text: str) -> list[tuple[str, bool]]:
    """The `@path` references of a message, in order, once each: (path, looks like a path)."""
    found: dict[str, bool] = {}
    for match in _REFERENCE.finditer(text):
        path = match.group(1).rstrip(_TRAILING)
        if not path or not any(c.isalnum() for c in path):
            continue
        found.setdefault(path, "/" in path or "." in path)
    return list(found.items())[:MAX_REFERENCES]


def image_blocks(images: list[ImageInput]) -> list[ContentBlock]:
    """Validated image blocks; InvalidArgumentError names the image and what is wrong with it."""
    if len(images) > MAX_IMAGES:
        raise InvalidArgumentError(f"images: at most {MAX_IMAGES} per message, got {len(images)}")
    blocks: list[ContentBlock] = []
    total = 0
    for i, image in enumerate(images):
        if image.media_type not in IMAGE_TYPES:
            raise InvalidArgumentError(
                f"images[{i}].media_type must be one of {', '.join(IMAGE_TYPES)}, got {image.media_type!r}"
            )
        if not image.data:
            raise InvalidArgumentError(f"images[{i}].data is empty")
        if len(image.data) > MAX_IMAGE_BYTES:
            raise InvalidArgumentError(f"images[{i}] is {len(image.data):,} bytes; the limit is {MAX_IMAGE_BYTES:,}")
        if sniffed_type(image.data) != image.media_type:
            raise InvalidArgumentError(f"images[{i}].data is not a {image.media_type} image")
        total += len(image.data)
        if total > MAX_IMAGES_BYTES:
            raise InvalidArgumentError(
                f"images: {total:,} bytes in all; the limit for one message is {MAX_IMAGES_BYTES:,}"
            )
        blocks.append(
            ContentBlock(BlockType.IMAGE, text=base64.b64encode(image.data).decode(), media_type=image.media_type)
        )
    return blocks


def sniffed_type(data: bytes) -> str:
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return ""


async def attach(bus: Bus, daemon_id: str, workspace: str, text: str, image_bytes: int = 0) -> Attached:
    """The blocks and reports for the `@path` references of `text` (`image_bytes`: already taken
    by the message's own images)."""
    refs = references(text)
    if not refs:
        return Attached((), ())
    try:
        found = await context_client.attach(bus, daemon_id, workspace, [path for path, _ in refs])
    except (DaemonUnavailableError, ContextRefusedError) as exc:
        logger.info("cannot attach files from %s: %s", workspace, exc)
        found = [Attachment(path, "error", f"the project's daemon could not read it ({exc})") for path, _ in refs]
    path_like = dict(refs)
    blocks: list[ContentBlock] = []
    reports: list[AttachmentReport] = []
    budget = MAX_IMAGES_BYTES - image_bytes
    for read in found:
        if read.kind == "error" and not path_like.get(read.path, True):
            continue  # `@word` naming no file: just text
        item = read
        if read.kind == "image" and read.size > budget:
            item = Attachment(
                read.path, "error", f"over the {MAX_IMAGES_BYTES:,} bytes of images one message may carry"
            )
        block = _block(item)
        if item.kind == "image":
            budget -= item.size
        blocks.append(block)
        reports.append(
            AttachmentReport(
                item.path,
                item.kind,
                error=item.content if item.kind == "error" else "",
                truncated=item.truncated,
                size=item.size,
            )
        )
    return Attached(tuple(blocks), tuple(reports))


def _block(item: Attachment) -> ContentBlock:
    if item.kind == "error":
        return ContentBlock(BlockType.TEXT, text=item.content, path=item.path, is_error=True)
    if item.kind == "image":
        return ContentBlock(BlockType.IMAGE, text=item.content, media_type=item.media_type, path=item.path)
    text = item.content
    if item.truncated:
        shown = f"{len(text.splitlines()):,} entries" if item.kind == "directory" else f"{len(text):,} characters"
        text += f"\n[… cut here: only the first {shown} are attached]"
    media_type = DIRECTORY_MEDIA_TYPE if item.kind == "directory" else "text/plain"
    return ContentBlock(BlockType.TEXT, text=text, media_type=media_type, path=item.path)
