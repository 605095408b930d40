"""PostgreSQL -> graph: make the graph's copy of some rows equal to PostgreSQL's.

Events only say *which* rows changed; the sync reads those rows as they are now and
upserts them in the graph, or removes what PostgreSQL no longer has. Applying an event
twice, or two events in the wrong order, therefore ends in the same graph, and the
reconcile (shared/graph_reconcile.py) repairs drift with the very same functions.

Writes are UNWIND batches, nodes before relationships; every query is in the Cypher
subset shared by Neo4j and FalkorDB (see shared/graph.py).
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import text

if TYPE_CHECKING:
    from sqlalchemy import Connection

    from shared.graph import Graph

BATCH = 5_000


@dataclass
class Changes:
    """Keys whose graph copy must be refreshed."""

    users: set[str] = field(default_factory=set)
    proposals: set[str] = field(default_factory=set)
    follows: set[tuple[str, str]] = field(default_factory=set)  # (follower, followee)
    fundings: set[tuple[str, str]] = field(default_factory=set)  # (proposal id, backer address)
    backers: set[str] = field(default_factory=set)  # wallets whose owner changed: all their fundings

    def __bool__(self) -> bool:
        return any((self.users, self.proposals, self.follows, self.fundings, self.backers))

    def update(self, other: Changes) -> None:
        for name in ("users", "proposals", "follows", "fundings", "backers"):
            getattr(self, name).update(getattr(other, name))


def _chunks(items: Sequence[Any], size: int = BATCH) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


# -- nodes -----------------------------------------------------------------------

USER_ROWS = """
    SELECT id::text AS id, role, coalesce(display_name, '') AS name FROM users
    WHERE id::text = ANY(:ids) AND deleted_at IS NULL
"""
UPSERT_USERS = "UNWIND $rows AS r MERGE (u:User {id: r.id}) SET u.role = r.role, u.name = r.name"
DELETE_USERS = "UNWIND $ids AS id MATCH (u:User {id: id}) DETACH DELETE u"

# Drafts are private: the graph holds proposals from publication on.
PROPOSAL_ROWS = """
    SELECT id::text AS id, owner_id::text AS owner, title, status, coalesce(category, '') AS category,
           tags FROM proposals WHERE id::text = ANY(:ids) AND status <> 'draft'
"""
UPSERT_PROPOSALS = """
    UNWIND $rows AS r
    MERGE (p:Proposal {id: r.id}) SET p.title = r.title, p.status = r.status, p.owner = r.owner
    MERGE (u:User {id: r.owner})
    MERGE (u)-[:CREATED]->(p)
"""
# Tags and categories are replaced as a whole: remove the old links, add the current ones.
UNLINK_TAGS = "UNWIND $ids AS id MATCH (p:Proposal {id: id})-[t:TAGGED]->() DELETE t"
LINK_TAGS = "UNWIND $rows AS r MATCH (p:Proposal {id: r.id}) MERGE (t:Tag {id: r.tag}) MERGE (p)-[:TAGGED]->(t)"
LINK_CATEGORIES = ("UNWIND $rows AS r MATCH (p:Proposal {id: r.id}) MERGE (c:Category {id: r.category}) "
                   "MERGE (p)-[:TAGGED]->(c)")
DELETE_PROPOSALS = "UNWIND $ids AS id MATCH (p:Proposal {id: id}) DETACH DELETE p"


def sync_users(conn: Connection, graph: Graph, ids: Iterable[str]) -> int:
    ids = sorted(set(ids))
    for chunk in _chunks(ids):
        rows = [dict(row._mapping) for row in conn.execute(text(USER_ROWS), {"ids": list(chunk)})]
        if rows:
            graph.write(UPSERT_USERS, {"rows": rows})
        gone = sorted(set(chunk) - {row["id"] for row in rows})
        if gone:
            graph.write(DELETE_USERS, {"ids": gone})
    return len(ids)


def sync_proposals(conn: Connection, graph: Graph, ids: Iterable[str]) -> int:
    ids = sorted(set(ids))
    for chunk in _chunks(ids):
        rows = [dict(row._mapping) for row in conn.execute(text(PROPOSAL_ROWS), {"ids": list(chunk)})]
        if rows:
            graph.write(UPSERT_PROPOSALS, {"rows": [{k: r[k] for k in ("id", "owner", "title", "status")}
                                                    for r in rows]})
            graph.write(UNLINK_TAGS, {"ids": [r["id"] for r in rows]})
            tags = [{"id": r["id"], "tag": tag} for r in rows for tag in r["tags"]]
            if tags:
                graph.write(LINK_TAGS, {"rows": tags})
            categories = [{"id": r["id"], "category": r["category"]} for r in rows if r["category"]]
            if categories:
                graph.write(LINK_CATEGORIES, {"rows": categories})
        gone = sorted(set(chunk) - {row["id"] for row in rows})
        if gone:
            graph.write(DELETE_PROPOSALS, {"ids": gone})
    return len(ids)


# -- relationships -------------------------------------------------------------------

FOLLOW_ROWS = """
    SELECT f.follower_id::text AS follower, f.followee_id::text AS followee FROM follows f
    JOIN unnest(CAST(:followers AS text[]), CAST(:followees AS text[])) AS k(follower, followee)
      ON f.follower_id::text = k.follower AND f.followee_id::text = k.followee
"""
UPSERT_FOLLOWS = """
    UNWIND $rows AS r
    MERGE (a:User {id: r.follower}) MERGE (b:User {id: r.followee}) MERGE (a)-[:FOLLOWS]->(b)
"""
DELETE_FOLLOWS = "UNWIND $rows AS r MATCH (:User {id: r.follower})-[f:FOLLOWS]->(:User {id: r.followee}) DELETE f"


def sync_follows(conn: Connection, graph: Graph, pairs: Iterable[tuple[str, str]]) -> int:
    pairs = sorted(set(pairs))
    for chunk in _chunks(pairs):
        found = conn.execute(text(FOLLOW_ROWS), {"followers": [a for a, _ in chunk],
                                                 "followees": [b for _, b in chunk]}).all()
        present = {(row.follower, row.followee) for row in found}
        if present:
            graph.write(UPSERT_FOLLOWS, {"rows": [{"follower": a, "followee": b} for a, b in sorted(present)]})
        gone = sorted(set(chunk) - present)
        if gone:
            graph.write(DELETE_FOLLOWS, {"rows": [{"follower": a, "followee": b} for a, b in gone]})
    return len(pairs)


# A position counts while money is in it; the backer is a user through their linked wallet.
FUNDING_ROWS = """
    SELECT k.proposal, k.backer, u.id::text AS user_id,
           sum(i.funded - i.refunded)::text AS amount, max(i.last_tx_hash) AS tx_hash
    FROM unnest(CAST(:proposals AS text[]), CAST(:backers AS text[])) AS k(proposal, backer)
    JOIN users u ON u.wallet_address = k.backer AND u.deleted_at IS NULL
    LEFT JOIN investments i ON i.proposal_id::text = k.proposal AND i.backer = k.backer
    GROUP BY k.proposal, k.backer, u.id
"""
UPSERT_FUNDINGS = """
    UNWIND $rows AS r
    MERGE (u:User {id: r.user_id}) MERGE (p:Proposal {id: r.proposal})
    MERGE (u)-[f:FUNDED]->(p) SET f.amount = r.amount, f.tx_hash = r.tx_hash
"""
DELETE_FUNDINGS = "UNWIND $rows AS r MATCH (:User {id: r.user_id})-[f:FUNDED]->(:Proposal {id: r.proposal}) DELETE f"
BACKER_FUNDINGS = "SELECT proposal_id::text AS proposal, backer FROM investments WHERE backer = ANY(:backers) " \
                  "AND proposal_id IS NOT NULL"


def sync_fundings(conn: Connection, graph: Graph, keys: Iterable[tuple[str, str]]) -> int:
    keys = sorted(set(keys))
    for chunk in _chunks(keys):
        rows = conn.execute(text(FUNDING_ROWS), {"proposals": [p for p, _ in chunk],
                                                 "backers": [b for _, b in chunk]}).all()
        live = [r for r in rows if r.amount is not None and int(r.amount) > 0]
        dead = [r for r in rows if r.amount is None or int(r.amount) <= 0]
        if live:
            graph.write(UPSERT_FUNDINGS, {"rows": [{"user_id": r.user_id, "proposal": r.proposal, "amount": r.amount,
                                                    "tx_hash": r.tx_hash} for r in live]})
        if dead:
            graph.write(DELETE_FUNDINGS, {"rows": [{"user_id": r.user_id, "proposal": r.proposal} for r in dead]})
    return len(keys)


def backer_fundings(conn: Connection, backers: Iterable[str]) -> set[tuple[str, str]]:
    return {(row.proposal, row.backer) for row in conn.execute(text(BACKER_FUNDINGS), {"backers": sorted(backers)})}


def apply(conn: Connection, graph: Graph, changes: Changes) -> dict[str, int]:
    """Refresh every changed key, nodes before relationships."""
    fundings = changes.fundings | backer_fundings(conn, changes.backers) if changes.backers else changes.fundings
    return {
        "users": sync_users(conn, graph, changes.users),
        "proposals": sync_proposals(conn, graph, changes.proposals),
        "follows": sync_follows(conn, graph, changes.follows),
        "fundings": sync_fundings(conn, graph, fundings),
    }
