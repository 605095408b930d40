"""Graph reads for the network API: suggestions with their reasons, ego networks,
connection paths and insights. Queries are in the Cypher subset Neo4j and FalkorDB
share; what neither does portably (undirected shortest paths, communities) is done
here over small query results.

What a reader may see (decision 0023): the public relationships (CREATED, FUNDED, OWNS,
TAGGED: what the REST API shows anyone) and, of the private ones (FOLLOWS, LIKED,
FAVORITED), only those that touch the reader. Every traversal filters to that as it
expands, one hop at a time, each hop capped, so no request enumerates paths it then drops.
"""
from __future__ import annotations

import uuid
from collections import Counter
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import Field

from shared.types import ApiModel

if TYPE_CHECKING:
    from shared.graph.port import Graph

MAX_SUGGESTIONS = 50
EGO_MAX_EDGES = 500
PATH_MAX_DEPTH = 6
PATH_MAX_FRONTIER = 1_000  # nodes carried into the next step of the path search
PATH_STEP_ROWS = 5_000  # relationships read per step: a hub cannot make a step unbounded
PUBLIC_RELATIONSHIPS = ("CREATED", "FUNDED", "OWNS", "TAGGED")
# Only those that touch the reader: following someone, liking or favouriting an item.
PRIVATE_RELATIONSHIPS = ("FOLLOWS", "LIKED", "FAVORITED")
EXPANDED_LABELS = ("User", "Proposal", "Item", "Tag", "Category")


class SuggestionQuery(ApiModel):
    limit: Annotated[int, Field(ge=1, le=MAX_SUGGESTIONS)] = 20


class PersonSuggestion(ApiModel):
    id: uuid.UUID
    name: str
    role: str | None
    score: int
    follows_you: bool = Field(description="they follow you and you do not follow them")
    co_funded: int = Field(description="proposals you both backed")
    reasons: list[str]


class PeoplePage(ApiModel):
    items: list[PersonSuggestion]


class ProposalSuggestion(ApiModel):
    id: uuid.UUID
    title: str
    co_investors: int = Field(description="people who backed what you backed and backed this")
    reason: str


class ProposalSuggestions(ApiModel):
    items: list[ProposalSuggestion]


class EgoQuery(ApiModel):
    depth: Annotated[int, Field(ge=1, le=2)] = 1


class Node(ApiModel):
    id: str
    label: str
    name: str | None = None


class Edge(ApiModel):
    source: str
    target: str
    type: str


class Network(ApiModel):
    nodes: list[Node]
    edges: list[Edge]
    truncated: bool = False


class PathQuery(ApiModel):
    to: uuid.UUID
    from_: uuid.UUID | None = Field(default=None, alias="from", description="admins only: another start")


class ConnectionPath(ApiModel):
    length: int
    nodes: list[Node]
    edges: list[Edge]


class Connector(ApiModel):
    id: uuid.UUID
    name: str
    followers: int
    following: int


class BackedArtist(ApiModel):
    id: uuid.UUID
    name: str
    backers: int


class Community(ApiModel):
    size: int
    sample: list[uuid.UUID]


class Insights(ApiModel):
    top_connectors: list[Connector]
    most_backed_artists: list[BackedArtist]
    communities: list[Community]


def _plural(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


# Whom others follow is theirs (decision 0023): suggestions use what is public (backing
# the same proposals) and the reader's own relationships (who follows them), never a
# third party's follows, which an account following one person would read back.
FOLLOWERS_NOT_FOLLOWED = """
    MATCH (c:User)-[:FOLLOWS]->(me:User {id: $me})
    WHERE NOT (me)-[:FOLLOWS]->(c)
    RETURN c.id AS id, c.name AS name, c.role AS role, 1 AS n
    ORDER BY id LIMIT $cap
"""
CO_FUNDERS = """
    MATCH (me:User {id: $me})-[:FUNDED]->(p:Proposal)<-[:FUNDED]-(c:User)
    WHERE c.id <> $me AND NOT (me)-[:FOLLOWS]->(c)
    RETURN c.id AS id, c.name AS name, c.role AS role, count(DISTINCT p) AS n
    ORDER BY n DESC, id LIMIT $cap
"""


def people_you_may_know(graph: Graph, me: uuid.UUID, limit: int) -> PeoplePage:
    """Co-funders and followers you do not follow back; backing the same proposal weighs
    twice a follow."""
    params = {"me": str(me), "cap": limit * 5}
    people: dict[str, dict[str, Any]] = {}
    for kind, rows in (("follows_you", graph.read(FOLLOWERS_NOT_FOLLOWED, params)),
                       ("co_funded", graph.read(CO_FUNDERS, params))):
        for row in rows:
            person = people.setdefault(row["id"], {"id": row["id"], "name": row["name"] or "", "role": row["role"],
                                                   "follows_you": False, "co_funded": 0})
            person[kind] = row["n"] if kind == "co_funded" else True
    items = []
    for person in people.values():
        reasons = ["follows you"] if person["follows_you"] else []
        if person["co_funded"]:
            reasons.append(f"backed the same {_plural(person['co_funded'], 'proposal', 'proposals')}"
                           if person["co_funded"] > 1 else "backed the same proposal")
        items.append(PersonSuggestion(**person, score=int(person["follows_you"]) + 2 * person["co_funded"],
                                      reasons=reasons))
    items.sort(key=lambda p: (-p.score, p.name, str(p.id)))
    return PeoplePage(items=items[:limit])


PROPOSALS_FOR_YOU = """
    MATCH (me:User {id: $me})-[:FUNDED]->(:Proposal)<-[:FUNDED]-(peer:User)-[:FUNDED]->(p:Proposal)
    WHERE peer.id <> $me AND p.status = 'open' AND NOT (me)-[:FUNDED]->(p) AND NOT (me)-[:CREATED]->(p)
    RETURN p.id AS id, p.title AS title, count(DISTINCT peer) AS peers
    ORDER BY peers DESC, id LIMIT $limit
"""


def proposals_for_you(graph: Graph, me: uuid.UUID, limit: int) -> ProposalSuggestions:
    """Collaborative filtering: what the people who backed what you backed also back."""
    rows = graph.read(PROPOSALS_FOR_YOU, {"me": str(me), "limit": limit})
    return ProposalSuggestions(items=[
        ProposalSuggestion(id=row["id"], title=row["title"] or "", co_investors=row["peers"],
                           reason=f"backed by {_plural(row['peers'], 'person', 'people')} who backed what you backed")
        for row in rows
    ])


# One step out of a set of nodes of one label, over the relationships the reader may see:
# the public ones by type, and the private ones only into or out of the reader's own node,
# so a node with a million followers costs what it shows, not what it has.
_RETURNED = """
    RETURN DISTINCT type(r) AS type, startNode(r).id AS source, endNode(r).id AS target,
           labels(startNode(r))[0] AS source_label, labels(endNode(r))[0] AS target_label,
           coalesce(startNode(r).name, startNode(r).title) AS source_name,
           coalesce(endNode(r).name, endNode(r).title) AS target_name
    LIMIT $cap
"""
_PUBLIC, _PRIVATE = "|".join(PUBLIC_RELATIONSHIPS), "|".join(PRIVATE_RELATIONSHIPS)


def _step_query(label: str) -> str:
    parts = [f"UNWIND $ids AS id MATCH (n:{label} {{id: id}})-[r:{_PUBLIC}]-(m)",
             f"UNWIND $ids AS id MATCH (n:{label} {{id: id}})-[r:{_PRIVATE}]-(m:User {{id: $reader}})"]
    if label == "User":  # the reader's own, when the reader is in the frontier
        parts.append(f"MATCH (n:User {{id: $reader}})-[r:{_PRIVATE}]-(m) WHERE $reader IN $ids")
    return " UNION ".join(part + _RETURNED for part in parts)


STEPS = {label: _step_query(label) for label in EXPANDED_LABELS}


def _step(graph: Graph, reader: str, frontier: dict[str, str], cap: int) -> tuple[list[dict[str, Any]], bool]:
    """The visible relationships of the frontier's nodes (id -> label): at most ``cap`` of
    them, and whether there were more."""
    rows: list[dict[str, Any]] = []
    for label, query in STEPS.items():
        ids = [node for node, node_label in frontier.items() if node_label == label]
        if ids:
            rows += graph.read(query, {"ids": ids, "reader": reader, "cap": cap + 1})
    unique = list({(row["source"], row["target"], row["type"]): row for row in rows}.values())
    return unique[:cap], len(unique) > cap


def ego(graph: Graph, me: uuid.UUID, depth: int) -> Network:
    """The reader's relationships and, at depth 2, their neighbours' visible ones."""
    reader = str(me)
    found = graph.read("MATCH (me:User {id: $me}) RETURN me.name AS name", {"me": reader})
    if not found:
        return Network(nodes=[], edges=[])
    nodes = {reader: Node(id=reader, label="User", name=found[0]["name"])}
    edges: dict[tuple[str, str, str], Edge] = {}
    frontier, truncated = {reader: "User"}, False
    for _ in range(depth):
        # Edges met already (each neighbour's way back to the reader) come again: ask for as
        # many more as the cap has room for, beyond those.
        rows, more = _step(graph, reader, frontier, EGO_MAX_EDGES + len(edges))
        following: dict[str, str] = {}
        for row in rows:
            key = (row["source"], row["target"], row["type"])
            if key in edges:
                continue
            if len(edges) == EGO_MAX_EDGES:
                truncated = True
                break
            edges[key] = Edge(source=row["source"], target=row["target"], type=row["type"])
            for end in ("source", "target"):
                if row[end] not in nodes:
                    nodes[row[end]] = Node(id=row[end], label=row[f"{end}_label"], name=row[f"{end}_name"])
                    following[row[end]] = row[f"{end}_label"]
        truncated = truncated or more
        if truncated:
            break
        frontier = following
    return Network(nodes=sorted(nodes.values(), key=lambda n: (n.id != reader, n.label, n.id)),
                   edges=list(edges.values()), truncated=truncated)


def connection_path(graph: Graph, start: uuid.UUID, goal: uuid.UUID, reader: uuid.UUID) -> ConnectionPath | None:
    """Shortest path in either direction over the relationships ``reader`` may see, by
    bidirectional BFS (FalkorDB has no undirected shortestPath); None beyond PATH_MAX_DEPTH
    or once a step reads more than its cap without meeting."""
    a, b, viewer = str(start), str(goal), str(reader)
    found = {row["id"]: row for row in graph.read(
        "UNWIND $ids AS id MATCH (u:User {id: id}) RETURN u.id AS id, u.name AS name", {"ids": [a, b]})}
    if a not in found or b not in found:
        return None
    names = {key: row["name"] for key, row in found.items()}
    labels = {a: "User", b: "User"}
    # parent[side][node] = (previous node, edge)
    parents: list[dict[str, tuple[str | None, Edge | None]]] = [{a: (None, None)}, {b: (None, None)}]
    frontiers = [{a: "User"}, {b: "User"}]
    meet = a if a == b else None
    for _ in range(PATH_MAX_DEPTH):
        if meet or not all(frontiers):
            break
        side = 0 if len(frontiers[0]) <= len(frontiers[1]) else 1
        following: dict[str, str] = {}
        rows, _ = _step(graph, viewer, frontiers[side], PATH_STEP_ROWS)
        for row in rows:
            edge = Edge(source=row["source"], target=row["target"], type=row["type"])
            here, there = (row["source"], row["target"]) if row["source"] in frontiers[side] else \
                (row["target"], row["source"])
            there_label = row["target_label"] if there == row["target"] else row["source_label"]
            labels.setdefault(there, there_label)
            names.setdefault(there, row["target_name"] if there == row["target"] else row["source_name"])
            if there in parents[side]:
                continue
            parents[side][there] = (here, edge)
            following[there] = there_label
            if there in parents[1 - side]:
                meet = there
                break
        frontiers[side] = dict(list(following.items())[:PATH_MAX_FRONTIER])
    if meet is None:
        return None
    chain: list[str] = []
    edges: list[Edge] = []
    node: str | None = meet
    while node is not None:  # back to the start
        chain.insert(0, node)
        node, edge = parents[0][node]
        if edge:
            edges.insert(0, edge)
    node, edge = parents[1][meet]
    if edge:
        edges.append(edge)
    while node is not None:  # on to the goal
        chain.append(node)
        node, edge = parents[1][node]
        if edge:
            edges.append(edge)
    if len(chain) - 1 > PATH_MAX_DEPTH:
        return None
    return ConnectionPath(length=len(chain) - 1, edges=edges,
                          nodes=[Node(id=n, label=labels.get(n, "User"), name=names.get(n)) for n in chain])


TOP_CONNECTORS = """
    MATCH (u:User) OPTIONAL MATCH (u)<-[:FOLLOWS]-(f:User)
    WITH u, count(f) AS followers
    OPTIONAL MATCH (u)-[:FOLLOWS]->(g:User)
    RETURN u.id AS id, u.name AS name, followers, count(g) AS following
    ORDER BY followers + following DESC, id LIMIT $limit
"""
MOST_BACKED = """
    MATCH (a:User)-[:CREATED]->(:Proposal)<-[:FUNDED]-(b:User)
    RETURN a.id AS id, a.name AS name, count(DISTINCT b) AS backers ORDER BY backers DESC, id LIMIT $limit
"""
# Communities from FOLLOWS and co-funding edges; capped so one request stays small.
SOCIAL_EDGES = """
    MATCH (a:User)-[:FOLLOWS]-(b:User) WHERE a.id < b.id RETURN a.id AS a, b.id AS b LIMIT $cap
"""


def insights(graph: Graph, limit: int = 10, edge_cap: int = 200_000) -> Insights:
    connectors = [Connector(**row) for row in graph.read(TOP_CONNECTORS, {"limit": limit})]
    backed = [BackedArtist(**row) for row in graph.read(MOST_BACKED, {"limit": limit})]
    # Weakly connected components by union-find: portable, and fast at this size.
    parent: dict[str, str] = {}

    def root(x: str) -> str:
        while parent.setdefault(x, x) != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for row in graph.read(SOCIAL_EDGES, {"cap": edge_cap}):
        ra, rb = root(row["a"]), root(row["b"])
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    members: dict[str, list[str]] = {}
    for node in parent:
        members.setdefault(root(node), []).append(node)
    sizes = Counter({key: len(group) for key, group in members.items()})
    communities = [Community(size=size, sample=sorted(members[key])[:5]) for key, size in sizes.most_common(limit)
                   if size > 1]
    return Insights(top_connectors=connectors, most_backed_artists=backed, communities=communities)
