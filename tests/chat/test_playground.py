"""The dashboard playground runs the real pipeline as a private chat on platform "playground"."""
from __future__ import annotations

from agents.audit import SYSTEM
from agents.config import set_config_value
from agents.models import Agent
from chat import services
from chat.models import ChatStream, Message
from tests.fakes.openai_server import FakeOpenAI


def test_a_playground_turn_answers_with_the_decision_and_stores_the_chat(
    mai: Agent, openai_server: FakeOpenAI
) -> None:
    openai_server.reply_for_model("talker-id", "Welcome to the library!")
    result = services.playground_turn(mai, "hello, who are you?", "alice@example.com")
    assert result.reply == "Welcome to the library!"
    assert (result.decision, result.reason, result.memories) == ("reply", "private chat", [])
    stream = ChatStream.objects.get(platform="playground")
    assert stream.private_user_id == "alice@example.com"
    assert list(Message.objects.filter(stream=stream).values_list("direction", "text")) == [
        ("in", "hello, who are you?"), ("out", "Welcome to the library!")]
    assert "a cheerful librarian" in openai_server.chat_requests("talker-id")[0].prompt_text


def test_the_playground_follows_the_agents_config(mai: Agent, openai_server: FakeOpenAI) -> None:
    set_config_value("agent", "blocked_users", ["bob"], agent=mai, actor=SYSTEM)
    result = services.playground_turn(mai, "hi", "bob")
    assert result.reply is None and result.decision == "silent"
    assert result.reason == "user bob is blocked"
    assert openai_server.chat_requests() == []
