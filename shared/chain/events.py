"""The events the indexer reads, written as the contracts declare them.

Functions deploy without contracts/, so the signatures live here; a test proves
they equal the ABI in the committed artifacts.
"""
from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from shared.chain.abi import EventSpec, Param

FUNDING_EVENTS = (
    "CampaignOpened(uint256 indexed proposalId, address indexed artist, uint256 goal, uint64 deadline)",
    "Funded(uint256 indexed proposalId, address indexed backer, uint256 amount)",
    "Withdrawn(uint256 indexed proposalId, address indexed artist, uint256 amount)",
    "Refunded(uint256 indexed proposalId, address indexed backer, uint256 amount)",
)
ARTWORK_EVENTS = ("Transfer(address indexed from, address indexed to, uint256 indexed tokenId)",)
MARKET_EVENTS = (
    "SaleOpened(uint256 indexed saleId, address indexed seller, uint256 indexed tokenId, uint256 price, "
    "uint64 endsAt)",
    "BidPlaced(uint256 indexed saleId, address indexed bidder, uint256 amount, uint64 endsAt)",
    "SaleSettled(uint256 indexed saleId, address indexed buyer, uint256 amount, uint256 fee)",
    "SaleCancelled(uint256 indexed saleId)",
    "Withdrawal(address indexed account, uint256 amount)",
)
# The argument stored in web3_transactions.amount, first found wins.
AMOUNT_ARGS = ("amount", "goal")
# Outbox event type per indexed event; others are stored but not announced.
ANNOUNCED = {"Funded": "chain.funded", "Refunded": "chain.refunded", "Transfer": "chain.transfer"}

_DECLARATION = re.compile(r"^(\w+)\((.*)\)$")


def parse_event(declaration: str) -> EventSpec:
    match = _DECLARATION.match(declaration.strip())
    if match is None:
        raise ValueError(f"not an event declaration: {declaration!r}")
    params = []
    for part in filter(None, (p.strip() for p in match.group(2).split(","))):
        words = part.split()
        params.append(Param(name=words[-1], type=words[0], indexed="indexed" in words[1:-1]))
    return EventSpec(match.group(1), params)


@lru_cache(maxsize=1)
def funding_specs() -> dict[str, EventSpec]:
    return {spec.topic0: spec for spec in map(parse_event, FUNDING_EVENTS)}


@lru_cache(maxsize=1)
def artwork_specs() -> dict[str, EventSpec]:
    return {spec.topic0: spec for spec in map(parse_event, ARTWORK_EVENTS)}


@lru_cache(maxsize=1)
def market_specs() -> dict[str, EventSpec]:
    return {spec.topic0: spec for spec in map(parse_event, MARKET_EVENTS)}





def amount_of(args: dict[str, Any]) -> int | None:
    for name in AMOUNT_ARGS:
        if name in args:
            return args[name]
    return None
