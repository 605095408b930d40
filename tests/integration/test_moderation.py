"""Trust and safety: reports, the administrators' queue, hiding and restoring content (gone from
lists, search, details and the graph, back after), suspending and reinstating people, the audit
log's reading and the operator's counts."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from shared.graph.etl import consume_batch
from shared.graph.reconcile import full
from tests.integration.test_graph import edges, engine, graph, last_outbox_id, outbox_events  # noqa: F401


@pytest.fixture
def cast(people):
    return {"seller": people("artist", name="Selma Weaver"), "ann": people("collector", name="Ann"),
            "ben": people("investor", name="Ben"), "admin": people("collector", admin=True, name="Mod")}


def ok(response, status: int = 200) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    return response.get_json() if response.data else {}


def act(api, admin, path: str, note: str = "") -> dict:
    return ok(api.post(path, token=admin.token, json={"note": note}))


def report(api, person, target_type: str, target_id: str, reason: str = "spam", **extra):
    return api.post("/api/reports", token=person.token,
                    json={"target_type": target_type, "target_id": target_id, "reason": reason, **extra})


def item_ids(api, person, path: str, **query) -> list[str]:
    return [entry["id"] for entry in ok(api.get(path, token=person.token if person else None,
                                                query_string=query))["items"]]


def searched(api, q: str) -> set[str]:
    return {hit["id"] for hit in ok(api.get("/api/search", query_string={"q": q}))["items"]}


def test_a_report_is_made_once_while_open_and_only_of_what_the_reporter_sees(api, cast, make_item, db):
    seller, ann, ben, admin = cast["seller"], cast["ann"], cast["ben"], cast["admin"]
    item = make_item(seller, listed=True, title="Counterfeit Loom")
    draft = make_item(seller, title="Unseen Draft")

    first = ok(report(api, ann, "item", item["id"], "fraud", note="copied from another artist"), 201)
    again = ok(report(api, ann, "item", item["id"], "spam"), 200)
    assert again["id"] == first["id"] and again["reason"] == "fraud"
    ok(report(api, ben, "item", item["id"], "copyright"), 201)
    ok(report(api, ann, "user", seller.id, "abuse"), 201)

    assert report(api, seller, "item", item["id"]).status_code == 422  # one's own
    assert report(api, ann, "item", draft["id"]).status_code == 404  # a draft nobody else sees
    assert report(api, ann, "proposal", item["id"]).status_code == 404  # not a proposal
    assert report(api, ann, "item", item["id"], "boring").status_code == 422
    assert report(api, ann, "item", item["id"], note="x" * 1001).status_code == 422
    assert api.post("/api/reports", json={"target_type": "item", "target_id": item["id"],
                                          "reason": "spam"}).status_code == 401

    assert api.get("/api/admin/reports", token=ann.token).status_code == 403
    queue = ok(api.get("/api/admin/reports", token=admin.token))["items"]
    assert [(r["target_type"], r["reason"], r["reporter_id"]) for r in queue] == [
        ("item", "fraud", ann.id), ("item", "copyright", ben.id), ("user", "abuse", ann.id)]
    assert queue[0]["target"] == {"owner_id": seller.id, "label": "Counterfeit Loom", "hidden": None,
                                  "open_reports": 2}
    assert queue[2]["target"]["label"] == "Selma Weaver"
    page = ok(api.get("/api/admin/reports", token=admin.token, query_string={"limit": 2}))
    rest = ok(api.get("/api/admin/reports", token=admin.token, query_string={"limit": 2,
                                                                              "cursor": page["next_cursor"]}))
    assert [r["id"] for r in page["items"] + rest["items"]] == [r["id"] for r in queue]

    dismissed = act(api, admin, f"/api/admin/reports/{queue[2]['id']}/dismiss", "a fair review")
    assert (dismissed["status"], dismissed["resolution"], dismissed["resolved_by"]) == (
        "dismissed", "a fair review", admin.id)
    assert act(api, admin, f"/api/admin/reports/{queue[2]['id']}/dismiss")["status"] == "dismissed"
    assert [r["id"] for r in ok(api.get("/api/admin/reports", token=admin.token,
                                        query_string={"status": "dismissed"}))["items"]] == [queue[2]["id"]]
    # Dismissed, the person may be reported again.
    assert report(api, ann, "user", seller.id, "abuse").status_code == 201


def test_a_hidden_item_leaves_every_public_read_and_comes_back_when_restored(api, cast, make_item):
    seller, ann, ben, admin = cast["seller"], cast["ann"], cast["ben"], cast["admin"]
    item = make_item(seller, listed=True, title="Ochre Coast Weaving")
    other = make_item(seller, listed=True, title="Harmless Basket")
    ok(api.put(f"/api/items/{item['id']}/favorite", token=ann.token))
    ok(report(api, ben, "item", item["id"], "explicit"), 201)
    assert item["id"] in searched(api, "ochre")

    assert api.post(f"/api/admin/items/{item['id']}/hide", token=ann.token, json={}).status_code == 403
    hidden = act(api, admin, f"/api/admin/items/{item['id']}/hide", "explicit cover")
    assert hidden == {"target_type": "item", "target_id": item["id"], "hidden": "moderation", "resolved_reports": 1}
    assert act(api, admin, f"/api/admin/items/{item['id']}/hide")["resolved_reports"] == 0  # a repeat: no change

    for person in (None, ann):
        assert api.get(f"/api/items/{item['id']}", token=person.token if person else None).status_code == 404
    assert ok(api.get(f"/api/items/{item['id']}", token=seller.token))["hidden"] == "moderation"
    assert ok(api.get(f"/api/items/{item['id']}", token=admin.token))["hidden"] == "moderation"
    assert item_ids(api, None, "/api/items") == [other["id"]]
    assert item_ids(api, ann, "/api/items", owner=seller.id) == [other["id"]]
    assert set(item_ids(api, seller, "/api/items", owner=seller.id)) == {item["id"], other["id"]}
    assert item["id"] not in searched(api, "ochre")
    assert item_ids(api, ann, "/api/me/favorites") == []
    assert ok(api.get("/api/admin/reports", token=admin.token))["items"] == []
    actioned = ok(api.get("/api/admin/reports", token=admin.token, query_string={"status": "actioned"}))["items"]
    assert [(r["resolution"], r["target"]["hidden"]) for r in actioned] == [("explicit cover", "moderation")]
    # Hidden, it cannot be reported; it cannot be liked by others either (no such item for them).
    assert report(api, ann, "item", item["id"]).status_code == 404

    restored = act(api, admin, f"/api/admin/items/{item['id']}/restore")
    assert restored["hidden"] is None
    assert ok(api.get(f"/api/items/{item['id']}"))["hidden"] is None
    assert set(item_ids(api, None, "/api/items")) == {item["id"], other["id"]}
    assert item["id"] in searched(api, "ochre")
    assert item_ids(api, ann, "/api/me/favorites") == [item["id"]]

    audit = ok(api.get("/api/admin/audit", token=admin.token, query_string={"entity_id": item["id"]}))["items"]
    assert [(e["action"], e["actor_id"]) for e in audit][:3] == [
        ("moderation.restored", admin.id), ("moderation.hidden", admin.id), ("report.filed", ben.id)]


def test_a_hidden_proposal_and_picture_are_out_of_sight_to_all_but_their_author_and_admins(
        api, cast, make_proposal, processor_upload):
    seller, ann, admin = cast["seller"], cast["ann"], cast["admin"]
    proposal = make_proposal(seller, publish=True, title="Ochre Tapestry Fund")
    picture = processor_upload(seller, "cover")
    act(api, admin, f"/api/admin/proposals/{proposal['id']}/hide")
    act(api, admin, f"/api/admin/media/{picture}/hide")
    assert api.get(f"/api/proposals/{proposal['id']}").status_code == 404
    assert ok(api.get(f"/api/proposals/{proposal['id']}", token=seller.token))["hidden"] == "moderation"
    assert ok(api.get("/api/proposals"))["items"] == []
    assert proposal["id"] not in searched(api, "tapestry")
    assert api.get(f"/api/media/{picture}", token=ann.token).status_code == 404
    assert ok(api.get(f"/api/media/{picture}", token=seller.token))["hidden"] == "moderation"
    act(api, admin, f"/api/admin/proposals/{proposal['id']}/restore")
    act(api, admin, f"/api/admin/media/{picture}/restore")
    assert [p["id"] for p in ok(api.get("/api/proposals"))["items"]] == [proposal["id"]]
    assert proposal["id"] in searched(api, "tapestry")
    assert ok(api.get(f"/api/media/{picture}", token=ann.token))["hidden"] is None
    assert api.post("/api/admin/items/00000000-0000-0000-0000-000000000000/hide", token=admin.token,
                    json={}).status_code == 404
    assert api.post(f"/api/admin/items/{proposal['id']}/hide", token=admin.token,
                    json={"note": "x", "extra": 1}).status_code == 422


def test_a_suspension_refuses_the_account_hides_it_and_its_work_and_a_reinstatement_undoes_it(
        api, cast, people, make_item, make_proposal, auth_emulator, db):
    seller, ann, admin = cast["seller"], cast["ann"], cast["admin"]
    kept_hidden = make_item(seller, listed=True, title="Already Hidden Rug")
    item = make_item(seller, listed=True, title="Ochre Shore Quilt")
    proposal = make_proposal(seller, publish=True)
    ok(api.post(f"/api/users/{seller.id}/follow", token=ann.token), 204)
    act(api, admin, f"/api/admin/items/{kept_hidden['id']}/hide")
    ok(report(api, ann, "user", seller.id, "fraud"), 201)

    assert api.post(f"/api/admin/users/{admin.id}/suspend", token=admin.token, json={}).status_code == 409
    suspended = act(api, admin, f"/api/admin/users/{seller.id}/suspend", "fraud ring")
    assert suspended == {"target_type": "user", "target_id": seller.id, "hidden": "suspension", "resolved_reports": 1}

    # The sign-in account is disabled: the token is refused before any profile is read.
    assert api.get("/api/me", token=seller.token).status_code == 401
    assert api.get(f"/api/users/{seller.id}").status_code == 404
    assert ok(api.get(f"/api/users/{seller.id}", token=admin.token))["id"] == seller.id
    assert item_ids(api, None, "/api/items") == []
    assert ok(api.get("/api/proposals"))["items"] == []
    assert searched(api, "selma") == set() and searched(api, "ochre") == set()
    assert item_ids(api, ann, f"/api/users/{ann.id}/following") == []
    assert ok(api.get(f"/api/items/{item['id']}", token=admin.token))["hidden"] == "suspension"
    assert api.post(f"/api/admin/items/{item['id']}/restore", token=admin.token, json={}).status_code == 409
    assert report(api, ann, "user", seller.id).status_code == 404

    reinstated = act(api, admin, f"/api/admin/users/{seller.id}/reinstate")
    assert reinstated["hidden"] is None
    token = auth_emulator.sign_in(seller.email)  # the old sessions were ended with the suspension
    assert ok(api.get("/api/me", token=token))["id"] == seller.id
    assert item_ids(api, None, "/api/items") == [item["id"]]  # what the admin hid for itself stays hidden
    assert [p["id"] for p in ok(api.get("/api/proposals"))["items"]] == [proposal["id"]]
    assert item_ids(api, ann, f"/api/users/{ann.id}/following") == [seller.id]

    # Suspended in the database while the sign-in account still works (its disabling failed): refused too.
    cleo = people("collector")
    db.execute(text("UPDATE users SET suspended_at = now() WHERE id = :id"), {"id": cleo.id})
    db.commit()
    refused = api.get("/api/me", token=cleo.token)
    assert (refused.status_code, refused.get_json()["code"]) == (403, "account-suspended")
    assert api.get("/api/items", token=cleo.token).status_code == 403

    actions = [e["action"] for e in ok(api.get("/api/admin/audit", token=admin.token,
                                                query_string={"entity_type": "user", "entity_id": seller.id}))["items"]]
    assert actions[:2] == ["user.reinstated", "user.suspended"]


def test_admins_cannot_suspend_admins(api, people, cast):
    other = people("collector", admin=True)
    assert api.post(f"/api/admin/users/{other.id}/suspend", token=cast["admin"].token, json={}).status_code == 409


def test_the_graph_drops_hidden_and_suspended_nodes_and_links_them_again_after(
        api, cast, make_item, db, graph, engine):
    seller, ann, admin = cast["seller"], cast["ann"], cast["admin"]
    item = make_item(seller, listed=True)
    ok(api.put(f"/api/items/{item['id']}/favorite", token=ann.token))
    ok(api.post(f"/api/users/{seller.id}/follow", token=ann.token), 204)
    mark = 0

    def caught_up():
        nonlocal mark
        events = outbox_events(db, mark)
        mark = last_outbox_id(db)
        consume_batch(engine, graph, events)

    caught_up()
    linked = ({(ann.id, item["id"])}, {(seller.id, item["id"])}, {(ann.id, seller.id)})
    assert (edges(graph, "FAVORITED"), edges(graph, "CREATED"), edges(graph, "FOLLOWS")) == linked

    act(api, admin, f"/api/admin/items/{item['id']}/hide")
    caught_up()
    assert (edges(graph, "FAVORITED"), edges(graph, "CREATED")) == (set(), set())
    assert full(engine, graph).repaired == 0
    act(api, admin, f"/api/admin/items/{item['id']}/restore")
    caught_up()
    assert (edges(graph, "FAVORITED"), edges(graph, "CREATED"), edges(graph, "FOLLOWS")) == linked

    act(api, admin, f"/api/admin/users/{seller.id}/suspend")
    caught_up()
    assert graph.read(f"MATCH (u:User {{id: '{seller.id}'}}) RETURN u.id AS id") == []
    assert (edges(graph, "FAVORITED"), edges(graph, "CREATED"), edges(graph, "FOLLOWS")) == (set(), set(), set())
    assert full(engine, graph).repaired == 0
    act(api, admin, f"/api/admin/users/{seller.id}/reinstate")
    caught_up()
    assert (edges(graph, "FAVORITED"), edges(graph, "CREATED"), edges(graph, "FOLLOWS")) == linked
    assert full(engine, graph).repaired == 0


def test_the_audit_log_filters_and_pages_and_the_stats_count_each_day(api, cast, make_item, make_proposal):
    seller, ann, admin = cast["seller"], cast["ann"], cast["admin"]
    make_proposal(seller, publish=True)
    item = make_item(seller, listed=True)
    ok(report(api, ann, "item", item["id"]), 201)
    act(api, admin, f"/api/admin/items/{item['id']}/hide")

    first = ok(api.get("/api/admin/audit", token=admin.token, query_string={"limit": 2}))
    second = ok(api.get("/api/admin/audit", token=admin.token, query_string={"limit": 2,
                                                                           "cursor": first["next_cursor"]}))
    ids = [e["id"] for e in first["items"] + second["items"]]
    assert ids == sorted(ids, reverse=True) and len(set(ids)) == 4
    by_actor = ok(api.get("/api/admin/audit", token=admin.token, query_string={"actor_id": ann.id}))["items"]
    assert {e["actor_id"] for e in by_actor} == {ann.id} and "report.filed" in {e["action"] for e in by_actor}
    assert [e["entity_id"] for e in ok(api.get("/api/admin/audit", token=admin.token,
                                               query_string={"action": "moderation.hidden"}))["items"]] == [item["id"]]
    future = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    assert ok(api.get("/api/admin/audit", token=admin.token, query_string={"since": future}))["items"] == []
    assert api.get("/api/admin/audit", token=admin.token,
                   query_string={"since": future, "until": datetime.now(UTC).isoformat()}).status_code == 422
    assert api.get("/api/admin/audit", token=admin.token, query_string={"cursor": "garbage"}).status_code == 400
    assert api.get("/api/admin/audit", token=ann.token).status_code == 403
    assert api.get("/api/admin/audit").status_code == 401

    stats = ok(api.get("/api/admin/stats", token=admin.token, query_string={"days": 7}))
    assert len(stats["days"]) == 7
    today = stats["days"][-1]
    assert today["day"] == datetime.now(UTC).date().isoformat()
    assert (today["signups"], today["proposals"], today["reports"]) == (4, 1, 1)
    assert sum(day["signups"] for day in stats["days"][:-1]) == 0
    assert (stats["open_reports"], stats["suspended_accounts"], stats["hidden_content"]) == (0, 0, 1)
    assert api.get("/api/admin/stats", token=admin.token, query_string={"days": 0}).status_code == 422
    assert api.get("/api/admin/stats", token=ann.token).status_code == 403


def test_an_operator_makes_a_registered_person_an_administrator(api, people, db):
    from infra.admins import set_admin

    person = people("collector")
    assert api.get("/api/admin/stats", token=person.token).status_code == 403
    from shared.identity.auth import forget_viewer

    forget_viewer(person.uid)  # the read above remembered the caller (up to 10 s, shared/identity/auth.py)
    assert set_admin(db, person.email.upper(), True) is True
    assert set_admin(db, "nobody@example.test", True) is False
    db.commit()
    assert api.get("/api/admin/stats", token=person.token).status_code == 200
    entry = db.execute(text("SELECT action, actor_id FROM audit_log WHERE entity_id = :id ORDER BY id DESC LIMIT 1"),
                       {"id": person.id}).one()
    assert tuple(entry) == ("user.admin_granted", None)


def test_a_hidden_items_auction_is_out_of_sight_and_takes_no_bid_and_no_new_auction(api, cast, make_item, db):
    from tests.integration.test_auctions import _at, bid

    seller, ann, admin = cast["seller"], cast["ann"], cast["admin"]
    item = make_item(seller, listed=True)
    auction = ok(api.post(f"/api/items/{item['id']}/auctions", token=seller.token,
                          json={"ends_at": _at(600), "starting_price": "1000", "min_increment": "100",
                                "extension_seconds": 0}), 201)
    act(api, admin, f"/api/admin/items/{item['id']}/hide")
    for path in (f"/api/auctions/{auction['id']}", f"/api/auctions/{auction['id']}/bids"):
        assert api.get(path, token=ann.token).status_code == 404
        assert api.get(path, token=seller.token).status_code == 200
    refused = bid(api, ann, auction, 1000)
    assert refused.status_code == 409 and "out of public sight" in refused.get_json()["detail"]
    # Refused before the card was asked: no authorisation was made for it.
    assert db.execute(text("SELECT count(*) FROM payment_holds")).scalar_one() == 0
    ok(api.post(f"/api/auctions/{auction['id']}/cancel", token=seller.token))
    assert api.post(f"/api/items/{item['id']}/auctions", token=seller.token,
                    json={"ends_at": _at(600), "starting_price": "1000", "min_increment": "100",
                          "extension_seconds": 0}).status_code == 409


def test_a_hidden_picture_cannot_be_shown_again_by_its_owner(api, cast, processor_upload):
    seller, admin = cast["seller"], cast["admin"]
    avatar = processor_upload(seller, "avatar")
    assert ok(api.patch("/api/me", token=seller.token, json={"avatar_media_id": avatar}))["avatar_url"]
    act(api, admin, f"/api/admin/media/{avatar}/hide")
    assert ok(api.get(f"/api/users/{seller.id}"))["avatar_url"] is None
    assert api.patch("/api/me", token=seller.token, json={"avatar_media_id": avatar}).status_code == 409
    act(api, admin, f"/api/admin/media/{avatar}/restore")
    assert ok(api.get(f"/api/users/{seller.id}"))["avatar_url"]


def test_values_past_what_the_database_holds_are_the_callers_mistake(api, cast):
    from shared.paging import encode_cursor

    admin = cast["admin"]
    for query in ({"cursor": encode_cursor("audit", [10**20])}, {"cursor": encode_cursor("audit", [True])},
                  {"since": "0001-01-01T00:00:00+14:00"}, {"until": "9999-12-31T23:59:59-14:00"}):
        response = api.get("/api/admin/audit", token=admin.token, query_string=query)
        assert response.status_code in (400, 422), (query, response.status_code)
    queue_cursor = encode_cursor("reports-open", ["0001-01-01T00:00:00+14:00", "00000000-0000-0000-0000-000000000000"])
    assert api.get("/api/admin/reports", token=admin.token,
                   query_string={"cursor": queue_cursor}).status_code in (400, 422)
