"""PostgreSQL -> graph (FalkorDB, the local engine): the ETL from real outbox events,
idempotence, order, deletes, chain fundings, reconcile, outages; the network API."""
from __future__ import annotations

import json
import time
import uuid
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from eth_account import Account
from sqlalchemy import text

from shared.events.envelope import EventEnvelope
from shared.graph.etl import consume_batch
from shared.graph.port import connect
from shared.graph.reconcile import full, incremental, reconcile
from tests.conftest import reset_caches

ETHER = 10**18


@pytest.fixture
def graph(graph_url, app_env):
    store = connect(graph_url)
    store.drop_all()
    store.ensure_schema()
    yield store
    store.drop_all()
    store.close()


@pytest.fixture
def engine(app_env):
    from shared.db import get_engine

    return get_engine()


def outbox_events(db, after: int = 0) -> list[EventEnvelope]:
    db.rollback()
    return [EventEnvelope.model_validate(row[0]) for row in db.execute(
        text("SELECT envelope FROM outbox WHERE id > :after ORDER BY id"), {"after": after})]


def last_outbox_id(db) -> int:
    db.rollback()
    return db.execute(text("SELECT coalesce(max(id), 0) FROM outbox")).scalar_one()


def snapshot(graph) -> dict[str, list]:
    return {
        "nodes": sorted((row["label"], row["id"], repr(row["props"])) for row in graph.read(
            "MATCH (n) RETURN labels(n)[0] AS label, n.id AS id, properties(n) AS props")),
        "edges": sorted((row["type"], row["a"], row["b"], repr(row["props"])) for row in graph.read(
            "MATCH (a)-[r]->(b) RETURN type(r) AS type, a.id AS a, b.id AS b, properties(r) AS props")),
    }


def edges(graph, kind: str) -> set[tuple[str, str]]:
    return {(r["a"], r["b"]) for r in graph.read(f"MATCH (a)-[:{kind}]->(b) RETURN a.id AS a, b.id AS b")}


def test_events_build_the_graph_and_applying_them_again_changes_nothing(api, db, people, make_proposal, graph,
                                                                       engine):
    ada, bela, cleo = people("artist", name="Ada"), people("investor", name="Bela"), people("collector")
    api.post(f"/api/users/{bela.id}/follow", token=ada.token)
    api.post(f"/api/users/{ada.id}/follow", token=bela.token)
    api.post(f"/api/users/{bela.id}/follow", token=cleo.token)
    proposal = make_proposal(ada, publish=True, tags=["textile", "lagos"], category="craft")
    make_proposal(ada)  # a draft stays out of the graph
    events = outbox_events(db)
    assert consume_batch(engine, graph, events) == len(events)

    assert edges(graph, "FOLLOWS") == {(ada.id, bela.id), (bela.id, ada.id), (cleo.id, bela.id)}
    assert edges(graph, "CREATED") == {(ada.id, proposal["id"])}
    assert edges(graph, "TAGGED") == {(proposal["id"], "textile"), (proposal["id"], "lagos"),
                                      (proposal["id"], "craft")}
    users = {r["id"]: (r["name"], r["role"]) for r in graph.read("MATCH (u:User) RETURN u.id AS id, "
                                                                  "u.name AS name, u.role AS role")}
    assert users[ada.id] == ("Ada", "artist") and users[bela.id] == ("Bela", "investor") and len(users) == 3
    before = snapshot(graph)

    assert consume_batch(engine, graph, events) == 0  # recorded: skipped
    db.execute(text("DELETE FROM processed_events"))
    db.commit()
    assert consume_batch(engine, graph, events) == len(events)  # applied again: same graph
    assert snapshot(graph) == before


def test_a_backlog_with_duplicates_is_applied_whole_and_recorded_once(api, db, people, graph, engine, monkeypatch):
    from shared.graph import etl

    ada, bela = people("artist"), people("investor")
    api.post(f"/api/users/{ada.id}/follow", token=bela.token)
    events = outbox_events(db)
    consume_batch(engine, graph, events)
    before = snapshot(graph)
    monkeypatch.setattr(etl, "CHECK_DUPLICATES_UP_TO", 1)  # every batch counts as a backlog
    assert consume_batch(engine, graph, events + events) == 2 * len(events)
    assert snapshot(graph) == before
    db.rollback()
    assert db.execute(text("SELECT count(*) FROM processed_events WHERE consumer = 'graph-etl'")).scalar() == len(
        events)


def test_out_of_order_events_end_in_the_current_state(api, db, people, make_proposal, graph, engine):
    ada, bela = people("artist"), people("investor")
    start = last_outbox_id(db)
    api.post(f"/api/users/{ada.id}/follow", token=bela.token)
    api.delete(f"/api/users/{ada.id}/follow", token=bela.token)
    proposal = make_proposal(ada, publish=True, title="First title")
    api.patch(f"/api/proposals/{proposal['id']}", token=ada.token, json={"title": "Second title"},
              headers={"If-Match": api.get(f"/api/proposals/{proposal['id']}").headers["ETag"]})
    events = outbox_events(db, start)
    base = outbox_events(db)[: len(outbox_events(db)) - len(events)]
    consume_batch(engine, graph, base)
    for event in reversed(events):  # newest first
        consume_batch(engine, graph, [event])
    assert edges(graph, "FOLLOWS") == set()
    assert graph.read("MATCH (p:Proposal) RETURN p.title AS title") == [{"title": "Second title"}]


def test_an_erased_user_leaves_the_graph_with_their_relationships(api, db, people, graph, engine):
    ada, bela = people("artist"), people("investor")
    api.post(f"/api/users/{ada.id}/follow", token=bela.token)
    consume_batch(engine, graph, outbox_events(db))
    start = last_outbox_id(db)
    assert api.delete("/api/me", token=bela.token).status_code == 204
    consume_batch(engine, graph, outbox_events(db, start))
    assert [r["id"] for r in graph.read("MATCH (u:User) RETURN u.id AS id")] == [ada.id]
    assert edges(graph, "FOLLOWS") == set()


def test_erasure_takes_the_person_out_of_postgres_and_the_graph_and_reconcile_agrees(api, db, people, make_item,
                                                                                     make_proposal, graph, engine):
    """Likes, favorites, follows both ways, the wallet link: gone from PostgreSQL and, through
    their events, from the graph. The erased artist's published work stays, without the
    person; a full reconcile finds nothing to repair, again and again (no flip-flop)."""
    ada, bela, cleo = people("artist", name="Ada"), people("investor", name="Bela"), people("collector", name="Cleo")
    item = make_item(ada, listed=True)
    make_proposal(ada, publish=True)
    api.post(f"/api/users/{ada.id}/follow", token=bela.token)
    api.post(f"/api/users/{bela.id}/follow", token=ada.token)
    api.post(f"/api/users/{ada.id}/follow", token=cleo.token)
    for kind in ("like", "favorite"):
        api.put(f"/api/items/{item['id']}/{kind}", token=bela.token)
    consume_batch(engine, graph, outbox_events(db))
    start = last_outbox_id(db)
    for person in (bela, ada):  # a fan, and the artist whose item and proposal stay published
        assert api.delete("/api/me", token=person.token).status_code == 204
    consume_batch(engine, graph, outbox_events(db, start))

    db.rollback()
    for erased in (ada, bela):
        personal = db.execute(text(
            "SELECT (SELECT count(*) FROM likes WHERE user_id = :u) + (SELECT count(*) FROM favorites WHERE user_id = :u)"
            " + (SELECT count(*) FROM follows WHERE follower_id = :u OR followee_id = :u)"
            " + (SELECT count(*) FROM wallet_challenges WHERE user_id = :u)"
            " + (SELECT count(*) FROM users WHERE id = :u AND (email IS NOT NULL OR firebase_uid IS NOT NULL"
            "    OR display_name IS NOT NULL OR wallet_address IS NOT NULL))"), {"u": erased.id}).scalar_one()
        assert personal == 0, erased
    assert db.execute(text("SELECT like_count, favorite_count FROM items WHERE id = :i"),
                      {"i": item["id"]}).one() == (0, 0)
    people_in_graph = {r["id"] for r in graph.read("MATCH (u:User) RETURN u.id AS id")}
    assert people_in_graph == {cleo.id}
    assert graph.read("MATCH (i:Item {id: $i}) RETURN count(i) AS n", {"i": item["id"]})[0]["n"] == 1
    assert edges(graph, "FOLLOWS") == set() and edges(graph, "LIKED") == set() and edges(graph, "FAVORITED") == set()
    assert full(engine, graph).repaired == 0
    assert full(engine, graph).repaired == 0
    assert {r["id"] for r in graph.read("MATCH (u:User) RETURN u.id AS id")} == {cleo.id}


def test_the_incremental_reconcile_applies_every_event_the_graph_missed(api, db, people, make_item, graph, engine):
    """The outbox is the journal: whatever graph-etl never applied (here: every delivery after
    the first batch was lost) reaches the graph on the next incremental run, deletes and all,
    counted by kind; a second run repairs nothing."""
    ada, bela, cleo = people("artist"), people("investor"), people("collector")
    item = make_item(ada, listed=True)
    api.post(f"/api/users/{ada.id}/follow", token=cleo.token)
    consume_batch(engine, graph, outbox_events(db))  # delivered
    api.post(f"/api/users/{ada.id}/follow", token=bela.token)  # lost from here on
    api.delete(f"/api/users/{ada.id}/follow", token=cleo.token)
    for kind in ("like", "favorite"):
        api.put(f"/api/items/{item['id']}/{kind}", token=bela.token)
    api.put(f"/api/items/{item['id']}/like", token=cleo.token)
    api.delete(f"/api/items/{item['id']}/like", token=cleo.token)
    api.post(f"/api/items/{item['id']}/unlist", token=ada.token)
    api.post(f"/api/items/{item['id']}/list", token=ada.token)

    found = incremental(engine, graph, deadline=time.monotonic() + 30, lag=timedelta(0))["missed_events"]
    assert found == {"follow": 2, "like": 3, "favorite": 1, "item": 2}
    assert edges(graph, "FOLLOWS") == {(bela.id, ada.id)}
    assert edges(graph, "LIKED") == {(bela.id, item["id"])} and edges(graph, "FAVORITED") == {(bela.id, item["id"])}
    assert incremental(engine, graph, deadline=time.monotonic() + 30, lag=timedelta(0))["missed_events"] == {}
    assert full(engine, graph).repaired == 0
    # What it applied is recorded: graph-etl skips those deliveries if they come after all.
    assert consume_batch(engine, graph, outbox_events(db)) == 0


def test_the_journal_waits_for_transactions_that_may_still_commit(api, db, people, graph, engine):
    ada, bela = people("artist"), people("investor")
    api.post(f"/api/users/{ada.id}/follow", token=bela.token)
    assert incremental(engine, graph, deadline=time.monotonic() + 30)["missed_events"] == {}  # younger than the lag
    assert incremental(engine, graph, deadline=time.monotonic() + 30, lag=timedelta(0))["missed_events"] == {
        "user": 2, "follow": 1}


def _chain_event(kind: str, proposal_id: str, backer: str, amount: int, tx: str) -> EventEnvelope:
    return EventEnvelope(event_id=uuid.uuid4(), type=kind, occurred_at="2026-11-22T00:00:00Z",
                         aggregate_type="proposal", aggregate_id=proposal_id,
                         payload={"chain_id": 31337, "tx_hash": tx, "log_index": 0,
                                  "event": "Funded" if kind == "chain.funded" else "Refunded",
                                  "args": {"backer": backer, "amount": str(amount)}})


def test_chain_fundings_become_funded_edges_of_the_wallets_owner(api, db, people, make_proposal, graph, engine):
    ada, bela = people("artist"), people("investor")
    proposal = make_proposal(ada, publish=True)
    wallet = "0x90F79bf6EB2c4f870365E785982E1f101E93b906"
    db.execute(text("UPDATE users SET wallet_address = :w WHERE id = :id"), {"w": wallet, "id": bela.id})
    db.execute(text("INSERT INTO investments (chain_id, onchain_proposal_id, backer, proposal_id, funded, refunded, "
                    "events, last_tx_hash) VALUES (31337, :onchain, :w, :p, :amount, 0, 1, '0xabc')"),
               {"onchain": uuid.UUID(proposal["id"]).int, "w": wallet, "p": proposal["id"], "amount": 3 * ETHER})
    db.commit()
    consume_batch(engine, graph, [*outbox_events(db), _chain_event("chain.funded", proposal["id"], wallet, 3 * ETHER, "0xabc")])
    funded = graph.read("MATCH (u:User)-[f:FUNDED]->(p:Proposal) RETURN u.id AS u, p.id AS p, f.amount AS amount, "
                        "f.tx_hash AS tx")
    assert funded == [{"u": bela.id, "p": proposal["id"], "amount": str(3 * ETHER), "tx": "0xabc"}]
    db.execute(text("UPDATE investments SET refunded = funded, events = 2"))
    db.commit()
    consume_batch(engine, graph, [_chain_event("chain.refunded", proposal["id"], wallet, 3 * ETHER, "0xdef")])
    assert edges(graph, "FUNDED") == set()


def test_funded_edges_follow_the_wallet_when_it_is_replaced_or_unlinked(api, db, people, make_proposal, graph,
                                                                        engine):
    """What a person funds is what their linked wallet funds now (issue 22, finding 6)."""
    from tests.integration.test_wallets import _link

    ada, bela = people("artist"), people("investor")
    proposal = make_proposal(ada, publish=True)
    first, second = Account.create(), Account.create()
    for wallet, amount in ((first, 3 * ETHER), (second, 5 * ETHER)):
        db.execute(text("INSERT INTO investments (chain_id, onchain_proposal_id, backer, proposal_id, funded, "
                        "refunded, events, last_tx_hash) VALUES (31337, :onchain, :w, :p, :amount, 0, 1, '0xabc')"),
                   {"onchain": uuid.UUID(proposal["id"]).int, "w": wallet.address, "p": proposal["id"],
                    "amount": amount})
    db.commit()

    def amounts() -> list[tuple[str, str]]:
        consume_batch(engine, graph, outbox_events(db))
        return [(row["u"], row["amount"]) for row in graph.read(
            "MATCH (u:User)-[f:FUNDED]->(:Proposal) RETURN u.id AS u, f.amount AS amount")]

    assert _link(api, bela, first) == 200
    assert amounts() == [(bela.id, str(3 * ETHER))]
    assert _link(api, bela, second) == 200
    assert amounts() == [(bela.id, str(5 * ETHER))]
    assert api.delete("/api/me/wallet", token=bela.token).status_code == 204
    assert amounts() == []
    assert full(engine, graph).repaired == 0  # the events said it all


def test_full_reconcile_repairs_a_corrupted_graph(api, db, people, make_proposal, graph, engine):
    ada, bela, cleo = people("artist", name="Ada"), people("investor"), people("collector")
    api.post(f"/api/users/{ada.id}/follow", token=bela.token)
    api.post(f"/api/users/{bela.id}/follow", token=cleo.token)
    proposal = make_proposal(ada, publish=True, tags=["a", "b"])
    consume_batch(engine, graph, outbox_events(db))
    expected = snapshot(graph)
    assert full(engine, graph).repaired == 0

    graph.write("MATCH (:User {id: $a})-[f:FOLLOWS]->() DELETE f", {"a": bela.id})  # a lost edge
    graph.write("MATCH (u:User {id: $a}) SET u.name = 'Mallory'", {"a": ada.id})  # stale content
    graph.write("CREATE (:User {id: 'ghost', name: 'ghost'})")  # a node PostgreSQL never had
    graph.write("MATCH (u:User {id: $c}), (p:Proposal {id: $p}) CREATE (u)-[:FUNDED {amount: '1'}]->(p)",
                {"c": cleo.id, "p": proposal["id"]})  # a relationship PostgreSQL never had
    graph.write("MATCH (:Proposal)-[t:TAGGED]->(:Tag {id: 'a'}) DELETE t")
    report = full(engine, graph)
    assert report.labels["User"].digest_equal is False and report.repaired == 5  # one per corruption
    assert snapshot(graph) == expected
    assert full(engine, graph).repaired == 0


def test_a_new_or_wiped_graph_store_is_refilled_at_once(api, db, people, graph, engine):
    """The watermarks live in PostgreSQL: a fresh graph (a new Neo4j, make dev's new
    FalkorDB) would wait an hour for the full run; an empty graph makes it due now."""
    ada, bela = people("artist", name="Ada"), people("investor", name="Bela")
    api.post(f"/api/users/{ada.id}/follow", token=bela.token)
    assert "full" in reconcile(engine, graph)  # the first run ever
    expected = snapshot(graph)
    assert "full" not in reconcile(engine, graph)  # within the hour: incremental only
    graph.write("MATCH (n) DETACH DELETE n")
    assert "full" in reconcile(engine, graph)
    assert snapshot(graph) == expected


def test_incremental_sync_picks_up_rows_events_missed(db, people, graph, engine):
    ada = people("artist")
    db.execute(text("UPDATE users SET display_name = 'Renamed quietly' WHERE id = :id"), {"id": ada.id})
    db.commit()
    import time

    assert incremental(engine, graph, deadline=time.monotonic() + 30)["users"] == 1
    assert graph.read("MATCH (u:User) RETURN u.name AS name") == [{"name": "Renamed quietly"}]
    assert incremental(engine, graph, deadline=time.monotonic() + 30)["users"] == 0  # watermark moved


def test_a_graph_outage_loses_nothing(api, db, people, graph, engine):
    from local.processes import free_port
    from shared.graph.port import GraphUnavailable

    ada, bela = people("artist"), people("investor")
    api.post(f"/api/users/{ada.id}/follow", token=bela.token)
    events = outbox_events(db)
    with pytest.raises(GraphUnavailable):  # what graph-etl meets: the delivery fails, Pub/Sub retries
        consume_batch(engine, connect(f"falkordb://127.0.0.1:{free_port()}/nowhere"), events)
    db.rollback()
    assert db.execute(text("SELECT count(*) FROM processed_events WHERE consumer = 'graph-etl'")).scalar() == 0
    assert consume_batch(engine, graph, events) == len(events)  # the retry applies everything
    assert edges(graph, "FOLLOWS") == {(bela.id, ada.id)}


# -- the network API on a fixture graph ------------------------------------------------

@pytest.fixture
def community(people, graph):
    """me follows a, b; a and b follow c; b follows d and f; d follows me. me, c and e backed p1;
    c and e backed p2 (open), c backed p3 (closed). a made item i1 and likes and favourites i2."""
    me, a, b, c, d, e, f = (people("investor", name=n) for n in ("Me", "Ann", "Ben", "Cid", "Dot", "Eve", "Fay"))
    users = {"me": me, "a": a, "b": b, "c": c, "d": d, "e": e, "f": f}
    graph.write("UNWIND $rows AS r MERGE (u:User {id: r.id}) SET u.name = r.name, u.role = 'investor'",
                {"rows": [{"id": p.id, "name": k} for k, p in users.items()]})
    for x, y in (("me", "a"), ("me", "b"), ("a", "c"), ("b", "c"), ("b", "d"), ("b", "f"), ("d", "me")):
        graph.write("MATCH (x:User {id: $x}), (y:User {id: $y}) CREATE (x)-[:FOLLOWS]->(y)",
                    {"x": users[x].id, "y": users[y].id})
    proposals = {name: str(uuid.uuid4()) for name in ("p1", "p2", "p3", "i1", "i2")}
    for name, status in (("p1", "open"), ("p2", "open"), ("p3", "closed")):
        graph.write("CREATE (:Proposal {id: $id, title: $title, status: $status})",
                    {"id": proposals[name], "title": name, "status": status})
    for who, what in (("me", "p1"), ("c", "p1"), ("e", "p1"), ("c", "p2"), ("e", "p2"), ("c", "p3")):
        graph.write("MATCH (u:User {id: $u}), (p:Proposal {id: $p}) CREATE (u)-[:FUNDED {amount: '1'}]->(p)",
                    {"u": users[who].id, "p": proposals[what]})
    graph.write("MATCH (a:User {id: $a}) CREATE (a)-[:CREATED]->(:Item {id: $i1, title: 'i1'}), "
                "(a)-[:LIKED]->(i2:Item {id: $i2, title: 'i2'}), (a)-[:FAVORITED]->(i2)",
                {"a": a.id, "i1": proposals["i1"], "i2": proposals["i2"]})
    return users, proposals


def test_people_you_may_know_ranks_with_reasons(api, community):
    """Co-backers and followers not followed back; never whom the people you follow follow
    (c and f are followed by people me follows: that is theirs to know)."""
    users, _ = community
    body = api.get("/api/network/people-you-may-know", token=users["me"].token).get_json()
    ranked = [(item["name"], item["score"], item["reasons"]) for item in body["items"]]
    assert ranked == [
        ("c", 2, ["backed the same proposal"]),
        ("e", 2, ["backed the same proposal"]),
        ("d", 1, ["follows you"]),
    ]


def test_proposals_for_you_excludes_backed_and_closed(api, community):
    users, proposals = community
    body = api.get("/api/network/proposals-for-you", token=users["me"].token).get_json()
    assert [(item["id"], item["co_investors"]) for item in body["items"]] == [(proposals["p2"], 2)]


def _edges(body: dict) -> set[tuple[str, str, str]]:
    return {(e["source"], e["target"], e["type"]) for e in body["edges"]}


def test_ego_network_shows_public_relationships_and_the_readers_own(api, community):
    users, proposals = community
    me, a, b = users["me"], users["a"], users["b"]
    one = api.get("/api/network/ego?depth=1", token=me.token).get_json()
    assert _edges(one) == {(me.id, a.id, "FOLLOWS"), (me.id, b.id, "FOLLOWS"), (users["d"].id, me.id, "FOLLOWS"),
                           (me.id, proposals["p1"], "FUNDED")}
    assert one["nodes"][0]["id"] == me.id and not one["truncated"]
    two = _edges(api.get("/api/network/ego?depth=2", token=me.token).get_json())
    assert two - _edges(one) == {(users["c"].id, proposals["p1"], "FUNDED"), (users["e"].id, proposals["p1"], "FUNDED"),
                                 (a.id, proposals["i1"], "CREATED")}
    # a's follows, likes and favourites, b's and d's follows: not the reader's to see.
    assert not {kind for _, _, kind in two - _edges(one)} & {"FOLLOWS", "LIKED", "FAVORITED"}
    assert api.get("/api/network/ego?depth=3", token=me.token).status_code == 422


def test_ego_network_is_capped_hop_by_hop(api, people, graph, monkeypatch):
    from shared.graph import network

    me = people("investor", name="Hub")
    graph.write("MERGE (me:User {id: $me}) WITH me UNWIND range(1, 30) AS n "
                "CREATE (me)-[:FUNDED]->(:Proposal {id: 'p' + toString(n), title: 'p'})", {"me": me.id})
    monkeypatch.setattr(network, "EGO_MAX_EDGES", 10)
    body = api.get("/api/network/ego?depth=2", token=me.token).get_json()
    assert body["truncated"] is True and len(body["edges"]) == 10


def test_ego_network_says_when_the_second_hop_is_cut(api, people, graph, monkeypatch):
    """Six backed proposals, each backed by two others: 18 visible edges at depth 2. With room
    for 10, the answer holds 10 and says it is cut; each neighbour's way back to the reader
    (met again at the second hop) takes none of the room."""
    from shared.graph import network

    me = people("investor", name="Me")
    graph.write("MERGE (me:User {id: $me}) WITH me UNWIND range(1, 6) AS n "
                "CREATE (me)-[:FUNDED]->(p:Proposal {id: 'q' + toString(n), title: 'q'}) "
                "CREATE (:User {id: 'a' + toString(n)})-[:FUNDED]->(p) "
                "CREATE (:User {id: 'b' + toString(n)})-[:FUNDED]->(p)", {"me": me.id})
    monkeypatch.setattr(network, "EGO_MAX_EDGES", 10)
    body = api.get("/api/network/ego?depth=2", token=me.token).get_json()
    assert body["truncated"] is True and len(body["edges"]) == 10
    monkeypatch.setattr(network, "EGO_MAX_EDGES", 18)
    whole = api.get("/api/network/ego?depth=2", token=me.token).get_json()
    assert whole["truncated"] is False and len(whole["edges"]) == 18


def test_paths_go_only_over_what_the_reader_may_see(api, community):
    users, proposals = community
    me = users["me"]
    path = api.get(f"/api/network/path?to={users['c'].id}", token=me.token).get_json()
    assert [n["id"] for n in path["nodes"]] == [me.id, proposals["p1"], users["c"].id] and path["length"] == 2
    assert [(e["source"], e["target"], e["type"]) for e in path["edges"]] == [
        (me.id, proposals["p1"], "FUNDED"), (users["c"].id, proposals["p1"], "FUNDED")]
    follower = api.get(f"/api/network/path?to={users['d'].id}", token=me.token).get_json()
    assert follower["length"] == 1  # d follows the reader: the reader's own relationship
    # f is reached only through b's follow, which is b's: no path for me.
    assert api.get(f"/api/network/path?to={users['f'].id}", token=me.token).status_code == 404
    outsider = api.get(f"/api/network/path?to={uuid.uuid4()}", token=me.token)
    assert outsider.status_code == 404
    assert api.get(f"/api/network/path?to={users['d'].id}&from={users['a'].id}",
                   token=me.token).status_code == 403


def test_every_relationship_the_etl_writes_is_classified():
    """A new relationship kind is private until it is named public here (decision 0023)."""
    import re

    from shared.graph import network, sync

    source = Path(sync.__file__).read_text()
    written = set(re.findall(r"\[\w*:([A-Z_]+)\]", source))
    written |= {edge.type for edge in vars(sync).values() if isinstance(edge, sync.PairEdge)}
    assert {"CREATED", "FUNDED", "FOLLOWS", "LIKED"} <= written
    assert written <= set(network.PUBLIC_RELATIONSHIPS) | set(network.PRIVATE_RELATIONSHIPS)


def test_insights_are_for_admins(api, people, community):
    users, _ = community
    assert api.get("/api/network/insights", token=users["me"].token).status_code == 403
    admin = people("investor", admin=True)
    body = api.get("/api/network/insights", token=admin.token).get_json()
    assert body["top_connectors"][0]["id"] in (users["b"].id, users["c"].id)
    assert body["communities"][0]["size"] == 6  # me, a, b, c, d, f: e only co-funds


def test_readers_never_write_the_schema_is_the_writers_to_make(api, db, people, monkeypatch):
    """network connects without schema work (on Neo4j: a write transaction per label on
    every cold start); a graph no writer has made yet reads as empty; graph-etl's first
    delivery makes the unique-id constraints."""
    from falkordb import FalkorDB

    from shared.config import get_settings
    from shared.graph.port import LABELS
    from tests.integration.conftest import event_function_client, event_push

    name = f"fresh_{uuid.uuid4().hex[:8]}"
    engine_at = urlsplit(get_settings().graph_url)
    server = FalkorDB(host=engine_at.hostname, port=engine_at.port)
    me = people("investor")
    monkeypatch.setenv("GRAPH_URL", engine_at._replace(path=f"/{name}").geturl())
    reset_caches()
    try:
        response = api.get("/api/network/people-you-may-know", token=me.token)
        assert response.status_code == 200 and response.get_json()["items"] == []
        assert name not in server.list_graphs()  # the read created nothing

        registered = outbox_events(db)[-1]
        assert registered.type == "user.registered"
        etl = event_function_client("graph-etl")
        assert etl.post("/", json=event_push(registered.model_dump(mode="json"))).status_code == 200
        constraints = server.select_graph(name).list_constraints()
        assert {(c["label"], tuple(c["properties"])) for c in constraints} == {(label, ("id",)) for label in LABELS}
    finally:
        monkeypatch.undo()
        reset_caches()
        if name in server.list_graphs():
            server.select_graph(name).delete()
        server.connection.close()


def test_an_unreachable_graph_is_a_503_with_retry_after(api, people, monkeypatch):
    from local.processes import free_port

    me = people("investor")
    monkeypatch.setenv("GRAPH_URL", f"falkordb://127.0.0.1:{free_port()}/down")
    reset_caches()
    try:
        response = api.get("/api/network/people-you-may-know", token=me.token)
    finally:
        monkeypatch.undo()
        reset_caches()
    assert response.status_code == 503 and response.headers["Retry-After"] == "30"
    assert json.loads(response.get_data())["code"] == "unavailable"


# -- the marketplace ------------------------------------------------------------------------------

def _transfer_event(contract: str, token_id: int) -> EventEnvelope:
    """What the chain indexer emits for an ERC-721 Transfer (its own tests prove it does)."""
    return EventEnvelope(event_id=uuid.uuid4(), type="chain.transfer", occurred_at="2026-11-22T00:00:00Z",
                         aggregate_type="artwork", aggregate_id=f"{contract}:{token_id}",
                         payload={"event": "Transfer", "args": {"tokenId": str(token_id)}})


def test_items_reactions_and_holders_reach_the_graph(api, db, people, make_item, graph, engine):
    ada, fan, friend = people("artist", name="Ada"), people("collector"), people("investor")
    listed = make_item(ada, listed=True, tags=["indigo"], category="textile")
    draft = make_item(ada, title="Private")
    api.put(f"/api/items/{listed['id']}/favorite", token=fan.token)
    api.put(f"/api/items/{listed['id']}/like", token=fan.token)
    api.put(f"/api/items/{listed['id']}/like", token=friend.token)
    assert consume_batch(engine, graph, outbox_events(db)) > 0
    items = {r["id"]: r for r in graph.read("MATCH (i:Item) RETURN i.id AS id, i.status AS status, i.kind AS kind")}
    assert set(items) == {listed["id"]} and draft["id"] not in items
    assert edges(graph, "CREATED") == {(ada.id, listed["id"])}
    assert edges(graph, "OWNS") == {(ada.id, listed["id"])}
    assert edges(graph, "FAVORITED") == {(fan.id, listed["id"])}
    assert edges(graph, "LIKED") == {(fan.id, listed["id"]), (friend.id, listed["id"])}
    assert edges(graph, "TAGGED") == {(listed["id"], "indigo"), (listed["id"], "textile")}

    mark = last_outbox_id(db)
    api.delete(f"/api/items/{listed['id']}/like", token=friend.token)
    api.post(f"/api/items/{listed['id']}/archive", token=ada.token)  # private again: it leaves the graph
    consume_batch(engine, graph, outbox_events(db, mark))
    assert graph.read("MATCH (i:Item) RETURN count(i) AS n")[0]["n"] == 0
    assert edges(graph, "LIKED") == set() and edges(graph, "FAVORITED") == set()
    assert full(engine, graph).repaired == 0


def test_a_token_transfer_moves_ownership(api, db, people, make_item, graph, engine):
    ada, fan = people("artist"), people("collector")
    from shared.chain.abi import checksum

    contract = checksum("0x" + "ab" * 20)  # as the indexer stores addresses
    wallets = {ada.id: "0x" + "11" * 20, fan.id: "0x" + "22" * 20}
    for user_id, wallet in wallets.items():
        db.execute(text("UPDATE users SET wallet_address = :w WHERE id = :id"), {"w": wallet, "id": user_id})
    db.execute(text("INSERT INTO artwork_tokens (chain_id, contract, token_id, owner, block_number, log_index) "
                    "VALUES (31337, :c, 7, :o, 1, 0)"), {"c": contract, "o": wallets[ada.id]})
    db.commit()
    linked = make_item(ada, listed=True, kind="digital", inventory=None, shipping_regions=[], license="CC-BY",
                       token={"chain_id": 31337, "contract": contract.lower(), "token_id": "7"})
    assert linked["token"] == {"chain_id": 31337, "contract": contract, "token_id": "7"}
    consume_batch(engine, graph, outbox_events(db))
    assert edges(graph, "OWNS") == {(ada.id, linked["id"])}
    # The indexer records the transfer and announces it: the holder follows the chain.
    db.execute(text("UPDATE artwork_tokens SET owner = :o, block_number = 2"), {"o": wallets[fan.id]})
    db.commit()
    consume_batch(engine, graph, [_transfer_event(contract, 7)])
    assert edges(graph, "OWNS") == {(fan.id, linked["id"])}
    assert api.get(f"/api/items/{linked['id']}").get_json()["holder_id"] == fan.id
    assert full(engine, graph).repaired == 0


def test_renaming_a_category_relinks_its_members(api, db, people, make_item, make_proposal, graph, engine):
    ada, admin = people("artist"), people("investor", admin=True)
    item = make_item(ada, listed=True, category="textile", tags=[])
    proposal = make_proposal(ada, publish=True, category="textile", tags=[])
    api.patch("/api/categories/textile", token=admin.token, json={"slug": "fibre"})
    consume_batch(engine, graph, outbox_events(db))
    assert edges(graph, "TAGGED") == {(item["id"], "fibre"), (proposal["id"], "fibre")}
    assert graph.read("MATCH (c:Category {id: 'textile'}) RETURN count(c) AS n")[0]["n"] == 0
    mark = last_outbox_id(db)
    api.delete("/api/categories/fibre", token=admin.token)
    consume_batch(engine, graph, outbox_events(db, mark))
    assert edges(graph, "TAGGED") == set()


def test_reconcile_repairs_marketplace_drift(api, db, people, make_item, graph, engine):
    ada, fan = people("artist"), people("collector")
    item = make_item(ada, listed=True, tags=["glass"])
    api.put(f"/api/items/{item['id']}/favorite", token=fan.token)
    consume_batch(engine, graph, outbox_events(db))
    graph.write("MATCH ()-[f:FAVORITED]->() DELETE f")
    graph.write("MATCH (i:Item) SET i.title = 'tampered'")
    graph.write("MERGE (:Item {id: 'stray'})")
    report = full(engine, graph)
    assert report.labels["Item"].repaired == 2 and report.labels["FAVORITED"].repaired == 1
    assert edges(graph, "FAVORITED") == {(fan.id, item["id"])}
    assert full(engine, graph).repaired == 0
    incremental(engine, graph, deadline=float("inf"))  # the watermark covers items too
