"""Maintenance mode: while an operator moves data into the live schema (infra.datamove), the
API refuses every write with 503 and Retry-After, and reads go on (decision 0035).

The switch is the one row of ``platform_state``: on until a time, with a reason, both set by
the database's clock. An instance reads it at most every CACHE_SECONDS, on a write only: no
read pays for it, and whoever turns it on waits SETTLE_SECONDS (the cache, and writes already
past the check) before writing (``infra.datamove`` does).
"""
from __future__ import annotations

import logging
import math
import time
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import text

from shared import errors

if TYPE_CHECKING:
    from sqlalchemy import Connection

logger = logging.getLogger(__name__)
CACHE_SECONDS = 5.0
SETTLE_SECONDS = 30.0
# What a refused write is told to wait when the switch names no end nearer than this.
MAX_RETRY_AFTER = 3600
_cached: tuple[float, float, str | None] | None = None  # (read at, seconds left then, reason)
_STATUS = text("SELECT maintenance_until, extract(epoch FROM maintenance_until - now()), maintenance_reason "
               "FROM platform_state WHERE maintenance_until > now()")


def _read() -> tuple[float, str | None]:
    """(seconds left, reason); 0 when off. Left counts from the database's clock at the read
    and this instance's monotonic clock since: no two clocks compared."""
    global _cached
    now = time.monotonic()
    if _cached is None or now - _cached[0] >= CACHE_SECONDS:
        from sqlalchemy.exc import ProgrammingError

        from shared.db import get_engine

        try:
            with get_engine().connect() as conn:
                row = conn.execute(_STATUS).one_or_none()
        except ProgrammingError as error:
            from shared.bulk import sqlstate

            if sqlstate(error) != "42P01":
                raise
            # A database before migration 0022: no switch, so off (said once a cache period).
            logger.warning("platform_state is missing: maintenance mode is off until the migrations run")
            row = None
        _cached = (now, float(row[1]) if row else 0.0, row[2] if row else None)
    left = _cached[1] - (now - _cached[0])
    return (left, _cached[2]) if left > 0 else (0.0, None)


def status(conn: Connection) -> tuple[datetime | None, str | None]:
    """(until when, why) while the switch is on; (None, None) otherwise."""
    row = conn.execute(_STATUS).one_or_none()
    return (row[0], row[2]) if row else (None, None)


def refuse_writes() -> None:
    """Raise a 503 with Retry-After (the seconds left) while the platform is in maintenance."""
    left, reason = _read()
    if left > 0:
        raise errors.InMaintenance(f"writes resume within {math.ceil(left)} s" + (f": {reason}" if reason else ""),
                                   headers={"Retry-After": str(min(MAX_RETRY_AFTER, math.ceil(left)))})


def _set(conn: Connection, until: str, reason: str | None) -> datetime | None:
    # The row is made again if it went (a --truncate of a platform database's copy, say).
    return conn.execute(text(
        f"INSERT INTO platform_state (id, maintenance_until, maintenance_reason) VALUES (true, {until}, :reason) "
        "ON CONFLICT (id) DO UPDATE SET maintenance_until = excluded.maintenance_until, "
        "maintenance_reason = excluded.maintenance_reason RETURNING maintenance_until"), {"reason": reason}).scalar_one()


def switch_on(conn: Connection, minutes: float, reason: str) -> datetime:
    """Until the database's now + ``minutes``; returns when that is."""
    until = _set(conn, f"now() + make_interval(secs => {float(minutes) * 60!r})", reason)
    assert until is not None
    return until


def switch_off(conn: Connection) -> None:
    _set(conn, "NULL", None)


def forget() -> None:
    """Read the switch again at the next write (tests; an operator's own process)."""
    global _cached
    _cached = None
