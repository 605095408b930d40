"""The graph port's contract, for every adapter: FalkorDB always (the local engine);
Neo4j when NEO4J_URI (and NEO4J_USER / NEO4J_PASSWORD) point at a server, since none
can be installed offline. The skip says so; it hides nothing that CI could run."""
from __future__ import annotations

import os

import pytest

from local.processes import free_port
from shared.graph.port import GraphUnavailable, connect

ADAPTERS = ["falkordb", pytest.param("neo4j", marks=pytest.mark.skipif(
    not os.environ.get("NEO4J_URI"), reason="no Neo4j server: set NEO4J_URI, NEO4J_USER, NEO4J_PASSWORD"))]


@pytest.fixture(params=ADAPTERS)
def store(request, graph_url):
    if request.param == "falkordb":
        graph = connect(graph_url.rsplit("/", 1)[0] + "/contract")
    else:
        graph = connect(os.environ["NEO4J_URI"], user=os.environ.get("NEO4J_USER"),
                        password=os.environ.get("NEO4J_PASSWORD"))
    graph.drop_all()
    graph.ensure_schema()
    graph.ensure_schema()  # idempotent
    yield graph
    graph.drop_all()
    graph.close()


def test_unwind_merge_is_idempotent_and_reads_return_named_columns(store):
    rows = [{"id": f"u{i}", "name": f"User {i}"} for i in range(50)]
    for _ in range(2):
        store.write("UNWIND $rows AS r MERGE (u:User {id: r.id}) SET u.name = r.name", {"rows": rows})
    store.write("UNWIND $pairs AS p MATCH (a:User {id: p[0]}), (b:User {id: p[1]}) MERGE (a)-[:FOLLOWS]->(b)",
                {"pairs": [["u0", "u1"], ["u1", "u2"], ["u0", "u1"]]})
    assert store.read("MATCH (u:User) RETURN count(u) AS n") == [{"n": 50}]
    assert store.read("MATCH (a:User)-[:FOLLOWS]->(b:User) RETURN a.id AS a, b.id AS b ORDER BY a") == [
        {"a": "u0", "b": "u1"}, {"a": "u1", "b": "u2"}]


def test_ids_are_unique_per_label(store):
    store.write("CREATE (:User {id: 'same'})")
    with pytest.raises(Exception, match=r"(?i)constraint|already exists"):
        store.write("CREATE (:User {id: 'same'})")
    store.write("CREATE (:Proposal {id: 'same'})")  # another label may reuse it


def test_queries_the_app_relies_on_run_on_this_engine(store):
    from shared.graph import network

    store.write("UNWIND $ids AS id CREATE (:User {id: id, name: id})", {"ids": ["me", "a", "c"]})
    store.write("MATCH (me:User {id: 'me'}), (a:User {id: 'a'}), (c:User {id: 'c'}) "
                "CREATE (me)-[:FOLLOWS]->(a), (a)-[:FOLLOWS]->(c), (c)-[:FOLLOWS]->(me)")
    rows = store.read(network.FOLLOWERS_NOT_FOLLOWED, {"me": "me", "cap": 10})
    assert [(r["id"], r["n"]) for r in rows] == [("c", 1)]
    assert store.read(network.CO_FUNDERS, {"me": "me", "cap": 10}) == []
    step = {"reader": "me", "cap": 10}
    assert len(store.read(network.STEPS["User"], {**step, "ids": ["me"]})) == 2  # both touch the reader
    # From a: only me -> a; a's own follow of c is a's to see.
    assert [(r["source"], r["target"]) for r in store.read(network.STEPS["User"], {**step, "ids": ["a"]})] == [
        ("me", "a")]


def test_an_unreachable_engine_is_graph_unavailable():
    with pytest.raises(GraphUnavailable):
        connect(f"falkordb://127.0.0.1:{free_port()}/x").read("RETURN 1 AS one")


def test_graph_url_must_name_a_known_engine():
    with pytest.raises(ValueError, match="scheme"):
        connect("redis://127.0.0.1/x")
    with pytest.raises(ValueError, match="NEO4J_USER"):
        connect("neo4j+s://example.databases.neo4j.io")
