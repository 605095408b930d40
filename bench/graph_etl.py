"""Graph ETL: rows/s into the graph, commit-to-graph freshness, recommendation latency.

* Throughput: 100k users, 300k follows and 50k fundings (plus their proposals) are
  applied by shared.graph.etl.consume_batch from their domain events (50k events a call:
  processed_events, PostgreSQL reads overlapping 5k-row UNWIND writes), against the engine's own ceiling
  measured in the same run: the very same UNWIND queries fed prepared rows.
* Freshness: through the real event path (commit + outbox fast path -> Pub/Sub emulator
  push -> the graph-etl function process -> FalkorDB), time from commit to the node.
* Recommendations: people-you-may-know and proposals-for-you latency on that graph.

    python bench/graph_etl.py [--quick]
"""
from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from local import postgres  # noqa: E402
from local.graph import start_falkordb  # noqa: E402
from local.processes import free_port, port_open, spawn  # noqa: E402

PROJECT = "demo-bench"
TARGET_RATIO = 0.8
TARGET_FRESHNESS_P95 = 5.0
BATCH = 5_000  # rows per UNWIND, in both pipelines
ETL_BATCH = 50_000  # events per consume_batch: a backlog drained in large bites


def fill_postgres(engine, users: int, follows: int, proposals: int, fundings: int, rng: random.Random):
    from sqlalchemy import text

    with engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO users (id, role, display_name, wallet_address) "
            "SELECT gen_random_uuid(), CASE WHEN mod(n, 10) = 0 THEN 'artist' ELSE 'investor' END, 'user ' || n, "
            "'0x' || lpad(to_hex(n), 40, '0') FROM generate_series(1, :n) AS n"), {"n": users})
        ids = [row[0] for row in conn.execute(text("SELECT id::text FROM users ORDER BY display_name"))]
        artists = ids[::10]
        pairs = set()
        while len(pairs) < follows:
            a, b = rng.choice(ids), rng.choice(ids)
            if a != b:
                pairs.add((a, b))
        conn.execute(text("INSERT INTO follows (follower_id, followee_id) "
                          "SELECT CAST(a AS uuid), CAST(b AS uuid) FROM unnest(CAST(:a AS text[]), CAST(:b AS text[])) "
                          "AS t(a, b)"), {"a": [a for a, _ in pairs], "b": [b for _, b in pairs]})
        proposal_rows = [(str(uuid.uuid4()), rng.choice(artists)) for _ in range(proposals)]
        conn.execute(text(
            "INSERT INTO proposals (id, owner_id, title, goal, currency, deadline, status, tags) "
            "SELECT CAST(p AS uuid), CAST(o AS uuid), 'proposal', 1000, 'ETH', now() + interval '30 days', "
            "'open', ARRAY['art']::varchar[] FROM unnest(CAST(:p AS text[]), CAST(:o AS text[])) AS t(p, o)"),
            {"p": [p for p, _ in proposal_rows], "o": [o for _, o in proposal_rows]})
        wallets = dict(conn.execute(text("SELECT id::text, wallet_address FROM users")).all())
        positions = set()
        while len(positions) < fundings:
            positions.add((rng.choice(proposal_rows)[0], wallets[rng.choice(ids)]))
        conn.execute(text(
            "INSERT INTO investments (chain_id, onchain_proposal_id, backer, proposal_id, funded, refunded, events, "
            "last_tx_hash) SELECT 31337, CAST(o AS numeric), b, CAST(p AS uuid), "
            "1000000000000000000, 0, 1, '0x' || md5(p || b) || md5(b || p) "
            "FROM unnest(CAST(:p AS text[]), CAST(:b AS text[]), CAST(:o AS text[])) AS t(p, b, o)"),
            {"p": [p for p, _ in positions], "b": [b for _, b in positions],
             "o": [str(uuid.UUID(p).int) for p, _ in positions]})
    return ids, sorted(pairs), proposal_rows, sorted(positions)


def envelope(kind: str, aggregate_type: str, aggregate_id: str, payload: dict):
    from shared.events.envelope import EventEnvelope

    return EventEnvelope(event_id=uuid.uuid4(), type=kind, occurred_at=datetime.now(UTC),
                         aggregate_type=aggregate_type, aggregate_id=aggregate_id, payload=payload)


def throughput(engine, graph, ids, pairs, proposal_rows, positions, rounds: int = 3) -> tuple[float, float, int]:
    """(ETL rows/s, raw UNWIND rows/s, rows): medians of ``rounds`` alternating runs, each
    into an empty graph (one run each swings by ±15% on a shared 2-core machine)."""
    from sqlalchemy import text

    from shared.graph import sync
    from shared.graph.etl import consume_stream

    events = [envelope("user.registered", "user", i, {"id": i}) for i in ids]
    events += [envelope("proposal.state_changed", "proposal", p, {"id": p}) for p, _ in proposal_rows]
    events += [envelope("follow.created", "follow", f"{a}:{b}", {"follower_id": a, "followee_id": b})
               for a, b in pairs]
    events += [envelope("chain.funded", "proposal", p, {"event": "Funded", "args": {"backer": b}})
               for p, b in positions]
    rows = len(events)

    def etl_run() -> float:
        with engine.begin() as conn:
            conn.execute(text("TRUNCATE processed_events"))
        graph.drop_all()
        graph.ensure_schema()
        started = time.perf_counter()
        consume_stream(engine, graph, (events[start:start + ETL_BATCH] for start in range(0, len(events), ETL_BATCH)))
        return rows / (time.perf_counter() - started)

    # The ceiling: the same writes with the rows already in hand.
    with engine.connect() as conn:
        user_rows = sync._json_rows(conn.execute(text(sync.USER_ROWS.replace(
            "WHERE id = ANY(CAST(string_to_array(:ids, ',') AS uuid[])) AND", "WHERE"))).scalar_one())
        proposals = [dict(r._mapping) for r in conn.execute(text(sync.PROPOSAL_ROWS.replace(
            "WHERE id = ANY(CAST(string_to_array(:ids, ',') AS uuid[])) AND", "WHERE")))]
        fundings = [dict(r._mapping) for r in conn.execute(text(
            "SELECT u.id::text AS user_id, i.proposal_id::text AS proposal, (i.funded - i.refunded)::text AS amount, "
            "i.last_tx_hash AS tx_hash FROM investments i JOIN users u ON u.wallet_address = i.backer"))]
    follows = [{"a": a, "b": b} for a, b in pairs]
    prepared = ((sync.UPSERT_USERS, user_rows),
                (sync.UPSERT_PROPOSALS, [{k: r[k] for k in ("id", "owner", "title", "status")}
                                               for r in proposals]),
                (sync.UPSERT_FOLLOWS, follows), (sync.UPSERT_FUNDINGS, fundings))

    def raw_run() -> float:
        graph.drop_all()
        graph.ensure_schema()
        started = time.perf_counter()
        for query, data in prepared:
            for start in range(0, len(data), BATCH):
                graph.write(query, {"rows": data[start:start + BATCH]})
        return rows / (time.perf_counter() - started)

    etl_rates, raw_rates = [], []
    for _ in range(rounds):
        etl_rates.append(etl_run())
        raw_rates.append(raw_run())
    return statistics.median(etl_rates), statistics.median(raw_rates), rows


def freshness(url: str, graph, samples: int, tmp: Path) -> list[float]:
    """Commit -> visible in the graph, through Pub/Sub push and the graph-etl function."""
    from sqlalchemy import text

    from infra.manifest import load
    from local.pubsub import emulator_env, provision, start_emulator
    from shared.db import transaction
    from shared.events.outbox import emit

    manifest = load()
    port, fn_port = free_port(), free_port()
    emulator = start_emulator(port, tmp)
    host = f"127.0.0.1:{port}"
    env = {**os.environ, "PYTHONPATH": str(REPO), "PUBSUB_EMULATOR_HOST": host, "K_SERVICE": "graph-etl"}
    function = manifest.by_name("graph-etl")
    child = spawn("graph-etl", [str(Path(sys.executable).parent / "functions-framework"), "--target", "handle",
                                "--source", str(function.main), "--signature-type", "cloudevent",
                                "--host", "127.0.0.1", "--port", str(fn_port)], env=env, log_dir=tmp)
    try:
        child.wait_until(lambda: port_open(fn_port), 30)
        provision(host, PROJECT, manifest, {"graph-etl": f"http://127.0.0.1:{fn_port}/"})
        delays = []
        with emulator_env(host):
            for n in range(samples):
                with transaction() as session:
                    user_id = session.execute(text(
                        "INSERT INTO users (role, display_name) VALUES ('investor', :name) RETURNING id::text"),
                        {"name": f"fresh {n}"}).scalar_one()
                    emit(session, "user.registered", "user", user_id, {"id": user_id})
                committed = time.perf_counter()
                while not graph.read("MATCH (u:User {id: $id}) RETURN u.id AS id", {"id": user_id}):
                    if time.perf_counter() - committed > 30:
                        raise TimeoutError("an event did not reach the graph in 30 s")
                    time.sleep(0.005)
                delays.append(time.perf_counter() - committed)
        return delays
    finally:
        child.stop()
        emulator.stop()


def latency(graph, ids: list[str], queries: int, rng: random.Random) -> dict[str, tuple[float, float]]:
    from shared.graph import network

    results = {}
    for name, call in (("people_you_may_know", network.people_you_may_know),
                       ("proposals_for_you", network.proposals_for_you)):
        times = []
        for _ in range(queries):
            me = uuid.UUID(rng.choice(ids))
            started = time.perf_counter()
            call(graph, me, 20)
            times.append(time.perf_counter() - started)
        times.sort()
        results[name] = (statistics.median(times), times[int(len(times) * 0.95) - 1])
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10k users, 30k follows, 5k fundings")
    parser.add_argument("--rounds", type=int, default=3, help="alternating ETL / ceiling runs (median)")
    args = parser.parse_args()
    scale = 10 if args.quick else 1
    users, follows, fundings, proposals = 100_000 // scale, 300_000 // scale, 50_000 // scale, 5_000 // scale
    rng = random.Random(7)

    with tempfile.TemporaryDirectory(prefix="kk-bench-") as tmp:
        pg = postgres.start(Path(tmp) / "pg", keep=False)
        graph_port = free_port()
        falkor = start_falkordb(graph_port, Path(tmp) / "graph")
        try:
            url = pg.ensure_database("bench")
            postgres.migrate(url)
            graph_url = f"falkordb://127.0.0.1:{graph_port}/bench"
            os.environ.update({"GOOGLE_CLOUD_PROJECT": PROJECT, "DATABASE_URL": url, "GRAPH_URL": graph_url})
            from shared.db import get_engine
            from shared.graph.port import connect

            engine, graph = get_engine(), connect(graph_url)
            data = fill_postgres(engine, users, follows, proposals, fundings, rng)
            etl, raw, rows = throughput(engine, graph, *data, rounds=args.rounds)
            recommendations = latency(graph, data[0], 200 // (2 if args.quick else 1), rng)
            delays = sorted(freshness(url, graph, 30 if args.quick else 100, Path(tmp)))
        finally:
            falkor.stop()
            pg.stop()

    p95 = delays[int(len(delays) * 0.95) - 1]
    print(f"\ngraph ETL: {users:,} users, {follows:,} follows, {proposals:,} proposals, {fundings:,} fundings "
          f"({rows:,} events)\n")
    print(f"{'measure':<44}{'value':>14}{'baseline':>14}{'ratio':>8}")
    print(f"{'ETL rows/s (median of ' + str(args.rounds) + ' runs)':<44}{etl:>14,.0f}{raw:>14,.0f}{etl / raw:>8.2f}")
    print(f"{'freshness p50 / p95 (s), commit -> graph':<44}{statistics.median(delays):>14.3f}{p95:>14.3f}")
    for name, (p50, q95) in recommendations.items():
        print(f"{name + ' p50 / p95 (ms)':<44}{p50 * 1000:>14.1f}{q95 * 1000:>14.1f}")
    metrics = [
        {"name": "etl_rows_per_s", "value": round(etl), "unit": "rows/s", "baseline": round(raw),
         "ratio": round(etl / raw, 3), "target": TARGET_RATIO},
        {"name": "freshness_p95", "value": round(p95, 3), "unit": "s", "baseline": None, "ratio": None,
         "target": TARGET_FRESHNESS_P95},
        {"name": "freshness_p50", "value": round(statistics.median(delays), 3), "unit": "s", "baseline": None,
         "ratio": None, "target": None},
    ]
    for name, (p50, q95) in recommendations.items():
        metrics += [{"name": f"{name}_p50", "value": round(p50 * 1000, 2), "unit": "ms", "baseline": None,
                     "ratio": None, "target": None},
                    {"name": f"{name}_p95", "value": round(q95 * 1000, 2), "unit": "ms", "baseline": None,
                     "ratio": None, "target": None}]
    print(json.dumps({"bench": "graph_etl", "metrics": metrics}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
