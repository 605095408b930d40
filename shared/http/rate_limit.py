"""Rate limiting for write endpoints, per client IP and per user, shared by every instance.

GCRA (the generic cell rate algorithm): each key stores only its *theoretical arrival
time* (TAT). A request is allowed when, after adding one emission interval, the TAT is
no further ahead of now than the burst allows. One UPSERT decides every key of a
request at once, atomically, on the database clock, so instances with skewed clocks
agree and concurrent requests cannot both take the last slot.

The state lives in an UNLOGGED table: fast, and a crash only forgets the counters.
"""
from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import text

from shared.errors import TooManyRequests

if TYPE_CHECKING:
    from sqlalchemy import Connection

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

    Keys never contain spaces (they are ``ip:<address>`` and ``user:<uid>``).
    """
    params = {"keys": " ".join(keys), "interval": limit.interval, "window": limit.window}
    allowed = {row.key for row in conn.execute(_TAKE, params)}
    if random.random() < PRUNE_PROBABILITY:
        conn.execute(_PRUNE)
    refused = [key for key in keys if key not in allowed]
    if refused:
        wait = conn.execute(_WAIT, {**params, "keys": " ".join(refused)}).scalar() or 0
        retry_after = max(1, math.ceil(float(wait)))
        raise TooManyRequests(f"slow down: at most {limit.per_second:g} writes per second",
                              headers={"Retry-After": str(retry_after)})


def client_address(remote_addr: str | None, forwarded_for: str | None, trusted_hops: int) -> str:
    """The caller's address: behind ``trusted_hops`` proxies that each append to
    X-Forwarded-For, the entry they appended last is the one the client could not forge."""
    if trusted_hops and forwarded_for:
        hops = [part.strip() for part in forwarded_for.split(",") if part.strip()]
        if len(hops) >= trusted_hops:
            return hops[-trusted_hops]
    return remote_addr or "unknown"
