"""The auction rules hold for any sequence of bids (hypothesis)."""
from datetime import UTC, datetime, timedelta
from itertools import pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.market.auction_rules import AuctionState, BidRefused, minimum_bid, outcome, place

START = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
BIDDERS = ["seller", "ann", "ben", "cy"]


def auction(**overrides) -> AuctionState:
    values = {"seller": "seller", "starts_at": START, "ends_at": START + timedelta(minutes=30), "starting_price": 100,
              "min_increment": 10, "extension": timedelta(minutes=5)}
    values.update(overrides)
    return AuctionState(**values)


bids = st.lists(st.tuples(st.sampled_from(BIDDERS), st.integers(0, 2_000),
                          st.integers(-60, 60 * 60)), max_size=40)  # (bidder, amount, seconds since start)


@settings(max_examples=400, deadline=None)
@given(bids, st.integers(0, 900), st.one_of(st.none(), st.integers(100, 1_500)))
def test_invariants_for_any_bid_sequence(sequence, extension, reserve):
    state = auction(extension=timedelta(seconds=extension))
    accepted: list[tuple[str, int, datetime]] = []
    for bidder, amount, offset in sorted(sequence, key=lambda bid: bid[2]):
        now = START + timedelta(seconds=offset)
        before = state
        try:
            state = place(state, bidder, amount, now)
        except BidRefused:
            assert state == before  # a refused bid changes nothing
            continue
        accepted.append((bidder, amount, now))
        assert bidder != "seller"
        assert before.starts_at <= now < before.ends_at  # only while open, by the end known at the time
        assert amount >= minimum_bid(before)
        assert state.ends_at >= before.ends_at  # the end never moves earlier...
        if before.ends_at - now < state.extension:
            assert state.ends_at == now + state.extension  # ...and a late bid leaves time to answer
    amounts = [amount for _, amount, _ in accepted]
    # No lower bid after a higher one, and every step is at least the increment.
    assert all(later - earlier >= 10 for earlier, later in pairwise(amounts))
    assert state.bids == len(accepted)
    result, winner = outcome(state, reserve)
    if not accepted:
        assert (result, winner) == ("no_bids", None)
    elif reserve is not None and amounts[-1] < reserve:
        assert (result, winner) == ("reserve_not_met", None)
    else:
        assert (result, winner) == ("sold", accepted[-1][0])


@given(st.integers(100, 10_000))
def test_exactly_one_bid_takes_a_price_level(amount):
    state = place(auction(), "ann", amount, START)
    with pytest.raises(BidRefused) as refused:
        place(state, "ben", amount, START + timedelta(seconds=1))
    assert refused.value.code == "bid-too-low"


@pytest.mark.parametrize(("bidder", "amount", "offset", "code"), [
    ("seller", 500, 10, "own-item"),
    ("ann", 99, 10, "bid-too-low"),
    ("ann", 500, -1, "auction-not-started"),
    ("ann", 500, 30 * 60, "auction-ended"),
])
def test_refusals_say_why(bidder, amount, offset, code):
    with pytest.raises(BidRefused) as refused:
        place(auction(), bidder, amount, START + timedelta(seconds=offset))
    assert refused.value.code == code
