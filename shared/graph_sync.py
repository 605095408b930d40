"""PostgreSQL -> graph: make the graph's copy of some rows equal to PostgreSQL's.

Events only say *which* rows changed; the sync reads those rows as they are now and
upserts them in the graph, or removes what PostgreSQL no longer has. Applying an event
twice, or two events in the wrong order, therefore ends in the same graph, and the
reconcile (shared/graph_reconcile.py) repairs drift with the very same functions.

Writes are UNWIND batches, nodes before relationships; every query is in the Cypher
subset shared by Neo4j and FalkorDB (see shared/graph.py).
"""
from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import text

if TYPE_CHECKING:
    from concurrent.futures import Future

    from sqlalchemy import Connection

    from shared.graph import Graph

BATCH = 5_000
# Chunks in flight to the graph at once.
WRITERS = 3


@dataclass
class Changes:
    """Keys whose graph copy must be refreshed."""

    users: set[str] = field(default_factory=set)
    proposals: set[str] = field(default_factory=set)
    follows: set[tuple[str, str]] = field(default_factory=set)  # (follower, followee)
    fundings: set[tuple[str, str]] = field(default_factory=set)  # (proposal id, backer address)
    backers: set[str] = field(default_factory=set)  # wallets whose owner changed: all their fundings


_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def is_uuid(value: str) -> bool:
    return _UUID.match(value) is not None


def joined(keys: Iterable[object]) -> str:
    """Keys as one comma-separated parameter (UUIDs and addresses have no commas): pg8000
    turns a Python list into an array literal element by element, which at thousands of
    keys costs more than the query itself."""
    return ",".join(map(str, keys))


def _chunks(items: Sequence[Any], size: int = BATCH) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


# -- nodes -----------------------------------------------------------------------

# Rows come back as one JSON document: decoding it in C beats pg8000's row-by-row
# parsing, which would compete for the GIL with the graph client's encoding.
USER_ROWS = """
    SELECT coalesce(json_agg(json_build_object('id', id::text, 'role', role, 'name', coalesce(display_name, ''))),
                    '[]')
    FROM users WHERE id = ANY(CAST(string_to_array(:ids, ',') AS uuid[])) AND deleted_at IS NULL
"""
UPSERT_USERS = "UNWIND $rows AS r MERGE (u:User {id: r.id}) SET u.role = r.role, u.name = r.name"
DELETE_USERS = "UNWIND $ids AS id MATCH (u:User {id: id}) DETACH DELETE u"

# Drafts are private: the graph holds proposals from publication on.
PROPOSAL_ROWS = """
    SELECT id::text AS id, owner_id::text AS owner, title, status, coalesce(category, '') AS category,
           tags FROM proposals WHERE id = ANY(CAST(string_to_array(:ids, ',') AS uuid[])) AND status <> 'draft'
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


Writes = list[tuple[str, dict[str, Any]]]


def _nonempty(*writes: tuple[str, dict[str, Any]]) -> Writes:
    """The writes that have something to UNWIND."""
    return [(query, params) for query, params in writes if all(params.values())]


def _run(graph: Graph, writes: Writes) -> None:
    for query, params in writes:  # in order: a chunk's writes may depend on each other
        graph.write(query, params)


def _pipelined(conn: Connection, graph: Graph, keys: Iterable[Any],
               plan: Callable[[Connection, Sequence[Any]], Writes]) -> int:
    """Chunk by chunk: one helper thread reads chunk k+1 from PostgreSQL and plans its
    graph writes while chunk k's are sent, WRITERS chunks at a time, so that the graph
    executes one while the client encodes the next. Chunks hold different keys, so
    their order does not matter; all are done before the next kind starts."""
    from concurrent.futures import ThreadPoolExecutor

    chunks = list(_chunks(sorted(set(keys))))
    if not chunks:
        return 0
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="graph-read") as reader, \
            ThreadPoolExecutor(max_workers=WRITERS, thread_name_prefix="graph-write") as writers:
        planned = reader.submit(plan, conn, chunks[0])
        in_flight: list[Future[None]] = []
        for index in range(len(chunks)):
            writes = planned.result()
            if index + 1 < len(chunks):
                planned = reader.submit(plan, conn, chunks[index + 1])
            if len(in_flight) >= WRITERS:
                in_flight.pop(0).result()
            in_flight.append(writers.submit(_run, graph, writes))
        for future in in_flight:
            future.result()
    return sum(map(len, chunks))


def _plan_users(conn: Connection, ids: Sequence[str]) -> Writes:
    # A key that is no UUID (a stray graph node) is in no table: it is removed as gone.
    rows = _json_rows(conn.execute(text(USER_ROWS), {"ids": joined(filter(is_uuid, ids))}).scalar_one())
    gone = sorted(set(ids) - {row["id"] for row in rows})
    return _nonempty((UPSERT_USERS, {"rows": rows}), (DELETE_USERS, {"ids": gone}))


def _json_rows(value: Any) -> list[dict[str, Any]]:
    import json

    return json.loads(value) if isinstance(value, str) else value


def sync_users(conn: Connection, graph: Graph, ids: Iterable[str]) -> int:
    return _pipelined(conn, graph, ids, _plan_users)


def _plan_proposals(conn: Connection, ids: Sequence[str]) -> Writes:
    rows = [dict(row._mapping) for row in conn.execute(text(PROPOSAL_ROWS), {"ids": joined(filter(is_uuid, ids))})]
    writes: Writes = []
    if rows:
        writes.append((UPSERT_PROPOSALS, {"rows": [{k: r[k] for k in ("id", "owner", "title", "status")}
                                                   for r in rows]}))
        writes.append((UNLINK_TAGS, {"ids": [r["id"] for r in rows]}))
        tags = [{"id": r["id"], "tag": tag} for r in rows for tag in r["tags"]]
        if tags:
            writes.append((LINK_TAGS, {"rows": tags}))
        categories = [{"id": r["id"], "category": r["category"]} for r in rows if r["category"]]
        if categories:
            writes.append((LINK_CATEGORIES, {"rows": categories}))
    gone = sorted(set(ids) - {row["id"] for row in rows})
    if gone:
        writes.append((DELETE_PROPOSALS, {"ids": gone}))
    return writes


def sync_proposals(conn: Connection, graph: Graph, ids: Iterable[str]) -> int:
    return _pipelined(conn, graph, ids, _plan_proposals)


# -- relationships -------------------------------------------------------------------

# Only the pairs PostgreSQL does not have come back: usually none.
MISSING_FOLLOWS = """
    SELECT k.follower::text AS follower, k.followee::text AS followee
    FROM unnest(CAST(string_to_array(:followers, ',') AS uuid[]),
                CAST(string_to_array(:followees, ',') AS uuid[])) AS k(follower, followee)
    WHERE NOT EXISTS (SELECT 1 FROM follows f WHERE f.follower_id = k.follower AND f.followee_id = k.followee)
"""
UPSERT_FOLLOWS = """
    UNWIND $rows AS r
    MERGE (a:User {id: r.follower}) MERGE (b:User {id: r.followee}) MERGE (a)-[:FOLLOWS]->(b)
"""
DELETE_FOLLOWS = "UNWIND $rows AS r MATCH (:User {id: r.follower})-[f:FOLLOWS]->(:User {id: r.followee}) DELETE f"


def _plan_follows(conn: Connection, pairs: Sequence[tuple[str, str]]) -> Writes:
    valid = [(a, b) for a, b in pairs if is_uuid(a) and is_uuid(b)]
    missing = {(row.follower, row.followee) for row in conn.execute(
        text(MISSING_FOLLOWS), {"followers": joined(a for a, _ in valid), "followees": joined(b for _, b in valid)})}
    present = [{"follower": a, "followee": b} for a, b in valid if (a, b) not in missing]
    gone = [{"follower": a, "followee": b} for a, b in pairs if (a, b) in missing or not (is_uuid(a) and is_uuid(b))]
    return _nonempty((UPSERT_FOLLOWS, {"rows": present}), (DELETE_FOLLOWS, {"rows": gone}))


def sync_follows(conn: Connection, graph: Graph, pairs: Iterable[tuple[str, str]]) -> int:
    return _pipelined(conn, graph, pairs, _plan_follows)


# A position counts while money is in it; the backer is a user through their linked wallet.
FUNDING_ROWS = """
    SELECT coalesce(json_agg(json_build_object('proposal', proposal, 'user_id', user_id, 'amount', amount,
                                               'tx_hash', tx_hash)), '[]')
    FROM (SELECT k.proposal, u.id::text AS user_id,
                 sum(i.funded - i.refunded)::text AS amount, max(i.last_tx_hash) AS tx_hash
          FROM unnest(string_to_array(:proposals, ','), string_to_array(:backers, ',')) AS k(proposal, backer)
          JOIN users u ON u.wallet_address = k.backer AND u.deleted_at IS NULL
          LEFT JOIN investments i ON i.proposal_id = CAST(k.proposal AS uuid) AND i.backer = k.backer
          GROUP BY k.proposal, k.backer, u.id) positions
"""
UPSERT_FUNDINGS = """
    UNWIND $rows AS r
    MERGE (u:User {id: r.user_id}) MERGE (p:Proposal {id: r.proposal})
    MERGE (u)-[f:FUNDED]->(p) SET f.amount = r.amount, f.tx_hash = r.tx_hash
"""
DELETE_FUNDINGS = "UNWIND $rows AS r MATCH (:User {id: r.user_id})-[f:FUNDED]->(:Proposal {id: r.proposal}) DELETE f"
BACKER_FUNDINGS = ("SELECT proposal_id::text AS proposal, backer FROM investments "
                   "WHERE backer = ANY(string_to_array(:backers, ',')) AND proposal_id IS NOT NULL")


def _plan_fundings(conn: Connection, keys: Sequence[tuple[str, str]]) -> Writes:
    valid = [(p, b) for p, b in keys if is_uuid(p)]
    rows = _json_rows(conn.execute(text(FUNDING_ROWS), {"proposals": joined(p for p, _ in valid),
                                                        "backers": joined(b for _, b in valid)}).scalar_one())
    live = [r for r in rows if r["amount"] is not None and int(r["amount"]) > 0]
    dead = [{"user_id": r["user_id"], "proposal": r["proposal"]} for r in rows
            if r["amount"] is None or int(r["amount"]) <= 0]
    return _nonempty((UPSERT_FUNDINGS, {"rows": live}), (DELETE_FUNDINGS, {"rows": dead}))


def sync_fundings(conn: Connection, graph: Graph, keys: Iterable[tuple[str, str]]) -> int:
    return _pipelined(conn, graph, keys, _plan_fundings)


def backer_fundings(conn: Connection, backers: Iterable[str]) -> set[tuple[str, str]]:
    return {(row.proposal, row.backer) for row in conn.execute(text(BACKER_FUNDINGS), {"backers": joined(backers)})}


def apply(conn: Connection, graph: Graph, changes: Changes) -> dict[str, int]:
    """Refresh every changed key, nodes before relationships."""
    fundings = changes.fundings | backer_fundings(conn, changes.backers) if changes.backers else changes.fundings
    return {
        "users": sync_users(conn, graph, changes.users),
        "proposals": sync_proposals(conn, graph, changes.proposals),
        "follows": sync_follows(conn, graph, changes.follows),
        "fundings": sync_fundings(conn, graph, fundings),
    }
