"""The LLM client against a real local OpenAI-compatible server: fallback, streaming, usage."""
from __future__ import annotations

from decimal import Decimal

import pytest
from django_tenants.utils import schema_context, tenant_context

from agents.audit import SYSTEM
from agents.config import set_config_value
from agents.models import Agent
from chat import llm, quotas
from chat.models import UsageAlert, UsageRecord
from tenants.models import Tenant
from tests.chat.conftest import give_plan, route_to, use_models
from tests.fakes.openai_server import FakeOpenAI, Reply

pytestmark = pytest.mark.usefixtures("clean_counters")

HELLO = [{"role": "user", "content": "hello"}]


@pytest.fixture
def agent(in_tenant_a: Tenant) -> Agent:
    return Agent.objects.create(slug="mai", name="Mai", platform_accounts={"qq": "10001"})


def test_a_completion_records_usage_with_the_models_prices(agent: Agent, openai_server: FakeOpenAI) -> None:
    # given: 2 and 8 per million tokens in and out
    openai_server.queue(Reply(text="hi there", tokens_in=1_000, tokens_out=500))
    route = route_to(openai_server, "cheap", price_in=Decimal("2"), price_out=Decimal("8"))
    # when
    completion = llm.complete_with_routes([route], "replyer", HELLO, agent=agent, platform="qq", stream_id="s1")
    # then
    assert (completion.text, completion.model_name) == ("hi there", "cheap")
    assert (completion.tokens_in, completion.tokens_out, completion.cost) == (1_000, 500, Decimal("0.006"))
    row = UsageRecord.objects.get()
    assert (row.agent, row.platform, row.stream_id, row.task, row.model_name) == (agent, "qq", "s1", "replyer", "cheap")
    assert (row.tokens_in, row.tokens_out, row.cost, row.status) == (1_000, 500, Decimal("0.006"), "ok")


def test_the_request_carries_the_prompt_key_model_and_limits(agent: Agent, openai_server: FakeOpenAI) -> None:
    route = route_to(openai_server, "m", api_key="sk-secret", temperature=0.3, max_tokens=77)
    llm.complete_with_routes([route], "replyer", HELLO, agent=agent)
    sent = openai_server.chat_requests()[0]
    assert (sent.model, sent.api_key, sent.prompt_text) == ("m-id", "sk-secret", "hello")
    assert (sent.body["temperature"], sent.body["max_tokens"]) == (0.3, 77)


def test_an_http_500_falls_back_to_the_second_model_after_retrying(agent: Agent, openai_server: FakeOpenAI) -> None:
    # given: the first model always fails
    openai_server.reply_for_model("first-id", Reply(status=500))
    openai_server.reply_for_model("second-id", "from the backup")
    routes = [route_to(openai_server, "first", max_retries=1), route_to(openai_server, "second")]
    # when
    completion = llm.complete_with_routes(routes, "replyer", HELLO, agent=agent)
    # then: two tries of the first model, then the second answered
    assert (completion.text, completion.model_name) == ("from the backup", "second")
    assert [r.model for r in openai_server.chat_requests()] == ["first-id", "first-id", "second-id"]
    rows = list(UsageRecord.objects.order_by("id").values_list("model_name", "status"))
    assert rows == [("first", "error"), ("second", "ok")]
    assert "HTTP 500" in UsageRecord.objects.get(model_name="first").error


def test_a_rate_limited_model_is_retried_before_falling_back(agent: Agent, openai_server: FakeOpenAI) -> None:
    openai_server.queue(Reply(status=429), "second try worked")
    completion = llm.complete_with_routes([route_to(openai_server, "m", max_retries=2)], "replyer", HELLO,
                                          agent=agent)
    assert completion.text == "second try worked"
    assert len(openai_server.chat_requests()) == 2


def test_a_client_error_is_not_retried(agent: Agent, openai_server: FakeOpenAI) -> None:
    openai_server.reply_for_model("bad-id", Reply(status=400, error_message="bad request"))
    routes = [route_to(openai_server, "bad", max_retries=3), route_to(openai_server, "good")]
    llm.complete_with_routes(routes, "replyer", HELLO, agent=agent)
    assert [r.model for r in openai_server.chat_requests()] == ["bad-id", "good-id"]


def test_a_slow_model_times_out_and_the_next_one_answers(agent: Agent, openai_server: FakeOpenAI) -> None:
    openai_server.reply_for_model("slow-id", Reply(delay=2.0))
    routes = [route_to(openai_server, "slow", timeout=0.2), route_to(openai_server, "fast")]
    completion = llm.complete_with_routes(routes, "replyer", HELLO, agent=agent)
    assert completion.model_name == "fast"
    assert "timed out" in UsageRecord.objects.get(model_name="slow").error


def test_the_provider_timeout_is_capped_by_settings(agent: Agent, openai_server: FakeOpenAI, settings) -> None:
    settings.LLM_MAX_TIMEOUT_SECONDS = 0.2
    openai_server.reply_for_model("slow-id", Reply(delay=2.0))
    with pytest.raises(llm.LLMUnavailable):
        llm.complete_with_routes([route_to(openai_server, "slow", timeout=60)], "replyer", HELLO, agent=agent)


def test_when_every_model_fails_the_reservation_is_given_back(
    tenant_a: Tenant, agent: Agent, openai_server: FakeOpenAI
) -> None:
    openai_server.respond_with(lambda body: Reply(status=503))
    routes = [route_to(openai_server, "a"), route_to(openai_server, "b")]
    with pytest.raises(llm.LLMUnavailable, match="a: HTTP 503.*b: HTTP 503"):
        llm.complete_with_routes(routes, "replyer", HELLO, agent=agent)
    summary = quotas.usage_summary(tenant_a)
    assert (summary["tokens_today"], summary["requests_today"]) == (0, 0)


def test_streaming_hands_over_deltas_as_they_come(agent: Agent, openai_server: FakeOpenAI) -> None:
    openai_server.queue(Reply(text="one two three four", tokens_in=9, tokens_out=4))
    deltas: list[str] = []
    completion = llm.complete_with_routes([route_to(openai_server, "m", price_out=Decimal("1000"))], "replyer",
                                          HELLO, agent=agent, on_delta=deltas.append)
    assert deltas == ["one ", "two ", "three ", "four"]
    assert completion.text == "one two three four"
    assert (completion.tokens_in, completion.tokens_out, completion.cost) == (9, 4, Decimal("0.004"))
    assert openai_server.chat_requests()[0].body["stream"] is True


def test_streaming_falls_back_when_the_first_model_refuses(agent: Agent, openai_server: FakeOpenAI) -> None:
    openai_server.reply_for_model("down-id", Reply(status=500))
    openai_server.reply_for_model("up-id", "streamed fine")
    deltas: list[str] = []
    routes = [route_to(openai_server, "down"), route_to(openai_server, "up")]
    completion = llm.complete_with_routes(routes, "replyer", HELLO, agent=agent, on_delta=deltas.append)
    assert "".join(deltas) == completion.text == "streamed fine"


def test_an_exceeded_quota_sends_no_request_and_writes_an_alert(
    tenant_a: Tenant, agent: Agent, openai_server: FakeOpenAI
) -> None:
    # given: a plan with no tokens left today
    give_plan(tenant_a, daily_tokens=10)
    with tenant_context(tenant_a):
        # when
        with pytest.raises(llm.QuotaExceeded):
            llm.complete_with_routes([route_to(openai_server, "m")], "replyer", HELLO, agent=agent)
        # then
        assert openai_server.chat_requests() == []
        assert UsageRecord.objects.get().status == "quota_exceeded"
        assert UsageAlert.objects.filter(metric="daily_tokens", level="exceeded").exists()


def test_quota_exceeded_is_the_same_error_as_the_quota_modules() -> None:
    assert llm.QuotaExceeded is quotas.QuotaExceeded


def test_no_models_means_unavailable(agent: Agent) -> None:
    with pytest.raises(llm.LLMUnavailable, match="No model is configured"):
        llm.complete_with_routes([], "planner", HELLO, agent=agent)


def test_the_client_refuses_to_run_outside_a_tenant(tenant_a: Tenant, openai_server: FakeOpenAI) -> None:
    with schema_context("public"), pytest.raises(RuntimeError, match="tenant"):
        llm.complete_with_routes([route_to(openai_server, "m")], "replyer", HELLO, agent=None)


def test_embeddings_come_back_in_order_with_usage(agent: Agent, openai_server: FakeOpenAI, settings) -> None:
    settings.LLM_EMBED_BATCH_SIZE = 2
    vectors = llm.embed_with_routes([route_to(openai_server, "emb", price_in=Decimal("1"))],
                                    ["a", "b", "c"], agent=agent, dimensions=16)
    again = llm.embed_with_routes([route_to(openai_server, "emb")], ["c"], agent=agent, dimensions=16)
    assert [len(v) for v in vectors] == [16, 16, 16]
    assert vectors[2] == again[0]
    assert len(openai_server.embedding_requests()) == 3  # two batches, then one
    row = UsageRecord.objects.filter(task="embedding").order_by("id").first()
    assert (row.model_name, row.tokens_in, row.status) == ("emb", 3, "ok")


def test_embeddings_of_one_call_come_from_one_model(agent: Agent, openai_server: FakeOpenAI, settings) -> None:
    settings.LLM_EMBED_BATCH_SIZE = 1
    openai_server.reply_for_model("broken-id", Reply(status=500))
    routes = [route_to(openai_server, "broken"), route_to(openai_server, "spare")]
    vectors = llm.embed_with_routes(routes, ["x", "y"], agent=agent, dimensions=4)
    assert len(vectors) == 2
    assert [r.model for r in openai_server.embedding_requests()] == ["broken-id", "spare-id", "spare-id"]


def test_another_tenant_sees_none_of_the_usage(
    tenant_a: Tenant, tenant_b: Tenant, agent: Agent, openai_server: FakeOpenAI
) -> None:
    llm.complete_with_routes([route_to(openai_server, "m")], "replyer", HELLO, agent=agent)
    with tenant_context(tenant_a):
        assert UsageRecord.objects.count() == 1
    with tenant_context(tenant_b):
        assert UsageRecord.objects.count() == 0


def test_complete_follows_the_tenants_task_list_with_its_prices(agent: Agent, openai_server: FakeOpenAI) -> None:
    # given: the tenant's replyer list is [broken, backup], both served locally
    use_models(openai_server, "replyer", ["broken", "backup"], price_in="1", price_out="2", max_tokens=64)
    openai_server.reply_for_model("broken-id", Reply(status=500))
    openai_server.reply_for_model("backup-id", Reply(text="fine", tokens_in=1_000_000, tokens_out=1_000_000))
    # when
    completion = llm.complete("replyer", HELLO, agent=agent, platform="qq")
    # then
    assert (completion.model_name, completion.cost) == ("backup", Decimal("3"))
    assert openai_server.chat_requests("backup-id")[0].body["max_tokens"] == 64
    assert openai_server.chat_requests("backup-id")[0].api_key == "sk-test"
    assert UsageRecord.objects.get(status="ok").cost == Decimal("3")


def test_an_agents_model_setting_overrides_the_tenant_list(agent: Agent, openai_server: FakeOpenAI) -> None:
    use_models(openai_server, "replyer", ["tenant-default", "agent-choice"])
    set_config_value("agent", "models.replyer", ["agent-choice"], agent=agent, actor=SYSTEM)
    assert llm.complete("replyer", HELLO, agent=agent).model_name == "agent-choice"
    assert llm.complete("replyer", HELLO, agent=None).model_name == "tenant-default"


def test_embed_uses_the_tenants_embedding_list(agent: Agent, openai_server: FakeOpenAI) -> None:
    use_models(openai_server, "embedding", ["vectors"])
    assert [len(v) for v in llm.embed(["a", "b"], agent=agent, dimensions=8)] == [8, 8]
    assert openai_server.embedding_requests()[0].model == "vectors-id"
