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

    python bench/indexer.py [--quick] [--events N] [--runs N]
"""
from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

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
            reset(engine)
            run_indexer(engine, config)  # warm-up: connection pool, plans, pages (not counted)
            for _ in range(args.runs):
                reset(engine)
                fetch_rates.append(raw_fetch(fetcher, config, head))
                indexed, seconds = run_indexer(engine, config)
                assert indexed == total, (indexed, total)
                rates.append(indexed / seconds)
                fetch_rates.append(raw_fetch(fetcher, config, head))
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
    metrics = [
        {"name": "indexer_events_per_s", "value": round(rate), "unit": "events/s", "baseline": round(baseline),
         "ratio": round(rate / baseline, 2), "target": TARGET_RATIO},
        {"name": "indexer_events_per_s_absolute", "value": round(rate), "unit": "events/s", "baseline": None,
         "ratio": None, "target": TARGET_RATE},
        {"name": "indexer_vs_raw_fetch", "value": round(rate), "unit": "events/s", "baseline": round(fetch_rate),
         "ratio": round(rate / fetch_rate, 3), "target": TARGET_RAW_RATIO},
    ]
    print(json.dumps({"bench": "indexer", "metrics": metrics}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
