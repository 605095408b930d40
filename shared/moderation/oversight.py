"""What administrators read: the audit log, filtered and paged, and the counts an operator watches."""
from __future__ import annotations

import uuid
from datetime import date
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import AwareDatetime, ConfigDict, Field
from sqlalchemy import text

from shared.errors import ValidationFailed
from shared.paging import PageQuery, id_keyset_page
from shared.tables import audit_log
from shared.types import ApiModel

if TYPE_CHECKING:
    from sqlalchemy import Connection

Name = Annotated[str, Field(max_length=64, pattern=r"^[a-z_.]+$")]


class AuditQuery(PageQuery):
    model_config = ConfigDict(extra="forbid")

    actor_id: uuid.UUID | None = None
    action: Name | None = Field(default=None, description="e.g. moderation.hidden, user.suspended")
    entity_type: Name | None = None
    entity_id: Annotated[str, Field(max_length=64, pattern=r"^[A-Za-z0-9:_.-]+$")] | None = None
    since: AwareDatetime | None = Field(default=None, description="entries at or after this instant")
    until: AwareDatetime | None = Field(default=None, description="entries before this instant")


class AuditEntryOut(ApiModel):
    id: int
    occurred_at: AwareDatetime
    actor_id: uuid.UUID | None
    action: str
    entity_type: str
    entity_id: str
    details: dict[str, Any]


class AuditPage(ApiModel):
    items: list[AuditEntryOut]
    next_cursor: str | None


def audit_page(conn: Connection, q: AuditQuery) -> AuditPage:
    """The newest entries first (the log's own order: its identity)."""
    if q.since and q.until and q.since >= q.until:
        raise ValidationFailed("since must be before until")
    query = audit_log.select()
    for column, value in ((audit_log.c.actor_id, q.actor_id), (audit_log.c.action, q.action),
                          (audit_log.c.entity_type, q.entity_type), (audit_log.c.entity_id, q.entity_id)):
        if value is not None:
            query = query.where(column == value)
    if q.since:
        query = query.where(audit_log.c.occurred_at >= q.since)
    if q.until:
        query = query.where(audit_log.c.occurred_at < q.until)
    rows, next_cursor = id_keyset_page(conn, query, "audit", audit_log.c.id, q.cursor, q.limit)
    return AuditPage(items=[AuditEntryOut.model_validate(row, from_attributes=True) for row in rows],
                     next_cursor=next_cursor)


class StatsQuery(ApiModel):
    model_config = ConfigDict(extra="forbid")

    days: Annotated[int, Field(ge=1, le=366)] = Field(default=30, description="how many days back, today included")


class DayOut(ApiModel):
    day: date
    signups: int
    proposals: int = Field(description="proposals published")
    fundings: int = Field(description="confirmed on-chain fundings")
    sales: int = Field(description="orders paid (card) or settled (ETH)")
    reports: int


class StatsOut(ApiModel):
    days: list[DayOut] = Field(description="one per UTC day, oldest first, zeros included")
    open_reports: int
    suspended_accounts: int
    hidden_content: int


# One row per UTC day of the window: each count is a GROUP BY over its own table's time column,
# joined to a generated series so that quiet days are there as zeros.
_STATS = text("""
WITH days AS (
    SELECT generate_series(CAST(timezone('UTC', now()) AS date) - (:days - 1),
                           CAST(timezone('UTC', now()) AS date), interval '1 day')::date AS day
), since AS (SELECT CAST(CAST(timezone('UTC', now()) AS date) - (:days - 1) AS timestamp) AT TIME ZONE 'UTC' AS at),
signups AS (SELECT CAST(timezone('UTC', created_at) AS date) AS day, count(*) AS n FROM users
            WHERE created_at >= (SELECT at FROM since) GROUP BY 1),
published AS (SELECT CAST(timezone('UTC', published_at) AS date) AS day, count(*) AS n FROM proposals
              WHERE published_at >= (SELECT at FROM since) GROUP BY 1),
fundings AS (SELECT CAST(timezone('UTC', block_time) AS date) AS day, count(*) AS n FROM web3_transactions
             WHERE event = 'Funded' AND block_time >= (SELECT at FROM since) GROUP BY 1),
sales AS (SELECT CAST(timezone('UTC', coalesce(paid_at, created_at)) AS date) AS day, count(*) AS n FROM orders
          WHERE status IN ('paid', 'shipped', 'fulfilled', 'refunding', 'refunded') AND coalesce(paid_at, created_at) >= (SELECT at FROM since)
          GROUP BY 1),
reported AS (SELECT CAST(timezone('UTC', created_at) AS date) AS day, count(*) AS n FROM reports
             WHERE created_at >= (SELECT at FROM since) GROUP BY 1)
SELECT days.day, coalesce(signups.n, 0) AS signups, coalesce(published.n, 0) AS proposals,
       coalesce(fundings.n, 0) AS fundings, coalesce(sales.n, 0) AS sales, coalesce(reported.n, 0) AS reports
FROM days LEFT JOIN signups USING (day) LEFT JOIN published USING (day) LEFT JOIN fundings USING (day)
     LEFT JOIN sales USING (day) LEFT JOIN reported USING (day)
ORDER BY days.day
""")
_TOTALS = text("""
SELECT (SELECT count(*) FROM reports WHERE status = 'open') AS open_reports,
       (SELECT count(*) FROM users WHERE suspended_at IS NOT NULL AND deleted_at IS NULL) AS suspended_accounts,
       (SELECT count(*) FROM items WHERE hidden IS NOT NULL)
       + (SELECT count(*) FROM proposals WHERE hidden IS NOT NULL)
       + (SELECT count(*) FROM media WHERE hidden IS NOT NULL) AS hidden_content
""")


def stats(conn: Connection, q: StatsQuery) -> StatsOut:
    days = [DayOut.model_validate(row, from_attributes=True) for row in conn.execute(_STATS, {"days": q.days})]
    totals = conn.execute(_TOTALS).one()
    return StatsOut(days=days, **totals._mapping)
