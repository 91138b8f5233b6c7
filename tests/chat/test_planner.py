"""Planner: rules for the obvious cases, strict JSON from the model, silence on junk."""
from __future__ import annotations

import pytest

from chat import planner


def test_private_chats_and_mentions_are_answered_without_asking_a_model() -> None:
    private = planner.decide_by_rules(private=True, mentioned=False, talk_frequency=0)
    mention = planner.decide_by_rules(private=False, mentioned=True, talk_frequency=0)
    assert (private.action, private.source) == ("reply", "rule")
    assert (mention.action, mention.reason) == ("reply", "the agent was mentioned")


def test_talk_frequency_zero_without_a_mention_is_silence() -> None:
    decision = planner.decide_by_rules(private=False, mentioned=False, talk_frequency=0)
    assert (decision.action, decision.source) == ("silent", "rule")


def test_other_group_messages_go_to_the_model() -> None:
    assert planner.decide_by_rules(private=False, mentioned=False, talk_frequency=0.5) is None


@pytest.mark.parametrize(
    ("answer", "action", "reason"),
    [
        ('{"action": "reply", "reason": "a question to everyone"}', "reply", "a question to everyone"),
        ('```json\n{"action": "silent", "reason": "small talk"}\n```', "silent", "small talk"),
        ('Sure! {"action": "REPLY"}', "reply", "no reason given"),
    ],
)
def test_the_models_json_answer_is_read(answer: str, action: str, reason: str) -> None:
    decision = planner.read_answer(answer)
    assert (decision.action, decision.reason, decision.source) == (action, reason, "model")


@pytest.mark.parametrize(
    "answer", ["", "I think I should reply.", '{"action": "dance"}', '{"action": reply}', "[1, 2]"]
)
def test_junk_answers_are_not_taken_for_decisions(answer: str) -> None:
    assert planner.read_answer(answer) is None
