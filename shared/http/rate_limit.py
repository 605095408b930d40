"""Rate limits, per client address and per user, in buckets per function and route class.

Route classes (decision 0024): **writes** and **expensive reads** (search, graph traversals)
are counted in PostgreSQL, shared by every instance; **plain reads** (per account when signed
in, per address when not) are counted in the instance's memory, which costs no round trip and
holds per instance (so at most ``max_instances`` times the rate in all).

Both counters are GCRA (the generic cell rate algorithm): each key stores only its
*theoretical arrival time* (TAT). A request is allowed when, after adding one emission
interval, the TAT is no further ahead of now than the burst allows. In PostgreSQL one
UPSERT decides every key of a request at once, atomically, on the database clock, so
instances with skewed clocks agree and concurrent requests cannot both take the last
slot; the table is UNLOGGED: fast, and a crash only forgets the counters.

The client address is the first one, from the right, that no trusted proxy wrote: a
caller reaching a function directly (its ``run.app`` URL, past Hosting) cannot choose it.
"""
from __future__ import annotations

import ipaddress
import math
import random
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import text

from shared.errors import TooManyRequests

if TYPE_CHECKING:
    from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network

    from sqlalchemy import Connection

    Network = IPv4Network | IPv6Network

# Keys idle for a minute hold nothing a fresh key would not: forget some of them now and then.
PRUNE_PROBABILITY = 0.002

_TAKE = text("""
    INSERT INTO rate_limits AS r (key, tat)
    SELECT key, clock_timestamp() + make_interval(secs => :interval)
    FROM unnest(string_to_array(:keys, ' ')) AS key
    ON CONFLICT (key) DO UPDATE
        SET tat = greatest(r.tat, clock_timestamp()) + make_interval(secs => :interval)
        WHERE greatest(r.tat, clock_timestamp()) <= clock_timestamp() + make_interval(secs => :window)
    RETURNING key
""")
_WAIT = text("""
    SELECT max(extract(epoch FROM tat - clock_timestamp()) - :window)
    FROM rate_limits WHERE key = ANY(string_to_array(:keys, ' '))
""")
_PRUNE = text("DELETE FROM rate_limits WHERE tat < clock_timestamp() - interval '1 minute'")


@dataclass(frozen=True)
class Limit:
    per_second: float
    burst: int

    @property
    def interval(self) -> float:
        return 1.0 / self.per_second

    @property
    def window(self) -> float:
        """How far ahead of now the TAT may run before requests are refused."""
        return (self.burst - 1) * self.interval


def take(conn: Connection, keys: list[str], limit: Limit) -> None:
    """Count one request against every key, or raise 429 naming when to retry.

    Keys never contain spaces (``<function>/<class>/ip:<address>``, ``…/user:<uid>``).
    """
    params = {"keys": " ".join(keys), "interval": limit.interval, "window": limit.window}
    allowed = {row.key for row in conn.execute(_TAKE, params)}
    if random.random() < PRUNE_PROBABILITY:
        conn.execute(_PRUNE)
    refused = [key for key in keys if key not in allowed]
    if refused:
        wait = conn.execute(_WAIT, {**params, "keys": " ".join(refused)}).scalar() or 0
        retry_after = max(1, math.ceil(float(wait)))
        raise _refusal(limit, retry_after)


def _refusal(limit: Limit, retry_after: int) -> TooManyRequests:
    return TooManyRequests(f"slow down: at most {limit.per_second:g} requests of this kind per second",
                           headers={"Retry-After": str(retry_after)})


class InstanceLimiter:
    """GCRA in this instance's memory: for reads, where a shared counter's round trip
    would cost more than the read it guards."""

    def __init__(self, capacity: int = 50_000, clock: Callable[[], float] = time.monotonic) -> None:
        self._tat: dict[str, float] = {}
        self._capacity = capacity
        self._clock = clock
        self._lock = threading.Lock()

    def take(self, keys: Sequence[str], limit: Limit) -> None:
        with self._lock:
            now = self._clock()
            tats = {key: max(self._tat.get(key, now), now) for key in keys}
            ahead = max(tat - now for tat in tats.values())
            if ahead > limit.window:
                raise _refusal(limit, max(1, math.ceil(ahead - limit.window)))
            for key, tat in tats.items():
                self._tat[key] = tat + limit.interval
            if len(self._tat) > self._capacity:  # keys whose TAT has passed hold nothing
                self._tat = {key: tat for key, tat in self._tat.items() if tat > now}


def parse_networks(values: Sequence[str]) -> list[Network]:
    return [ipaddress.ip_network(value.strip(), strict=False) for value in values if value.strip()]


def client_address(remote_addr: str | None, forwarded_for: str | None, trusted: Sequence[Network]) -> str:
    """The caller's address. Each proxy appends the address it was called from to
    X-Forwarded-For; walking from the connection's own peer leftwards past the proxies we
    trust (``trusted``: Cloud Run's front end, the Hosting CDN), the first address left is
    the client's. Through Hosting that is the address the CDN saw; called directly it is
    the caller's own, whatever the caller wrote into the header."""
    chain = [part.strip() for part in (forwarded_for or "").split(",")] + [remote_addr or "unknown"]
    last = "unknown"
    for index in range(len(chain) - 1, -1, -1):
        try:
            address = _plain(ipaddress.ip_address(chain[index]))
        except ValueError:
            return last  # not an address: nothing a trusted proxy writes; keep the last one that was
        if not any(address in network for network in trusted):
            return _bucket(address)
        last = _bucket(address)
    return last


def _plain(address: IPv4Address | IPv6Address) -> IPv4Address | IPv6Address:
    """An IPv4 address written as IPv6 (::ffff:a.b.c.d) is the IPv4 address."""
    mapped = getattr(address, "ipv4_mapped", None)
    return mapped or address


def _bucket(address: IPv4Address | IPv6Address) -> str:
    """What one client is: an IPv4 address, or an IPv6 /64 (the least a subscriber is given,
    so one client cannot make itself 2**64 buckets)."""
    if address.version == 6:
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)
