"""Chain indexer throughput: events/s end to end (fetch + decode + store + derive).

A short anvil chain carries ~20k Funded events (fundMany transactions of a few
thousand events each, see STANDINS.md: long chains mine slowly). The indexer
(shared.chain.indexer: raw eth_getLogs, JSON-RPC batches, slice decoding, COPY, derived
investments/raised totals/outbox in one statement) is measured against a naive
pipeline on the same chain and database in the same run: web3.py get_logs +
process_log, then one INSERT per row. The indexer gets one uncounted warm-up run
(connection pool, query plans, table pages), then the median of --runs.

Its ceiling is reading the logs at all: a raw eth_getLogs of the same blocks with the
indexer's own filter (both contracts' addresses, their events' topics), answer parsed,
nothing else. It is measured in the same run, just before and just after each indexer
run (the machine's load changes from minute to minute), and the median of those fetches
is the baseline of indexer_vs_raw_fetch.

Where the time goes: the CPU seconds of the bench process (the indexer's writer thread
included), of the embedded PostgreSQL and of anvil during each indexer run and each raw
fetch (Linux: /proc), and the rate the indexer's CPU work would allow on this machine's
cores with a perfect overlap, as a ratio of the raw fetch (its CPU-bound ceiling).

The floor of any indexer of this chain: the raw fetch plus a COPY of exactly the rows an index
must hold (the events, and their announcements: issue 23 point 7 asks for one per log), into
the same tables with their indexes, and nothing else (no decoding, no derivation, no checks).
Its CPU on this machine's cores, spread perfectly, is the best rate any design that stores
those rows could reach (`indexer_floor_vs_raw_fetch`).

    python bench/indexer.py [--quick] [--events N] [--runs N]
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
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from local import postgres  # noqa: E402
from local.chain import Platform, Rpc, artifact, deploy_platform, start_anvil  # noqa: E402
from local.processes import free_port  # noqa: E402

TARGET_RATIO = 20.0
TARGET_RATE = 25_000
TARGET_RAW_RATIO = 0.6  # of the raw fetch's rate
CAMPAIGNS = 20
# The proposals' goal is their campaign's (decision 0025), out of reach: the proposals stay open,
# as almost all do while their fundings are indexed (a goal of 1 made every run move all of them).
GOAL = 10**30
PER_TX = 2_000
CHAIN_TABLES = "web3_transactions, chain_blocks, indexer_checkpoints, investments, artwork_tokens, outbox"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")  # the unit of /proc/<pid>/stat's CPU times
T = TypeVar("T")


@dataclass(frozen=True)
class Cpu:
    """Wall and CPU seconds of each process of the bench: used so far, or in a run (a difference)."""
    wall: float
    bench: float
    postgres: float
    anvil: float

    @property
    def total(self) -> float:
        return self.bench + self.postgres + self.anvil

    def __sub__(self, other: Cpu) -> Cpu:
        return Cpu(self.wall - other.wall, self.bench - other.bench, self.postgres - other.postgres,
                   self.anvil - other.anvil)


def proc_stat(pid: int) -> tuple[int, float]:
    """A process's parent and CPU seconds: its own, and those of its exited children it reaped (proc(5))."""
    with open(f"/proc/{pid}/stat") as file:
        fields = file.read().rpartition(")")[2].split()  # after the command name, which may hold spaces
    # fields[0] is proc(5)'s field 3 (state): ppid is field 4, utime, stime, cutime, cstime fields 14-17.
    return int(fields[1]), sum(int(field) for field in fields[11:15]) / CLOCK_TICKS


def tree_cpu(root: int) -> float:
    """CPU seconds of a process and its children: PostgreSQL's backends and background workers are the
    postmaster's children, and one that exited (autovacuum workers do) is in the postmaster's reaped time."""
    total = proc_stat(root)[1]
    for entry in os.listdir("/proc"):
        if entry.isdigit() and int(entry) != root:
            try:
                parent, seconds = proc_stat(int(entry))
            except OSError:  # exited since listed
                continue
            if parent == root:
                total += seconds
    return total


def measured(postmaster: int, anvil: int, run: Callable[[], T]) -> tuple[T, Cpu]:
    """What ``run`` returns, and the wall and CPU seconds of the bench's processes while it ran."""

    def bench() -> tuple[float, float]:
        # os.times() covers every thread of this process (the indexer's writer too), not its children.
        times = os.times()
        return time.perf_counter(), times.user + times.system

    # The /proc scans (~2 ms each) stay out of the bench's window: before its start, after its end.
    servers = tree_cpu(postmaster), tree_cpu(anvil)
    started = bench()
    result = run()
    ended = bench()
    return result, Cpu(ended[0] - started[0], ended[1] - started[1], tree_cpu(postmaster) - servers[0],
                       tree_cpu(anvil) - servers[1])


def make_events(platform: Platform, accounts: list[str], proposal_ids: list[int], events: int) -> None:
    rng = random.Random(42)
    remaining = events
    while remaining:
        count = min(PER_TX, remaining)
        pledges = [(rng.choice(proposal_ids), rng.randint(1, 10**15)) for _ in range(count)]
        platform.fund_many(rng.choice(accounts[2:]), pledges)
        remaining -= count


def reset(engine) -> None:
    from sqlalchemy import text

    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {CHAIN_TABLES}"))
        conn.execute(text("UPDATE proposals SET raised_total = 0, status = 'open'"))


def run_indexer(engine, config) -> tuple[int, float]:
    from shared.chain.indexer import index_chain
    from shared.proposals.lifecycle import follow_chain

    started = time.perf_counter()
    report = index_chain(engine, config, time.monotonic() + 3600, follow_chain)  # as the function runs it
    seconds = time.perf_counter() - started
    assert not report.errors and report.stopped == "caught-up", report
    return report.events, seconds


def required_rows(engine) -> tuple[bytes, bytes]:
    """The rows the indexer's last run stored (its events and their announcements), as COPY text."""
    import io

    from shared.chain.store import EVENT_COLUMNS, OUTBOX_COLUMNS

    with engine.connect() as conn:
        cursor = conn.connection.driver_connection.cursor()
        copied = []
        for sql in (f"SELECT {', '.join(EVENT_COLUMNS)} FROM web3_transactions",
                    f"SELECT {', '.join(OUTBOX_COLUMNS)} FROM outbox WHERE type LIKE 'chain.%'"):
            buffer = io.BytesIO()
            cursor.execute(f"COPY ({sql}) TO STDOUT", stream=buffer)
            copied.append(buffer.getvalue())
    return copied[0], copied[1]


def copy_floor(engine, events: bytes, announcements: bytes) -> None:
    """Those rows COPYed into the emptied tables, in one transaction, and nothing else."""
    from shared.bulk import copy_rows
    from shared.chain.store import EVENT_COLUMNS, OUTBOX_COLUMNS

    with engine.begin() as conn:
        copy_rows(conn, "web3_transactions", EVENT_COLUMNS, events)
        copy_rows(conn, "outbox", OUTBOX_COLUMNS, announcements)


def run_naive(engine, url: str, funding: str, head: int) -> tuple[int, float]:
    """web3.py as its docs show it: get_logs, process_log per log, one INSERT per row."""
    from sqlalchemy import text

    started = time.perf_counter()
    from web3 import Web3  # its import is part of what a naive function pays

    w3 = Web3(Web3.HTTPProvider(url, request_kwargs={"timeout": 120}))
    funding = Web3.to_checksum_address(funding)
    contract = w3.eth.contract(address=funding, abi=artifact("ProposalFunding")["abi"])
    funded = contract.events.Funded()
    logs = w3.eth.get_logs({"fromBlock": 0, "toBlock": head, "address": funding, "topics": [funded.topic]})
    chain_id = w3.eth.chain_id
    times: dict[int, int] = {}
    with engine.begin() as conn:
        for log in logs:
            event = funded.process_log(log)
            number = event["blockNumber"]
            if number not in times:
                times[number] = w3.eth.get_block(number)["timestamp"]
            conn.execute(text(
                "INSERT INTO web3_transactions (chain_id, block_number, block_hash, block_time, tx_hash, log_index, "
                "contract, event, args, amount, proposal_id) VALUES (:chain, :number, :block_hash, "
                "to_timestamp(:time), :tx, :log_index, :contract, :event, :args, :amount, :proposal) "
                "ON CONFLICT DO NOTHING"),
                {"chain": chain_id, "number": number, "block_hash": "0x" + event["blockHash"].hex().removeprefix("0x"),
                 "time": times[number], "tx": "0x" + event["transactionHash"].hex().removeprefix("0x"),
                 "log_index": event["logIndex"], "contract": event["address"], "event": event["event"],
                 "args": json.dumps({k: str(v) if isinstance(v, int) else v for k, v in event["args"].items()}),
                 "amount": event["args"]["amount"], "proposal": str(uuid.UUID(int=event["args"]["proposalId"]))})
    return len(logs), time.perf_counter() - started


def raw_fetch(rpc, config, head: int) -> float:
    """Events/s of one eth_getLogs of everything the indexer reads: its filter, its blocks."""
    from shared.chain.indexer import Contracts

    log_filter = Contracts.of(config).log_filter(config.start_block, head - config.confirmations)
    started = time.perf_counter()
    logs = rpc.call("eth_getLogs", log_filter)
    return len(logs) / (time.perf_counter() - started)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2k events")
    parser.add_argument("--events", type=int, default=None)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    events = args.events or (2_000 if args.quick else 20_000)

    with tempfile.TemporaryDirectory(prefix="kk-bench-") as tmp:
        pg = postgres.start(Path(tmp) / "pg", keep=False)
        # PostgreSQL writes the postmaster's pid as the first line of this file in its data directory.
        postmaster = int((Path(tmp) / "pg" / "postmaster.pid").read_text().split()[0])
        port = free_port()
        anvil = start_anvil(port, Path(tmp), chain_id=31337)
        try:
            url = pg.ensure_database("bench")
            postgres.migrate(url)
            from sqlalchemy import create_engine, text

            from shared.config import ChainConfig

            engine = create_engine(url)
            rpc_url = f"http://127.0.0.1:{port}"
            rpc = Rpc(rpc_url, timeout=120)
            platform = Platform(rpc, deploy_platform(rpc))
            accounts = rpc.call("eth_accounts")
            proposal_ids = []
            with engine.begin() as conn:
                owner = conn.execute(text("INSERT INTO users (role) VALUES ('artist') RETURNING id")).scalar_one()
                for _ in range(CAMPAIGNS):
                    proposal_ids.append(conn.execute(text(
                        "INSERT INTO proposals (owner_id, title, goal, currency, deadline, status) VALUES "
                        "(:owner, 'bench', :goal, 'ETH', now() + interval '30 days', 'open') RETURNING id"),
                        {"owner": owner, "goal": GOAL}).scalar_one().int)
            for proposal_id in proposal_ids:
                platform.open_campaign(proposal_id, accounts[1], GOAL)
            made = time.perf_counter()
            make_events(platform, accounts, proposal_ids, events)
            made = time.perf_counter() - made
            head = int(rpc.call("eth_blockNumber"), 16)
            total = events + CAMPAIGNS

            config = ChainConfig(chain_id=31337, rpc_url=rpc_url, confirmations=0,
                                 funding_contract=platform.deployment.funding,
                                 artwork_contract=platform.deployment.artwork, initial_range=10_000,
                                 rpc_timeout_seconds=120)
            from shared.chain.rpc import JsonRpc

            fetcher = JsonRpc(rpc_url, timeout=120)
            raw_fetch(fetcher, config, head)  # warm-up: the node's caches, the connection (not counted)
            rates, fetch_rates = [], []
            index_cpu: list[Cpu] = []
            fetch_cpu: list[Cpu] = []

            def fetch() -> None:
                rate, cpu = measured(postmaster, anvil.process.pid, lambda: raw_fetch(fetcher, config, head))
                fetch_rates.append(rate)
                fetch_cpu.append(cpu)

            reset(engine)
            run_indexer(engine, config)  # warm-up: connection pool, plans, pages (not counted)
            for _ in range(args.runs):
                reset(engine)
                fetch()
                (indexed, seconds), cpu = measured(postmaster, anvil.process.pid, lambda: run_indexer(engine, config))
                assert indexed == total, (indexed, total)
                rates.append(indexed / seconds)
                index_cpu.append(cpu)
                fetch()
            # The floor: what any design must write, COPYed alone (after one uncounted warm-up).
            rows = required_rows(engine)
            floor_cpu: list[Cpu] = []
            for attempt in range(args.runs + 1):
                reset(engine)
                _, cpu = measured(postmaster, anvil.process.pid, lambda: copy_floor(engine, *rows))
                if attempt:
                    floor_cpu.append(cpu)
            reset(engine)
            run_indexer(engine, config)  # the index again, for the checks below
            with engine.connect() as conn:
                raised = conn.execute(text("SELECT sum(raised_total) FROM proposals")).scalar_one()
                funded = conn.execute(text("SELECT sum(amount) FROM web3_transactions WHERE event = 'Funded'")).scalar()
                assert raised == funded and conn.execute(text(
                    "SELECT count(*) FROM outbox WHERE type LIKE 'chain.%'")).scalar() == events
            reset(engine)
            naive_count, naive_seconds = run_naive(engine, rpc_url, platform.deployment.funding, head)
            assert naive_count == events, (naive_count, events)
        finally:
            anvil.stop()
            pg.stop()

    rate = statistics.median(rates)
    baseline = naive_count / naive_seconds
    fetch_rate = statistics.median(fetch_rates)
    print(f"\nchain indexer: {total:,} events in {head} blocks on anvil (made in {made:.1f}s)\n")
    print(f"{'pipeline':<48}{'events/s':>12}{'x naive':>10}{'x raw fetch':>13}")
    print(f"{'naive: web3 get_logs + process_log + INSERT':<48}{baseline:>12,.0f}{1:>10.2f}"
          f"{baseline / fetch_rate:>13.3f}")
    print(f"{'indexer (median of ' + str(args.runs) + ' warm), end to end':<48}{rate:>12,.0f}"
          f"{rate / baseline:>10.2f}{rate / fetch_rate:>13.3f}")
    print(f"{'  runs':<48}  {', '.join(f'{r:,.0f}' for r in rates)}")
    print(f"{'raw eth_getLogs, same filter and blocks (median)':<48}{fetch_rate:>12,.0f}"
          f"{fetch_rate / baseline:>10.2f}{1:>13.3f}")
    print(f"{'  fetches (before and after each run)':<48}  {', '.join(f'{r:,.0f}' for r in fetch_rates)}")

    def median_of(runs: list[Cpu], part: Callable[[Cpu], float]) -> float:
        return statistics.median(part(cpu) for cpu in runs)

    parts: dict[str, Callable[[Cpu], float]] = {
        "wall": lambda c: c.wall, "python": lambda c: c.bench, "postgres": lambda c: c.postgres,
        "anvil": lambda c: c.anvil, "CPU total": lambda c: c.total}
    print(f"\n{'seconds per run (median), CPU of each process':<48}" + "".join(f"{name:>10}" for name in parts))
    for label, runs in ((f"indexer ({len(index_cpu)} warm runs)", index_cpu),
                        (f"raw eth_getLogs ({len(fetch_cpu)} fetches)", fetch_cpu),
                        (f"COPY of the rows alone ({len(floor_cpu)} runs)", floor_cpu)):
        print(f"{label:<48}" + "".join(f"{median_of(runs, part):>10.3f}" for part in parts.values()))
    # With its CPU work spread perfectly over every core, the indexer could not beat this.
    cores = os.cpu_count() or 1
    ceiling = total / (median_of(index_cpu, parts["CPU total"]) / cores)
    print(f"CPU-bound ceiling on {cores} cores: {ceiling:,.0f} events/s, {ceiling / fetch_rate:.3f} x raw fetch "
          f"(target {TARGET_RAW_RATIO})")
    # Any design: the fetch's CPU (parsing, anvil) and the COPY's (PostgreSQL, the COPY's client).
    floor_seconds = median_of(fetch_cpu, parts["CPU total"]) + median_of(floor_cpu, parts["CPU total"])
    floor = total / (floor_seconds / cores)
    print(f"floor of any design that stores these rows (fetch + COPY, perfect overlap on {cores} cores): "
          f"{floor:,.0f} events/s, {floor / fetch_rate:.3f} x raw fetch")
    metrics = [
        {"name": "indexer_events_per_s", "value": round(rate), "unit": "events/s", "baseline": round(baseline),
         "ratio": round(rate / baseline, 2), "target": TARGET_RATIO},
        {"name": "indexer_events_per_s_absolute", "value": round(rate), "unit": "events/s", "baseline": None,
         "ratio": None, "target": TARGET_RATE},
        {"name": "indexer_vs_raw_fetch", "value": round(rate), "unit": "events/s", "baseline": round(fetch_rate),
         "ratio": round(rate / fetch_rate, 3), "target": TARGET_RAW_RATIO},
        {"name": "indexer_cpu_ceiling_vs_raw_fetch", "value": round(ceiling), "unit": "events/s",
         "baseline": round(fetch_rate), "ratio": round(ceiling / fetch_rate, 3), "target": None},
        {"name": "indexer_floor_vs_raw_fetch", "value": round(floor), "unit": "events/s",
         "baseline": round(fetch_rate), "ratio": round(floor / fetch_rate, 3), "target": None},
    ]
    print(json.dumps({"bench": "indexer", "metrics": metrics}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
