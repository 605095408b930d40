"""Selling and buying artwork tokens for ETH: what the wallet signs (decision 0028).

The market contract (contracts/ArtworkMarket.sol) holds the token and every bid, so nothing
here moves money or writes a row: each route checks the request against the sale as the
indexer derived it (shared/market/chain_sales.py) and answers the transactions the caller's
linked wallet must send. What the chain then does, the indexer records. A check here saves the
caller a transaction that would revert and its gas; the contract enforces every rule again.
"""
from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Literal

from pydantic import ConfigDict, Field
from sqlalchemy import text

from shared.chain.abi import checksum, encode_call
from shared.chain.ids import PLATFORM_IDS, platform_uuid
from shared.errors import Conflict, Forbidden, ValidationFailed
from shared.market import items
from shared.types import AmountIn, AmountOut, ApiModel

if TYPE_CHECKING:
    from sqlalchemy import Connection
    from sqlalchemy.engine import Row

    from shared.identity.access import Viewer

CURRENCY = "ETH"
# contracts/ArtworkMarket.sol's constants.
MIN_RAISE_BPS = 500
MAX_DURATION = timedelta(days=30)
MIN_DURATION = timedelta(minutes=10)
UINT256_MAX = 2**256 - 1


class TxCall(ApiModel):
    """One transaction for the wallet to send (eth_sendTransaction's fields)."""

    to: str = Field(description="the contract (EIP-55)")
    data: str = Field(description="0x-hex call data", pattern="^0x[0-9a-f]*$")
    value: AmountOut = Field(description="wei to send with it")


class SaleCalls(ApiModel):
    sale_id: uuid.UUID = Field(description="the sale's id on chain (the UUID as uint256)")
    chain_id: int
    sender: str = Field(description="the caller's linked wallet, the one that must send these, in order (EIP-55)")
    calls: list[TxCall]


class SaleIn(ApiModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["fixed", "auction"] = Field(description="fixed: sold at the price; auction: the price is the lowest "
                                                           "first bid")
    price: AmountIn = Field(description="wei")
    duration_seconds: int | None = Field(default=None, ge=int(MIN_DURATION.total_seconds()),
                                         le=int(MAX_DURATION.total_seconds()), description="an auction's length")


class BidIn(ApiModel):
    model_config = ConfigDict(extra="forbid")

    amount: AmountIn = Field(description="wei, paid into the contract with the bid")


class SaleOut(ApiModel):
    id: uuid.UUID
    chain_id: int
    contract: str = Field(description="the market contract (EIP-55)")
    kind: Literal["fixed", "auction"]
    status: Literal["open", "sold", "unsold", "cancelled"]
    price: AmountOut = Field(description="wei: the price, or an auction's lowest first bid")
    ends_at: datetime | None = Field(description="an auction's end on the chain's clock (late bids move it)")
    seller: str
    bid: AmountOut | None
    bidder: str | None
    bids: int
    minimum_bid: AmountOut | None = Field(description="an open auction's lowest acceptable bid now")
    buyer: str | None
    amount: AmountOut | None
    opened_at: datetime
    closed_at: datetime | None


class SaleList(ApiModel):
    items: list[SaleOut]


# Sales the platform opened (their ids are UUIDs); newest first.
_SALES = """
SELECT * FROM chain_sales WHERE chain_id = :chain AND token_contract = :token_contract AND token_id = :token_id
  AND sale_id < :platform_ids
ORDER BY opened_at DESC, sale_id LIMIT 20
"""


def minimum_bid(row: Row) -> int:
    """As the contract's minimumBid: the price first, then the leading bid and 5% (at least 1 wei)."""
    if row.bid is None:
        return int(row.price)
    return int(row.bid) + max(int(row.bid) * MIN_RAISE_BPS // 10_000, 1)


def _out(row: Row) -> SaleOut:
    return SaleOut(id=platform_uuid(int(row.sale_id)), chain_id=row.chain_id, contract=checksum(row.contract),
                   kind=row.kind, status=row.status, price=int(row.price), ends_at=row.ends_at, seller=row.seller,
                   bid=row.bid and int(row.bid), bidder=row.bidder, bids=row.bids,
                   minimum_bid=minimum_bid(row) if row.status == "open" and row.kind == "auction" else None,
                   buyer=row.buyer, amount=row.amount and int(row.amount), opened_at=row.opened_at,
                   closed_at=row.closed_at)


def _has_token(item: Row, chain_id: int | None) -> bool:
    """Whether the item is linked to an artwork token on the platform's chain."""
    return item.token_id is not None and item.token_chain_id == chain_id


def _tokenized(conn: Connection, item_id: uuid.UUID, viewer: Viewer | None, chain_id: int | None, *,
               hidden_too: bool = False) -> Row:
    item = items.read(conn, item_id, viewer, hidden_too=hidden_too)
    if not _has_token(item, chain_id):
        raise Conflict("this item has no artwork token on the platform's chain: link one first")
    return item


def of_item(conn: Connection, item_id: uuid.UUID, viewer: Viewer | None, chain_id: int | None) -> SaleList:
    item = items.read(conn, item_id, viewer)
    if not _has_token(item, chain_id):
        return SaleList(items=[])
    rows = conn.execute(text(_SALES), {"chain": chain_id, "token_contract": item.token_contract,
                                       "token_id": item.token_id, "platform_ids": PLATFORM_IDS}).all()
    return SaleList(items=[_out(row) for row in rows])


def _market(market: str | None) -> str:
    if not market:
        raise Conflict("this deployment names no market contract: ETH sales are not available")
    return checksum(market)


def _wallet(viewer: Viewer) -> str:
    if viewer.wallet_address is None:
        raise Conflict("link a wallet first: it sends the transaction")
    return viewer.wallet_address


def open_sale(conn: Connection, item_id: uuid.UUID, viewer: Viewer, data: SaleIn, *, chain_id: int | None,
              market: str | None) -> SaleCalls:
    """Approve the market for the token, then open the sale: for the token's holder only (the
    artist, or a collector who bought it), as the indexer last saw the chain."""
    contract = _market(market)
    item = _tokenized(conn, item_id, viewer, chain_id)
    if item.currency != CURRENCY:
        raise Conflict(f"this item is priced in {item.currency}: ETH sales are for items priced in ETH")
    if item.status != "listed":
        raise Conflict(f"this item is {item.status}: list it first")
    if item.kind != "digital":
        raise Conflict("a physical item sells by card, where its shipping address is taken")
    if not 0 < data.price <= UINT256_MAX:
        raise ValidationFailed("price: more than nothing, at most a uint256")
    if (data.kind == "auction") != (data.duration_seconds is not None):
        raise ValidationFailed("duration_seconds: an auction needs one, a fixed price takes none")
    wallet = _wallet(viewer)
    owner = conn.execute(text("SELECT owner FROM artwork_tokens WHERE chain_id = :chain AND contract = :contract "
                              "AND token_id = :token"), {"chain": chain_id, "contract": item.token_contract,
                                                         "token": item.token_id}).scalar_one_or_none()
    if owner == contract:
        raise Conflict("this token is on sale on chain already")
    if owner != wallet:
        raise Forbidden("only the token's holder may sell it (as the indexer last saw the chain)")
    sale_id = uuid.uuid4()
    return SaleCalls(sale_id=sale_id, chain_id=chain_id, sender=wallet, calls=[
        TxCall(to=item.token_contract, data=encode_call("approve(address,uint256)", contract, int(item.token_id)),
               value=0),
        TxCall(to=contract, data=encode_call("openSale(uint256,uint256,uint256,uint64)", sale_id.int,
                                             int(item.token_id), data.price, data.duration_seconds or 0), value=0)])


ACTIONS = ("buy", "bid", "settle", "cancel")


def _chain_clock(conn: Connection, chain_id: int | None) -> datetime | None:
    """The chain's clock as last indexed: the newest indexed block's time (behind the head by
    the confirmations)."""
    return conn.execute(text("SELECT max(time) FROM chain_blocks WHERE chain_id = :chain"),
                        {"chain": chain_id}).scalar_one()


def act(conn: Connection, item_id: uuid.UUID, sale_id: uuid.UUID, viewer: Viewer, action: str,
        amount: int | None, *, chain_id: int | None, market: str | None, now: datetime | None = None) -> SaleCalls:
    """The transaction that buys, bids on, settles or cancels one of the item's open sales."""
    contract = _market(market)
    # A hidden item's sale takes no buyer nor bid, but what is escrowed can always be settled or
    # taken back (decision 0031): the money and the token in it are people's own.
    item = _tokenized(conn, item_id, viewer, chain_id, hidden_too=action in ("settle", "cancel"))
    row = conn.execute(text("SELECT * FROM chain_sales WHERE chain_id = :chain AND contract = :contract "
                            "AND sale_id = :sale AND token_contract = :token_contract AND token_id = :token"),
                       {"chain": chain_id, "contract": contract, "sale": sale_id.int,
                        "token_contract": item.token_contract, "token": item.token_id}).one_or_none()
    if row is None:
        raise Conflict("no such sale of this item on chain (yet: the indexer waits for confirmations)")
    if row.status != "open":
        raise Conflict(f"this sale is {row.status}")
    wallet, now = _wallet(viewer), now or datetime.now(UTC)
    value = 0
    if action == "buy":
        if row.kind != "fixed":
            raise Conflict("an auction is bid on, not bought")
        value = int(row.price)
    elif action == "bid":
        # Over by either clock: a bid the chain may already refuse is not prepared.
        if row.kind != "auction" or row.ends_at <= max(now, _chain_clock(conn, chain_id) or now):
            raise Conflict("bids are for an auction that has not ended")
        if amount is None or amount < minimum_bid(row) or amount > UINT256_MAX:
            raise ValidationFailed(f"amount: at least {minimum_bid(row)} wei")
        value = amount
    elif action == "settle":
        # Over on the chain's own clock: the next block is no earlier than an indexed one.
        if row.kind != "auction" or row.ends_at > (_chain_clock(conn, chain_id) or now):
            raise Conflict("only an auction that has ended on chain is settled")
    elif wallet != row.seller:
        raise Forbidden("only its seller cancels a sale")
    elif row.bids:
        raise Conflict("an auction with bids runs to its end")
    call = f"{action}(uint256)"
    return SaleCalls(sale_id=sale_id, chain_id=chain_id, sender=wallet,
                     calls=[TxCall(to=contract, data=encode_call(call, sale_id.int), value=value)])
