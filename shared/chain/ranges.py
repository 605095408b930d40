"""Adaptive eth_getLogs block ranges.

Providers cap getLogs by block span or by result count and say so in their own
words. When the message names a range that works (Infura, Alchemy, thirdweb) or a
limit (QuickNode, Ankr, reth, Chainstack, ...), the next request uses it; any other
failure halves the range. After each success the range doubles back towards the
configured maximum, but never past a limit a provider has stated.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

_NUMBER = r"(0x[0-9a-fA-F]+|[0-9][0-9,_]*(?:\.[0-9]+)?\s*[kK]?)"
# "[0x1a, 0x2b]", "retry with the range 100-200" (not "requested from 100 to 300": that is the request)
_SUGGESTED = re.compile(rf"\[\s*{_NUMBER}\s*,\s*{_NUMBER}\s*\]|range\s+{_NUMBER}\s*-\s*{_NUMBER}")
# "up to a 2K block range", "limited to a 10,000 range", "max block range 5000",
# "maximum block range: 5000", "ranges over 10000 blocks", "maximum is set to 100"
_LIMIT = re.compile(
    rf"(?:up to an?|limited to an?|max(?:imum)?(?: block)? range(?: is| of)?:?|ranges over|range of|"
    rf"range limit(?: of)?:?|maximum is(?: set to)?|exceeds? (?:the )?max(?:imum)? block range(?: of)?:?)\s*{_NUMBER}",
    re.IGNORECASE,
)


def _number(text: str) -> int:
    text = text.strip().replace(",", "").replace("_", "")
    if text.lower().startswith("0x"):
        return int(text, 16)
    if text[-1] in "kK":
        return int(float(text[:-1].strip()) * 1000)
    return int(float(text))


def suggested_span(message: str) -> int | None:
    """How many blocks the provider says one request may cover, if it says."""
    match = _SUGGESTED.search(message)
    if match:
        low, high = [_number(group) for group in match.groups() if group is not None]
        if high >= low:
            return high - low + 1
    match = _LIMIT.search(message)
    if match:
        limit = _number(match.group(1))
        return limit if limit > 0 else None
    return None


@dataclass
class RangePolicy:
    size: int
    max_size: int
    # A limit a provider stated: growth stops there.
    ceiling: int | None = None

    def __post_init__(self) -> None:
        self.size = max(1, min(self.size, self.max_size))

    def shrink(self, message: str, span: int) -> int:
        """After a failed request that covered ``span`` blocks; returns the new size."""
        stated = suggested_span(message)
        if stated is not None and stated < span:
            self.size = stated
            self.ceiling = stated if self.ceiling is None else min(self.ceiling, stated)
        else:
            self.size = max(1, span // 2)
        return self.size

    def adapt(self, span: int, events: int, max_events: int) -> int:
        """After a successful read: aim at ranges of at most ``max_events`` events (memory
        stays bounded in busy stretches), otherwise grow back."""
        if events > 2 * max_events:
            self.size = max(1, span * max_events // events)
            return self.size
        return self.grow()

    def grow(self) -> int:
        limit = min(self.max_size, self.ceiling or self.max_size)
        self.size = max(1, min(limit, self.size * 2))
        return self.size
