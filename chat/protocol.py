"""The maim_message wire format: parsing, validation and the frames we send.

Two framings share one endpoint (see shared/reference/maim_message.md):

- legacy (maim-message 0.6.x `Router`): each frame is a bare `MessageBase` dict, or a
  custom message `{"is_custom_message": true, "message_type_name": ..., "content": ...}`;
- API-Server mode: each frame is an envelope `{ver, msg_id, type, meta, payload}` with
  `type` sys_std / sys_ack / custom_<name>.

Validation is by hand and deliberately forgiving where deployed adapters are sloppy
(integer ids become strings, nested nulls are fine, unknown segment types are kept) and
strict where a mistake would corrupt data (ids, the segment tree's shape, sizes).
Every rejection is a `FrameError` with a stable code and a message for the adapter.
"""
from __future__ import annotations

import json
import math
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings

MAX_ID_LENGTH = 128
MAX_NAME_LENGTH = 200
MAX_TYPE_LENGTH = 64

# Placeholders the text model reads instead of media (never the media itself).
PLACEHOLDERS = {
    "image": "[image]",
    "imageurl": "[image]",
    "emoji": "[sticker]",
    "voice": "[voice]",
    "voiceurl": "[voice]",
    "video": "[video]",
    "videourl": "[video]",
    "file": "[file]",
    "face": "[face]",
    "forward": "[forwarded messages]",
    "music": "[music]",
}


class FrameError(Exception):
    """A frame we cannot accept; `code` is stable, `message` tells the adapter what to fix."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class InboundMessage:
    """A validated message from a platform, ready for `chat.services.receive_message`."""

    platform: str
    message_id: str  # the platform's id, as a string ("" when the adapter sent none)
    user_id: str
    segment: dict[str, Any]  # the validated segment tree (media still inline)
    time: float | None = None  # epoch seconds
    group_id: str = ""  # empty in private chats
    group_name: str = ""
    nickname: str = ""
    cardname: str = ""
    reply_to_id: str = ""  # platform id of the quoted message
    extra: dict[str, Any] = field(default_factory=dict)  # format_info, additional_config …


@dataclass(frozen=True)
class CustomMessage:
    name: str  # message_id_echo, command_response, …
    content: Any


@dataclass(frozen=True)
class Envelope:
    """An API-Server mode frame."""

    msg_id: str
    type: str
    meta: dict[str, Any]
    payload: Any


@dataclass(frozen=True)
class Echo:
    """The adapter delivered our message `our_id`; the platform calls it `actual_id`."""

    our_id: str
    actual_id: str


@dataclass(frozen=True)
class Handshake:
    """What the adapter said when connecting."""

    api_mode: bool  # API-Server mode (x-apikey …) rather than the legacy Router
    api_key: str
    platform: str
    connection_uuid: str


def read_handshake(headers: dict[str, str], query: dict[str, list[str]]) -> Handshake:
    """Legacy: `platform` + `Authorization`; API-Server: `x-apikey`/`x-platform`/`x-uuid` or ?api_key=&platform=."""
    query_key = (query.get("api_key") or [""])[0]
    if headers.get("x-apikey") or query_key:
        return Handshake(
            api_mode=True,
            api_key=query_key or headers.get("x-apikey", ""),
            platform=(query.get("platform") or [""])[0] or headers.get("x-platform", ""),
            connection_uuid=(headers.get("x-uuid") or str(uuid.uuid4()))[:MAX_ID_LENGTH],
        )
    return Handshake(
        api_mode=False,
        api_key=headers.get("authorization", ""),
        platform=headers.get("platform", ""),
        connection_uuid=str(uuid.uuid4()),
    )


# --- decoding and validation ---------------------------------------------------------------------


def decode_frame(text: str | bytes | None) -> dict[str, Any]:
    """Bounded size, then JSON, then an object; raises FrameError otherwise."""
    if text is None:
        raise FrameError("invalid_frame", "Empty frame.")
    size = len(text) if isinstance(text, bytes) else len(text.encode("utf-8", "surrogatepass"))
    limit = settings.CHAT_WS_MAX_FRAME_BYTES
    if size > limit:
        raise FrameError("frame_too_large", f"Frame of {size} bytes is larger than the {limit} bytes allowed.")
    try:
        frame = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise FrameError("invalid_json", f"Frame is not valid JSON: {str(exc)[:120]}") from None
    if not isinstance(frame, dict):
        raise FrameError("invalid_frame", "Frame must be a JSON object.")
    return frame


def as_id(value: Any, name: str, *, required: bool = True) -> str:
    """Ids arrive as strings or integers; we keep them as strings."""
    if value is None or value == "":
        if required:
            raise FrameError("missing_field", f"{name} is required.")
        return ""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise FrameError("invalid_field", f"{name} must be a string or an integer.")
    text = str(value).strip()
    if not text and required:
        raise FrameError("missing_field", f"{name} is required.")
    if len(text) > MAX_ID_LENGTH:
        raise FrameError("invalid_field", f"{name} is longer than {MAX_ID_LENGTH} characters.")
    return text


def _as_name(value: Any) -> str:
    if value is None or isinstance(value, bool):
        return ""
    if isinstance(value, (int, float)):
        value = str(value)
    if not isinstance(value, str):
        return ""
    return value.strip()[:MAX_NAME_LENGTH]


def _as_object(value: Any, name: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise FrameError("invalid_field", f"{name} must be an object.")
    return value


def _as_time(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        return None
    # A clock far off (or in milliseconds) is not trusted; the receive time is used instead.
    if not math.isfinite(seconds) or seconds < 946_684_800 or seconds > time.time() + 86_400:
        return None
    return seconds


def validate_segment(segment: Any) -> dict[str, Any]:
    """Check the Seg tree's shape and bounds; returns it unchanged (unknown types kept)."""
    count = [0]

    def walk(node: Any, depth: int, where: str) -> None:
        if not isinstance(node, dict):
            raise FrameError("invalid_segment", f"{where} must be an object with type and data.")
        kind = node.get("type")
        if not isinstance(kind, str) or not kind or len(kind) > MAX_TYPE_LENGTH:
            raise FrameError("invalid_segment", f"{where}.type must be a non-empty string.")
        count[0] += 1
        if count[0] > settings.CHAT_SEGMENT_MAX_COUNT:
            raise FrameError("invalid_segment", f"More than {settings.CHAT_SEGMENT_MAX_COUNT} segments.")
        if kind == "seglist":
            children = node.get("data")
            if not isinstance(children, list):
                raise FrameError("invalid_segment", f"{where}.data of a seglist must be a list.")
            if depth >= settings.CHAT_SEGMENT_MAX_DEPTH:
                raise FrameError("invalid_segment", f"Segments nest deeper than {settings.CHAT_SEGMENT_MAX_DEPTH}.")
            for index, child in enumerate(children):
                walk(child, depth + 1, f"{where}.data[{index}]")

    walk(segment, 1, "message_segment")
    return segment


def iter_segments(segment: dict[str, Any]):
    """Leaf segments in order, seglists flattened."""
    if segment.get("type") == "seglist":
        for child in segment.get("data") or []:
            yield from iter_segments(child)
    else:
        yield segment


def flatten_text(segment: dict[str, Any]) -> str:
    """The text a language model reads: text as is, media and the like as placeholders.

    `reply`, `command`, `dict` and unknown types add nothing (they are kept in the stored
    segments for whoever understands them).
    """
    parts: list[str] = []
    for leaf in iter_segments(segment):
        kind, data = leaf.get("type"), leaf.get("data")
        if kind == "text" and isinstance(data, str):
            parts.append(data)
        elif kind == "at" and isinstance(data, (str, int)) and not isinstance(data, bool):
            parts.append(f"@<{data}>")
        elif kind in PLACEHOLDERS:
            parts.append(f" {PLACEHOLDERS[kind]} ")
    text = "".join(parts).strip()
    return text[: settings.CHAT_MESSAGE_MAX_CHARS]


def reply_target(segment: dict[str, Any], additional_config: dict[str, Any]) -> str:
    """The platform id of the quoted message: a `reply` segment, else the adapter's hint."""
    for leaf in iter_segments(segment):
        if leaf.get("type") == "reply":
            data = leaf.get("data")
            if isinstance(data, dict):
                data = data.get("id") or data.get("message_id")
            try:
                return as_id(data, "reply", required=False)
            except FrameError:
                return ""
    try:
        return as_id(additional_config.get("reply_message_id"), "reply_message_id", required=False)
    except FrameError:
        return ""


def parse_message(body: dict[str, Any], platform: str, *, api_mode: bool = False) -> InboundMessage:
    """A MessageBase dict (legacy frame, or the payload of an API-Server sys_std) → InboundMessage.

    The connection's platform is authoritative: a message claiming another platform is
    refused, since its replies could not be routed back.
    """
    info = body.get("message_info")
    if not isinstance(info, dict):
        raise FrameError("missing_field", "message_info is required and must be an object.")
    claimed = info.get("platform")
    if claimed not in (None, "") and claimed != platform:
        raise FrameError("platform_mismatch", f"message_info.platform {claimed!r} is not this connection's {platform!r}.")
    message_id = as_id(info.get("message_id"), "message_info.message_id", required=False)

    sender = _as_object(info.get("sender_info"), "message_info.sender_info")
    group_info = _as_object(info.get("group_info"), "message_info.group_info") or _as_object(
        sender.get("group_info"), "message_info.sender_info.group_info"
    )
    user_info = _as_object(info.get("user_info"), "message_info.user_info") or _as_object(
        sender.get("user_info"), "message_info.sender_info.user_info"
    )
    if not user_info:
        where = "message_info.sender_info.user_info" if api_mode else "message_info.user_info"
        raise FrameError("missing_field", f"{where} is required (who sent the message).")
    user_id = as_id(user_info.get("user_id"), "user_info.user_id")
    group_id = as_id(group_info.get("group_id"), "group_info.group_id", required=False)

    segment = body.get("message_segment")
    if segment is None:
        raise FrameError("missing_field", "message_segment is required.")
    validate_segment(segment)
    additional = _as_object(info.get("additional_config"), "message_info.additional_config")
    extra = {
        name: info[name]
        for name in ("format_info", "template_info", "additional_config")
        if info.get(name) is not None
    }
    raw = body.get("raw_message")
    if isinstance(raw, str) and raw:
        extra["raw_message"] = raw[: settings.CHAT_MESSAGE_MAX_CHARS]
    return InboundMessage(
        platform=platform,
        message_id=message_id,
        user_id=user_id,
        segment=segment,
        time=_as_time(info.get("time")),
        group_id=group_id,
        group_name=_as_name(group_info.get("group_name")),
        nickname=_as_name(user_info.get("user_nickname")),
        cardname=_as_name(user_info.get("user_cardname")),
        reply_to_id=reply_target(segment, additional),
        extra=extra,
    )


def parse_legacy_frame(frame: dict[str, Any], platform: str) -> InboundMessage | CustomMessage:
    if frame.get("is_custom_message") or ("message_type_name" in frame and "message_info" not in frame):
        name = frame.get("message_type_name")
        if not isinstance(name, str) or not name:
            raise FrameError("invalid_frame", "A custom message needs message_type_name.")
        return CustomMessage(name=name[:MAX_TYPE_LENGTH], content=frame.get("content"))
    return parse_message(frame, platform)


def parse_envelope(frame: dict[str, Any]) -> Envelope:
    kind = frame.get("type")
    if not isinstance(kind, str) or not kind:
        raise FrameError("invalid_frame", "An API-Server frame needs a type (sys_std, sys_ack, custom_<name>).")
    msg_id = as_id(frame.get("msg_id"), "msg_id", required=kind != "sys_ack")
    meta = _as_object(frame.get("meta"), "meta")
    return Envelope(msg_id=msg_id, type=kind[:MAX_TYPE_LENGTH], meta=meta, payload=frame.get("payload"))


def parse_echo(content: Any) -> Echo:
    if not isinstance(content, dict):
        raise FrameError("invalid_field", "message_id_echo content must be an object.")
    return Echo(
        our_id=as_id(content.get("echo"), "content.echo"),
        actual_id=as_id(content.get("actual_id"), "content.actual_id"),
    )


# --- frames we send -------------------------------------------------------------------------------


def legacy_custom(platform: str, name: str, content: Any) -> dict[str, Any]:
    return {
        "platform": platform,
        "message_type_name": name,
        "content": content,
        "timestamp": time.time(),
        "is_custom_message": True,
    }


def legacy_error(platform: str, error: FrameError) -> dict[str, Any]:
    return legacy_custom(platform, "error", {"code": error.code, "message": error.message})


def new_msg_id() -> str:
    return f"msg_{uuid.uuid4().hex[:12]}_{int(time.time())}"


def api_envelope(kind: str, platform: str, payload: Any, *, sender: str = "", msg_id: str | None = None) -> dict:
    return {
        "ver": 1,
        "msg_id": msg_id or new_msg_id(),
        "type": kind,
        "meta": {"sender_user": sender, "platform": platform, "timestamp": time.time()},
        "payload": payload,
    }


def api_error(platform: str, error: FrameError, *, about_msg_id: str = "") -> dict[str, Any]:
    payload = {"code": error.code, "message": error.message}
    if about_msg_id:
        payload["msg_id"] = about_msg_id
    return api_envelope("custom_error", platform, payload)


def api_ack(connection_uuid: str, acked_msg_id: str) -> dict[str, Any]:
    now = time.time()
    return {
        "ver": 1,
        "msg_id": str(uuid.uuid4()),
        "type": "sys_ack",
        "meta": {"uuid": connection_uuid, "acked_msg_id": acked_msg_id, "timestamp": now},
        "payload": {"status": "received", "server_timestamp": now},
    }


@dataclass(frozen=True)
class Outbound:
    """What the gateway needs to write one stored outbound message to an adapter."""

    message_id: str  # our id; the adapter echoes it back
    platform: str
    time: float
    segment: dict[str, Any]
    group_id: str
    group_name: str
    user_id: str  # the private chat's user; empty in groups
    bot_user_id: str
    bot_name: str


def legacy_message(out: Outbound) -> dict[str, Any]:
    """A bare MessageBase: group_info + our own user_info for groups, the user's for private chats."""
    info: dict[str, Any] = {"platform": out.platform, "message_id": out.message_id, "time": out.time}
    if out.group_id:
        info["group_info"] = {"platform": out.platform, "group_id": out.group_id, "group_name": out.group_name or None}
        info["user_info"] = {"platform": out.platform, "user_id": out.bot_user_id, "user_nickname": out.bot_name}
    else:
        info["user_info"] = {"platform": out.platform, "user_id": out.user_id}
    info["format_info"] = {"content_format": ["text", "reply"], "accept_format": ["text", "image", "emoji", "reply"]}
    return {"message_info": info, "message_segment": out.segment}


def api_message(out: Outbound, *, api_key: str) -> dict[str, Any]:
    """A sys_std envelope; the target goes in receiver_info, ourselves in sender_info."""
    receiver: dict[str, Any] = {}
    if out.group_id:
        receiver["group_info"] = {"platform": out.platform, "group_id": out.group_id, "group_name": out.group_name or None}
    else:
        receiver["user_info"] = {"platform": out.platform, "user_id": out.user_id}
    info = {
        "platform": out.platform,
        "message_id": out.message_id,
        "time": out.time,
        "sender_info": {"user_info": {"platform": out.platform, "user_id": out.bot_user_id,
                                      "user_nickname": out.bot_name}},
        "receiver_info": receiver,
    }
    payload = {
        "message_info": info,
        "message_segment": out.segment,
        "message_dim": {"api_key": api_key, "platform": out.platform},
    }
    # The envelope's msg_id is our message id, so the adapter's sys_ack names the message.
    return api_envelope("sys_std", out.platform, payload, sender="maibot-cloud", msg_id=out.message_id)
