"""Issue 24, the ETH half: sales through ArtworkMarket as the indexer derives them.

Against anvil and the real database, through the indexer as the chain-indexer function runs it:
a sale's state, its order and its ledger journal commit with the blocks that decide them, a
reorg moves them back (the ledger by a reversal, never an edit), and a fresh index of the
canonical chain derives the same sales (assert_matches_fresh_index)."""
from __future__ import annotations

import uuid

from sqlalchemy import text

from local.chain import MARKET_FEE_BPS
from shared.chain.abi import checksum
from tests.integration.test_indexer import (  # noqa: F401  (fixtures: chain, engine)
    CHAIN_ID,
    ETHER,
    assert_matches_fresh_index,
    chain,
    config,
    engine,
    index,
)


def fee(amount: int) -> int:
    return amount * MARKET_FEE_BPS // 10_000


def person(conn, wallet: str, role: str = "investor") -> uuid.UUID:
    return conn.execute(text("INSERT INTO users (role, email, wallet_address) VALUES (:role, :email, :wallet) "
                             "RETURNING id"), {"role": role, "email": f"{uuid.uuid4().hex}@example.com",
                                               "wallet": wallet}).scalar_one()


def artwork(engine, chain, seller: str, kind: str = "digital", linked: bool = True) -> int:
    """A token minted to ``seller`` and, if ``linked``, an item of the seller's that names it."""
    token_id = uuid.uuid4().int
    chain.platform.mint(seller, token_id)
    with engine.begin() as conn:
        owner = conn.execute(text("SELECT id FROM users WHERE wallet_address = :w"), {"w": seller}).scalar() \
            or person(conn, seller, "artist")
        if linked:
            conn.execute(text(
                "INSERT INTO items (owner_id, title, kind, price, currency, status, inventory, token_chain_id, "
                "token_contract, token_id, holder_id) VALUES (:owner, 'A work', :kind, :price, 'ETH', 'listed', "
                ":inventory, :chain, :contract, :token, :owner)"),
                {"owner": owner, "kind": kind, "price": ETHER, "inventory": 1 if kind == "physical" else None,
                 "chain": CHAIN_ID,
                 "contract": checksum(chain.platform.deployment.artwork), "token": token_id})
    return token_id


def people(engine, chain, *accounts: str) -> None:
    with engine.begin() as conn:
        for account in accounts:
            person(conn, account)


def sale(engine, sale_id: int) -> dict:
    with engine.connect() as conn:
        row = conn.execute(text("SELECT * FROM chain_sales WHERE sale_id = :id"), {"id": sale_id}).mappings().one_or_none()
    return dict(row) if row else {}


def order(engine, sale_id: int) -> dict:
    with engine.connect() as conn:
        row = conn.execute(text("SELECT o.*, u.wallet_address AS buyer FROM orders o JOIN users u ON u.id = o.buyer_id "
                                "WHERE sale_id = :id"), {"id": sale_id}).mappings().one_or_none()
    return dict(row) if row else {}


def journalled(engine, order_id) -> dict[str, int]:
    """The order's ledger, summed per account (accounts named by wallet for the reader)."""
    with engine.connect() as conn:
        rows = conn.execute(text(
            "SELECT coalesce(u.wallet_address, e.account), sum(e.amount) FROM ledger_entries e "
            "JOIN ledger_journals j ON j.id = e.journal_id "
            "LEFT JOIN users u ON e.account IN ('buyer:' || u.id, 'seller:' || u.id) "
            "WHERE j.order_id = :order GROUP BY 1"), {"order": order_id}).all()
    return {account: int(amount) for account, amount in rows if amount}


def order_events(engine, order_id) -> list[str]:
    with engine.connect() as conn:
        return list(conn.execute(text("SELECT type FROM outbox WHERE envelope->>'aggregate_id' = :id ORDER BY id"),
                                 {"id": str(order_id)}).scalars())


def fixed_price_sale(engine, chain, cfg) -> tuple[str, str, int]:
    """(seller, buyer, sale id): a digital item's token on sale for one ETH, indexed; the buyer has an account."""
    seller, buyer = chain.accounts[1], chain.accounts[2]
    people(engine, chain, buyer)
    sale_id = uuid.uuid4().int
    chain.platform.open_sale(seller, sale_id, artwork(engine, chain, seller), ETHER)
    index(engine, cfg)
    return seller, buyer, sale_id


def test_a_fixed_price_sale_between_two_people_is_an_order_and_a_journal(chain, engine):
    cfg = config(chain)
    seller, buyer, sale_id = fixed_price_sale(engine, chain, cfg)
    opened = sale(engine, sale_id)
    assert (opened["status"], opened["kind"], opened["price"], opened["seller"], opened["ends_at"]) == (
        "open", "fixed", ETHER, seller, None)
    assert order(engine, sale_id) == {}
    chain.platform.buy(buyer, sale_id, ETHER)
    index(engine, cfg)
    sold = sale(engine, sale_id)
    assert (sold["status"], sold["buyer"], sold["amount"], sold["fee"]) == ("sold", buyer, ETHER, fee(ETHER))
    paid = order(engine, sale_id)
    assert (paid["status"], paid["buyer"], paid["amount"], paid["fee"], paid["currency"], paid["hold_id"]) == (
        "fulfilled", buyer, ETHER, fee(ETHER), "ETH", None)  # the token is the delivery
    assert journalled(engine, paid["id"]) == {buyer: -ETHER, seller: ETHER - fee(ETHER), "platform:fees": fee(ETHER)}
    assert order_events(engine, paid["id"]) == ["order.fulfilled"]
    index(engine, cfg)  # nothing new: nothing posted or announced twice
    assert order_events(engine, paid["id"]) == ["order.fulfilled"]
    assert len(journalled(engine, paid["id"])) == 3
    assert_matches_fresh_index(engine, chain, cfg)
    assert order_events(engine, paid["id"]) == ["order.fulfilled"]  # a re-index changes no order


def test_an_auction_follows_its_bids_and_its_settlement_and_only_a_digital_item_makes_an_order(chain, engine):
    cfg = config(chain)
    seller, alice, bob = chain.accounts[1], chain.accounts[3], chain.accounts[4]
    people(engine, chain, alice, bob)
    token_id = artwork(engine, chain, seller, kind="physical")
    sale_id = uuid.uuid4().int
    chain.platform.open_sale(seller, sale_id, token_id, ETHER, 3600)
    chain.platform.bid(alice, sale_id, ETHER)
    chain.platform.bid(bob, sale_id, 2 * ETHER)
    index(engine, cfg)
    running = sale(engine, sale_id)
    assert (running["kind"], running["status"], running["bidder"], running["bid"], running["bids"]) == (
        "auction", "open", bob, 2 * ETHER, 2)
    chain.rpc.call("evm_increaseTime", 3600)
    chain.platform.settle(alice, sale_id)
    index(engine, cfg)
    assert (sale(engine, sale_id)["status"], sale(engine, sale_id)["buyer"]) == ("sold", bob)
    # A physical item sells by card, where its address is taken: a token of one sold on chain
    # (past the API, which refuses it) is the token's sale only.
    assert order(engine, sale_id) == {}
    assert_matches_fresh_index(engine, chain, cfg)


def test_a_reorg_that_removes_the_purchase_cancels_the_order_and_reverses_the_journal(chain, engine):
    cfg = config(chain)
    seller, buyer, other = chain.accounts[1], chain.accounts[5], chain.accounts[6]
    people(engine, chain, buyer, other)
    token_id = artwork(engine, chain, seller)
    sale_id = uuid.uuid4().int
    chain.platform.open_sale(seller, sale_id, token_id, ETHER)
    chain.platform.buy(buyer, sale_id, ETHER)
    index(engine, cfg)
    first = order(engine, sale_id)
    assert first["status"] == "fulfilled"
    chain.reorg(1)  # the purchase's block replaced by an empty one
    assert index(engine, cfg).reorgs == 1
    assert sale(engine, sale_id)["status"] == "open"
    assert order(engine, sale_id)["status"] == "cancelled"
    assert journalled(engine, first["id"]) == {}  # posted, then reversed: the ledger is append-only
    chain.platform.buy(other, sale_id, ETHER)  # on the canonical chain, someone else buys it
    index(engine, cfg)
    second = order(engine, sale_id)
    assert (second["id"], second["status"], second["buyer"]) == (first["id"], "fulfilled", other)
    assert journalled(engine, first["id"]) == {other: -ETHER, seller: ETHER - fee(ETHER),
                                               "platform:fees": fee(ETHER)}
    assert order_events(engine, first["id"]) == ["order.fulfilled", "order.cancelled", "order.fulfilled"]
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM ledger_journals WHERE order_id = :o"),
                            {"o": first["id"]}).scalar_one() == 3
    assert_matches_fresh_index(engine, chain, cfg)


def test_a_rollback_of_the_opening_forgets_the_sale_and_cancellations_and_strangers_make_no_order(chain, engine):
    cfg = config(chain)
    seller, stranger = chain.accounts[1], chain.accounts[7]  # the stranger has no account here
    token_id, unlinked = artwork(engine, chain, seller), artwork(engine, chain, seller, linked=False)
    kept, cancelled, outside = uuid.uuid4().int, uuid.uuid4().int, uuid.uuid4().int
    chain.platform.open_sale(seller, cancelled, token_id, ETHER)
    chain.platform.cancel_sale(seller, cancelled)
    chain.platform.open_sale(seller, outside, unlinked, ETHER)
    chain.platform.buy(stranger, outside, ETHER)
    chain.platform.open_sale(seller, kept, token_id, ETHER)
    index(engine, cfg)
    assert [sale(engine, s)["status"] for s in (cancelled, outside, kept)] == ["cancelled", "sold", "open"]
    assert order(engine, outside) == {}  # sold on chain, but not between two of our people
    chain.reorg(2)  # the approval and the opening of `kept`
    index(engine, cfg)
    assert sale(engine, kept) == {}
    assert sale(engine, cancelled)["status"] == "cancelled"
    assert_matches_fresh_index(engine, chain, cfg)


def test_an_order_keeps_its_buyer_when_the_wallet_is_unlinked_and_a_reorg_replays_the_purchase(chain, engine):
    """Who bought is settled when the order is made: derived again after a reorg (the same purchase
    mined again), the order comes back to the same person although their wallet is no longer linked."""
    from local.chain import encode_call

    cfg = config(chain)
    _, buyer, sale_id = fixed_price_sale(engine, chain, cfg)
    purchase = {"from": buyer, "to": chain.platform.deployment.market, "value": hex(ETHER),
                "data": encode_call("buy(uint256)", sale_id), "gas": hex(300_000)}
    chain.platform.buy(buyer, sale_id, ETHER)
    index(engine, cfg)
    bought = order(engine, sale_id)
    with engine.begin() as conn:
        conn.execute(text("UPDATE users SET wallet_address = NULL WHERE wallet_address = :w"), {"w": buyer})
    chain.reorg(1, [(purchase, 0)])  # the purchase's block replaced by one that holds it again
    assert index(engine, cfg).reorgs == 1
    with engine.connect() as conn:
        again = dict(conn.execute(text("SELECT * FROM orders WHERE sale_id = :id"), {"id": sale_id}).mappings().one())
    assert (again["id"], again["buyer_id"], again["status"]) == (bought["id"], bought["buyer_id"], "fulfilled")
    assert order_events(engine, bought["id"]) == ["order.fulfilled", "order.cancelled", "order.fulfilled"]
    assert sum(journalled(engine, bought["id"]).values()) == 0 and len(journalled(engine, bought["id"])) == 3
