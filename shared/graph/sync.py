"""PostgreSQL -> graph: make the graph's copy of some rows equal to PostgreSQL's.

Events only say *which* rows changed; the sync reads those rows as they are now and
upserts them in the graph, or removes what PostgreSQL no longer has. Applying an event
twice, or two events in the wrong order, therefore ends in the same graph, and the
reconcile (shared/graph/reconcile.py) repairs drift with the very same functions.

Writes are UNWIND batches, nodes before relationships; every query is in the Cypher
subset shared by Neo4j and FalkorDB (see shared/graph/port.py).
"""
from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import text

from shared.market.holders import ITEM_HOLDER_SQL
from shared.market.tables import public_item
from shared.tables import ACTIVE_USER, active_user_row

if TYPE_CHECKING:
    from concurrent.futures import Future

    from sqlalchemy import Connection

    from shared.graph.port import Graph

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
    backers: set[str] = field(default_factory=set)  # wallets whose owner changed: all they fund and hold
    funders: set[str] = field(default_factory=set)  # users whose wallet changed: their fundings anew
    items: set[str] = field(default_factory=set)
    favorites: set[tuple[str, str]] = field(default_factory=set)  # (user, item)
    likes: set[tuple[str, str]] = field(default_factory=set)  # (user, item)
    tokens: set[tuple[str, str]] = field(default_factory=set)  # (contract, token id): their items' holders
    categories: set[str] = field(default_factory=set)  # slugs renamed or deleted: the old node goes
    # (kind, id) of a person, item or proposal hidden or back in sight (decision 0031): every
    # relationship it has is refreshed too, since a node's removal took them all.
    around: set[tuple[str, str]] = field(default_factory=set)


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

def active_user(expression: str) -> str:
    """The user ``expression`` names, as text, or NULL once erased or while suspended: an erased
    person's works and holdings stay, without an edge to (or a node for) the person."""
    return f"(SELECT au.id::text FROM users au WHERE au.id = ({expression}) AND {active_user_row('au')})"


# Rows come back as one JSON document: decoding it in C beats pg8000's row-by-row
# parsing, which would compete for the GIL with the graph client's encoding.
USER_ROWS = f"""
    SELECT coalesce(json_agg(json_build_object('id', id::text, 'role', role, 'name', coalesce(display_name, ''))),
                    '[]')
    FROM users WHERE id = ANY(CAST(string_to_array(:ids, ',') AS uuid[])) AND {ACTIVE_USER}
"""
UPSERT_USERS = "UNWIND $rows AS r MERGE (u:User {id: r.id}) SET u.role = r.role, u.name = r.name"
DELETE_USERS = "UNWIND $ids AS id MATCH (u:User {id: id}) DETACH DELETE u"

# Drafts are private: the graph holds proposals from publication on, while not hidden (decision 0031).
PROPOSAL_ROWS = """
    SELECT id::text AS id, {owner} AS owner, title, status, coalesce(category, '') AS category,
           tags FROM proposals WHERE id = ANY(CAST(string_to_array(:ids, ',') AS uuid[])) AND status <> 'draft'
      AND hidden IS NULL
""".format(owner=active_user("proposals.owner_id"))
UPSERT_PROPOSALS = """
    UNWIND $rows AS r
    MERGE (p:Proposal {id: r.id}) SET p.title = r.title, p.status = r.status, p.owner = r.owner
    WITH p, r WHERE r.owner IS NOT NULL
    MERGE (u:User {id: r.owner})
    MERGE (u)-[:CREATED]->(p)
"""
DELETE_PROPOSALS = "UNWIND $ids AS id MATCH (p:Proposal {id: id}) DETACH DELETE p"

# The graph holds what the public sees: listed and sold items, not hidden.
ITEM_ROWS = f"""
    SELECT items.id::text AS id, {active_user("items.owner_id")} AS owner, items.title, items.status, items.kind,
           coalesce(items.category, '') AS category, items.tags, {active_user(ITEM_HOLDER_SQL)} AS holder
    FROM items WHERE items.id = ANY(CAST(string_to_array(:ids, ',') AS uuid[])) AND {public_item("items")}
"""
UPSERT_ITEMS = """
    UNWIND $rows AS r
    MERGE (i:Item {id: r.id}) SET i.title = r.title, i.status = r.status, i.kind = r.kind, i.owner = r.owner
    WITH i, r WHERE r.owner IS NOT NULL
    MERGE (u:User {id: r.owner})
    MERGE (u)-[:CREATED]->(i)
"""
# The holder is replaced as a whole, like tags.
UNLINK_HOLDERS = "UNWIND $ids AS id MATCH (:User)-[o:OWNS]->(i:Item {id: id}) DELETE o"
LINK_HOLDERS = "UNWIND $rows AS r MATCH (i:Item {id: r.id}) MERGE (u:User {id: r.holder}) MERGE (u)-[:OWNS]->(i)"
DELETE_ITEMS = "UNWIND $ids AS id MATCH (i:Item {id: id}) DETACH DELETE i"
ITEMS_OF_TOKENS = """
    SELECT id::text FROM items
    WHERE (token_contract, token_id::text) IN (SELECT * FROM unnest(string_to_array(:contracts, ','),
                                                                     string_to_array(:token_ids, ',')))
"""
ITEMS_HELD_BY_WALLETS = """
    SELECT i.id::text FROM items i JOIN artwork_tokens t
        ON t.chain_id = i.token_chain_id AND t.contract = i.token_contract AND t.token_id = i.token_id
    WHERE t.owner = ANY(string_to_array(:wallets, ','))
"""
CATEGORY_MEMBERS = """
    SELECT 'item' AS kind, id::text AS id FROM items WHERE category = ANY(string_to_array(:slugs, ','))
    UNION ALL SELECT 'proposal', id::text FROM proposals WHERE category = ANY(string_to_array(:slugs, ','))
"""
DELETE_CATEGORIES = "UNWIND $ids AS id MATCH (c:Category {id: id}) DETACH DELETE c"


def _taxonomy_writes(label: str, rows: list[dict[str, Any]]) -> Writes:
    """Tags and categories are replaced as a whole: remove the old links, add the current ones."""
    tags = [{"id": r["id"], "tag": tag} for r in rows for tag in r["tags"]]
    categories = [{"id": r["id"], "category": r["category"]} for r in rows if r["category"]]
    return _nonempty(
        (f"UNWIND $ids AS id MATCH (n:{label} {{id: id}})-[t:TAGGED]->() DELETE t", {"ids": [r["id"] for r in rows]}),
        (f"UNWIND $rows AS r MATCH (n:{label} {{id: r.id}}) MERGE (t:Tag {{id: r.tag}}) MERGE (n)-[:TAGGED]->(t)",
         {"rows": tags}),
        (f"UNWIND $rows AS r MATCH (n:{label} {{id: r.id}}) MERGE (c:Category {{id: r.category}}) "
         "MERGE (n)-[:TAGGED]->(c)", {"rows": categories}),
    )


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
    gone = sorted(set(ids) - {row["id"] for row in rows})
    upserts = [{k: r[k] for k in ("id", "owner", "title", "status")} for r in rows]
    return [*_nonempty((UPSERT_PROPOSALS, {"rows": upserts})), *_taxonomy_writes("Proposal", rows),
            *_nonempty((DELETE_PROPOSALS, {"ids": gone}))]


def sync_proposals(conn: Connection, graph: Graph, ids: Iterable[str]) -> int:
    return _pipelined(conn, graph, ids, _plan_proposals)


def _plan_items(conn: Connection, ids: Sequence[str]) -> Writes:
    rows = [dict(row._mapping) for row in conn.execute(text(ITEM_ROWS), {"ids": joined(filter(is_uuid, ids))})]
    gone = sorted(set(ids) - {row["id"] for row in rows})
    upserts = [{k: r[k] for k in ("id", "owner", "title", "status", "kind")} for r in rows]
    holders = [{"id": r["id"], "holder": r["holder"]} for r in rows if r["holder"]]
    return [*_nonempty((UPSERT_ITEMS, {"rows": upserts}), (UNLINK_HOLDERS, {"ids": [r["id"] for r in rows]}),
                       (LINK_HOLDERS, {"rows": holders})),
            *_taxonomy_writes("Item", rows), *_nonempty((DELETE_ITEMS, {"ids": gone}))]


def sync_items(conn: Connection, graph: Graph, ids: Iterable[str]) -> int:
    return _pipelined(conn, graph, ids, _plan_items)


# -- relationships -------------------------------------------------------------------

@dataclass(frozen=True)
class PairEdge:
    """A relationship that exists exactly while a (a, b) row exists in a table."""

    table: str
    a_column: str
    b_column: str
    a_label: str
    b_label: str
    type: str

    @property
    def missing_sql(self) -> str:
        """Of the given pairs, those PostgreSQL does not have (usually none), or whose person
        is erased or suspended: a leftover row of theirs must never bring the node back."""
        erased = " OR ".join(f"NOT EXISTS (SELECT 1 FROM users u WHERE u.id = k.{side} AND {active_user_row('u')})"
                             for side, label in (("a", self.a_label), ("b", self.b_label)) if label == "User")
        return f"""
            SELECT k.a::text AS a, k.b::text AS b
            FROM unnest(CAST(string_to_array(:a, ',') AS uuid[]), CAST(string_to_array(:b, ',') AS uuid[])) AS k(a, b)
            WHERE NOT EXISTS (SELECT 1 FROM {self.table} t WHERE t.{self.a_column} = k.a AND t.{self.b_column} = k.b)
               OR {erased}
        """

    @property
    def upsert(self) -> str:
        # Users are merged (they may be new); items only matched: a private one has no node.
        b = "MERGE (b:User {id: r.b})" if self.b_label == "User" else f"MATCH (b:{self.b_label} {{id: r.b}})"
        return f"UNWIND $rows AS r {b} MERGE (a:{self.a_label} {{id: r.a}}) MERGE (a)-[:{self.type}]->(b)"

    @property
    def delete(self) -> str:
        return (f"UNWIND $rows AS r MATCH (:{self.a_label} {{id: r.a}})-[e:{self.type}]->(:{self.b_label} {{id: r.b}}) "
                "DELETE e")


FOLLOWS = PairEdge("follows", "follower_id", "followee_id", "User", "User", "FOLLOWS")
FAVORITED = PairEdge("favorites", "user_id", "item_id", "User", "Item", "FAVORITED")
LIKED = PairEdge("likes", "user_id", "item_id", "User", "Item", "LIKED")
UPSERT_FOLLOWS = FOLLOWS.upsert


def _plan_pairs(edge: PairEdge) -> Callable[[Connection, Sequence[tuple[str, str]]], Writes]:
    def plan(conn: Connection, pairs: Sequence[tuple[str, str]]) -> Writes:
        valid = [(a, b) for a, b in pairs if is_uuid(a) and is_uuid(b)]
        missing = {(row.a, row.b) for row in conn.execute(
            text(edge.missing_sql), {"a": joined(a for a, _ in valid), "b": joined(b for _, b in valid)})}
        present = [{"a": a, "b": b} for a, b in valid if (a, b) not in missing]
        gone = [{"a": a, "b": b} for a, b in pairs if (a, b) in missing or not (is_uuid(a) and is_uuid(b))]
        return _nonempty((edge.upsert, {"rows": present}), (edge.delete, {"rows": gone}))

    return plan


def sync_pairs(edge: PairEdge) -> Callable[[Connection, Graph, Iterable[tuple[str, str]]], int]:
    plan = _plan_pairs(edge)
    return lambda conn, graph, pairs: _pipelined(conn, graph, pairs, plan)


sync_follows = sync_pairs(FOLLOWS)
sync_favorites = sync_pairs(FAVORITED)
sync_likes = sync_pairs(LIKED)


# A position counts while money is in it and the proposal is not hidden; the backer is a user
# through their linked wallet.
FUNDING_ROWS = f"""
    SELECT coalesce(json_agg(json_build_object('proposal', proposal, 'user_id', user_id, 'amount', amount,
                                               'tx_hash', tx_hash)), '[]')
    FROM (SELECT k.proposal, u.id::text AS user_id,
                 sum(i.funded - i.refunded)::text AS amount, max(i.last_tx_hash) AS tx_hash
          FROM unnest(string_to_array(:proposals, ','), string_to_array(:backers, ',')) AS k(proposal, backer)
          JOIN users u ON u.wallet_address = k.backer AND {active_user_row('u')}
          LEFT JOIN investments i ON i.proposal_id = CAST(k.proposal AS uuid) AND i.backer = k.backer
               AND NOT EXISTS (SELECT 1 FROM proposals p WHERE p.id = i.proposal_id AND p.hidden IS NOT NULL)
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


WALLETS_OF_USERS = ("SELECT wallet_address FROM users WHERE id = ANY(CAST(string_to_array(:ids, ',') AS uuid[])) "
                    f"AND wallet_address IS NOT NULL AND {ACTIVE_USER}")
# A person's FUNDED edges came from the wallet they had; after a change, from the one they have.
DELETE_FUNDINGS_OF_USERS = "UNWIND $ids AS id MATCH (:User {id: id})-[f:FUNDED]->() DELETE f"


# What a person, an item or a proposal is linked by, for Changes.around: (query, field of Changes).
AROUND = {
    "user": (("SELECT follower_id::text, followee_id::text FROM follows WHERE follower_id = ANY({ids}) "
              "OR followee_id = ANY({ids})", "follows"),
             ("SELECT user_id::text, item_id::text FROM favorites WHERE user_id = ANY({ids})", "favorites"),
             ("SELECT user_id::text, item_id::text FROM likes WHERE user_id = ANY({ids})", "likes"),
             ("SELECT id::text FROM items WHERE owner_id = ANY({ids}) OR holder_id = ANY({ids})", "items"),
             ("SELECT id::text FROM proposals WHERE owner_id = ANY({ids})", "proposals"),
             # What their wallet funds and holds (tokens' holders are wallets, not holder_id).
             ("SELECT wallet_address FROM users WHERE id = ANY({ids}) AND wallet_address IS NOT NULL", "backers"),
             # What others did with the person's work: marks of their items, fundings of their proposals.
             ("SELECT f.user_id::text, f.item_id::text FROM favorites f JOIN items i ON i.id = f.item_id "
              "WHERE i.owner_id = ANY({ids})", "favorites"),
             ("SELECT l.user_id::text, l.item_id::text FROM likes l JOIN items i ON i.id = l.item_id "
              "WHERE i.owner_id = ANY({ids})", "likes"),
             ("SELECT v.proposal_id::text, v.backer FROM investments v JOIN proposals p ON p.id = v.proposal_id "
              "WHERE p.owner_id = ANY({ids})", "fundings")),
    "item": (("SELECT user_id::text, item_id::text FROM favorites WHERE item_id = ANY({ids})", "favorites"),
             ("SELECT user_id::text, item_id::text FROM likes WHERE item_id = ANY({ids})", "likes")),
    "proposal": (("SELECT proposal_id::text, backer FROM investments WHERE proposal_id = ANY({ids})", "fundings"),),
}


def _around(conn: Connection, changes: Changes) -> Changes:
    """``changes`` with what its ``around`` keys are linked by added (a copy)."""
    expanded = Changes(**{name: set(value) for name, value in vars(changes).items()})
    for kind, queries in AROUND.items():
        keys = sorted(key for of, key in changes.around if of == kind and is_uuid(key))
        if not keys:
            continue
        ids = "CAST(string_to_array(:ids, ',') AS uuid[])"
        for query, name in queries:
            found = conn.execute(text(query.format(ids=ids)), {"ids": joined(keys)})
            getattr(expanded, name).update(row[0] if len(row) == 1 else (row[0], row[1]) for row in found)
        if kind == "user":
            expanded.users.update(keys)
            expanded.funders.update(keys)  # what their wallet funds
    return expanded


def _expand(conn: Connection, changes: Changes) -> tuple[set[tuple[str, str]], set[str], set[str]]:
    """What the changes imply beyond themselves: (fundings, items, proposals) to refresh."""
    fundings, items, proposals = set(changes.fundings), set(changes.items), set(changes.proposals)
    funders = [user for user in changes.funders if is_uuid(user)]
    if funders:
        fundings |= backer_fundings(conn, [row[0] for row in conn.execute(text(WALLETS_OF_USERS),
                                                                           {"ids": joined(funders)})])
    if changes.backers:
        fundings |= backer_fundings(conn, changes.backers)
        items |= {row[0] for row in conn.execute(text(ITEMS_HELD_BY_WALLETS), {"wallets": joined(changes.backers)})}
    if changes.tokens:
        contracts, token_ids = zip(*sorted(changes.tokens), strict=True)
        items |= {row[0] for row in conn.execute(text(ITEMS_OF_TOKENS), {"contracts": joined(contracts),
                                                                         "token_ids": joined(token_ids)})}
    if changes.categories:
        for kind, key in conn.execute(text(CATEGORY_MEMBERS), {"slugs": joined(changes.categories)}):
            (items if kind == "item" else proposals).add(key)
    return fundings, items, proposals


def apply(conn: Connection, graph: Graph, changes: Changes) -> dict[str, int]:
    """Refresh every changed key, nodes before relationships."""
    changes = _around(conn, changes) if changes.around else changes
    fundings, items, proposals = _expand(conn, changes)
    if changes.categories:
        graph.write(DELETE_CATEGORIES, {"ids": sorted(changes.categories)})  # relinked below under current slugs
    if changes.funders:
        graph.write(DELETE_FUNDINGS_OF_USERS, {"ids": sorted(changes.funders)})  # the current wallet's come back below
    return {
        "users": sync_users(conn, graph, changes.users),
        "proposals": sync_proposals(conn, graph, proposals),
        "items": sync_items(conn, graph, items),
        "follows": sync_follows(conn, graph, changes.follows),
        "fundings": sync_fundings(conn, graph, fundings),
        "favorites": sync_favorites(conn, graph, changes.favorites),
        "likes": sync_likes(conn, graph, changes.likes),
    }
