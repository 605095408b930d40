"""Cold start of every function against two references measured in the same run.

For each function: process start -> first 200 on a real, database-touching endpoint,
and the import time of its module in a fresh interpreter. The references are a bare
functions-framework hello-world and the database floor (functions-framework +
SQLAlchemy/pg8000 answering SELECT 1).

This machine's wall times drift by a third from one minute to the next, so the runs are
interleaved: each round starts every subject once, in a shuffled order, so that a slow
minute slows every subject alike; each subject's time is its median over the rounds.

    python bench/cold_start.py [--quick] [--runs N] [--deployed] [--only NAME[,NAME...]]

With --deployed each function runs from its own bundle (infra/bundle.py, unpacked, with
nothing of the repository on its path) in a venv of only its requirements.txt, as it
deploys and as the local stack runs it, instead of the development venv (which carries every
function's dependencies, and theirs: google-cloud-pubsub's OpenTelemetry SDK, for one,
which redis-py then imports). The venvs are built once into ~/.cache/kalakrut.

Target: every function <= 1.3x the database floor.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from infra.bundle import unpack, venv_for  # noqa: E402
from infra.manifest import load  # noqa: E402
from local import postgres  # noqa: E402
from local.chain import ANVIL_OPERATOR_KEY, start_anvil  # noqa: E402
from local.firebase import AuthEmulator, EmulatorPorts, start_emulators  # noqa: E402
from local.graph import start_falkordb  # noqa: E402
from local.processes import free_port, spawn  # noqa: E402
from local.pubsub import push_body  # noqa: E402
from local.storage import create_buckets, start_emulator  # noqa: E402
from tests.support import stripe_signing  # noqa: E402

TARGET = 1.3
REFERENCES = ("hello-world", "db-floor")
BIN = Path(sys.executable).parent


WEBHOOK_SECRET = "whsec_bench"
STRIPE_EVENT = {"id": "evt_bench", "type": "payment_intent.succeeded", "data": {"object": {"id": "pi_bench"}}}


def stripe_signature(event: dict) -> dict[str, str]:
    """Stripe's signature of the body as requests serialises it, made now (Stripe's 5-minute tolerance)."""
    return {"Stripe-Signature": stripe_signing.header(json.dumps(event, allow_nan=False).encode(), WEBHOOK_SECRET)}


def first_response_seconds(source: Path, request: tuple, env: dict[str, str], logs: Path,
                           signature: str = "http", bin_dir: Path = BIN) -> float:
    """``request`` is (method, path, JSON body[, headers, or a function making them per request])."""
    method, path, body, *rest = request
    make_headers = rest[0] if rest else None
    port = free_port()
    started = time.perf_counter()
    child = spawn(source.parent.name, [str(bin_dir / "functions-framework"), "--target", "handle", "--source", str(source),
                                       "--signature-type", signature, "--host", "127.0.0.1", "--port", str(port)],
                  env=env, log_dir=logs)
    try:
        while time.perf_counter() - started < 30:
            try:
                headers = make_headers() if callable(make_headers) else make_headers
                response = requests.request(method, f"http://127.0.0.1:{port}{path}", json=body, headers=headers,
                                            timeout=5)
                if response.status_code == 200:
                    return time.perf_counter() - started
                raise RuntimeError(f"{source}: {path} answered {response.status_code}: {response.text[:200]}")
            except requests.ConnectionError:
                time.sleep(0.005)
        raise TimeoutError(f"{source} did not answer within 30 s:\n{child.tail()}")
    finally:
        child.stop(grace=0.0)  # a bench process has nothing to finish; gunicorn's graceful exit costs 0.4 s


def import_seconds(source: Path, env: dict[str, str], bin_dir: Path = BIN) -> tuple[float, list[tuple[str, float]]]:
    """Wall time to import the module in a fresh interpreter, and its heaviest imports."""
    code = (
        "import importlib.util, time; t = time.perf_counter();"
        f"spec = importlib.util.spec_from_file_location('main', {str(source)!r});"
        "m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m);"
        "print(time.perf_counter() - t)"
    )
    result = subprocess.run([str(bin_dir / "python"), "-X", "importtime", "-c", code], env=env, capture_output=True,
                            text=True, check=True)
    heaviest = []
    for line in result.stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            _, cumulative, name = (part.strip() for part in line.removeprefix("import time:").split("|"))
            if cumulative.isdigit() and not name.startswith(" "):
                heaviest.append((name, int(cumulative) / 1e6))
    top_level = sorted((h for h in heaviest), key=lambda item: -item[1])[:3]
    return float(result.stdout.strip()), top_level


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 rounds (about a minute)")
    parser.add_argument("--runs", type=int, default=None)
    parser.add_argument("--deployed", action="store_true",
                        help="each subject in a venv of only its own requirements.txt (built once, then cached)")
    parser.add_argument("--only", metavar="NAME[,NAME...]", default=None,
                        help="these functions only (the references always run)")
    args = parser.parse_args()
    runs = args.runs or (3 if args.quick else 9)
    functions = load().functions
    if args.only:
        wanted = set(args.only.split(","))
        if unknown := wanted - {f.name for f in functions}:
            parser.error(f"--only: no function named {', '.join(sorted(unknown))} in functions.yaml")
        functions = [f for f in functions if f.name in wanted]

    with tempfile.TemporaryDirectory(prefix="kk-bench-") as tmp:
        pg = postgres.start(Path(tmp) / "pg", keep=False)
        anvil_port, graph_port, storage_port = free_port(), free_port(), free_port()
        anvil = start_anvil(anvil_port, Path(tmp))
        storage = start_emulator(storage_port, Path(tmp) / "storage", Path(tmp) / "logs")
        create_buckets(storage_port, "demo-bench", ["bench-uploads", "bench-media"])
        falkordb = start_falkordb(graph_port, Path(tmp) / "graph")
        # The network function answers signed-in users only: a real token from the Auth emulator.
        auth_ports = EmulatorPorts(auth=free_port(), hosting=None, hub=free_port(), logging=free_port())
        firebase = start_emulators("demo-bench", auth_ports, Path(tmp) / "firebase", router_url=None)
        try:
            uid, token = AuthEmulator(f"127.0.0.1:{auth_ports.auth}", "demo-bench").sign_up("bench@example.test")
            url = pg.ensure_database("bench")
            postgres.migrate(url)
            user_id = uuid.uuid4()
            pg.server.psql(
                "\\c bench\n"
                f"INSERT INTO users (id, firebase_uid, role, display_name, is_admin) "
                f"VALUES ('{user_id}', '{uid}', 'artist', 'Bench', true);"
            )
            media_id = uuid.uuid4()
            pg.server.psql(
                "\\c bench\n"
                f"INSERT INTO media (id, owner_id, purpose, object_name, declared_type, max_bytes, status) VALUES "
                f"('{media_id}', '{user_id}', 'avatar', 'uploads/bench', 'image/png', 1, 'ready');"
            )
            env = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/tmp"), "PYTHONPATH": str(REPO),
                   "GOOGLE_CLOUD_PROJECT": "demo-bench", "DATABASE_URL": url, "UPLOADS_BUCKET": "bench-uploads",
                   "MEDIA_BUCKET": "bench-media",
                   # Constructing a publisher needs a target; the sweep finds nothing to publish.
                   "PUBSUB_EMULATOR_HOST": "127.0.0.1:9",
                   # An empty chain: the tick reads the head, finds nothing, moves its checkpoint.
                   "INDEXER_CHAINS": json.dumps([{"chain_id": 31337, "rpc_url": f"http://127.0.0.1:{anvil_port}",
                                                  "confirmations": 0, "funding_contract": "0x" + "11" * 20}]),
                   "GRAPH_URL": f"falkordb://127.0.0.1:{graph_port}/bench",
                   "FIREBASE_AUTH_EMULATOR_HOST": f"127.0.0.1:{auth_ports.auth}",
                   "STORAGE_EMULATOR_HOST": f"http://127.0.0.1:{storage_port}",
                   # The campaign operator's tick finds no proposal to open; it signs nothing.
                   "CHAIN_ID": "31337", "OPERATOR_PRIVATE_KEY": ANVIL_OPERATOR_KEY,
                   "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
                   # notifications: the bench's event notifies nobody, so neither is reached.
                   "SMTP_HOST": "127.0.0.1", "SMTP_PORT": "9", "SMTP_FROM": "bench@kalakrut.test",
                   "APP_URL": "https://kalakrut.test", "FIRESTORE_EMULATOR_HOST": "127.0.0.1:9"}
            registered = {"event_id": str(uuid.uuid4()), "type": "user.registered",
                          "occurred_at": "2026-11-22T00:00:00Z", "aggregate_type": "user",
                          "aggregate_id": str(user_id), "schema_version": 1, "payload": {"id": str(user_id)}}
            logs = Path(tmp) / "logs"
            # A real request per function, touching the database; event functions get a push.
            finalize = push_body({"bucket": "bench-uploads", "name": "uploads/none", "generation": "1", "size": "1"},
                                   eventType="OBJECT_FINALIZE")
            signed_in = {"Authorization": f"Bearer {token}"}
            requests_by_function = {
                "registration": ("GET", f"/api/users/{user_id}", None),
                "proposals": ("GET", "/api/proposals?limit=20", None),
                "media": ("GET", f"/api/media/{media_id}", None),
                "image-processing": ("POST", "/", finalize),
                "outbox-relay": ("POST", "/", push_body({})),
                "chain-indexer": ("POST", "/", push_body({})),
                "network": ("GET", "/api/network/ego", None, signed_in),
                # A deleted media's objects: the first run deletes them, later ones find them gone.
                "media-cleanup": ("POST", "/", push_body({
                    **registered, "type": "media.deleted", "aggregate_type": "media", "aggregate_id": str(media_id),
                    "payload": {"id": str(media_id), "owner_id": str(user_id),
                                "objects": {"uploads": ["uploads/bench"], "media": [f"media/{media_id}/256.webp"]}}})),
                # The same event each run: the first applies it, later ones find it processed
                # (still connecting to the database and the graph).
                "graph-etl": ("POST", "/", push_body(registered)),
                "graph-reconcile": ("POST", "/", push_body({})),
                "marketplace": ("GET", "/api/items?limit=20", None),
                "auction-close": ("POST", "/", push_body({})),
                "popularity": ("POST", "/", push_body({})),
                "campaign-operator": ("POST", "/", push_body({})),
                "orders": ("GET", "/api/orders?limit=20", None, signed_in),
                # A payment event for an authorisation nobody holds: verified, looked up, acknowledged.
                "payments-webhook": ("POST", "/api/payments/stripe", STRIPE_EVENT, lambda: stripe_signature(STRIPE_EVENT)),
                # A follow between two accounts that do not exist: read, and nobody to tell.
                # The administrators' counts: the caller checked, a handful of aggregates.
                "moderation": ("GET", "/api/admin/stats?days=7", None, signed_in),
                # An item that does not exist: read, nothing to embed (the model is not loaded).
                "embeddings": ("POST", "/", push_body({
                    **registered, "type": "item.updated", "aggregate_type": "item", "aggregate_id": str(uuid.uuid4()),
                    "payload": {}})),
                "notifications": ("POST", "/", push_body({
                    **registered, "type": "follow.created", "aggregate_type": "follow",
                    "payload": {"follower_id": str(uuid.uuid4()), "followee_id": str(uuid.uuid4())}})),
            }
            subjects = [("hello-world", REPO / "bench/reference/hello/main.py", ("GET", "/", None), "http"),
                        ("db-floor", REPO / "bench/reference/db_floor/main.py", ("GET", "/", None), "http")]
            # Deployed: each function from its own bundle, nothing of the repository on its path.
            sources = {f.name: unpack(Path(f.source), Path(tmp) / "bundles" / f.name) / "main.py" if args.deployed
                       else f.main for f in functions}
            subjects += [(f.name, sources[f.name], requests_by_function[f.name], "http" if f.http_paths else "cloudevent")
                         for f in functions]
            bins = {name: venv_for(source.parent / "requirements.txt") if args.deployed else BIN
                    for name, source, *_ in subjects}
            bundled = {k: v for k, v in env.items() if k != "PYTHONPATH"}
            envs = {name: bundled if args.deployed and name in sources else env for name, *_ in subjects}

            times: dict[str, list[float]] = {name: [] for name, *_ in subjects}
            shuffle = random.Random(2026)
            for round_number in range(runs + 1):  # round 0 warms the OS file cache and is dropped
                for name, source, request, signature in shuffle.sample(subjects, len(subjects)):
                    seconds = first_response_seconds(source, request, envs[name], logs, signature, bins[name])
                    if round_number:
                        times[name].append(seconds)
            results = {}
            for name, source, _, _ in subjects:
                imported, heaviest = import_seconds(source, envs[name], bins[name])
                results[name] = (statistics.median(times[name]), imported, heaviest)
        finally:
            firebase.stop()
            storage.stop()
            falkordb.stop()
            anvil.stop()
            pg.stop()

    hello, floor = results["hello-world"][0], results["db-floor"][0]
    venvs = "each in a venv of its own requirements.txt" if args.deployed else "in the development venv"
    print(f"\ncold start: process start -> first 200, median of {runs} interleaved rounds, {venvs}\n")
    print(f"{'function':<17}{'first 200':>11}{'import':>9}{'x hello':>9}{'x floor':>9}  heaviest imports")
    metrics = []
    for name, (first, imported, heaviest) in results.items():
        ratio_floor = first / floor
        heavy = ", ".join(f"{module} {seconds * 1000:.0f}ms" for module, seconds in heaviest)
        print(f"{name:<17}{first * 1000:>9.0f}ms{imported * 1000:>7.0f}ms{first / hello:>8.2f}x{ratio_floor:>8.2f}x"
              f"  {heavy}")
        if name in REFERENCES:
            continue
        metrics.append({"name": f"{name}.first_response", "value": round(first * 1000, 1), "unit": "ms",
                        "baseline": round(floor * 1000, 1), "ratio": round(ratio_floor, 3), "target": TARGET})
        metrics.append({"name": f"{name}.vs_hello_world", "value": round(first * 1000, 1), "unit": "ms",
                        "baseline": round(hello * 1000, 1), "ratio": round(first / hello, 3), "target": None})
        metrics.append({"name": f"{name}.import", "value": round(imported * 1000, 1), "unit": "ms",
                        "baseline": round(results["db-floor"][1] * 1000, 1),
                        "ratio": round(imported / results["db-floor"][1], 3), "target": None})
    print(f"\nfloor / hello-world = {floor / hello:.2f}x; target: every function <= {TARGET}x the floor")
    print(json.dumps({"bench": "cold_start.deployed" if args.deployed else "cold_start", "metrics": metrics}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
