"""Sending policy: block lists, quiet hours, rate limit, length, and the quoting reply."""
from __future__ import annotations

from datetime import UTC, datetime

import pytest

from chat import sending

pytestmark = pytest.mark.usefixtures("clean_counters")

NOON_UTC = datetime(2025, 11, 25, 12, 0, tzinfo=UTC)


def check(config: dict, *, user: str = "u1", group: str | None = "g1", stream: str = "s", now=NOON_UTC):
    return sending.check_before_reply(
        config, schema_name="t_alpha", stream_id=stream, platform="qq", user_id=user, group_id=group, now=now
    )


def test_a_blocked_user_is_not_answered_and_others_are() -> None:
    config = {"blocked_users": ["u1", "discord:u2"]}
    assert check(config, user="u1").reason == "blocked_user"
    assert check(config, user="u2") is None  # blocked on discord only
    assert check(config, user="u3") is None


def test_a_blocked_group_is_not_answered() -> None:
    assert check({"blocked_groups": ["qq:g1"]}).reason == "blocked_group"
    assert check({"blocked_groups": ["g9"]}) is None


@pytest.mark.parametrize(
    ("windows", "tz", "quiet"),
    [
        (["11:00-13:00"], "UTC", True),
        (["13:00-14:00"], "UTC", False),
        (["23:00-07:00"], "UTC", False),
        (["19:00-21:00"], "Asia/Shanghai", True),  # 12:00 UTC is 20:00 in Shanghai
        (["00:00-02:00"], "Pacific/Auckland", True),  # and 01:00 the next day in Auckland
    ],
)
def test_quiet_hours_follow_the_configured_timezone(windows: list[str], tz: str, quiet: bool) -> None:
    refusal = check({"quiet_hours": windows, "timezone": tz})
    assert (refusal is not None and refusal.reason == "quiet_hours") == quiet


def test_quiet_hours_may_cross_midnight() -> None:
    late = datetime(2025, 11, 25, 23, 30, tzinfo=UTC)
    early = datetime(2025, 11, 26, 6, 59, tzinfo=UTC)
    morning = datetime(2025, 11, 26, 7, 0, tzinfo=UTC)
    windows = ["23:00-07:00"]
    assert sending.in_quiet_hours(windows, "UTC", late) == "23:00-07:00"
    assert sending.in_quiet_hours(windows, "UTC", early) == "23:00-07:00"
    assert sending.in_quiet_hours(windows, "UTC", morning) is None


def test_the_rate_limit_counts_replies_per_stream() -> None:
    config = {"stream_replies_per_minute": 2}
    results = [check(config, stream="busy") for _ in range(3)]
    assert [r.reason if r else None for r in results] == [None, None, "rate_limited"]
    assert check(config, stream="quiet") is None  # another stream has its own budget


def test_the_rate_limit_is_per_tenant() -> None:
    config = {"stream_replies_per_minute": 1}
    assert sending.check_before_reply(config, schema_name="t_alpha", stream_id="x", platform="qq",
                                      user_id="u", group_id=None, now=NOON_UTC) is None
    assert sending.check_before_reply(config, schema_name="t_beta", stream_id="x", platform="qq",
                                      user_id="u", group_id=None, now=NOON_UTC) is None


def test_a_long_reply_is_split_at_sentences_within_the_limit() -> None:
    text = "First sentence here. Second one is here too. Third closes it."
    parts = sending.fit_length(text, {"max_reply_length": 25, "reply_overflow": "split", "max_reply_parts": 3})
    assert parts == ["First sentence here.", "Second one is here too.", "Third closes it."]
    assert all(len(part) <= 25 for part in parts)


def test_a_long_reply_is_truncated_with_an_ellipsis_when_configured() -> None:
    parts = sending.fit_length("one two three four five six", {"max_reply_length": 12, "reply_overflow": "truncate"})
    assert parts == ["one two…"]


def test_splitting_stops_at_the_maximum_number_of_parts() -> None:
    parts = sending.fit_length("Aa. Bb. Cc. Dd.", {"max_reply_length": 4, "reply_overflow": "split",
                                                   "max_reply_parts": 2})
    assert len(parts) == 2 and all(len(part) <= 4 for part in parts)
    assert parts[0] == "Aa." and parts[1].endswith("…")


def test_a_text_without_spaces_is_still_cut_to_the_limit() -> None:
    parts = sending.fit_length("啊" * 25, {"max_reply_length": 10, "max_reply_parts": 5})
    assert [len(part) for part in parts] == [10, 10, 5]


def test_the_reply_quotes_the_message_it_answers() -> None:
    segment = sending.reply_segments("sure!", quote_message_id="1873451")
    assert segment == {"type": "seglist", "data": [{"type": "reply", "data": "1873451"},
                                                   {"type": "text", "data": "sure!"}]}
