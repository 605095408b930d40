"""Sales for ETH, as the market contract's indexed events say (contracts/ArtworkMarket.sol).

The contract holds the token and every bid, so the chain is the truth of a sale: this module
only derives what the platform shows and records from the indexed events. The chain indexer
calls ``follow_chain`` in the transaction that stores or rolls back blocks (shared/chain/store.py's
``Follow``); every sale those blocks touch is derived again from all of its events, so a reorg
moves a sale back exactly as it moved forward:

    SaleOpened      -> open (fixed price, or an auction with its lowest first bid and its end)
    BidPlaced       -> the leading bid and bidder, the end moved by a late bid
    SaleSettled     -> sold to the buyer (or unsold: an auction without bids)
    SaleCancelled   -> cancelled
    no SaleOpened   -> no sale (a rollback removed it)

A sale opened through the platform (a UUID id), sold by one platform user to another, of a token
linked to a digital item makes an order (``orders.sale_id``), ``fulfilled`` at once: the token is
the delivery. (A physical item sells by card, where its address is taken.) Its money is journalled in the ledger in wei (buyer, seller less the contract's fee,
platform). A rollback that unsells it cancels the order and posts the reversal: the ledger stays
append-only, and its sum per order always equals what the indexed chain says.
"""
from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sqlalchemy import text

from shared.chain.ids import platform_uuid
from shared.events import outbox
from shared.market.order_events import payload
from shared.payments import ledger

if TYPE_CHECKING:
    from sqlalchemy import Connection

    from shared.chain.store import Moved

ZERO_ADDRESS = "0x" + "0" * 40
CURRENCY = "ETH"
_MARKET_EVENTS = "('SaleOpened', 'BidPlaced', 'SaleSettled', 'SaleCancelled')"

# The sales whose events the stored blocks hold, and those whose latest event a rollback removed.
_TOUCHED = f"""
SELECT DISTINCT (args->>'saleId')::numeric FROM web3_transactions
WHERE chain_id = :chain AND contract = :market AND block_number >= :first AND event IN {_MARKET_EVENTS}
UNION
SELECT sale_id FROM chain_sales WHERE chain_id = :chain AND contract = :market AND last_block >= :first
"""
# Every event of those sales, in chain order (partial expression index ix_web3_transactions_sale).
_EVENTS = f"""
SELECT (args->>'saleId')::numeric AS sale_id, event, args, block_number, block_time FROM web3_transactions
WHERE chain_id = :chain AND contract = :market AND event IN {_MARKET_EVENTS}
  AND (args->>'saleId')::numeric = ANY(CAST(:sales AS numeric[]))
ORDER BY 1, block_number, log_index
"""
_COLUMNS = ("seller", "token_contract", "token_id", "kind", "price", "ends_at", "status", "bidder", "bid", "bids",
            "buyer", "amount", "fee", "opened_at", "closed_at", "last_block")
_UPSERT = f"""
INSERT INTO chain_sales (chain_id, contract, sale_id, {', '.join(_COLUMNS)})
VALUES (:chain, :market, :sale_id, {', '.join(':' + c for c in _COLUMNS)})
ON CONFLICT (chain_id, contract, sale_id) DO UPDATE SET
    {', '.join(f'{c} = excluded.{c}' for c in _COLUMNS)}
"""


@dataclass
class Sale:
    """One sale folded from its events."""

    sale_id: Decimal
    seller: str
    token_contract: str
    token_id: int
    kind: str
    price: int
    ends_at: datetime | None
    opened_at: datetime
    last_block: int
    status: str = "open"
    bidder: str | None = None
    bid: int | None = None
    bids: int = 0
    buyer: str | None = None
    amount: int | None = None
    fee: int | None = None
    closed_at: datetime | None = None

    def row(self) -> dict[str, Any]:
        return {column: getattr(self, column) for column in ("sale_id", *_COLUMNS)}


def _time(seconds: str | int) -> datetime:
    return datetime.fromtimestamp(int(seconds), UTC)


def fold(events: Iterable[Any], token_contract: str) -> dict[Decimal, Sale]:
    """Sales from their events (rows of ``_EVENTS``, in chain order); a sale without its
    SaleOpened (removed by a rollback, or never there) is not a sale."""
    sales: dict[Decimal, Sale] = {}
    for event in events:
        args, sale = event.args, sales.get(event.sale_id)
        if event.event == "SaleOpened":
            ends = int(args["endsAt"])
            sales[event.sale_id] = Sale(
                sale_id=event.sale_id, seller=args["seller"], token_contract=token_contract,
                token_id=int(args["tokenId"]), kind="auction" if ends else "fixed", price=int(args["price"]),
                ends_at=_time(ends) if ends else None, opened_at=event.block_time, last_block=event.block_number)
            continue
        if sale is None:
            continue
        sale.last_block = event.block_number
        if event.event == "BidPlaced":
            sale.bidder, sale.bid, sale.bids = args["bidder"], int(args["amount"]), sale.bids + 1
            sale.ends_at = _time(args["endsAt"])
        elif event.event == "SaleSettled":
            sold = args["buyer"] != ZERO_ADDRESS
            sale.status, sale.closed_at = ("sold" if sold else "unsold"), event.block_time
            sale.buyer, sale.amount, sale.fee = (args["buyer"], int(args["amount"]), int(args["fee"])) if sold \
                else (None, None, None)
        else:  # SaleCancelled
            sale.status, sale.closed_at = "cancelled", event.block_time
    return sales


def follow_chain(conn: Connection, moved: Moved) -> dict[Decimal, str]:
    """Derive every sale the moved blocks touch again, with its order and ledger journal;
    returns the sales' statuses (a sale no longer there: ``gone``)."""
    market, artwork = moved.contracts.market, moved.contracts.artwork
    if market is None or artwork is None:
        return {}
    params = {"chain": moved.chain_id, "market": market}
    touched = list(conn.execute(text(_TOUCHED), {**params, "first": moved.first_block}).scalars())
    if not touched:
        return {}
    events = conn.execute(text(_EVENTS), {**params, "sales": [str(sale) for sale in touched]}).all()
    sales = fold(events, artwork)
    gone = [sale for sale in touched if sale not in sales]
    if gone:
        conn.execute(text("DELETE FROM chain_sales WHERE chain_id = :chain AND contract = :market "
                          "AND sale_id = ANY(CAST(:gone AS numeric[]))"), {**params, "gone": [str(g) for g in gone]})
    for sale in sales.values():
        conn.execute(text(_UPSERT), {**params, **sale.row()})
    for sale_id in touched:
        _settle_order(conn, moved.chain_id, market, sale_id, sales.get(sale_id))
    return {sale_id: sales[sale_id].status if sale_id in sales else "gone" for sale_id in touched}


# -- orders and the ledger -----------------------------------------------------------------

_PARTIES = """
SELECT (SELECT id FROM users WHERE wallet_address = :buyer AND deleted_at IS NULL) AS buyer_id,
       (SELECT id FROM users WHERE wallet_address = :seller AND deleted_at IS NULL) AS seller_id,
       i.id AS item_id, i.kind AS item_kind
FROM (SELECT 1) one LEFT JOIN items i
  ON i.token_chain_id = :chain AND i.token_contract = :token_contract AND i.token_id = :token_id
"""
_ORDER_COLUMNS = "id, buyer_id, seller_id, item_id, auction_id, quantity, amount, fee, currency, status"
_EXISTING = f"""
SELECT {_ORDER_COLUMNS}, buyer_wallet FROM orders
WHERE chain_id = :chain AND sale_contract = :market AND sale_id = :sale_id
"""
# A digital item's token is its delivery: an order paid on chain is fulfilled with the sale.
_MAKE_ORDER = f"""
INSERT INTO orders (buyer_id, seller_id, item_id, amount, fee, currency, status, chain_id, sale_contract, sale_id,
                    buyer_wallet, paid_at, fulfilled_at)
VALUES (:buyer_id, :seller_id, :item_id, :amount, :fee, '{CURRENCY}', 'fulfilled', :chain, :market, :sale_id,
        :buyer_wallet, :closed_at, :closed_at)
ON CONFLICT (chain_id, sale_contract, sale_id) DO UPDATE SET
    buyer_id = excluded.buyer_id, buyer_wallet = excluded.buyer_wallet, amount = excluded.amount,
    fee = excluded.fee, status = excluded.status, paid_at = excluded.paid_at, fulfilled_at = excluded.fulfilled_at,
    updated_at = now()
RETURNING {_ORDER_COLUMNS}
"""
_CANCEL_ORDER = f"""
UPDATE orders SET status = 'cancelled', updated_at = now()
WHERE chain_id = :chain AND sale_contract = :market AND sale_id = :sale_id AND status <> 'cancelled'
RETURNING {_ORDER_COLUMNS}
"""


def _settle_order(conn: Connection, chain_id: int, market: str, sale_id: Decimal, sale: Sale | None) -> None:
    """The sale's order as the chain now says, its journals brought to what it is worth, and its
    event if it changed. A sale sold through the platform, between two of its people, of a
    digital item's token is an order; anything else cancels the order it may have had.

    Who the parties are is settled when the order is first made (their wallets' links then)
    and kept while the chain's buyer stays the same: a wallet unlinked since, or a reorg that
    derives the sale again, never moves an order to someone else."""
    keys = {"chain": chain_id, "market": market, "sale_id": sale_id}
    existing = conn.execute(text(_EXISTING), keys).one_or_none()
    parties = None
    # A sale opened with an id the platform never gives (eth_sales gives UUIDs) makes no order.
    platform_id = platform_uuid(int(sale_id))
    if sale is not None and sale.status == "sold" and platform_id is not None:
        if existing is not None and existing.buyer_wallet == sale.buyer:
            parties = existing
        else:
            found = conn.execute(text(_PARTIES), {"chain": chain_id, "buyer": sale.buyer, "seller": sale.seller,
                                                  "token_contract": sale.token_contract,
                                                  "token_id": sale.token_id}).one()
            if None not in (found.buyer_id, found.seller_id, found.item_id) and found.item_kind == "digital":
                parties = found
    changed = None
    if parties is not None:
        standing = existing is not None and existing.status != "cancelled" and existing.buyer_wallet == sale.buyer \
            and (int(existing.amount), int(existing.fee)) == (sale.amount, sale.fee)
        if not standing:
            changed = conn.execute(text(_MAKE_ORDER), {
                **keys, "buyer_id": parties.buyer_id, "seller_id": parties.seller_id, "item_id": parties.item_id,
                "amount": sale.amount, "fee": sale.fee, "buyer_wallet": sale.buyer,
                "closed_at": sale.closed_at}).one()
    elif existing is not None and existing.status != "cancelled":
        changed = conn.execute(text(_CANCEL_ORDER), keys).one()
    order = changed or existing
    if order is None:
        return
    _journal(conn, order.id, [] if order.status == "cancelled" else
             ledger.sale(order.buyer_id, order.seller_id, int(order.amount), int(order.fee)))
    if changed is not None:
        outbox.record(conn, f"order.{order.status}", "order", order.id,
                      {**payload(order), "chain_id": chain_id, "sale_id": str(platform_id)})


def _journal(conn: Connection, order_id: uuid.UUID, target: list[tuple[str, int]]) -> None:
    """Post what takes the order's journals to ``target`` (nothing if they are there already).
    Keys count the order's journals: a sale unsold and sold again by reorgs posts anew."""
    posted = dict(conn.execute(text(
        "SELECT e.account, sum(e.amount) FROM ledger_entries e JOIN ledger_journals j ON j.id = e.journal_id "
        "WHERE j.order_id = :order GROUP BY e.account"), {"order": order_id}).all())
    wanted = dict(target)
    legs = [(account, wanted.get(account, 0) - int(posted.get(account, 0)))
            for account in sorted(wanted.keys() | posted.keys())]
    legs = [(account, amount) for account, amount in legs if amount]
    if not legs:
        return
    count = conn.execute(text("SELECT count(*) FROM ledger_journals WHERE order_id = :order"),
                         {"order": order_id}).scalar_one()
    ledger.post(conn, key=f"chain-sale:{order_id}:{count + 1}", kind="sale" if target else "sale_reversal",
                currency=CURRENCY, legs=legs, order_id=order_id)
