"""Outbox relay throughput: drain a backlog of unpublished events into Pub/Sub; and the
latency of a write while Pub/Sub is up and while it is down.

The relay (shared.events.outbox.relay: SKIP LOCKED batches, publisher futures in flight,
one UPDATE per batch) against a naive loop measured in the same run on the same
database and emulator: publish one message, wait for it, mark its row, commit.

A write is one transaction that emits one event, then the fast path after its commit
(shared.events.outbox.publish_after_commit), as every request that changes something. Its
p50/p99 with the emulator reachable is the baseline of the same with Pub/Sub unreachable
(a closed port); then the relay publishes what waited, and none may be left.

    python bench/outbox_relay.py [--quick] [--rows N]
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from local import postgres  # noqa: E402
from local.processes import free_port  # noqa: E402
from local.pubsub import create_topics, emulator_env, start_emulator  # noqa: E402

PROJECT = "demo-bench"
TARGET = 10.0  # x the naive loop
DOWN_TARGET = 1.5  # a write's latency with Pub/Sub down, x with it up

FILL = """
INSERT INTO outbox (event_id, topic, type, occurred_at, envelope)
SELECT id, 'domain-events', 'bench.event', now() - interval '1 hour',
       jsonb_build_object('event_id', id, 'type', 'bench.event', 'occurred_at', '2026-01-01T00:00:00+00:00',
                          'aggregate_type', 'thing', 'aggregate_id', n::text, 'schema_version', 1,
                          'payload', jsonb_build_object('n', n, 'note', repeat('x', 200)))
FROM (SELECT gen_random_uuid() AS id, n FROM generate_series(1, :rows) AS n) AS s
"""


def naive(engine, publisher, limit: int) -> tuple[int, float]:
    from sqlalchemy import text

    from shared.events.envelope import EventEnvelope

    started, done = time.perf_counter(), 0
    with engine.connect() as connection:
        rows = connection.execute(text(
            "SELECT id, topic, envelope FROM outbox WHERE published_at IS NULL ORDER BY id LIMIT :n"), {"n": limit}).all()
    for row_id, topic, envelope in rows:
        publisher.publish_many([(topic, EventEnvelope.model_validate(envelope))])
        with engine.begin() as connection:
            connection.execute(text("UPDATE outbox SET published_at = now() WHERE id = :id"), {"id": row_id})
        done += 1
    return done, time.perf_counter() - started


def write_latencies(writes: int) -> list[float]:
    """Seconds per write: a transaction emitting one event, then its fast path."""
    from shared.db import transaction
    from shared.events.outbox import emit

    seconds = []
    for n in range(writes):
        started = time.perf_counter()
        with transaction() as session:
            emit(session, "bench.write", "thing", str(n), {"n": n})
        seconds.append(time.perf_counter() - started)
    return seconds


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10k rows")
    parser.add_argument("--rows", type=int, default=None)
    args = parser.parse_args()
    rows = args.rows or (10_000 if args.quick else 100_000)
    naive_rows = min(rows, 2_000)

    with tempfile.TemporaryDirectory(prefix="kk-bench-") as tmp:
        pg = postgres.start(Path(tmp) / "pg", keep=False)
        port = free_port()
        emulator = start_emulator(port, Path(tmp))
        try:
            url = pg.ensure_database("bench")
            postgres.migrate(url)
            host = f"127.0.0.1:{port}"
            create_topics(host, PROJECT, ["domain-events"])
            os.environ.update({"GOOGLE_CLOUD_PROJECT": PROJECT, "DATABASE_URL": url})
            from sqlalchemy import text

            from shared.db import get_engine
            from shared.events.outbox import relay
            from shared.events.pubsub import PubSubPublisher

            with emulator_env(host):
                publisher = PubSubPublisher(PROJECT)
            engine = get_engine()
            with engine.begin() as connection:
                connection.execute(text(FILL), {"rows": rows})

            naive_done, naive_seconds = naive(engine, publisher, naive_rows)
            with engine.begin() as connection:
                connection.execute(text("UPDATE outbox SET published_at = NULL"))

            results = []
            for batch in (100, 500, 2000):
                started = time.perf_counter()
                published = relay(lambda: publisher, batch_size=batch, min_age=timedelta(0), budget_seconds=3600)
                seconds = time.perf_counter() - started
                assert published == rows, (published, rows)
                results.append((batch, published / seconds))
                with engine.begin() as connection:
                    connection.execute(text("UPDATE outbox SET published_at = NULL"))

            from shared.events import outbox, pubsub

            with engine.begin() as connection:
                connection.execute(text("DELETE FROM outbox"))
            writes = 200 if args.quick else 1_000
            latencies = {}
            for state, target in (("up", host), ("down", f"127.0.0.1:{free_port()}")):
                os.environ["PUBSUB_EMULATOR_HOST"] = target  # read when the client is made
                pubsub.get_publisher.cache_clear()
                outbox.resume_fast_path()
                write_latencies(20)  # warm: the client, the pool, the statement cache
                latencies[state] = write_latencies(writes)
            os.environ["PUBSUB_EMULATOR_HOST"] = host
            with engine.connect() as connection:
                waiting = connection.execute(text("SELECT count(*) FROM outbox WHERE published_at IS NULL")).scalar_one()
            relay(lambda: publisher, min_age=timedelta(0), budget_seconds=600)
            with engine.connect() as connection:
                left = connection.execute(text("SELECT count(*) FROM outbox WHERE published_at IS NULL")).scalar_one()
        finally:
            emulator.stop()
            pg.stop()

    baseline = naive_done / naive_seconds
    print(f"\noutbox relay: {rows:,} unpublished rows into the Pub/Sub emulator\n")
    print(f"{'method':<28}{'events/s':>12}{'x naive':>10}")
    print(f"{'naive (1 publish + 1 UPDATE)':<28}{baseline:>12,.0f}{1:>10.2f}   ({naive_done:,} rows)")
    for batch, rate in results:
        print(f"{f'relay, batch {batch}':<28}{rate:>12,.0f}{rate / baseline:>10.2f}")
    best_batch, best = max(results, key=lambda item: item[1])
    default = dict(results)[500]
    print(f"\ndefault batch 500; best here: batch {best_batch}")
    up, down = latencies["up"], latencies["down"]
    print(f"\na write (one event) with Pub/Sub up and down, {len(up)} each\n")
    print(f"{'Pub/Sub':<10}{'p50 ms':>10}{'p99 ms':>10}")
    for state, values in latencies.items():
        print(f"{state:<10}{percentile(values, 0.5) * 1000:>10.2f}{percentile(values, 0.99) * 1000:>10.2f}")
    print(f"waiting in the outbox after the outage: {waiting}; left after one relay sweep: {left}")
    metrics = [
        {"name": "relay_events_per_s_batch_500", "value": round(default), "unit": "events/s",
         "baseline": round(baseline), "ratio": round(default / baseline, 2), "target": TARGET},
        {"name": "relay_events_per_s_best", "value": round(best), "unit": "events/s",
         "baseline": round(baseline), "ratio": round(best / baseline, 2), "target": None},
        *({"name": f"write_{name}_ms_pubsub_down", "value": round(percentile(down, q) * 1000, 2), "unit": "ms",
           "baseline": round(percentile(up, q) * 1000, 2),
           "ratio": round(percentile(down, q) / percentile(up, q), 2), "target": DOWN_TARGET}
          for name, q in (("p50", 0.5), ("p99", 0.99))),
        {"name": "events_left_after_outage", "value": left, "unit": "events", "baseline": waiting,
         "ratio": None, "target": 0},
    ]
    print(json.dumps({"bench": "outbox_relay", "metrics": metrics}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
