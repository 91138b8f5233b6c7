"""The OpenAI stand-in answers like the real API, so client tests mean something."""
from __future__ import annotations

import json

import httpx

from tests.fakes.openai_server import FakeOpenAI, Reply


def test_a_chat_completion_answers_the_default_text_with_usage(openai_server: FakeOpenAI) -> None:
    response = httpx.post(
        f"{openai_server.url}/chat/completions",
        json={"model": "fake-chat", "messages": [{"role": "user", "content": "hi there"}]},
    )
    body = response.json()
    assert response.status_code == 200
    assert body["choices"][0]["message"]["content"] == "Hello from the test model."
    assert body["usage"]["prompt_tokens"] > 0 and body["usage"]["completion_tokens"] > 0
    assert openai_server.chat_requests("fake-chat")[0].prompt_text == "hi there"


def test_scripted_replies_come_in_order_and_per_model_rules_win(openai_server: FakeOpenAI) -> None:
    openai_server.queue("first", Reply(status=500))
    openai_server.reply_for_model("pinned", "always this")
    post = lambda model: httpx.post(  # noqa: E731
        f"{openai_server.url}/chat/completions", json={"model": model, "messages": []}
    )
    assert post("pinned").json()["choices"][0]["message"]["content"] == "always this"
    assert post("any").json()["choices"][0]["message"]["content"] == "first"
    failed = post("any")
    assert failed.status_code == 500 and failed.json()["error"]["message"] == "scripted failure"
    assert post("any").json()["choices"][0]["message"]["content"] == "Hello from the test model."


def test_streaming_sends_deltas_then_a_usage_chunk(openai_server: FakeOpenAI) -> None:
    openai_server.queue(Reply(text="one two three", tokens_in=7, tokens_out=3))
    with httpx.stream(
        "POST",
        f"{openai_server.url}/chat/completions",
        json={"model": "m", "messages": [], "stream": True, "stream_options": {"include_usage": True}},
    ) as response:
        events = [line.removeprefix("data: ") for line in response.iter_lines() if line.startswith("data: ")]
    assert events[-1] == "[DONE]"
    chunks = [json.loads(event) for event in events[:-1]]
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks if c["choices"])
    assert text == "one two three"
    assert chunks[-1]["usage"] == {"prompt_tokens": 7, "completion_tokens": 3, "total_tokens": 10}


def test_embeddings_are_deterministic_unit_vectors_of_the_asked_size(openai_server: FakeOpenAI) -> None:
    ask = lambda: httpx.post(  # noqa: E731
        f"{openai_server.url}/embeddings", json={"model": "e", "input": ["a", "b"], "dimensions": 8}
    ).json()
    first, second = ask(), ask()
    vectors = [item["embedding"] for item in first["data"]]
    assert [len(v) for v in vectors] == [8, 8]
    assert vectors[0] != vectors[1]
    assert first["data"] == second["data"]
    assert abs(sum(x * x for x in vectors[0]) - 1.0) < 1e-9


def test_a_required_key_is_enforced_and_models_are_listed(openai_server: FakeOpenAI) -> None:
    openai_server.required_api_key = "sk-right"
    wrong = httpx.get(f"{openai_server.url}/models", headers={"Authorization": "Bearer sk-wrong"})
    right = httpx.get(f"{openai_server.url}/models", headers={"Authorization": "Bearer sk-right"})
    assert wrong.status_code == 401
    assert "fake-chat" in [m["id"] for m in right.json()["data"]]


def test_a_delayed_reply_makes_a_short_client_timeout_fire(openai_server: FakeOpenAI) -> None:
    openai_server.queue(Reply(delay=1.0))
    try:
        httpx.post(f"{openai_server.url}/chat/completions", json={"model": "m", "messages": []}, timeout=0.1)
    except httpx.TimeoutException:
        timed_out = True
    else:
        timed_out = False
    assert timed_out
