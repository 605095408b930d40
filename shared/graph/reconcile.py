"""graph-reconcile: catch the graph up with PostgreSQL when events were missed.

* Incremental, from two watermarks:
  - the outbox is the journal of every change, deletes included (an unlike, an unfollow,
    an erasure each wrote their event in their own transaction): every event since the
    journal watermark that graph-etl never recorded as applied was lost on the way
    (dropped, dead-lettered); its keys are synced and it is recorded, so every node and
    edge kind the events carry is caught up, and the count of such events is the repair
    count by kind;
  - rows changed since a watermark ``(updated_at, id)`` per table (users, proposals,
    items), for changes made without an event.
  Each moves on until caught up or out of time.
* Full: per label, PostgreSQL's and the graph's content (counts, and a digest of every
  row's content) are compared; where they differ, row by row, the graph is repaired:
  missing or stale rows are written again, rows PostgreSQL no longer has are removed.
"""
from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import text

from shared.events.consumer import record_processed
from shared.events.envelope import EventEnvelope
from shared.graph.etl import CONSUMER, collect
from shared.graph.sync import (
    DELETE_FUNDINGS,
    UPSERT_FUNDINGS,
    Changes,
    _chunks,
    active_user,
    sync_favorites,
    sync_follows,
    sync_items,
    sync_likes,
    sync_proposals,
    sync_users,
)
from shared.graph.sync import apply as apply_changes
from shared.market.holders import ITEM_HOLDER_SQL
from shared.market.tables import public_item
from shared.tables import ACTIVE_USER, active_user_row

if TYPE_CHECKING:
    from sqlalchemy import Connection, Engine

    from shared.graph.port import Graph

logger = logging.getLogger(__name__)

# name -> (query for keys changed after the watermark, sync function)
WATERMARKED = {
    "users": ("SELECT id::text AS key, updated_at AS at FROM users WHERE (updated_at, id::text) > (:at, :id) "
              "ORDER BY updated_at, id::text LIMIT :limit", sync_users),
    "proposals": ("SELECT id::text AS key, updated_at AS at FROM proposals WHERE (updated_at, id::text) > (:at, :id) "
                  "ORDER BY updated_at, id::text LIMIT :limit", sync_proposals),
    "items": ("SELECT id::text AS key, updated_at AS at FROM items WHERE (updated_at, id::text) > (:at, :id) "
              "ORDER BY updated_at, id::text LIMIT :limit", sync_items),
}
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# The journal: outbox rows after the watermark, in id order, up to the first one that is
# still young: graph-etl may still be retrying it (Pub/Sub retries a push for about 40
# minutes, functions.yaml), and a transaction that holds a lower id may still commit
# (functions time out within 5 minutes). A test keeps the lag above both.
JOURNAL = """
    SELECT o.id, o.envelope, o.occurred_at >= now() - make_interval(secs => :lag) AS young,
           EXISTS (SELECT 1 FROM processed_events p WHERE p.consumer = :consumer AND p.event_id = o.event_id) AS applied
    FROM outbox o WHERE o.id > :after ORDER BY o.id LIMIT :limit
"""
JOURNAL_LAG = timedelta(hours=1)
# Make the graph right for some keys, given PostgreSQL's content by key.
Repair = Callable[["Connection", "Graph", list[Any], dict[Any, Any]], None]


def incremental(engine: Engine, graph: Graph, *, deadline: float, batch: int = 5_000,
                lag: timedelta = JOURNAL_LAG) -> dict[str, Any]:
    """Catch up from the journal, then from the row watermarks; what each found."""
    missed = _missed_events(engine, graph, deadline=deadline, batch=batch, lag=lag)
    synced: dict[str, Any] = {"missed_events": missed}
    for name, (query, sync) in WATERMARKED.items():
        synced[name] = 0
        while time.monotonic() < deadline:
            with engine.connect() as conn:
                at, key = _watermark(conn, name)
                rows = conn.execute(text(query), {"at": at, "id": key, "limit": batch}).all()
                if not rows:
                    break
                sync(conn, graph, [row.key for row in rows])
                conn.rollback()
            with engine.begin() as conn:
                _save_watermark(conn, name, rows[-1].at, rows[-1].key)
            synced[name] += len(rows)
    return synced


def _missed_events(engine: Engine, graph: Graph, *, deadline: float, batch: int, lag: timedelta) -> dict[str, int]:
    """Apply the journal's events graph-etl never applied; their count by event family."""
    repaired: dict[str, int] = {}
    while time.monotonic() < deadline:
        with engine.connect() as conn:
            _, after = _watermark(conn, "journal")
            rows = conn.execute(text(JOURNAL), {"consumer": CONSUMER, "after": int(after or 0),
                                                "lag": lag.total_seconds(), "limit": batch}).all()
            rows = rows[:next((i for i, row in enumerate(rows) if row.young), len(rows))]
            if not rows:
                break
            changes, lost = Changes(), []
            for row in rows:
                if row.applied:
                    continue
                event = EventEnvelope.model_validate(row.envelope)
                if collect(Changes(), event) != Changes():  # one the graph shows
                    family = event.type.partition(".")[0]
                    repaired[family] = repaired.get(family, 0) + 1
                collect(changes, event)
                lost.append(str(event.event_id))
            if lost:
                apply_changes(conn, graph, changes)
            conn.rollback()
        with engine.begin() as conn:
            if lost:
                record_processed(conn, CONSUMER, lost)
            _save_watermark(conn, "journal", EPOCH, str(rows[-1].id))
    return repaired


def _watermark(conn: Connection, name: str) -> tuple[datetime, str]:
    row = conn.execute(text("SELECT watermark_at, watermark_id FROM graph_sync_state WHERE name = :name"),
                       {"name": name}).one_or_none()
    return (row.watermark_at or EPOCH, row.watermark_id or "") if row else (EPOCH, "")


def _save_watermark(conn: Connection, name: str, at: datetime, key: str) -> None:
    conn.execute(text("INSERT INTO graph_sync_state (name, watermark_at, watermark_id) VALUES (:name, :at, :id) "
                      "ON CONFLICT (name) DO UPDATE SET watermark_at = excluded.watermark_at, "
                      "watermark_id = excluded.watermark_id, updated_at = now()"),
                 {"name": name, "at": at, "id": key})


# -- full reconcile -------------------------------------------------------------------

@dataclass
class LabelReport:
    postgres: int
    graph: int
    digest_equal: bool
    repaired: int = 0


@dataclass
class Comparison:
    """One label's content on both sides: key -> comparable value."""

    name: str
    postgres_sql: str
    graph_cypher: str
    value: Callable[[dict[str, Any]], Any]
    key: Callable[[dict[str, Any]], Any]
    repair: Repair


def _digest(content: dict[Any, Any]) -> str:
    return hashlib.sha256(repr(sorted(content.items())).encode()).hexdigest()


def _resync(sync: Callable[[Connection, Graph, list[Any]], int]) -> Repair:
    """Repair by syncing the drifted keys again from PostgreSQL (it removes what is gone)."""
    return lambda conn, graph, keys, pg: sync(conn, graph, keys)


def _repair_fundings(conn: Connection, graph: Graph, keys: list[Any], pg: dict[Any, Any]) -> None:
    # Keyed by (user, proposal): an edge whose backer has no wallet any more has no sync key.
    upserts = [{"user_id": u, "proposal": p, "amount": pg[(u, p)][0], "tx_hash": pg[(u, p)][1]}
               for u, p in keys if (u, p) in pg]
    deletes = [{"user_id": u, "proposal": p} for u, p in keys if (u, p) not in pg]
    for chunk in _chunks(upserts):
        graph.write(UPSERT_FUNDINGS, {"rows": list(chunk)})
    for chunk in _chunks(deletes):
        graph.write(DELETE_FUNDINGS, {"rows": list(chunk)})


COMPARISONS = (
    Comparison("User", "SELECT id::text AS id, role, coalesce(display_name, '') AS name FROM users "
                       f"WHERE {ACTIVE_USER}",
               "MATCH (u:User) RETURN u.id AS id, u.role AS role, u.name AS name",
               value=lambda r: (r["role"], r["name"]), key=lambda r: r["id"], repair=_resync(sync_users)),
    Comparison("Proposal", f"SELECT p.id::text AS id, p.title, p.status, {active_user('p.owner_id')} AS owner, p.tags, "
                           "CASE WHEN p.category IS NULL THEN '{}' ELSE ARRAY[p.category] END AS categories "
                           "FROM proposals p WHERE p.status <> 'draft' AND p.hidden IS NULL",
               "MATCH (p:Proposal) OPTIONAL MATCH (p)-[:TAGGED]->(t:Tag) OPTIONAL MATCH (p)-[:TAGGED]->(c:Category) "
               "OPTIONAL MATCH (o:User)-[:CREATED]->(p) "
               "RETURN p.id AS id, p.title AS title, p.status AS status, o.id AS owner, "
               "collect(DISTINCT t.id) AS tags, collect(DISTINCT c.id) AS categories",
               value=lambda r: (r["title"], r["status"], r["owner"], tuple(sorted(set(r["tags"]))),
                                tuple(sorted(set(r["categories"])))),
               key=lambda r: r["id"], repair=_resync(sync_proposals)),
    Comparison("Item", "SELECT items.id::text AS id, items.title, items.status, items.kind, "
                       f"{active_user('items.owner_id')} AS owner, {active_user(ITEM_HOLDER_SQL)} AS holder, items.tags, "
                       "CASE WHEN items.category IS NULL THEN '{}' ELSE ARRAY[items.category] END AS categories "
                       f"FROM items WHERE {public_item('items')}",
               "MATCH (i:Item) OPTIONAL MATCH (i)-[:TAGGED]->(t:Tag) OPTIONAL MATCH (i)-[:TAGGED]->(c:Category) "
               "OPTIONAL MATCH (o:User)-[:CREATED]->(i) OPTIONAL MATCH (h:User)-[:OWNS]->(i) "
               "RETURN i.id AS id, i.title AS title, i.status AS status, i.kind AS kind, o.id AS owner, "
               "h.id AS holder, collect(DISTINCT t.id) AS tags, collect(DISTINCT c.id) AS categories",
               value=lambda r: (r["title"], r["status"], r["kind"], r["owner"], r["holder"],
                                tuple(sorted(set(r["tags"]))), tuple(sorted(set(r["categories"])))),
               key=lambda r: r["id"], repair=_resync(sync_items)),
    Comparison("FAVORITED", "SELECT f.user_id::text AS a, f.item_id::text AS b FROM favorites f "
                            f"JOIN items i ON i.id = f.item_id AND {public_item('i')} "
                            f"JOIN users u ON u.id = f.user_id AND {active_user_row('u')}",
               "MATCH (a:User)-[:FAVORITED]->(b:Item) RETURN a.id AS a, b.id AS b",
               value=lambda r: True, key=lambda r: (r["a"], r["b"]), repair=_resync(sync_favorites)),
    Comparison("LIKED", "SELECT l.user_id::text AS a, l.item_id::text AS b FROM likes l "
                        f"JOIN items i ON i.id = l.item_id AND {public_item('i')} "
                        f"JOIN users u ON u.id = l.user_id AND {active_user_row('u')}",
               "MATCH (a:User)-[:LIKED]->(b:Item) RETURN a.id AS a, b.id AS b",
               value=lambda r: True, key=lambda r: (r["a"], r["b"]), repair=_resync(sync_likes)),
    Comparison("FOLLOWS", "SELECT follower_id::text AS a, followee_id::text AS b FROM follows "
                          f"JOIN users a ON a.id = follower_id AND {active_user_row('a')} "
                          f"JOIN users b ON b.id = followee_id AND {active_user_row('b')}",
               "MATCH (a:User)-[:FOLLOWS]->(b:User) RETURN a.id AS a, b.id AS b",
               value=lambda r: True, key=lambda r: (r["a"], r["b"]), repair=_resync(sync_follows)),
    Comparison("FUNDED", "SELECT u.id::text AS user_id, i.proposal_id::text AS proposal, "
                         "sum(i.funded - i.refunded)::text AS amount, max(i.last_tx_hash) AS tx_hash "
                         f"FROM investments i JOIN users u ON u.wallet_address = i.backer AND {active_user_row('u')} "
                         "JOIN proposals p ON p.id = i.proposal_id AND p.hidden IS NULL "
                         "WHERE i.proposal_id IS NOT NULL GROUP BY 1, 2 HAVING sum(i.funded - i.refunded) > 0",
               "MATCH (u:User)-[f:FUNDED]->(p:Proposal) RETURN u.id AS user_id, p.id AS proposal, "
               "f.amount AS amount, f.tx_hash AS tx_hash",
               value=lambda r: (r["amount"], r["tx_hash"]), key=lambda r: (r["user_id"], r["proposal"]),
               repair=_repair_fundings),
)


@dataclass
class FullReport:
    labels: dict[str, LabelReport] = field(default_factory=dict)

    @property
    def repaired(self) -> int:
        return sum(report.repaired for report in self.labels.values())


def full(engine: Engine, graph: Graph) -> FullReport:
    report = FullReport()
    with engine.connect() as conn:
        for comparison in COMPARISONS:
            pg = {comparison.key(r): comparison.value(r)
                  for r in (dict(row._mapping) for row in conn.execute(text(comparison.postgres_sql)))}
            seen = {comparison.key(r): comparison.value(r) for r in graph.read(comparison.graph_cypher)}
            label = LabelReport(len(pg), len(seen), _digest(pg) == _digest(seen))
            if not label.digest_equal:
                drift = sorted(key for key in pg.keys() | seen.keys() if pg.get(key) != seen.get(key))
                comparison.repair(conn, graph, drift, pg)
                label.repaired = len(drift)
            report.labels[comparison.name] = label
        _remove_orphans(graph)
        conn.rollback()
        with conn.begin():
            conn.execute(text("INSERT INTO graph_sync_state (name, full_at, details) "
                              "VALUES ('full', now(), CAST(:details AS jsonb)) ON CONFLICT (name) DO UPDATE SET "
                              "full_at = now(), details = excluded.details, updated_at = now()"),
                         {"details": json.dumps({k: v.__dict__ for k, v in report.labels.items()})})
    logger.info("graph full reconcile", extra={"labels": {k: v.__dict__ for k, v in report.labels.items()}})
    return report


def _remove_orphans(graph: Graph) -> None:
    """Tags and categories no proposal uses any more."""
    for label in ("Tag", "Category"):
        graph.write(f"MATCH (t:{label}) WHERE NOT ()-[:TAGGED]->(t) DELETE t")


def due_for_full(engine: Engine, graph: Graph, every: timedelta) -> bool:
    """An hour (``every``) since the last full run, or a graph store that is new or was
    wiped: PostgreSQL has users and the graph none, which the watermarks cannot see."""
    with engine.connect() as conn:
        last = conn.execute(text("SELECT full_at FROM graph_sync_state WHERE name = 'full'")).scalar_one_or_none()
        if last is None or last < datetime.now(UTC) - every:
            return True
        has_users = conn.execute(text(f"SELECT EXISTS (SELECT 1 FROM users WHERE {ACTIVE_USER})")).scalar_one()
    return has_users and not graph.read("MATCH (u:User) RETURN u.id AS id LIMIT 1")


def reconcile(engine: Engine, graph: Graph, *, budget_seconds: float = 50.0,
              full_every: timedelta = timedelta(hours=1), lag: timedelta = JOURNAL_LAG) -> dict[str, Any]:
    """One scheduled run: the incremental sync, and the full comparison when it is due.

    It logs one report: what it repaired, by kind (``repaired``: lost events the graph shows,
    plus what a full run found drifted). The log-based metric behind the "graph repairs"
    alert (infra/terraform/monitoring.tf) reads it: repairs in two runs in a row mean
    something upstream loses events.
    """
    started = time.monotonic()
    result: dict[str, Any] = {"incremental": incremental(engine, graph, deadline=started + budget_seconds, lag=lag)}
    by_kind = dict(result["incremental"]["missed_events"])
    if due_for_full(engine, graph, full_every):
        result["full"] = full(engine, graph).labels
        for label, report in result["full"].items():
            if report.repaired:
                by_kind[label] = by_kind.get(label, 0) + report.repaired
    logger.info("graph reconcile", extra={"repaired": sum(by_kind.values()), "repaired_by_kind": by_kind,
                                          "full": "full" in result,
                                          "duration_ms": round((time.monotonic() - started) * 1000)})
    result["repaired"] = by_kind
    return result
