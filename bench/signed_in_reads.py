"""Signed-in reads against anonymous ones, on one route, as deployed.

The proposals function runs from its own bundle in a venv of only its requirements (as it
deploys and as `make dev` runs it), against the embedded PostgreSQL and the Firebase Auth
emulator. Clients read `GET /api/proposals?limit=20` for a fixed time: anonymously (the
baseline), signed in as deployed (the revocation check's account lookup remembered per uid
for AUTH_REVOCATION_CACHE_SECONDS, 30 s, and the caller's row for 10 s) and signed in with
the lookup made on every request (AUTH_REVOCATION_CACHE_SECONDS=0, as before issue 22).
Rounds are interleaved, each subject's figure is its median.

Every signed-in request still verifies its token; what the memory saves is the Identity
Toolkit round trip (locally to the emulator; in the cloud a network call and a quota unit)
and the query for the caller's row (decision 0024).

    python bench/signed_in_reads.py [--quick] [--seconds S] [--clients N]

Target: signed-in reads, as deployed, >= 0.9x anonymous throughput.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from infra.bundle import unpack, venv_for  # noqa: E402
from infra.manifest import load  # noqa: E402
from local import postgres  # noqa: E402
from local.firebase import AuthEmulator, EmulatorPorts, start_emulators  # noqa: E402
from local.processes import free_port, spawn  # noqa: E402

PROJECT = "demo-bench"
ROUTE = "/api/proposals?limit=20"
TARGET = 0.9


def throughput(url: str, headers: dict[str, str], seconds: float, clients: int) -> float:
    """Requests answered 200 per second by ``clients`` threads, each with its own connection."""
    stop = time.perf_counter() + seconds
    counts = [0] * clients
    failures: list[Exception] = []

    def client(index: int) -> None:
        try:
            with requests.Session() as session:
                while time.perf_counter() < stop:
                    response = session.get(url, headers=headers, timeout=10)
                    if response.status_code != 200:
                        raise RuntimeError(f"{url} answered {response.status_code}: {response.text[:200]}")
                    counts[index] += 1
        except Exception as error:  # the main thread raises it
            failures.append(error)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise failures[0]
    return sum(counts) / (time.perf_counter() - started)


def seed(pg, url: str, uid: str) -> None:
    owner = uuid.uuid4()
    pg.server.psql(
        "\\c bench\n"
        f"INSERT INTO users (id, firebase_uid, role, display_name) VALUES ('{owner}', '{uid}', 'artist', 'Bench');\n"
        "INSERT INTO proposals (owner_id, title, goal, currency, deadline, status, published_at) "
        f"SELECT '{owner}', 'Proposal ' || n, 1000 * n, 'EUR', now() + interval '30 days', 'open', now() "
        "FROM generate_series(1, 40) AS n;"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 rounds of 3 s (about a minute)")
    parser.add_argument("--seconds", type=float, default=None, help="length of one measurement")
    parser.add_argument("--rounds", type=int, default=None)
    parser.add_argument("--clients", type=int, default=4)
    args = parser.parse_args()
    seconds = args.seconds or (3.0 if args.quick else 8.0)
    rounds = args.rounds or (3 if args.quick else 5)
    function = load().by_name("proposals")

    with tempfile.TemporaryDirectory(prefix="kk-bench-") as tmp:
        pg = postgres.start(Path(tmp) / "pg", keep=False)
        ports = EmulatorPorts(auth=free_port(), hosting=None, hub=free_port(), logging=free_port())
        firebase = start_emulators(PROJECT, ports, Path(tmp) / "firebase", router_url=None)
        children = []
        try:
            url = pg.ensure_database("bench")
            postgres.migrate(url)
            uid, token = AuthEmulator(f"127.0.0.1:{ports.auth}", PROJECT).sign_up("bench@example.test")
            seed(pg, url, uid)
            source = unpack(Path(function.source), Path(tmp) / "bundle") / "main.py"
            bin_dir = venv_for(source.parent / "requirements.txt")
            env = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/tmp"),
                   "GOOGLE_CLOUD_PROJECT": PROJECT, "DATABASE_URL": url, "LOG_LEVEL": "WARNING",
                   "FIREBASE_AUTH_EMULATOR_HOST": f"127.0.0.1:{ports.auth}",
                   # The bench measures the auth path, not the limiter's refusals.
                   "RATE_LIMIT_READS_PER_SECOND": "1000000", "RATE_LIMIT_READS_BURST": "1000000"}
            bases = {}
            for name, window in (("remembered", "30"), ("uncached", "0")):
                port = free_port()
                children.append(spawn(f"proposals-{name}", [
                    str(bin_dir / "functions-framework"), "--target", "handle", "--source", str(source),
                    "--host", "127.0.0.1", "--port", str(port)],
                    env={**env, "AUTH_REVOCATION_CACHE_SECONDS": window}, log_dir=Path(tmp) / "logs"))
                bases[name] = f"http://127.0.0.1:{port}{ROUTE}"
            signed_in = {"Authorization": f"Bearer {token}"}
            subjects = {"anonymous": (bases["remembered"], {}),
                        "signed in, as deployed": (bases["remembered"], signed_in),
                        "signed in, lookup every request": (bases["uncached"], signed_in)}
            for base, headers in subjects.values():  # up, warm, and every request answered
                deadline = time.monotonic() + 60
                while True:
                    try:
                        throughput(base, headers, 0.5, 1)
                        break
                    except requests.ConnectionError:
                        if time.monotonic() > deadline:
                            raise
                        time.sleep(0.1)
            figures: dict[str, list[float]] = {name: [] for name in subjects}
            for _ in range(rounds):
                for name, (base, headers) in subjects.items():
                    figures[name].append(throughput(base, headers, seconds, args.clients))
        finally:
            for child in children:
                child.stop(grace=0.0)
            firebase.stop()
            pg.stop()

    medians = {name: statistics.median(values) for name, values in figures.items()}
    anonymous = medians["anonymous"]
    print(f"\nGET {ROUTE} on the proposals function as deployed, {args.clients} clients, "
          f"median of {rounds} interleaved rounds of {seconds:g} s\n")
    print(f"{'subject':<36}{'req/s':>9}{'x anonymous':>13}")
    for name, value in medians.items():
        print(f"{name:<36}{value:>9.0f}{value / anonymous:>13.2f}")
    metrics = [{"name": name.replace(" ", "_").replace(",", ""), "value": round(value, 1), "unit": "req/s",
                "baseline": round(anonymous, 1), "ratio": round(value / anonymous, 3),
                "target": TARGET if "deployed" in name else None}
               for name, value in medians.items() if name != "anonymous"]
    met = medians["signed in, as deployed"] / anonymous >= TARGET
    print(f"\ntarget: signed-in as deployed >= {TARGET}x anonymous: {'met' if met else 'NOT met'}")
    print(json.dumps({"bench": "signed_in_reads", "metrics": metrics}))
    return 0 if met else 1


if __name__ == "__main__":
    raise SystemExit(main())
