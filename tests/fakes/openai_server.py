"""A real local HTTP server speaking the OpenAI API, for tests and benchmarks.

It stands in for an LLM provider at the network boundary: our client talks to it over
real HTTP. It serves `/v1/chat/completions` (plain JSON and `stream: true` server-sent
events), `/v1/embeddings` (deterministic vectors) and `/v1/models`.

What it answers is scripted:

- `reply_for_model(name, Reply(...))` answers every request for that model the same way;
- `queue(Reply(...), ...)` answers the next requests in order (any model);
- `respond_with(fn)` computes a `Reply` from the request body;
- otherwise `default_text` (zero latency).

A `Reply` can be an error (`status=500`, `429`…) or slow (`delay=` seconds, to make a
client time out). Every request is recorded in `requests` so tests can assert the
prompt that was sent, the model asked for and the API key used.

Run it by hand (the bench does): `python -m tests.fakes.openai_server --port 9100`.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import math
import socket
import struct
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

DEFAULT_EMBEDDING_DIMENSIONS = 384
DEFAULT_MODELS = ("fake-chat", "fake-chat-backup", "fake-planner", "fake-embedding")


@dataclass
class Reply:
    """One scripted answer. `status` other than 200 answers an OpenAI-style error body."""

    text: str = "ok"
    status: int = 200
    delay: float = 0.0  # seconds before answering (simulates a slow provider)
    tokens_in: int | None = None  # None: counted from the prompt
    tokens_out: int | None = None  # None: counted from the text
    error_message: str = "scripted failure"
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: dict[str, Any]

    @property
    def model(self) -> str | None:
        return self.body.get("model")

    @property
    def api_key(self) -> str | None:
        auth = self.headers.get("authorization", "")
        return auth.removeprefix("Bearer ") if auth else None

    @property
    def messages(self) -> list[dict[str, Any]]:
        return list(self.body.get("messages") or [])

    @property
    def prompt_text(self) -> str:
        """All message contents joined, for `in` assertions on what was sent."""
        return "\n".join(str(message.get("content", "")) for message in self.messages)


def count_tokens(text: str) -> int:
    """A deterministic stand-in for a tokenizer: about four characters per token."""
    return max(1, math.ceil(len(text) / 4))


def embedding_for(text: str, dimensions: int) -> list[float]:
    """A deterministic unit vector derived from the text (same text, same vector)."""
    values: list[float] = []
    counter = 0
    while len(values) < dimensions:
        digest = hashlib.sha256(f"{counter}:{text}".encode()).digest()
        for (number,) in struct.iter_unpack(">I", digest):
            values.append(number / 0xFFFFFFFF - 0.5)
        counter += 1
    values = values[:dimensions]
    norm = math.sqrt(sum(value * value for value in values)) or 1.0
    return [value / norm for value in values]


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that gave up (timed out) closes its socket before a slow scripted
        # reply is written; that is the point of the delay, not a failure.
        pass


class FakeOpenAI:
    """The server's state and scripting; `start()` serves it on a free local port."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host = host
        self.port = port
        self.default_text = "Hello from the test model."
        self.default_embedding_dimensions = DEFAULT_EMBEDDING_DIMENSIONS
        self.models: list[str] = list(DEFAULT_MODELS)
        self.required_api_key: str | None = None  # set to demand this bearer key (else 401)
        self.record_requests = True
        self.requests: list[RecordedRequest] = []
        self._queue: deque[Reply] = deque()
        self._per_model: dict[str, Reply] = {}
        self._responder: Callable[[dict[str, Any]], Reply | str | None] | None = None
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- scripting -------------------------------------------------------------------

    @property
    def url(self) -> str:
        """Base URL to configure as a provider's `base_url` (ends in /v1)."""
        return f"http://{self.host}:{self.port}/v1"

    def queue(self, *replies: Reply | str) -> None:
        """Answer the next chat requests with these, in order (strings are texts)."""
        with self._lock:
            self._queue.extend(Reply(text=r) if isinstance(r, str) else r for r in replies)

    def reply_for_model(self, model: str, reply: Reply | str) -> None:
        """Answer every chat request for `model` with `reply` until `reset()`."""
        with self._lock:
            self._per_model[model] = Reply(text=reply) if isinstance(reply, str) else reply

    def respond_with(self, responder: Callable[[dict[str, Any]], Reply | str | None] | None) -> None:
        """Compute answers from the request body; returning None falls through to the default."""
        with self._lock:
            self._responder = responder

    def reset(self) -> None:
        with self._lock:
            self._queue.clear()
            self._per_model.clear()
            self._responder = None
            self.requests.clear()
            self.default_text = "Hello from the test model."
            self.default_embedding_dimensions = DEFAULT_EMBEDDING_DIMENSIONS
            self.models = list(DEFAULT_MODELS)
            self.required_api_key = None
            self.record_requests = True

    def chat_requests(self, model: str | None = None) -> list[RecordedRequest]:
        with self._lock:
            found = [r for r in self.requests if r.path.endswith("/chat/completions")]
        return [r for r in found if model is None or r.model == model]

    def embedding_requests(self) -> list[RecordedRequest]:
        with self._lock:
            return [r for r in self.requests if r.path.endswith("/embeddings")]

    def _next_reply(self, body: dict[str, Any]) -> Reply:
        with self._lock:
            model = body.get("model")
            if model in self._per_model:
                return self._per_model[model]
            if self._queue:
                return self._queue.popleft()
            responder = self._responder
            default = self.default_text
        if responder is not None:
            answer = responder(body)
            if answer is not None:
                return Reply(text=answer) if isinstance(answer, str) else answer
        return Reply(text=default)

    def _record(self, method: str, path: str, headers: dict[str, str], body: dict[str, Any]) -> None:
        if self.record_requests:
            with self._lock:
                self.requests.append(RecordedRequest(method, path, headers, body))

    # -- lifecycle -------------------------------------------------------------------

    def start(self) -> FakeOpenAI:
        server = self

        class Handler(_Handler):
            fake = server

        self._stopping.clear()
        self._httpd = _QuietServer((self.host, self.port), Handler)
        self.port = self._httpd.server_address[1]
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="fake-openai", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()  # wakes handlers sleeping on a scripted delay
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> FakeOpenAI:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class _Handler(BaseHTTPRequestHandler):
    fake: FakeOpenAI
    protocol_version = "HTTP/1.1"  # keep-alive, like real providers

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        pass  # keep test output clean

    # -- plumbing --------------------------------------------------------------------

    def _headers_dict(self) -> dict[str, str]:
        return {key.lower(): value for key, value in self.headers.items()}

    def _read_json(self) -> dict[str, Any] | None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if not raw:
            return {}
        try:
            body = json.loads(raw)
        except ValueError:
            return None
        return body if isinstance(body, dict) else None

    def _send_json(self, status: int, payload: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)

    def _send_error_body(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        kind = {401: "invalid_request_error", 429: "rate_limit_exceeded"}.get(status, "server_error")
        self._send_json(status, {"error": {"message": message, "type": kind, "code": status}}, headers)

    def _authorised(self) -> bool:
        required = self.fake.required_api_key
        if required is None:
            return True
        if self.headers.get("Authorization") == f"Bearer {required}":
            return True
        self._send_error_body(401, "Incorrect API key provided.")
        return False

    def _wait(self, seconds: float) -> bool:
        """Sleep for a scripted delay; False if the server is stopping meanwhile."""
        return not (seconds > 0 and self.fake._stopping.wait(seconds))

    # -- endpoints -------------------------------------------------------------------

    def do_GET(self) -> None:  # noqa: N802 - stdlib naming
        self.fake._record("GET", self.path, self._headers_dict(), {})
        if self.path.rstrip("/") != "/v1/models":
            self._send_error_body(404, f"Unknown path {self.path}")
            return
        if not self._authorised():
            return
        data = [{"id": name, "object": "model", "created": 0, "owned_by": "test"} for name in self.fake.models]
        self._send_json(200, {"object": "list", "data": data})

    def do_POST(self) -> None:  # noqa: N802 - stdlib naming
        body = self._read_json()
        self.fake._record("POST", self.path, self._headers_dict(), body or {})
        if body is None:
            self._send_error_body(400, "Request body is not a JSON object.")
            return
        path = self.path.rstrip("/")
        if path == "/v1/chat/completions":
            if self._authorised():
                self._chat(body)
        elif path == "/v1/embeddings":
            if self._authorised():
                self._embeddings(body)
        else:
            self._send_error_body(404, f"Unknown path {self.path}")

    def _chat(self, body: dict[str, Any]) -> None:
        reply = self.fake._next_reply(body)
        if not self._wait(reply.delay):
            return
        if reply.status != 200:
            self._send_error_body(reply.status, reply.error_message, reply.headers)
            return
        prompt = "\n".join(str(m.get("content", "")) for m in body.get("messages") or [] if isinstance(m, dict))
        tokens_in = reply.tokens_in if reply.tokens_in is not None else count_tokens(prompt)
        tokens_out = reply.tokens_out if reply.tokens_out is not None else count_tokens(reply.text)
        usage = {"prompt_tokens": tokens_in, "completion_tokens": tokens_out, "total_tokens": tokens_in + tokens_out}
        completion_id = f"chatcmpl-{uuid.uuid4().hex[:12]}"
        model = body.get("model") or "unknown"
        if body.get("stream"):
            include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
            self._stream_chat(completion_id, model, reply.text, usage if include_usage else None)
            return
        self._send_json(
            200,
            {
                "id": completion_id,
                "object": "chat.completion",
                "created": int(time.time()),
                "model": model,
                "choices": [
                    {"index": 0, "message": {"role": "assistant", "content": reply.text}, "finish_reason": "stop"}
                ],
                "usage": usage,
            },
        )

    def _stream_chat(self, completion_id: str, model: str, text: str, usage: dict[str, int] | None) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

        def chunk(payload: dict[str, Any] | str) -> None:
            data = payload if isinstance(payload, str) else json.dumps(payload)
            event = f"data: {data}\n\n".encode()
            self.wfile.write(f"{len(event):x}\r\n".encode() + event + b"\r\n")
            self.wfile.flush()

        base = {"id": completion_id, "object": "chat.completion.chunk", "created": int(time.time()), "model": model}
        chunk({**base, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}]})
        # Words keep their trailing space so the deltas join back into the text exactly.
        pieces = [piece for piece in text.split(" ")]
        for index, piece in enumerate(pieces):
            content = piece if index == len(pieces) - 1 else piece + " "
            if content:
                chunk({**base, "choices": [{"index": 0, "delta": {"content": content}, "finish_reason": None}]})
        chunk({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
        if usage is not None:
            chunk({**base, "choices": [], "usage": usage})
        chunk("[DONE]")
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def _embeddings(self, body: dict[str, Any]) -> None:
        reply = self.fake._next_reply(body) if body.get("model") in self.fake._per_model else Reply()
        if not self._wait(reply.delay):
            return
        if reply.status != 200:
            self._send_error_body(reply.status, reply.error_message, reply.headers)
            return
        texts = body.get("input")
        if isinstance(texts, str):
            texts = [texts]
        if not isinstance(texts, list) or not all(isinstance(t, str) for t in texts):
            self._send_error_body(400, "input must be a string or a list of strings.")
            return
        dimensions = int(body.get("dimensions") or self.fake.default_embedding_dimensions)
        tokens = sum(count_tokens(text) for text in texts)
        self._send_json(
            200,
            {
                "object": "list",
                "model": body.get("model") or "unknown",
                "data": [
                    {"object": "embedding", "index": i, "embedding": embedding_for(text, dimensions)}
                    for i, text in enumerate(texts)
                ],
                "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
            },
        )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def main() -> None:
    parser = argparse.ArgumentParser(description="Serve a zero-latency OpenAI-compatible API.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9100)
    parser.add_argument("--text", default=None, help="reply text (default: a fixed greeting)")
    args = parser.parse_args()
    fake = FakeOpenAI(args.host, args.port)
    fake.record_requests = False  # a long-running server must not grow without bound
    if args.text:
        fake.default_text = args.text
    fake.start()
    print(f"serving {fake.url}", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        fake.stop()


if __name__ == "__main__":
    main()
