from __future__ import annotations

from agents import config
from agents.audit import SYSTEM
from agents.models import Agent
from chat import replyer
from memory import services
from tests.chat.conftest import use_models


def _reply(agent: Agent, text: str) -> replyer.Draft:
    return replyer.write_reply(
        agent, config.effective_config(agent, "qq").values, platform="qq", stream_id="s1", chat_label="the group chat",
        transcript=[f"[10:00] Bob: {text}"], speaker="Bob", target_text=text,
    )


def test_the_replyer_puts_relevant_memories_in_the_prompt_and_config_can_turn_them_off(in_tenant_a, openai_server):
    # given an agent that remembers something about Alice
    agent = Agent.objects.create(slug="mai", name="Mai")
    use_models(openai_server, "replyer", ["fake-chat"])
    services.create_memory(agent, level="agent", title="Alice's cat", content="Alice has a grey cat called Mochi.", actor=SYSTEM)

    # when Bob asks about it, with memory on and then off
    with_memory = _reply(agent, "what is the name of Alice's cat?")
    config.set_config_value("agent", "memory_enabled", False, agent=agent, actor=SYSTEM)
    without_memory = _reply(agent, "what is the name of Alice's cat?")

    # then only the first prompt carried the memory
    sent = [request.prompt_text for request in openai_server.chat_requests()]
    assert [hit.title for hit in with_memory.memories] == ["Alice's cat"]
    assert "Mochi" in sent[0]
    assert without_memory.memories == [] and "Mochi" not in sent[1]
