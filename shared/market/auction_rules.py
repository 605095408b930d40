"""The auction rules as pure functions: what a bid needs, what it changes, who wins.

The database layer (shared/market/auctions.py) applies them under a row lock on the auction,
so bids on one auction are decided one at a time against the latest state; these
functions are what the property-based tests exercise.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta


class BidRefused(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class AuctionState:
    seller: str
    starts_at: datetime
    ends_at: datetime
    starting_price: int
    min_increment: int
    extension: timedelta
    status: str = "open"
    current_price: int | None = None
    leader: str | None = None
    bids: int = 0


def minimum_bid(state: AuctionState) -> int:
    return state.starting_price if state.current_price is None else state.current_price + state.min_increment


def place(state: AuctionState, bidder: str, amount: int, now: datetime) -> AuctionState:
    """The state after an accepted bid, or BidRefused saying why not."""
    if state.status != "open":
        raise BidRefused("auction-closed", f"the auction is {state.status}")
    if bidder == state.seller:
        raise BidRefused("own-item", "you cannot bid on your own item")
    if now < state.starts_at:
        raise BidRefused("auction-not-started", f"bidding opens at {state.starts_at.isoformat()}")
    if now >= state.ends_at:
        raise BidRefused("auction-ended", "bidding has ended")
    needed = minimum_bid(state)
    if amount < needed:
        raise BidRefused("bid-too-low", f"the lowest acceptable bid is {needed}")
    # Anti-sniping: a bid in the last minutes leaves the others that long to answer.
    ends_at = max(state.ends_at, now + state.extension)
    return replace(state, current_price=amount, leader=bidder, bids=state.bids + 1, ends_at=ends_at)


def outcome(state: AuctionState, reserve: int | None) -> tuple[str, str | None]:
    """(outcome, winner) once the auction has ended."""
    if state.leader is None or state.current_price is None:
        return "no_bids", None
    if reserve is not None and state.current_price < reserve:
        return "reserve_not_met", None
    return "sold", state.leader
