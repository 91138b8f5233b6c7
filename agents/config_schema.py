"""The one declared schema of configuration keys: type, default, bounds and help."""
from __future__ import annotations

import math
import re
import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

LAYERS = ("default", "tenant", "agent", "platform")
WRITABLE_LAYERS = ("tenant", "agent", "platform")
ALL_WRITABLE = frozenset(WRITABLE_LAYERS)
TENANT_ONLY = frozenset({"tenant"})
QUIET_HOURS = re.compile(r"^([01]\d|2[0-3]):[0-5]\d-([01]\d|2[0-3]):[0-5]\d$")
ID_TEXT = re.compile(r"^[^\s]{1,64}$")
MODEL_NAME = re.compile(r"^.{1,100}$")
MEMORY_LEVELS = ("chat", "platform", "agent")
MODEL_TASKS = ("replyer", "planner", "utils", "embedding", "vlm")


@dataclass(frozen=True)
class ConfigKey:
    name: str
    kind: type
    default: Any
    help: str
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[str, ...] | None = None
    item_check: Callable[[str], bool] | None = None
    item_help: str = ""
    max_items: int | None = None
    layers: frozenset[str] = field(default=ALL_WRITABLE)

    def clean(self, value: Any) -> Any:
        """Return the value in its canonical form, or raise ValueError with a message."""
        if self.kind is bool:
            if not isinstance(value, bool):
                raise ValueError("Give true or false.")
            return value
        if self.kind in (int, float):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise ValueError("Give a number.")
            if self.kind is int and value != int(value):
                raise ValueError("Give a whole number.")
            value = self.kind(value)
            if self.minimum is not None and value < self.minimum or self.maximum is not None and value > self.maximum:
                raise ValueError(f"Give a value from {self.minimum:g} to {self.maximum:g}.")
            return value
        if self.kind is str:
            if not isinstance(value, str) or "\x00" in value:
                raise ValueError("Give text (without NUL characters).")
            if self.maximum is not None and len(value) > self.maximum:
                raise ValueError(f"Give at most {self.maximum:g} characters.")
            if self.choices and value not in self.choices:
                raise ValueError(f"Choose one of: {', '.join(self.choices)}.")
            if self.item_check and not self.item_check(value):
                raise ValueError(self.item_help)
            return value
        if self.kind is list:
            if not isinstance(value, list):
                raise ValueError("Give a list.")
            if self.max_items is not None and len(value) > self.max_items:
                raise ValueError(f"Give at most {self.max_items} items.")
            cleaned = []
            for item in value:
                item = str(item) if isinstance(item, int) and not isinstance(item, bool) else item
                if not isinstance(item, str) or "\x00" in item or (self.choices and item not in self.choices) or (
                    self.item_check and not self.item_check(item)
                ):
                    raise ValueError(self.item_help or f"Items must be one of: {', '.join(self.choices or ())}.")
                if item not in cleaned:
                    cleaned.append(item)
            return cleaned
        raise ValueError("Unsupported type.")  # pragma: no cover - schema bug

    def describe(self) -> dict[str, Any]:
        return {
            "key": self.name,
            "type": {bool: "boolean", int: "integer", float: "number", str: "string", list: "array"}[self.kind],
            "default": self.default,
            "help": self.help,
            "minimum": self.minimum,
            "maximum": self.maximum,
            "choices": list(self.choices) if self.choices else None,
            "max_items": self.max_items,
            "layers": [layer for layer in WRITABLE_LAYERS if layer in self.layers],
        }


def _timezone(name: str) -> bool:
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return False
    return True


_KEYS = [
    ConfigKey("persona", str, "", "Who the agent is, in its own words.", maximum=4000),
    ConfigKey("reply_style", str, "", "How the agent writes: length, tone, habits.", maximum=2000),
    ConfigKey("talk_frequency", float, 0.5, "How readily the agent joins a group conversation it was not addressed in (0 never, 1 always).", 0, 1),
    ConfigKey("max_reply_length", int, 300, "Longest reply in characters.", 20, 4000),
    ConfigKey("reply_overflow", str, "split", "What to do with a longer reply: split it into several messages or truncate it.", choices=("split", "truncate")),
    ConfigKey("max_reply_parts", int, 3, "When splitting, the most messages one reply may become.", 1, 10),
    ConfigKey("quiet_hours", list, [], 'Times the agent stays silent, as "HH:MM-HH:MM" in the tenant\'s timezone.', item_check=QUIET_HOURS.fullmatch, item_help='Use "HH:MM-HH:MM", e.g. "23:00-07:00".', max_items=6),
    ConfigKey("timezone", str, "UTC", "Timezone for quiet hours and daily figures (IANA name).", maximum=64, item_check=_timezone, item_help="Give an IANA timezone such as Europe/Berlin.", layers=TENANT_ONLY),
    ConfigKey("blocked_users", list, [], "Platform user ids the agent ignores.", item_check=ID_TEXT.fullmatch, item_help="Ids are 1-64 characters without spaces.", max_items=500),
    ConfigKey("blocked_groups", list, [], "Group ids where the agent never speaks.", item_check=ID_TEXT.fullmatch, item_help="Ids are 1-64 characters without spaces.", max_items=500),
    ConfigKey("memory_enabled", bool, True, "Use long-term memories when replying."),
    ConfigKey("memory_top_k", int, 5, "How many memories a reply may use.", 0, 20),
    ConfigKey("memory_scope", list, list(MEMORY_LEVELS), "Memory levels searched for a chat, nearest first.", choices=MEMORY_LEVELS, max_items=3),
    ConfigKey("context_messages", int, 20, "Recent messages of the chat given to the replyer.", 1, 100),
    ConfigKey("stream_replies_per_minute", int, 6, "Most replies the agent sends to one chat per minute.", 0, 60),
    ConfigKey("summarise_every_messages", int, 50, "New messages in a chat that trigger a summary into memory.", 5, 1000),
    ConfigKey("retention_days", int, 90, "Days chat messages are kept.", 1, 3650, layers=TENANT_ONLY),
    *[
        ConfigKey(f"models.{task}", list, [], f"Models for the {task} task in fallback order; empty uses the tenant's task list.", item_check=MODEL_NAME.fullmatch, item_help="Model names are 1-100 characters.", max_items=10)
        for task in MODEL_TASKS
    ],
]

SCHEMA: dict[str, ConfigKey] = {key.name: key for key in _KEYS}
AGENT_ROW_KEYS = ("persona", "reply_style")  # their agent layer is the Agent row itself
