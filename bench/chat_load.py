"""Load test of the chat gateway and reply pipeline; run by hand, never part of CI.

Opens N legacy maim_message adapter connections spread over M tenants, sends private
messages at a given total rate, and measures, per message, the time from writing the
frame to receiving the reply that quotes it. The replies come from the real pipeline
(heartflow, planner rules, replyer, quota metering, sending policy, delivery) calling a
zero-latency OpenAI-compatible server (tests/fakes/openai_server.py) in this process.

    .venv/bin/python -m maibot.embedded exec -- .venv/bin/python bench/chat_load.py \\
        --tenants 50 --connections 200 --rate 100 --duration 30

It uses the embedded (development) database: tenants `bench000`… are created once and
reused; their agents get fresh keys each run. The gateway runs as `--workers` uvicorn
processes on a free port unless `--url` names a running one (which must use the same
database). Long-term memory is off for the bench agents unless `--memory` is given.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "maibot.settings")

PLATFORM = "qq"
MODEL = "bench-model"
# Message and user ids must be new on every run: the gateway ignores messages it already stored.
RUN = f"{int(time.time()):x}"


@dataclass(frozen=True)
class Target:
    tenant_slug: str
    agent_slug: str
    key: str


@dataclass
class Results:
    sent: int = 0
    refused: int = 0
    errors: list[str] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)  # seconds
    first_send: float = 0.0
    last_reply: float = 0.0


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tenants", type=int, default=50)
    parser.add_argument("--connections", type=int, default=200)
    parser.add_argument("--rate", type=float, default=100.0, help="messages per second, all connections together")
    parser.add_argument("--duration", type=float, default=30.0, help="seconds of sending")
    parser.add_argument("--drain", type=float, default=15.0, help="seconds to wait for late replies")
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes to start")
    parser.add_argument("--url", default="", help="a running gateway's ws:// URL (default: start one)")
    parser.add_argument("--memory", action="store_true", help="leave long-term memory on for the agents")
    return parser.parse_args()


# --- preparation (Django, synchronous) -------------------------------------------------------------


def prepare(args: argparse.Namespace, llm_url: str) -> list[Target]:
    import django

    django.setup()
    from django.core.management import call_command
    from django_tenants.utils import schema_context, tenant_context

    from agents import llm_catalog
    from agents.audit import SYSTEM
    from agents.config import set_config_values
    from agents.models import Agent, LLMModel, LLMProvider
    from tenants import apikeys
    from tenants.models import Plan, Tenant
    from tenants.services import create_tenant

    call_command("migrate_schemas", verbosity=0)
    agents_per_tenant = -(-args.connections // args.tenants)
    with schema_context("public"):
        plan, _ = Plan.objects.update_or_create(name="bench", defaults={
            "display_name": "Bench", "max_agents": max(10, agents_per_tenant), "daily_tokens": 10**12,
            "monthly_cost": 10**7, "daily_requests": 2 * 10**9,
        })
    per_tenant: dict[str, list[Target]] = {}
    started = time.monotonic()
    for index in range(args.tenants):
        slug = f"bench{index:03d}"
        with schema_context("public"):
            tenant = Tenant.objects.filter(slug=slug).first()
            if tenant is None:
                tenant = create_tenant(slug=slug, name=f"Bench {index}", plan=plan).tenant
            elif tenant.plan_id != plan.pk:
                tenant.plan = plan
                tenant.save(update_fields=["plan"])
        with tenant_context(tenant):
            provider = LLMProvider.objects.filter(name="bench").first()
            if provider is None:
                provider = llm_catalog.create_provider(actor=SYSTEM, name="bench", base_url=llm_url, api_key="sk-bench",
                                                       timeout_seconds=10, max_retries=0)
            else:
                llm_catalog.update_provider(provider, {"base_url": llm_url}, actor=SYSTEM)
            if not LLMModel.objects.filter(name=MODEL).exists():
                llm_catalog.create_model(actor=SYSTEM, name=MODEL, provider=provider, identifier="bench-id")
            for task in ("replyer", "planner"):
                llm_catalog.set_task_models(task, [MODEL], actor=SYSTEM, max_tokens=64)
            targets = []
            for number in range(agents_per_tenant):
                agent_slug = f"bot{number}"
                agent, _ = Agent.objects.get_or_create(
                    slug=agent_slug, defaults={"name": f"Bot {number}", "platform_accounts": {PLATFORM: "10001"}})
                set_config_values("agent", {"memory_enabled": args.memory, "stream_replies_per_minute": 60},
                                  agent=agent, actor=SYSTEM)
                key = apikeys.issue_api_key(tenant, agent_slug, name="bench", scopes=["chat"]).plaintext
                targets.append(Target(slug, agent_slug, key))
            per_tenant[slug] = targets
        if (index + 1) % 10 == 0:
            print(f"  {index + 1}/{args.tenants} tenants ready ({time.monotonic() - started:.0f} s)", flush=True)
    # Connection j goes to tenant j % M, so the connections spread evenly over the tenants.
    ordered = [per_tenant[f"bench{j % args.tenants:03d}"][j // args.tenants] for j in range(args.connections)]
    from django.db import connections

    connections.close_all()
    return ordered


# --- the gateway server ------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_gateway(workers: int) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = dict(os.environ, LOG_LEVEL=os.environ.get("LOG_LEVEL", "WARNING"))
    command = [sys.executable, "-m", "uvicorn", "maibot.asgi:application", "--host", "127.0.0.1", "--port",
               str(port), "--no-access-log", "--log-level", "warning", "--workers", str(workers)]
    server = subprocess.Popen(command, cwd=ROOT, env=env, start_new_session=True)
    deadline = time.monotonic() + 60
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                break
        except OSError:
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the gateway did not start") from None
            time.sleep(0.2)
    return server, f"ws://127.0.0.1:{port}/ws"


def stop_gateway(server: subprocess.Popen) -> None:
    os.killpg(server.pid, signal.SIGTERM)
    try:
        server.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)


# --- the load ---------------------------------------------------------------------------------------


def message(connection: int, sequence: int) -> tuple[str, str]:
    """A private message from a new user each time, so every message is its own chat's turn."""
    message_id = f"{RUN}-{connection}-{sequence}"
    frame = {
        "message_info": {
            "platform": PLATFORM, "message_id": message_id, "time": time.time(),
            "user_info": {"platform": PLATFORM, "user_id": f"u{RUN}x{connection}x{sequence}", "user_nickname": "Load"},
        },
        "message_segment": {"type": "seglist", "data": [{"type": "text", "data": "hello, how are you?"}]},
    }
    return message_id, json.dumps(frame)


async def adapter(number: int, target: Target, url: str, args: argparse.Namespace, results: Results,
                  sent_at: dict[str, float], start: float) -> None:
    import websockets

    interval = args.connections / args.rate
    try:
        ws = await websockets.connect(url, additional_headers={"platform": PLATFORM, "Authorization": target.key},
                                      max_size=None, open_timeout=30)
    except Exception as exc:  # noqa: BLE001 - reported, the run goes on
        results.errors.append(f"connection {number}: {exc!r}")
        return

    async def read() -> None:
        try:
            await read_frames()
        except websockets.ConnectionClosed as closed:
            if not finished.is_set():
                results.errors.append(f"connection {number} closed: {closed}")

    async def read_frames() -> None:
        async for raw in ws:
            frame = json.loads(raw)
            if frame.get("is_custom_message"):
                results.errors.append(f"connection {number}: {frame.get('content')}")
                continue
            first = (frame.get("message_segment", {}).get("data") or [{}])[0]
            quoted = first.get("data") if first.get("type") == "reply" else None
            if quoted in sent_at:
                now = time.perf_counter()
                results.latencies.append(now - sent_at.pop(quoted))
                results.last_reply = now

    finished = asyncio.Event()
    reader = asyncio.create_task(read())
    await asyncio.sleep(max(0.0, start - time.perf_counter()) + random.uniform(0, interval))
    sequence = 0
    deadline = start + args.duration
    next_at = time.perf_counter()
    while time.perf_counter() < deadline and not reader.done():
        message_id, frame = message(number, sequence)
        sent_at[message_id] = time.perf_counter()
        try:
            await ws.send(frame)
        except websockets.ConnectionClosed:
            sent_at.pop(message_id, None)
            break
        results.sent += 1
        sequence += 1
        next_at += interval
        await asyncio.sleep(max(0.0, next_at - time.perf_counter()))
    drain_until = time.perf_counter() + args.drain
    while time.perf_counter() < drain_until and any(key.startswith(f"{RUN}-{number}-") for key in sent_at):
        await asyncio.sleep(0.2)
    finished.set()
    reader.cancel()
    await ws.close()


async def run_load(targets: list[Target], url: str, args: argparse.Namespace) -> Results:
    results = Results()
    sent_at: dict[str, float] = {}
    # Everyone connects first; sending starts together two seconds later.
    start = time.perf_counter() + 2.0 + args.connections * 0.01
    results.first_send = start
    await asyncio.gather(*(adapter(number, target, url, args, results, sent_at, start)
                           for number, target in enumerate(targets)))
    return results


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def report(args: argparse.Namespace, results: Results) -> None:
    replies = len(results.latencies)
    window = max(1e-9, results.last_reply - results.first_send) if replies else 0.0
    print()
    print(f"tenants {args.tenants}, connections {args.connections}, offered {args.rate:g} msg/s "
          f"for {args.duration:g} s, gateway workers {args.workers}, memory {'on' if args.memory else 'off'}")
    print(f"sent {results.sent}, replies {replies} ({100 * replies / max(1, results.sent):.1f}%), "
          f"errors {len(results.errors)}")
    if replies:
        ms = [latency * 1000 for latency in results.latencies]
        print(f"throughput: {replies / window:.1f} replies/s (first send to last reply, {window:.1f} s)")
        print(f"frame in -> reply out: p50 {percentile(ms, 0.50):.1f} ms, p95 {percentile(ms, 0.95):.1f} ms, "
              f"p99 {percentile(ms, 0.99):.1f} ms, mean {statistics.fmean(ms):.1f} ms, max {max(ms):.1f} ms")
    for error in results.errors[:10]:
        print("  error:", error)


def main() -> int:
    args = parse_args()
    from tests.fakes.openai_server import FakeOpenAI

    llm = FakeOpenAI()
    llm.record_requests = False  # a long run must not grow the recorded list without bound
    llm.default_text = "I am fine, thank you."
    llm.start()
    print(f"preparing {args.tenants} tenants, {args.connections} agents and keys…", flush=True)
    targets = prepare(args, llm.url)
    server = None
    url = args.url
    try:
        if not url:
            server, url = start_gateway(args.workers)
        print(f"sending to {url}", flush=True)
        results = asyncio.run(run_load(targets, url, args))
    finally:
        if server is not None:
            stop_gateway(server)
        llm.stop()
    report(args, results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
