"""Time-decayed popularity: each interaction adds its weight, halving every HALF_LIFE.

A decayed sum normally needs every row rewritten as time passes. Instead each item
stores log2 of its score *as of a fixed epoch*: an interaction of weight w at time t
adds 2**(log2(w) + (t - EPOCH) / HALF_LIFE). Ordering by the stored value is ordering
by the decayed score at any moment, nothing ages in the table, and the job only
touches items that had interactions (log-sum-exp keeps the numbers small).

Interactions wait in ``popularity_inbox`` (written in the same transaction as the
view, like or favorite); the job takes them with SKIP LOCKED and folds them in, in the
transaction that deletes them: each is counted exactly once, whatever runs at once.
"""
from __future__ import annotations

import math
import time
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import text

if TYPE_CHECKING:
    from sqlalchemy import Engine

EPOCH = datetime(2026, 1, 1, tzinfo=UTC)
HALF_LIFE = timedelta(hours=72)
WEIGHTS = {"view": 1, "copy": 2, "like": 3, "favorite": 5}
BATCH = 5_000
ANALYTICS_RETENTION = timedelta(days=90)


def current(stored: float, now: datetime | None = None) -> float:
    """The decayed score now, from the stored epoch-anchored log2."""
    if stored == -math.inf:
        return 0.0
    age = ((now or datetime.now(UTC)) - EPOCH) / HALF_LIFE
    return round(2.0 ** (stored - age), 6)


_FOLD = text("""
WITH taken AS (
    DELETE FROM popularity_inbox WHERE id IN (
        SELECT id FROM popularity_inbox ORDER BY id LIMIT :batch FOR UPDATE SKIP LOCKED)
    RETURNING item_id, ln(weight::float8) / ln(2::float8)
        + CAST(extract(epoch FROM occurred_at - :epoch) AS float8) / :half_life AS x
), peaks AS (
    SELECT item_id, max(x) AS m FROM taken GROUP BY item_id
), added AS (
    SELECT p.item_id, p.m + ln(sum(power(2::float8, t.x - p.m))) / ln(2::float8) AS x
    FROM taken t JOIN peaks p USING (item_id) GROUP BY p.item_id, p.m
), folded AS (
    UPDATE items i SET popularity = CASE
        WHEN i.popularity = '-Infinity' THEN a.x
        ELSE greatest(i.popularity, a.x) + ln(1 + power(2::float8, -abs(i.popularity - a.x))) / ln(2::float8)
    END
    FROM added a WHERE i.id = a.item_id
    RETURNING i.id
)
SELECT (SELECT count(*) FROM taken), (SELECT count(*) FROM folded)
""")


def fold(engine: Engine, *, budget_seconds: float = 50.0, batch: int = BATCH) -> dict[str, int]:
    """Fold waiting interactions into scores until none are left or the budget is spent."""
    deadline = time.monotonic() + budget_seconds
    totals = {"interactions": 0, "items": 0}
    params = {"batch": batch, "epoch": EPOCH, "half_life": HALF_LIFE.total_seconds()}
    while time.monotonic() < deadline:
        with engine.begin() as conn:
            taken, items = conn.execute(_FOLD, params).one()
        totals["interactions"] += taken
        totals["items"] += items
        if taken < batch:
            break
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM analytics_events WHERE created_at < now() - make_interval(days => :days)"),
                     {"days": ANALYTICS_RETENTION.days})
    return totals
