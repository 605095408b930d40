"""Adaptive getLogs ranges: providers' own words give the next range; otherwise halve."""
import pytest

from shared.chain.indexer import _chunks
from shared.chain.ranges import RangePolicy, suggested_span

PROVIDER_MESSAGES = [
    # Infura: a range that fits
    ("query returned more than 10000 results. Try with this block range [0x3C4A1B0, 0x3C4A2C7].", 280),
    # Alchemy: a limit, and (newer wording) a range
    ("Log response size exceeded. You can make eth_getLogs requests with up to a 2K block range and no limit "
     "on the response size, or you can use a 10K block range", 2000),
    ("Log response size exceeded. this block range should work: [0x10, 0x1f]", 16),
    # QuickNode
    ("eth_getLogs is limited to a 10,000 range", 10_000),
    # Ankr / geth-style, reth
    ("exceed maximum block range: 5000", 5000),
    ("query exceeds max block range 100000", 100_000),
    # Chainstack free tier
    ("ranges over 10000 blocks are not supported on freetier", 10_000),
    # thirdweb
    ("query exceeds max results 20000, retry with the range 24383075-24383096", 22),
    # a request range is not a suggestion; the stated maximum is
    ("requested too many blocks from 100 to 300, maximum is set to 100", 100),
    # nothing to go by
    ("block range is too wide", None),
    ("internal error", None),
]


@pytest.mark.parametrize(("message", "span"), PROVIDER_MESSAGES)
def test_provider_messages(message, span):
    assert suggested_span(message) == span


def test_shrink_to_what_the_provider_says_then_grow_back_no_further():
    policy = RangePolicy(size=10_000, max_size=10_000)
    assert policy.shrink("exceed maximum block range: 5000", 10_000) == 5000
    assert policy.grow() == 5000  # the stated limit caps growth
    assert policy.shrink("block range is too wide", 5000) == 2500
    assert [policy.grow() for _ in range(3)] == [5000, 5000, 5000]


def test_unhelpful_errors_halve_down_to_one_block():
    policy = RangePolicy(size=8, max_size=100)
    assert [policy.shrink("boom", policy.size) for _ in range(4)] == [4, 2, 1, 1]
    assert [policy.grow() for _ in range(8)] == [2, 4, 8, 16, 32, 64, 100, 100]


def test_a_suggestion_wider_than_the_failed_request_halves_instead():
    policy = RangePolicy(size=100, max_size=1000)
    assert policy.shrink("exceed maximum block range: 5000", 100) == 50


def test_busy_ranges_shrink_towards_the_events_target():
    policy = RangePolicy(size=1000, max_size=10_000)
    assert policy.adapt(span=1000, events=50_000, max_events=5000) == 100
    assert policy.adapt(span=100, events=6000, max_events=5000) == 200  # within 2x: grow


def _logs(blocks):
    return [{"blockNumber": hex(b)} for b in blocks]


def test_commits_are_cut_between_blocks():
    logs = _logs([1, 1, 2, 2, 2, 3, 5, 5])
    chunks = [([int(log["blockNumber"], 16) for log in chunk], last) for chunk, last in _chunks(logs, 9, 2)]
    assert chunks == [([1, 1], 1), ([2, 2, 2], 2), ([3, 5, 5], 9)]
    assert [(len(c), last) for c, last in _chunks(_logs([4, 4, 4]), 6, 1)] == [(3, 6)]
    assert [(len(c), last) for c, last in _chunks([], 6, 10)] == [(0, 6)]
