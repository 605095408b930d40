"""The chain indexer against a real chain (anvil) and the real database.

After every scenario the database must equal a fresh index of the canonical chain
from genesis (``assert_matches_fresh_index``), and the derived rows must agree
with what the contracts themselves report.
"""
from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass

import pytest
from sqlalchemy import create_engine, text

from infra.manifest import REPO
from local.chain import Platform, Rpc, deploy_platform, start_anvil
from local.processes import free_port
from shared.chain.abi import checksum
from shared.chain.indexer import index_chain
from shared.chain.store import LOCK_NAMESPACE, follow_all
from shared.config import ChainConfig
from shared.events.envelope import EventEnvelope
from shared.market.chain_sales import follow_chain as follow_sales
from shared.proposals.lifecycle import follow_chain as follow_proposals
from tests.support.rpc_proxy import RpcProxy
from tests.support.waiting import wait_for

ETHER = 10**18
UINT256_MAX = 2**256 - 1
CHAIN_ID = 31337
CHAIN_TABLES = ("web3_transactions", "chain_blocks", "indexer_checkpoints", "investments", "artwork_tokens",
                "chain_sales", "outbox", "proposals", "users")
# What "the index" is: every table the indexer writes, without surrogate keys or timestamps.
STATE_QUERIES = {
    "events": "SELECT chain_id, block_number, block_hash, block_time, tx_hash, log_index, contract, event, args, "
              "amount, proposal_id FROM web3_transactions ORDER BY block_number, log_index",
    "investments": "SELECT * FROM investments ORDER BY onchain_proposal_id, backer",
    "owners": "SELECT * FROM artwork_tokens ORDER BY contract, token_id",
    "sales": "SELECT * FROM chain_sales ORDER BY chain_id, contract, sale_id",
    "raised": "SELECT id, raised_total, status FROM proposals ORDER BY id",
    "checkpoint": "SELECT chain_id, block_number, block_hash FROM indexer_checkpoints",
}


@dataclass
class Chain:
    url: str
    rpc: Rpc
    platform: Platform
    accounts: list[str]

    @property
    def artist(self) -> str:
        return self.accounts[1]

    def head(self) -> int:
        return int(self.rpc.call("eth_blockNumber"), 16)

    def reorg(self, depth: int, replacements: list[tuple[dict, int]] = ()) -> None:
        self.rpc.call("anvil_reorg", depth, [[tx, offset] for tx, offset in replacements])

    def funding_tx(self, backer: str, proposal_id: int, amount: int) -> dict:
        from local.chain import encode_call

        return {"from": backer, "to": self.platform.deployment.funding, "value": hex(amount),
                "data": encode_call("fund(uint256)", proposal_id), "gas": hex(300_000)}


@pytest.fixture
def chain(tmp_path):
    port = free_port()
    child = start_anvil(port, tmp_path, chain_id=CHAIN_ID)
    url = f"http://127.0.0.1:{port}"
    rpc = Rpc(url)
    # Checksummed, as the indexer stores addresses.
    yield Chain(url, rpc, Platform(rpc, deploy_platform(rpc)), [checksum(a) for a in rpc.call("eth_accounts")])
    child.stop()


@pytest.fixture
def proxy(chain):
    """A difficult provider in front of the chain (tests/support/rpc_proxy.py)."""
    difficult = RpcProxy(chain.url)
    yield difficult
    difficult.close()


def _clean(engine) -> None:
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {', '.join(CHAIN_TABLES)} CASCADE"))


@pytest.fixture
def engine(database_url):
    engine = create_engine(database_url)
    _clean(engine)
    yield engine
    _clean(engine)
    engine.dispose()


def config(chain: Chain, url: str | None = None, **overrides) -> ChainConfig:
    settings = {"chain_id": CHAIN_ID, "rpc_url": url or chain.url, "confirmations": 0,
                "funding_contract": chain.platform.deployment.funding,
                "artwork_contract": chain.platform.deployment.artwork,
                "market_contract": chain.platform.deployment.market, "initial_range": 50, **overrides}
    return ChainConfig(**settings)


def index(engine, cfg: ChainConfig, budget: float = 60.0):
    """A tick as the function runs it: with the proposals' lifecycle and the market's sales."""
    report = index_chain(engine, cfg, time.monotonic() + budget, follow_all(follow_proposals, follow_sales))
    assert report.locked and not report.errors, report
    return report


def state(engine) -> dict[str, list]:
    with engine.connect() as conn:
        return {name: [tuple(row) for row in conn.execute(text(sql))] for name, sql in STATE_QUERIES.items()}


def assert_matches_fresh_index(engine, chain: Chain, cfg: ChainConfig) -> None:
    """Index the same chain again from genesis into empty tables: the result must be identical."""
    index(engine, cfg)
    current = state(engine)
    with engine.begin() as conn:
        conn.execute(text("TRUNCATE web3_transactions, chain_blocks, indexer_checkpoints, investments, "
                          "artwork_tokens, chain_sales"))
        # The chain's verdicts too: a fresh index derives them again (shared/proposals/lifecycle.py).
        conn.execute(text("UPDATE proposals SET raised_total = 0, status = CASE WHEN status IN "
                          "('funded', 'failed', 'withdrawn') THEN 'open' ELSE status END"))
    index(engine, cfg.model_copy(update={"initial_range": 10_000}))
    assert state(engine) == current
    assert current["checkpoint"][0][1] == chain.head() - cfg.confirmations


def _scalar(engine, sql: str):
    with engine.connect() as conn:
        return conn.execute(text(sql)).scalar_one()


def make_proposal(engine) -> uuid.UUID:
    with engine.begin() as conn:
        owner = conn.execute(text("INSERT INTO users (role, email) VALUES ('artist', 'a@example.com') "
                                  "RETURNING id")).scalar_one()
        return conn.execute(text(
            "INSERT INTO proposals (owner_id, title, goal, currency, deadline, status) "
            "VALUES (:owner, 'A proposal', 1000000000000000000, 'ETH', now() + interval '30 days', 'open') "
            "RETURNING id"), {"owner": owner}).scalar_one()


def activity(chain: Chain, proposal_ids: list[int], transactions: int = 6, seed: int = 1) -> None:
    """Funding from a few backers, one transaction per block (automine)."""
    rng = random.Random(seed)
    for _ in range(transactions):
        backer = chain.accounts[rng.randint(2, 6)]
        chain.platform.fund(backer, rng.choice(proposal_ids), rng.randint(1, 10**6))


def open_campaigns(chain: Chain, engine, count: int = 2) -> list[int]:
    ids = [make_proposal(engine).int for _ in range(count)]
    for proposal_id in ids:
        chain.platform.open_campaign(proposal_id, chain.artist, ETHER)
    return ids


def test_indexes_fundings_refunds_withdrawals_and_transfers_as_the_contracts_report_them(chain, engine):
    platform, (alice, bob, carol, dave) = chain.platform, chain.accounts[2:6]
    listed = make_proposal(engine)
    platform.open_campaign(listed.int, chain.artist, ETHER)
    platform.open_campaign(UINT256_MAX, chain.artist, UINT256_MAX, seconds=600)  # an id no proposal has
    platform.fund(alice, listed.int, 4 * ETHER // 10)
    platform.fund(bob, listed.int, 1)
    bobs_latest = platform.fund_many(bob, [(listed.int, 3 * ETHER // 10), (listed.int, 5 * ETHER // 10 - 1),
                                           (UINT256_MAX, 7)])["transactionHash"]
    platform.fund(carol, UINT256_MAX, 11)
    platform.withdraw(chain.artist, listed.int)
    chain.rpc.call("evm_increaseTime", 601)
    platform.refund(carol, UINT256_MAX)
    platform.mint(alice, UINT256_MAX, "ipfs://max")
    platform.mint(alice, 1)
    platform.transfer(alice, dave, UINT256_MAX)

    report = index(engine, config(chain))
    assert report.events == 13 and report.stopped == "caught-up"

    with engine.connect() as conn:
        events = conn.execute(text("SELECT event, count(*) FROM web3_transactions GROUP BY event")).all()
        investments = {(int(row.onchain_proposal_id), row.backer): (int(row.funded), int(row.refunded), row.events)
                       for row in conn.execute(text("SELECT * FROM investments"))}
        raised = conn.execute(text("SELECT raised_total FROM proposals WHERE id = :id"), {"id": listed}).scalar_one()
        owners = dict(conn.execute(text("SELECT token_id, owner FROM artwork_tokens")).all())
        max_goal = conn.execute(text("SELECT amount FROM web3_transactions WHERE event = 'CampaignOpened' "
                                     "AND proposal_id IS NULL")).scalar_one()
        outbox = [EventEnvelope.model_validate(row[0]) for row in conn.execute(text("SELECT envelope FROM outbox"))]
    assert dict(events) == {"CampaignOpened": 2, "Funded": 6, "Withdrawn": 1, "Refunded": 1, "Transfer": 3}
    assert investments == {
        (listed.int, alice): (4 * ETHER // 10, 0, 1),
        (listed.int, bob): (8 * ETHER // 10, 0, 3),
        (UINT256_MAX, bob): (7, 0, 1),
        (UINT256_MAX, carol): (11, 11, 2),
    }
    assert raised == 12 * ETHER // 10 == platform.read(platform.deployment.funding, "campaigns(uint256)",
                                                       ["address", "uint64", "bool", "uint256", "uint256"],
                                                       listed.int)[4]
    for (proposal_id, backer), (funded, refunded, _) in investments.items():
        assert platform.read(platform.deployment.funding, "contributions(uint256,address)", ["uint256"],
                             proposal_id, backer) == (funded - refunded,)
    assert max_goal == UINT256_MAX
    assert {int(token): owner for token, owner in owners.items()} == {UINT256_MAX: dave, 1: alice}
    assert platform.read(platform.deployment.artwork, "ownerOf(uint256)", ["address"], UINT256_MAX)[0] == dave.lower()
    assert sorted(e.type for e in outbox) == (["chain.funded"] * 6 + ["chain.refunded"] + ["chain.transfer"] * 3
                                              + ["proposal.state_changed"])
    moved = next(e for e in outbox if e.type == "proposal.state_changed")
    assert (moved.aggregate_id, moved.payload["previous_status"], moved.payload["status"]) == \
        (str(listed), "open", "withdrawn")  # funded and paid out within one range
    with engine.connect() as conn:
        latest = conn.execute(text("SELECT last_tx_hash FROM investments WHERE backer = :bob AND proposal_id = :p"),
                              {"bob": bob, "p": listed}).scalar_one()
    assert latest == bobs_latest
    funded = next(e for e in outbox if e.type == "chain.funded" and e.payload["args"]["backer"] == alice)
    assert (funded.aggregate_type, funded.aggregate_id) == ("proposal", str(listed))
    assert funded.payload["args"]["amount"] == str(4 * ETHER // 10)
    assert_matches_fresh_index(engine, chain, config(chain))


def test_a_second_tick_and_a_range_delivered_twice_change_nothing(chain, engine):
    ids = open_campaigns(chain, engine)
    activity(chain, ids, transactions=8)
    cfg = config(chain, initial_range=3)
    index(engine, cfg)
    before = state(engine)
    assert index(engine, cfg).events == 0
    # Deliver the last ten blocks again: rewind the checkpoint to a block we keep.
    with engine.begin() as conn:
        conn.execute(text("UPDATE indexer_checkpoints SET (block_number, block_hash) = "
                          "(SELECT number, hash FROM chain_blocks WHERE number <= :n ORDER BY number DESC LIMIT 1)"),
                     {"n": chain.head() - 10})
    again = index(engine, cfg)
    assert again.ranges >= 1 and again.events == 0
    assert state(engine) == before
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM outbox")).scalar_one() == 8


@pytest.mark.parametrize("depth", [1, 3, 60])
def test_reorg_of_depth(chain, engine, depth):
    ids = open_campaigns(chain, engine)
    chain.rpc.call("anvil_mine", hex(max(0, depth - 6)))  # history deep enough to hold the reorg
    activity(chain, ids, transactions=6)
    cfg = config(chain)
    index(engine, cfg)
    # The new fork: different fundings in the replaced blocks.
    chain.reorg(depth, [(chain.funding_tx(chain.accounts[7], ids[0], 5_000 + depth), 0)])
    report = index(engine, cfg)
    assert report.reorgs == 1
    with engine.connect() as conn:
        backers = {row[0] for row in conn.execute(text("SELECT backer FROM investments"))}
    assert chain.accounts[7] in backers
    assert_matches_fresh_index(engine, chain, cfg)


def test_reorg_while_the_indexer_was_offline(chain, engine):
    ids = open_campaigns(chain, engine)
    activity(chain, ids, transactions=6)
    cfg = config(chain)
    index(engine, cfg)
    chain.reorg(4, [(chain.funding_tx(chain.accounts[8], ids[1], 77), 1)])
    activity(chain, ids, transactions=5, seed=2)  # the chain moves on before the next tick
    assert index(engine, cfg).reorgs == 1
    assert_matches_fresh_index(engine, chain, cfg)


def test_rapid_repeated_reorgs(chain, engine):
    ids = open_campaigns(chain, engine)
    activity(chain, ids, transactions=8)
    cfg = config(chain, initial_range=2)
    rng = random.Random(7)
    for round_ in range(8):
        depth = rng.randint(1, 5)
        chain.reorg(depth, [(chain.funding_tx(chain.accounts[rng.randint(2, 9)], rng.choice(ids), round_ + 1), 0)])
        activity(chain, ids, transactions=rng.randint(0, 2), seed=round_)
        if round_ % 2:
            index(engine, cfg)
    assert_matches_fresh_index(engine, chain, cfg)


@pytest.mark.parametrize(("depth", "confirmations"), [(1, 0), (14, 12)])
def test_a_shallow_reorg_after_a_wide_quiet_range_rolls_back_only_its_blocks(chain, engine, depth, confirmations):
    """Issue 23, point 7: after one wide range with few logs (initial sync, downtime) the hashes of
    the recent blocks are kept, so a shallow reorg finds its common ancestor. (Before: only the
    range's ends and blocks with logs were kept, and a reorg of depth 1 re-indexed from the start,
    announcing every event reverted and again.)"""
    ids = open_campaigns(chain, engine)
    activity(chain, ids, transactions=6)
    chain.rpc.call("anvil_mine", hex(400))  # a quiet stretch, wider than the reorg window
    cfg = config(chain, confirmations=confirmations, initial_range=5_000, max_range=5_000, reorg_window=64)
    index(engine, cfg)
    announced = _scalar(engine, "SELECT count(*) FROM outbox")
    chain.reorg(depth, [(chain.funding_tx(chain.accounts[7], ids[0], 4_242), 0)])
    report = index(engine, cfg)
    assert report.reorgs == 1
    with engine.connect() as conn:
        # Nothing indexed was in the replaced blocks: nothing is reverted, only the new funding announced.
        assert conn.execute(text("SELECT count(*) FROM outbox WHERE type = 'chain.reverted'")).scalar() == 0
        assert conn.execute(text("SELECT count(*) FROM outbox")).scalar() == announced + (depth > confirmations)
    assert_matches_fresh_index(engine, chain, cfg)


def test_a_reorg_deeper_than_the_kept_blocks_reindexes_from_the_start(chain, engine):
    ids = open_campaigns(chain, engine)
    activity(chain, ids, transactions=10)
    cfg = config(chain, reorg_window=2, initial_range=2)
    index(engine, cfg)
    chain.reorg(8, [(chain.funding_tx(chain.accounts[9], ids[0], 99), 2)])
    assert index(engine, cfg).reorgs == 1
    assert_matches_fresh_index(engine, chain, cfg)


def test_provider_range_and_result_limits_shrink_the_range_then_it_grows_back(chain, engine, proxy):
    ids = open_campaigns(chain, engine)
    activity(chain, ids, transactions=12)
    proxy.max_span = 4
    cfg = config(chain, url=proxy.url, initial_range=1_000)
    report = index(engine, cfg)
    assert proxy.rejected >= 1
    assert report.checkpoint == chain.head()
    with engine.connect() as conn:
        assert conn.execute(text("SELECT range_size FROM indexer_checkpoints")).scalar_one() <= 4
    proxy.max_span, proxy.max_results, proxy.rejected = None, 5, 0
    activity(chain, ids, transactions=10, seed=3)
    chain.platform.fund_many(chain.accounts[2], [(ids[0], 1)] * 5)  # five events in one block
    report = index(engine, cfg)
    assert proxy.rejected >= 1 and report.checkpoint == chain.head()
    # One block with more events than the provider will ever return: stop there, lose nothing.
    stuck = chain.head() + 1
    chain.platform.fund_many(chain.accounts[3], [(ids[1], 1)] * 6)
    report = index_chain(engine, cfg, time.monotonic() + 30)
    assert report.stopped == "rpc-error" and report.checkpoint == stuck - 1
    with engine.connect() as conn:
        assert "more than 5 results" in conn.execute(text("SELECT last_error FROM indexer_checkpoints")).scalar()
    assert_matches_fresh_index(engine, chain, config(chain))


def test_slow_answers_to_large_ranges_are_retried_smaller(chain, engine, proxy):
    ids = open_campaigns(chain, engine)
    activity(chain, ids, transactions=6)
    proxy.slow_above, proxy.logs_delay = 3, 1.5
    cfg = config(chain, url=proxy.url, initial_range=64, rpc_timeout_seconds=0.5)
    report = index(engine, cfg)
    assert report.checkpoint == chain.head()
    assert_matches_fresh_index(engine, chain, config(chain))


def test_a_lagging_node_is_waited_for_not_taken_for_a_reorg(chain, engine, proxy, api):
    ids = open_campaigns(chain, engine)
    activity(chain, ids, transactions=6)
    cfg = config(chain)
    index(engine, cfg)
    before = state(engine)
    proxy.lag = 5  # another node behind the load balancer: head goes backwards
    report = index_chain(engine, config(chain, url=proxy.url), time.monotonic() + 30)
    assert report.stopped == "node-behind" and report.reorgs == 0
    assert state(engine) == before
    with engine.connect() as conn:
        assert conn.execute(text("SELECT head_block FROM indexer_checkpoints")).scalar_one() == chain.head() - 5
    # The rows past the node's head stay (decision 0009); the status says they are unverified.
    assert api.get("/api/chain/status").json["chains"][0]["node_behind"] is True
    activity(chain, ids, transactions=7, seed=5)  # the node catches up past the checkpoint
    assert index(engine, config(chain, url=proxy.url)).reorgs == 0
    assert api.get("/api/chain/status").json["chains"][0]["node_behind"] is False
    assert_matches_fresh_index(engine, chain, cfg)


def test_overlapping_ticks_do_not_both_index(chain, engine):
    open_campaigns(chain, engine)
    with engine.connect() as holder:
        holder.execute(text("SELECT pg_advisory_lock(:ns, :chain)"), {"ns": LOCK_NAMESPACE, "chain": CHAIN_ID})
        report = index_chain(engine, config(chain), time.monotonic() + 30)
        assert not report.locked and report.stopped == "locked"
        holder.execute(text("SELECT pg_advisory_unlock(:ns, :chain)"), {"ns": LOCK_NAMESPACE, "chain": CHAIN_ID})
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM web3_transactions")).scalar_one() == 0
    assert index(engine, config(chain)).events == 2


def test_a_tick_stops_at_its_budget_and_the_next_resumes(chain, engine, proxy):
    ids = open_campaigns(chain, engine)
    activity(chain, ids, transactions=10)
    proxy.logs_delay = 0.3
    cfg = config(chain, url=proxy.url, initial_range=1, max_range=1)
    report = index_chain(engine, cfg, time.monotonic() + 1.0)
    assert report.stopped == "budget" and report.checkpoint < chain.head()
    assert_matches_fresh_index(engine, chain, config(chain))


def test_killed_in_the_middle_of_a_commit_leaves_no_duplicates_and_no_gaps(chain, engine, database_url):
    ids = open_campaigns(chain, engine)
    activity(chain, ids, transactions=4)
    cfg = config(chain, initial_range=2)
    index(engine, cfg)
    activity(chain, ids, transactions=6, seed=9)
    script = ("import json, sys, time; from sqlalchemy import create_engine; from shared.config import ChainConfig; "
              "from shared.chain.indexer import index_chain; "
              "index_chain(create_engine(sys.argv[1]), ChainConfig(**json.loads(sys.argv[2])), time.monotonic() + 60)")
    with engine.connect() as blocker:
        # Hold the checkpoint row: the indexer writes its events, then waits to move the checkpoint.
        blocker.execute(text("SELECT * FROM indexer_checkpoints FOR UPDATE"))
        child = subprocess.Popen([sys.executable, "-c", script, database_url, json.dumps(cfg.model_dump())],
                                 cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)})
        waiting = ("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                   "AND query LIKE 'UPDATE indexer_checkpoints SET block_number%'")
        # (Polled from fresh transactions: pg_stat_activity is a snapshot within one.)
        assert wait_for(lambda: _scalar(engine, waiting) == 1, timeout=30)
        child.send_signal(signal.SIGKILL)
        child.wait()
        blocker.rollback()
    # The dead session's transaction is rolled back and its advisory lock released.
    assert wait_for(lambda: index_chain(engine, cfg, time.monotonic() + 60).locked, timeout=30)
    with engine.connect() as conn:
        count, distinct = conn.execute(text("SELECT count(*), count(DISTINCT (tx_hash, log_index)) "
                                            "FROM web3_transactions")).one()
    assert count == distinct == 12
    assert_matches_fresh_index(engine, chain, cfg)


def test_chain_status_reports_checkpoint_head_and_lag(chain, engine, api):
    ids = open_campaigns(chain, engine)
    activity(chain, ids, transactions=3)
    index(engine, config(chain, confirmations=2))
    body = api.get("/api/chain/status").json
    assert body == {"chains": [{"chain_id": CHAIN_ID, "checkpoint": chain.head() - 2, "head": chain.head(),
                                "lag": 2, "head_seen_at": body["chains"][0]["head_seen_at"], "reorgs": 0,
                                "last_error": None, "node_behind": False}]}


def test_the_function_indexes_on_a_tick_and_publishes_the_chain_events(chain, engine, app_env, pubsub_emulator,
                                                                        monkeypatch):
    """Scheduler tick (Pub/Sub push) -> chain-indexer -> PostgreSQL and outbox -> domain-events at once."""
    from functions_framework import create_app

    from infra.manifest import load
    from shared.config import get_settings
    from tests.support.pubsub import Observer

    ids = open_campaigns(chain, engine)
    activity(chain, ids, transactions=3)
    monkeypatch.setenv("INDEXER_CHAINS", json.dumps([config(chain).model_dump()]))
    get_settings.cache_clear()
    observer = Observer(pubsub_emulator, "domain-events")
    try:
        function = load().by_name("chain-indexer")
        client = create_app(target="handle", source=str(function.main), signature_type="cloudevent").test_client()
        tick = {"subscription": "projects/p/subscriptions/indexer-tick-chain-indexer",
                "message": {"data": "e30=", "messageId": "1", "publishTime": "2026-11-22T00:00:00Z"}}
        assert client.post("/", json=tick).status_code == 200
        published = observer.envelopes(3)
    finally:
        get_settings.cache_clear()
    assert sorted(e["type"] for e in published) == ["chain.funded"] * 3
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM outbox WHERE published_at IS NULL")).scalar_one() == 0
        assert conn.execute(text("SELECT block_number FROM indexer_checkpoints")).scalar_one() == chain.head()


def test_reverted_events_are_announced(chain, engine):
    ids = open_campaigns(chain, engine)
    activity(chain, ids, transactions=4)
    cfg = config(chain)
    index(engine, cfg)
    chain.reorg(2)
    index(engine, cfg)
    with engine.connect() as conn:
        envelopes = [EventEnvelope.model_validate(row[0]) for row in conn.execute(text(
            "SELECT envelope FROM outbox WHERE type = 'chain.reverted' ORDER BY id"))]
        funded = [EventEnvelope.model_validate(row[0]) for row in conn.execute(text(
            "SELECT envelope FROM outbox WHERE type = 'chain.funded' ORDER BY id"))]
    assert len(envelopes) == 2
    # The same shape as the announcement it takes back, so a consumer can undo it.
    originals = {(e.payload["tx_hash"], e.payload["log_index"]): e for e in funded}
    for reverted in envelopes:
        original = originals[(reverted.payload["tx_hash"], reverted.payload["log_index"])]
        assert reverted.payload.keys() == original.payload.keys()
        assert (reverted.aggregate_type, reverted.aggregate_id) == (original.aggregate_type, original.aggregate_id)
        assert reverted.payload["args"] == original.payload["args"]


def test_an_unreachable_node_is_recorded_and_changes_nothing(chain, engine):
    open_campaigns(chain, engine)
    index(engine, config(chain))
    before = state(engine)
    # A provider's URL: its key in the path, another in the query, and user info.
    url = f"http://user:hunter2@127.0.0.1:{free_port()}/v2/sEcReTkEy123?apikey=qUeRyKeY456"
    report = index_chain(engine, config(chain, url=url), time.monotonic() + 30)
    assert report.stopped == "rpc-error" and report.head is None
    assert state(engine) == before
    with engine.connect() as conn:
        head, error = conn.execute(text("SELECT head_block, last_error FROM indexer_checkpoints")).one()
    assert head == chain.head() and "cannot reach" in error  # the head last seen stays
    for secret in ("sEcReTkEy123", "qUeRyKeY456", "hunter2", "/v2"):
        assert secret not in error and secret not in " ".join(report.errors)


def test_the_chain_status_never_shows_the_rpc_key(chain, engine, api):
    index_chain(engine, config(chain, url=f"http://127.0.0.1:{free_port()}/v3/aKeyOfTheProvider"), time.monotonic() + 30)
    body = api.get("/api/chain/status").get_data(as_text=True)
    assert "cannot reach http://127.0.0.1:" in body and "aKeyOfTheProvider" not in body


@pytest.mark.parametrize(("method", "field", "garbage"), [
    ("eth_getLogs", "transactionHash", "0xnot-a-hash\t\n"),
    ("eth_getLogs", "blockHash", "0x" + "ab" * 31),
    ("eth_getLogs", "address", 42),
    ("eth_getBlockByNumber", "hash", "' OR 1=1 --"),
    ("eth_getBlockByNumber", "timestamp", "soon"),
])
def test_garbage_from_the_node_is_an_rpc_error_and_changes_nothing(chain, engine, proxy, method, field, garbage):
    """Hashes and addresses from the node go into COPY rows: their shape is checked first, and a
    malformed answer stops the tick like an unreachable node does (issue 22, finding 8)."""
    ids = open_campaigns(chain, engine)
    index(engine, config(chain))
    before = state(engine)
    chain.platform.fund(chain.accounts[2], ids[0], 1)
    proxy.corrupt[(method, field)] = garbage
    report = index_chain(engine, config(chain, url=proxy.url), time.monotonic() + 30)
    assert report.stopped == "rpc-error" and "malformed" in report.errors[-1]
    assert state(engine) == before
    with engine.connect() as conn:
        assert "malformed" in conn.execute(text("SELECT last_error FROM indexer_checkpoints")).scalar()


def test_a_log_the_provider_repeats_is_announced_once(chain, engine, proxy):
    """Issue 23, point 7: providers repeat logs within an answer; each is stored and announced
    once (before: one row, two chain.funded envelopes with different event ids)."""
    ids = open_campaigns(chain, engine)
    index(engine, config(chain))
    for amount in (1, 2):
        chain.platform.fund(chain.accounts[2], ids[0], amount)
    proxy.repeat_logs = True
    index_chain(engine, config(chain, url=proxy.url), time.monotonic() + 30)
    with engine.connect() as conn:
        announced = conn.execute(text("SELECT event_id FROM outbox WHERE type = 'chain.funded'")).scalars().all()
        assert len(announced) == 2 == len(set(announced))
        assert conn.execute(text("SELECT count(*) FROM web3_transactions WHERE event = 'Funded'")).scalar() == 2


def test_event_ids_are_the_logs_identity_until_a_rollback(chain, engine):
    """Issue 23, point 7: an event's id comes from its log (chain, block hash, tx hash, log index),
    so a log read again is the same event to consumers; a log announced again after a rollback
    (A→B→A, or a re-index) is a new event, because its first announcement was reverted."""
    ids = open_campaigns(chain, engine)
    chain.platform.fund(chain.accounts[2], ids[0], 5)
    cfg = config(chain)
    index(engine, cfg)
    query = ("SELECT event_id::text, envelope->'payload'->>'tx_hash' AS tx, envelope->'payload'->>'log_index' AS i "
             "FROM outbox WHERE type = 'chain.funded'")
    with engine.connect() as conn:
        first = conn.execute(text(query)).one()
    with engine.begin() as conn:  # the same logs, read again from scratch (as after a crash before commit)
        conn.execute(text("TRUNCATE web3_transactions, chain_blocks, indexer_checkpoints, investments, outbox"))
    index(engine, cfg)
    with engine.connect() as conn:
        assert conn.execute(text(query)).one() == first
        # As a rollback to before the log leaves it: the log gone, the epoch one on.
        conn.execute(text("TRUNCATE web3_transactions, chain_blocks, investments, outbox"))
        conn.execute(text("UPDATE indexer_checkpoints SET reorgs = 1, block_number = -1, block_hash = NULL"))
        conn.commit()
    index(engine, cfg)
    with engine.connect() as conn:
        again = conn.execute(text(query)).one()
    assert again.tx == first.tx and again.event_id != first.event_id


def test_an_error_of_ours_is_recorded_not_left_blank(chain, engine, monkeypatch):
    from shared.chain import indexer

    ids = open_campaigns(chain, engine)
    monkeypatch.setattr(indexer, "copy_lines", lambda *args, **kwargs: 1 / 0)
    chain.platform.fund(chain.accounts[2], ids[0], 1)
    with pytest.raises(ZeroDivisionError):
        index_chain(engine, config(chain), time.monotonic() + 30)
    with engine.connect() as conn:
        assert "ZeroDivisionError" in conn.execute(text("SELECT last_error FROM indexer_checkpoints")).scalar()
