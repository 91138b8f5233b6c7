"""The provider "test connection" check, against real local HTTP servers."""
from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from agents import llm_catalog
from agents.audit import Actor

ADMIN = Actor("user:admin@example.com")


class _NoModelListHandler(BaseHTTPRequestHandler):
    """A provider without `GET /models` that echoes a wrong key back in its error, as some do."""

    expected_key = "sk-bare-right"

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib signature
        pass

    def _send(self, status: int, payload: dict) -> None:
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:  # noqa: N802 - stdlib naming
        if self.headers.get("Authorization") == "Bearer sk-slow":
            time.sleep(1)  # longer than the check waits
        self._send(404, {"error": {"message": "no such route"}})

    def do_POST(self) -> None:  # noqa: N802 - stdlib naming
        request = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        auth = self.headers.get("Authorization", "")
        if auth != f"Bearer {self.expected_key}":
            self._send(401, {"error": {"message": f"Invalid key: {auth.removeprefix('Bearer ')}"}})
            return
        self._send(200, {"id": "x", "object": "chat.completion", "model": request["model"],
                         "choices": [{"index": 0, "message": {"role": "assistant", "content": "p"}, "finish_reason": "length"}],
                         "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}})


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # the check hung up on a deliberately slow answer


@pytest.fixture(scope="module")
def bare_provider_url() -> Iterator[str]:
    server = _QuietServer(("127.0.0.1", 0), _NoModelListHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()
    server.server_close()


def test_the_check_lists_the_providers_models_with_its_key(in_tenant_a, openai_server):
    openai_server.required_api_key = "sk-right"
    good = llm_catalog.create_provider(name="good", base_url=openai_server.url, api_key="sk-right", actor=ADMIN)
    bad = llm_catalog.create_provider(name="bad", base_url=openai_server.url, api_key="sk-wrong", actor=ADMIN)

    ok, refused = llm_catalog.check_provider_connection(good), llm_catalog.check_provider_connection(bad)

    assert (ok.ok, ok.method, "fake-chat" in ok.models) == (True, "models", True)
    assert (refused.ok, refused.status) == (False, 401)
    assert [r.api_key for r in openai_server.requests] == ["sk-right", "sk-wrong"]


def test_without_a_model_list_the_check_tries_a_one_token_completion(in_tenant_a, bare_provider_url):
    provider = llm_catalog.create_provider(name="bare", base_url=bare_provider_url, api_key="sk-bare-right", actor=ADMIN)
    llm_catalog.create_model(name="local", provider=provider, identifier="local-7b", actor=ADMIN)

    check = llm_catalog.check_provider_connection(provider)

    assert (check.ok, check.method, check.models) == (True, "completion", ["local-7b"])


def test_a_provider_echoing_the_key_never_gets_it_into_the_report(in_tenant_a, bare_provider_url):
    provider = llm_catalog.create_provider(name="echo", base_url=bare_provider_url, api_key="sk-bare-wrong-123", actor=ADMIN)
    llm_catalog.create_model(name="local", provider=provider, identifier="local-7b", actor=ADMIN)

    check = llm_catalog.check_provider_connection(provider)

    assert (check.ok, check.status) == (False, 401)
    assert "sk-bare-wrong-123" not in check.error and "Invalid key: ***" in check.error


def test_without_a_model_list_or_a_model_the_check_says_so(in_tenant_a, bare_provider_url):
    provider = llm_catalog.create_provider(name="empty", base_url=bare_provider_url, api_key="k", actor=ADMIN)

    check = llm_catalog.check_provider_connection(provider)

    assert (check.ok, check.status) == (False, 404) and "no model" in check.error


def test_an_unreachable_provider_is_reported_not_raised(in_tenant_a):
    provider = llm_catalog.create_provider(name="gone", base_url="http://127.0.0.1:9/v1", api_key="k", timeout_seconds=2, actor=ADMIN)

    check = llm_catalog.check_provider_connection(provider)

    assert not check.ok and check.status is None and "Connect" in check.error


def test_a_slow_provider_is_cut_off_at_the_checks_timeout(in_tenant_a, bare_provider_url, settings):
    settings.LLM_TEST_CONNECTION_TIMEOUT = 0.3
    provider = llm_catalog.create_provider(name="slow", base_url=bare_provider_url, api_key="sk-slow", timeout_seconds=30, actor=ADMIN)

    check = llm_catalog.check_provider_connection(provider)

    assert (check.ok, check.status) == (False, None) and "Timeout" in check.error
