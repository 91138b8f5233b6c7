"""Memory search at scale: latency and recall of pgvector HNSW against exact search.

Loads COUNT memories of varied text, embedded with the real local MiniLM model, into one
tenant ("bench"), then runs QUERIES searches with and without filters and reports
p50/p95 latency and recall@10 against exact (sequential) search.

    .venv/bin/python -m maibot.embedded exec -- .venv/bin/python bench/memory_search.py --count 100000

Not part of the test suite. `--reuse` keeps an already loaded tenant.
"""
from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "maibot.settings")

import django  # noqa: E402

django.setup()

from django.db import connection  # noqa: E402
from django_tenants.utils import tenant_context  # noqa: E402

from agents.models import Agent  # noqa: E402
from memory.embeddings import LocalMiniLM  # noqa: E402
from memory.models import Memory  # noqa: E402
from memory.services import search_by_vector  # noqa: E402
from tenants import services as tenant_services  # noqa: E402
from tenants.models import Tenant  # noqa: E402

NAMES = ["Alice", "Bob", "Carol", "Dan", "Eve", "Frank", "Grace", "Heidi", "Ivan", "Judy", "Mallory", "Niaj", "Olivia", "Peggy", "Rupert", "Sybil", "Trent", "Victor", "Walter", "Yuki", "Zhang Wei", "Li Na", "Wang Fang", "Chen Jie"]
THINGS = ["a grey cat", "a golden retriever", "a vintage bicycle", "a sourdough starter", "a telescope", "an electric guitar", "a bonsai tree", "a vegetable garden", "a 3D printer", "a sailing boat", "a chess set", "a coffee grinder"]
PLACES = ["Mount Tai", "the old harbour", "Chengdu", "the city library", "Kyoto", "the night market", "Lake Geneva", "the football stadium", "the science museum", "a hot spring in Hakone"]
TOPICS = ["machine learning", "baking bread", "marathon training", "jazz piano", "stock trading", "bird watching", "retro video games", "climate policy", "learning Japanese", "home brewing", "rock climbing", "photography"]
TEMPLATES = [
    "{name} owns {thing} and talks about it every weekend.",
    "{name} is planning a trip to {place} next {month} with friends from the group.",
    "{name} has been learning {topic} for {n} months and asks for advice often.",
    "{name} does not like {topic} and gets annoyed when it comes up.",
    "{name} and {name2} argued about {topic}; they settled it by meeting at {place}.",
    "The group agreed that {name} will organise the {topic} meetup on day {n}.",
    "{name} lost {thing} near {place} and offered a reward of {n} yuan.",
    "{name} recommended {place} as the best place for {topic}.",
    "{name}'s birthday is on the {n}th of {month}; they would love {thing}.",
    "{name} works night shifts, so they are usually online after {n} pm.",
]
MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"]
TAGS = ["pets", "travel", "hobby", "work", "food", "music", "sport", "games", "plans", "birthday", "argument", "advice", "lost", "meetup", "study", "tech", "health", "money", "family", "weather"]


def sentence(rng: random.Random) -> str:
    name, name2 = rng.sample(NAMES, 2)
    return rng.choice(TEMPLATES).format(
        name=name, name2=name2, thing=rng.choice(THINGS), place=rng.choice(PLACES), topic=rng.choice(TOPICS),
        month=rng.choice(MONTHS), n=rng.randint(2, 28),
    )


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(pct / 100 * (len(ordered) - 1))))]


def load(agent: Agent, count: int, rng: random.Random, embedder: LocalMiniLM) -> None:
    with connection.cursor() as cursor:
        cursor.execute("DROP INDEX IF EXISTS memory_embedding_hnsw")
    started = time.monotonic()
    batch = 2000
    for start in range(0, count, batch):
        rows = []
        texts = [sentence(rng) + " " + sentence(rng) for _ in range(min(batch, count - start))]
        vectors = embedder.embed(texts)
        for text, vector in zip(texts, vectors, strict=True):
            roll = rng.random()
            scope = {"level": "agent"}
            if roll < 0.2:
                scope = {"level": "platform", "platform": rng.choice(["qq", "discord"])}
            elif roll < 0.3:
                scope = {"level": "chat", "platform": "qq", "stream_id": f"stream-{rng.randint(1, 50)}"}
            rows.append(Memory(agent=agent, title=text[:60], content=text, tags=rng.sample(TAGS, 2), embedding=vector, **scope))
        Memory.objects.bulk_create(rows)
        done = start + len(rows)
        rate = done / (time.monotonic() - started)
        print(f"  loaded {done}/{count} ({rate:.0f}/s)", flush=True)
    index_started = time.monotonic()
    with connection.cursor() as cursor:
        cursor.execute("SET maintenance_work_mem = '512MB'")
        cursor.execute(
            "CREATE INDEX memory_embedding_hnsw ON memory_memory USING hnsw (embedding vector_cosine_ops) "
            "WITH (m = 16, ef_construction = 64)"
        )
        cursor.execute("ANALYZE memory_memory")
    print(f"  load {time.monotonic() - started:.0f}s (index build {time.monotonic() - index_started:.0f}s)")


def measure(agent: Agent, vectors: list[list[float]], filters: dict) -> dict[str, float]:
    memories = Memory.objects.filter(agent=agent)
    latencies, recalls = [], []
    for vector in vectors:
        started = time.perf_counter()
        approx = search_by_vector(memories, vector, k=10, **filters)
        latencies.append((time.perf_counter() - started) * 1000)
        exact = search_by_vector(memories, vector, k=10, exact=True, **filters)
        truth = {hit.id for hit in exact}
        recalls.append(len(truth & {hit.id for hit in approx}) / max(1, len(truth)))
        assert len(approx) == len(exact), "a filtered search returned fewer than k rows"
    return {
        "p50_ms": percentile(latencies, 50), "p95_ms": percentile(latencies, 95),
        "recall@10": statistics.mean(recalls),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--reuse", action="store_true", help="keep memories already loaded")
    args = parser.parse_args()
    rng = random.Random(7)
    from django.core.management import call_command

    call_command("migrate_schemas", verbosity=0)
    tenant = Tenant.objects.filter(slug="bench").first() or tenant_services.create_tenant(slug="bench", name="Bench").tenant
    tenant.plan.max_memories = max(tenant.plan.max_memories, args.count)
    embedder = LocalMiniLM()
    with tenant_context(tenant):
        agent, _ = Agent.objects.get_or_create(slug="bench", defaults={"name": "Bench"})
        have = Memory.objects.filter(agent=agent).count()
        if not (args.reuse and have >= args.count):
            Memory.objects.filter(agent=agent).delete()
            print(f"loading {args.count} memories…")
            load(agent, args.count, rng, embedder)
        total = Memory.objects.filter(agent=agent).count()
        queries = [sentence(rng) for _ in range(args.queries)]
        started = time.perf_counter()
        vectors = embedder.embed(queries)
        embed_ms = (time.perf_counter() - started) * 1000 / len(queries)
        print(f"\n{total} memories, {len(queries)} queries, k=10 (query embedding: {embed_ms:.1f} ms each, batched)")
        cases = {
            "no filter": {},
            "level=platform, platform=qq (~10%)": {"level": "platform", "platform": "qq"},
            "tag=pets (~10%)": {"tags": ["pets"]},
            "chat stream-7 (~0.2%)": {"level": "chat", "stream_id": "stream-7"},
        }
        print(f"{'case':40} {'p50 ms':>8} {'p95 ms':>8} {'recall@10':>10}")
        for name, filters in cases.items():
            result = measure(agent, vectors, filters)
            print(f"{name:40} {result['p50_ms']:8.1f} {result['p95_ms']:8.1f} {result['recall@10']:10.3f}", flush=True)


if __name__ == "__main__":
    main()
