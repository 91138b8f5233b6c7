"""Images, stickers and voice received in messages, stored as files per tenant.

Adapters send media inline as base64. We never keep that in message text or hand it to
a text model: each item is decoded, bounded in size, written once under
MEDIA_ROOT/tenants/<schema>/chat/<agent>/ (named by its sha256, so a re-sent message does
not write twice) and replaced in the segment tree by a small reference.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import logging
import os
import tempfile
from pathlib import Path
from typing import Any

from django.conf import settings

logger = logging.getLogger(__name__)

# Segment types whose data is inline base64 media.
INLINE_MEDIA = {"image": "image", "emoji": "image", "voice": "audio"}

# Leading bytes of the formats adapters send, and the file extension we give them.
SIGNATURES: tuple[tuple[bytes, str, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "png", "image/png"),
    (b"\xff\xd8\xff", "jpg", "image/jpeg"),
    (b"GIF87a", "gif", "image/gif"),
    (b"GIF89a", "gif", "image/gif"),
    (b"BM", "bmp", "image/bmp"),
    (b"#!AMR", "amr", "audio/amr"),
    (b"#!SILK", "silk", "audio/silk"),
    (b"\x02#!SILK", "silk", "audio/silk"),
    (b"OggS", "ogg", "audio/ogg"),
    (b"ID3", "mp3", "audio/mpeg"),
    (b"\xff\xfb", "mp3", "audio/mpeg"),
    (b"fLaC", "flac", "audio/flac"),
)


def _sniff(blob: bytes, kind: str) -> tuple[str, str]:
    if blob[:4] == b"RIFF" and blob[8:12] == b"WEBP":
        return "webp", "image/webp"
    if blob[:4] == b"RIFF" and blob[8:12] == b"WAVE":
        return "wav", "audio/wav"
    for magic, extension, mime in SIGNATURES:
        if blob.startswith(magic):
            return extension, mime
    return "bin", "application/octet-stream" if kind == "image" else "audio/unknown"


def tenant_media_dir(schema_name: str) -> Path:
    """The tenant's own folder under MEDIA_ROOT; nothing of another tenant lives below it."""
    return Path(settings.MEDIA_ROOT) / (settings.MULTITENANT_RELATIVE_MEDIA_ROOT % schema_name)


def media_path(relative: str) -> Path:
    return Path(settings.MEDIA_ROOT) / relative


def _decode(data: str) -> bytes | None:
    if data.startswith("data:") and "," in data:
        data = data.split(",", 1)[1]  # tolerate a data: URL although adapters send bare base64
    try:
        return base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        return None


def _write_once(path: Path, blob: bytes) -> None:
    if path.exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    # Write then rename, so a concurrent reader never sees half a file.
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".incoming-")
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(blob)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def store_media(schema_name: str, agent_slug: str, segment_type: str, data: Any) -> dict[str, Any]:
    """Store one inline media item; returns the reference that replaces its base64 data.

    The reference says why nothing was stored when the item is not valid base64 or is
    larger than CHAT_MEDIA_MAX_BYTES; the message itself is still kept.
    """
    kind = INLINE_MEDIA[segment_type]
    if not isinstance(data, str) or not data:
        return {"stored": False, "reason": "not_base64"}
    if len(data) > settings.CHAT_MEDIA_MAX_BYTES * 4 // 3 + 4:
        return {"stored": False, "reason": "too_large", "max_bytes": settings.CHAT_MEDIA_MAX_BYTES}
    blob = _decode(data)
    if blob is None:
        return {"stored": False, "reason": "not_base64"}
    if len(blob) > settings.CHAT_MEDIA_MAX_BYTES:
        return {"stored": False, "reason": "too_large", "max_bytes": settings.CHAT_MEDIA_MAX_BYTES}
    digest = hashlib.sha256(blob).hexdigest()
    extension, mime = _sniff(blob, kind)
    folder = tenant_media_dir(schema_name) / "chat" / agent_slug / digest[:2]
    path = folder / f"{digest}.{extension}"
    _write_once(path, blob)
    return {
        "stored": True,
        "file": str(path.relative_to(settings.MEDIA_ROOT)),
        "sha256": digest,
        "bytes": len(blob),
        "mime": mime,
    }


def replace_inline_media(schema_name: str, agent_slug: str, segment: dict[str, Any]) -> dict[str, Any]:
    """A copy of the segment tree with every inline media item stored and referenced.

    At most CHAT_MEDIA_MAX_ITEMS items per message are stored; later ones are referenced
    as skipped.
    """
    budget = [settings.CHAT_MEDIA_MAX_ITEMS]

    def walk(node: dict[str, Any]) -> dict[str, Any]:
        kind = node.get("type")
        data = node.get("data")
        if kind == "seglist" and isinstance(data, list):
            return {**node, "data": [walk(child) for child in data]}
        if kind in INLINE_MEDIA:
            if budget[0] <= 0:
                return {**node, "data": {"stored": False, "reason": "too_many_items"}}
            budget[0] -= 1
            return {**node, "data": store_media(schema_name, agent_slug, kind, data)}
        return node

    return walk(segment)
