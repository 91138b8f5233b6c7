"""Heartflow: mentions and private chats always count; otherwise frequency decides."""
from __future__ import annotations

import asyncio

import pytest

from chat import heartflow

pytestmark = pytest.mark.usefixtures("clean_counters")

SCHEMA = "t_alpha"
BOT = "10001"


@pytest.mark.parametrize(
    ("text", "segments"),
    [
        ("hello", [{"type": "at", "data": BOT}, {"type": "text", "data": "hello"}]),
        ("hello", {"type": "seglist", "data": [{"type": "at", "data": f"Mai:{BOT}"}]}),
        ("hello", [{"type": "at", "data": {"user_id": int(BOT)}}]),
        (f"@<Mai:{BOT}> what do you think", []),
        (f"@<{BOT}> what do you think", []),
        (f"[回复<Mai:{BOT}>：earlier words]，说：really?", []),
        ("is mai around today", []),
    ],
)
def test_a_mention_of_the_agent_is_recognised_in_every_form(text: str, segments: object) -> None:
    assert heartflow.mentions_agent(text, segments, account_id=BOT, names=["Mai"])


@pytest.mark.parametrize(
    ("text", "segments"),
    [
        ("hello", [{"type": "at", "data": "20002"}]),
        ("@<Bob:20002> hi", []),
        (f"[回复<Bob:20002>：{BOT} said]，说：ok", []),
        ("plain chatter", [{"type": "unknown_thing", "data": {"x": 1}}]),
    ],
)
def test_other_people_being_addressed_is_not_a_mention(text: str, segments: object) -> None:
    assert not heartflow.mentions_agent(text, segments, account_id=BOT, names=["Mai"])


async def test_private_chats_and_mentions_are_always_considered() -> None:
    private = await heartflow.judge(SCHEMA, "s1", private=True, mentioned=False, texts=["hi"], talk_frequency=0)
    mention = await heartflow.judge(SCHEMA, "s1", private=False, mentioned=True, texts=["hi"], talk_frequency=0)
    assert (private.consider, private.reason) == (True, "private")
    assert (mention.consider, mention.reason) == (True, "mention")


async def test_talk_frequency_zero_never_considers_plain_messages() -> None:
    verdicts = [
        await heartflow.judge(SCHEMA, "s2", private=False, mentioned=False, texts=["what now?"], talk_frequency=0)
        for _ in range(10)
    ]
    assert not any(v.consider for v in verdicts)


async def test_willingness_builds_up_until_it_reaches_the_threshold() -> None:
    # given a low talk frequency, each message adds 0.3 × interest 1.0
    seen = [
        await heartflow.judge(SCHEMA, "s3", private=False, mentioned=False, texts=["ok"], talk_frequency=0.3)
        for _ in range(4)
    ]
    # then the fourth message (1.2 ≥ 1.0) is considered, and willingness starts over
    assert [v.consider for v in seen] == [False, False, False, True]
    after = await heartflow.judge(SCHEMA, "s3", private=False, mentioned=False, texts=["ok"], talk_frequency=0.3)
    assert not after.consider and after.willingness == pytest.approx(0.3)


async def test_the_threshold_rises_after_silent_turns_and_falls_after_speaking() -> None:
    assert (await heartflow.judge(SCHEMA, "s4", private=False, mentioned=False, texts=["ok"],
                                  talk_frequency=1)).consider
    # when the planner stays silent twice
    await heartflow.after_turn(SCHEMA, "s4", spoke=False)
    await heartflow.after_turn(SCHEMA, "s4", spoke=False)
    # then one plain message is no longer enough (threshold 1 × (1 + 0.5 × 2) = 2)
    verdict = await heartflow.judge(SCHEMA, "s4", private=False, mentioned=False, texts=["ok"], talk_frequency=1)
    assert (verdict.consider, verdict.threshold) == (False, 2.0)
    # and after speaking, the base threshold is back
    await heartflow.after_turn(SCHEMA, "s4", spoke=True)
    assert heartflow.threshold_after(await heartflow.silent_turns(SCHEMA, "s4")) == 1.0


async def test_questions_weigh_more_than_small_talk() -> None:
    question = await heartflow.judge(SCHEMA, "s5", private=False, mentioned=False,
                                     texts=["how does this work?"], talk_frequency=0.5)
    small_talk = await heartflow.judge(SCHEMA, "s6", private=False, mentioned=False, texts=["lol"],
                                       talk_frequency=0.5)
    assert question.willingness > small_talk.willingness


async def test_only_one_turn_runs_per_stream_and_others_leave_a_pending_mark() -> None:
    async with heartflow.stream_turn(SCHEMA, "s7") as first:
        async with heartflow.stream_turn(SCHEMA, "s7") as second:
            await heartflow.mark_pending(SCHEMA, "s7", 42)
        async with heartflow.stream_turn(SCHEMA, "other") as elsewhere:
            pass
    assert (first, second, elsewhere) == (True, False, True)
    assert await heartflow.take_pending(SCHEMA, "s7")
    assert not await heartflow.take_pending(SCHEMA, "s7")
    async with heartflow.stream_turn(SCHEMA, "s7") as later:
        assert later


async def test_a_turn_is_exclusive_across_concurrent_tasks() -> None:
    inside = 0
    most_inside = 0
    taken = 0

    async def contender() -> None:
        nonlocal inside, most_inside, taken
        async with heartflow.stream_turn(SCHEMA, "s8") as mine:
            if mine:
                taken += 1
                inside += 1
                most_inside = max(most_inside, inside)
                await asyncio.sleep(0.05)
                inside -= 1

    await asyncio.gather(*(contender() for _ in range(10)))
    assert (taken, most_inside) == (1, 1)


async def test_stream_state_is_kept_per_tenant() -> None:
    await heartflow.after_turn("t_alpha", "same-stream", spoke=False)
    assert await heartflow.silent_turns("t_alpha", "same-stream") == 1
    assert await heartflow.silent_turns("t_beta", "same-stream") == 0
