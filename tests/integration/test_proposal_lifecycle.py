"""Issue 23, point 1: the chain decides funded, failed and withdrawn, and a reorg undoes it.

Against anvil and the real database, through the indexer: each move commits with the blocks
that cause it, with its proposal.state_changed event, and a fresh index of the canonical
chain derives the same states (assert_matches_fresh_index compares them)."""
from __future__ import annotations

import uuid

from sqlalchemy import text

from local.chain import chain_time
from tests.integration.test_indexer import (  # noqa: F401  (fixtures: chain, engine)
    ETHER,
    assert_matches_fresh_index,
    chain,
    config,
    engine,
    index,
)


def proposal(engine, chain, seconds: int = 600, goal: int = ETHER) -> uuid.UUID:
    """An open ETH proposal and its campaign, with the same goal and deadline (as the operator opens it)."""
    deadline = chain_time(chain.rpc) + seconds
    with engine.begin() as conn:
        owner = conn.execute(text("INSERT INTO users (role, email) VALUES ('artist', :email) RETURNING id"),
                             {"email": f"{uuid.uuid4().hex}@example.com"}).scalar_one()
        proposal_id = conn.execute(text(
            "INSERT INTO proposals (owner_id, title, goal, currency, deadline, status) "
            "VALUES (:owner, 'A proposal', :goal, 'ETH', to_timestamp(:deadline), 'open') RETURNING id"),
            {"owner": owner, "goal": goal, "deadline": deadline}).scalar_one()
    chain.platform.open_campaign(proposal_id.int, chain.artist, goal, seconds - 1)  # mined a second later
    return proposal_id


def status(engine, proposal_id: uuid.UUID) -> str:
    with engine.connect() as conn:
        return conn.execute(text("SELECT status FROM proposals WHERE id = :id"), {"id": proposal_id}).scalar_one()


def moves(engine, proposal_id: uuid.UUID) -> list[tuple[str, str, str]]:
    with engine.connect() as conn:
        rows = conn.execute(text(
            "SELECT envelope->'payload'->>'previous_status', envelope->'payload'->>'status', "
            "envelope->'payload'->>'action' FROM outbox WHERE type = 'proposal.state_changed' "
            "AND envelope->>'aggregate_id' = :id ORDER BY id"), {"id": str(proposal_id)}).all()
    return [tuple(row) for row in rows]


def mine(chain, blocks: int = 1, seconds: int = 0) -> None:
    if seconds:
        chain.rpc.call("evm_increaseTime", seconds)
    chain.rpc.call("anvil_mine", hex(blocks))


def test_confirmed_fundings_that_reach_the_goal_fund_the_proposal_and_the_artist_withdraws(chain, engine):
    cfg = config(chain, confirmations=2)
    funded = proposal(engine, chain)
    chain.platform.fund(chain.accounts[2], funded.int, ETHER // 2)
    chain.platform.fund(chain.accounts[3], funded.int, ETHER // 2)
    index(engine, cfg)
    assert status(engine, funded) == "open"  # the goal is reached in a block not yet confirmed
    mine(chain, 2)
    index(engine, cfg)
    assert status(engine, funded) == "funded"
    chain.platform.withdraw(chain.artist, funded.int)
    mine(chain, 2)
    index(engine, cfg)
    assert status(engine, funded) == "withdrawn"
    assert moves(engine, funded) == [("open", "funded", "fund"), ("funded", "withdrawn", "withdraw")]
    assert_matches_fresh_index(engine, chain, cfg)


def test_a_deadline_missed_in_chain_time_fails_the_proposal_and_refunds_keep_it_failed(chain, engine):
    cfg = config(chain)
    missed = proposal(engine, chain, seconds=300)
    chain.platform.fund(chain.accounts[2], missed.int, ETHER // 4)
    index(engine, cfg)
    mine(chain, 1, seconds=200)
    index(engine, cfg)
    assert status(engine, missed) == "open"  # the chain's clock, not ours, has not reached it
    mine(chain, 1, seconds=200)
    index(engine, cfg)
    assert status(engine, missed) == "failed"
    chain.platform.refund(chain.accounts[2], missed.int)
    index(engine, cfg)
    assert status(engine, missed) == "failed"
    with engine.connect() as conn:
        assert conn.execute(text("SELECT raised_total FROM proposals WHERE id = :id"), {"id": missed}).scalar() == 0
    assert moves(engine, missed) == [("open", "failed", "fail")]
    assert_matches_fresh_index(engine, chain, cfg)


def test_a_funding_made_before_the_deadline_and_confirmed_after_it_funds_not_fails(chain, engine):
    cfg = config(chain, confirmations=3)
    late = proposal(engine, chain, seconds=120)
    index(engine, cfg)
    chain.platform.fund(chain.accounts[4], late.int, ETHER)  # in time, on chain
    mine(chain, 3, seconds=300)  # confirmed only after the deadline
    index(engine, cfg)
    assert status(engine, late) == "funded"
    assert moves(engine, late) == [("open", "funded", "fund")]


def test_a_reorg_that_removes_fundings_or_the_withdrawal_moves_the_state_back(chain, engine):
    cfg = config(chain)
    backed = proposal(engine, chain)
    chain.platform.fund(chain.accounts[2], backed.int, ETHER // 2)
    chain.platform.fund(chain.accounts[3], backed.int, ETHER // 2)
    chain.platform.withdraw(chain.artist, backed.int)
    index(engine, cfg)
    assert status(engine, backed) == "withdrawn"
    chain.reorg(1)  # the withdrawal's block is replaced by an empty one
    assert index(engine, cfg).reorgs == 1
    assert status(engine, backed) == "funded"
    chain.reorg(2)  # and now the last funding too
    assert index(engine, cfg).reorgs == 1
    assert status(engine, backed) == "open"
    assert moves(engine, backed) == [("open", "withdrawn", "withdraw"), ("withdrawn", "funded", "fund"),
                                     ("funded", "open", "reopen")]
    assert_matches_fresh_index(engine, chain, cfg)


def test_a_reorg_back_before_the_deadline_reopens_a_failed_proposal_and_its_new_fork_can_fund_it(chain, engine):
    cfg = config(chain)
    saved = proposal(engine, chain, seconds=300)
    mine(chain, 1, seconds=400)
    index(engine, cfg)
    assert status(engine, saved) == "failed"
    # The fork that replaces the late block has a funding in time instead.
    chain.reorg(1, [(chain.funding_tx(chain.accounts[5], saved.int, ETHER), 0)])
    index(engine, cfg)
    assert status(engine, saved) == "funded"
    assert moves(engine, saved) == [("open", "failed", "fail"), ("failed", "open", "reopen"),
                                    ("open", "funded", "fund")]
    assert_matches_fresh_index(engine, chain, cfg)


def test_proposals_without_a_chain_are_left_to_their_artist(chain, engine):
    """Fiat proposals have no campaign: the chain's clock passing their deadline changes nothing
    (decision 0025: their artist closes them)."""
    cfg = config(chain)
    fiat = proposal(engine, chain, seconds=60)
    with engine.begin() as conn:
        conn.execute(text("UPDATE proposals SET currency = 'EUR' WHERE id = :id"), {"id": fiat})
    mine(chain, 1, seconds=120)
    index(engine, cfg)
    assert status(engine, fiat) == "open" and moves(engine, fiat) == []


def test_only_the_chain_that_holds_the_campaign_judges_the_proposal(chain, engine, tmp_path):
    """A second chain (its own contracts, a clock a month ahead) indexes no campaign of this
    proposal: it neither fails nor reopens it (before: every chain judged every ETH proposal)."""
    from local.chain import Platform, Rpc, deploy_platform, start_anvil
    from local.processes import free_port

    cfg = config(chain)
    judged = proposal(engine, chain, seconds=3_600)
    index(engine, cfg)
    port = free_port()
    other = start_anvil(port, tmp_path, chain_id=31_338)
    try:
        rpc = Rpc(f"http://127.0.0.1:{port}")
        elsewhere = Platform(rpc, deploy_platform(rpc))
        rpc.call("evm_increaseTime", 31 * 86_400)
        rpc.call("anvil_mine", "0x2")
        second = cfg.model_copy(update={"chain_id": 31_338, "rpc_url": f"http://127.0.0.1:{port}",
                                        "funding_contract": elsewhere.deployment.funding,
                                        "artwork_contract": elsewhere.deployment.artwork})
        index(engine, second)
    finally:
        other.stop()
    assert status(engine, judged) == "open" and moves(engine, judged) == []


def test_without_a_clock_a_failed_proposal_stays_failed(chain, engine):
    """A rollback to before every kept block leaves no clock (no block time known): the
    deadline's verdict stands until the re-index reaches it again."""
    from shared.chain.indexer import Contracts
    from shared.chain.store import Moved
    from shared.proposals.lifecycle import follow_chain

    cfg = config(chain)
    missed = proposal(engine, chain, seconds=120)
    mine(chain, 1, seconds=600)
    index(engine, cfg)
    assert status(engine, missed) == "failed"
    with engine.begin() as conn:
        assert follow_chain(conn, Moved(cfg.chain_id, Contracts.of(cfg), 1, 0, None, [missed])) == []
    assert status(engine, missed) == "failed"
