from datetime import UTC, datetime, timedelta

from sqlalchemy import text

from tests.integration.conftest import future, proposal_body, snapshot


def test_create_read_and_etag(api, people, db):
    ada = people("artist")
    created = api.post("/api/proposals", token=ada.token, json=proposal_body())
    assert created.status_code == 201
    proposal = created.get_json()
    assert created.headers["Location"] == f"/api/proposals/{proposal['id']}"
    assert proposal["status"] == "draft" and proposal["raised_total"] == "0"
    assert proposal["goal"] == "2500000000000000000"  # exact, as a string
    assert proposal["owner_id"] == ada.id

    detail = api.get(f"/api/proposals/{proposal['id']}", token=ada.token)
    assert detail.status_code == 200 and detail.headers["ETag"].startswith('"1.')  # version 1
    etag = detail.headers["ETag"]
    cached = api.get(f"/api/proposals/{proposal['id']}", token=ada.token, headers={"If-None-Match": etag})
    assert cached.status_code == 304
    # The indexer moves the raised total without an edit: the representation is new.
    from sqlalchemy import text

    db.execute(text("UPDATE proposals SET raised_total = 5 WHERE id = :id"), {"id": proposal["id"]})
    db.commit()
    fresh = api.get(f"/api/proposals/{proposal['id']}", token=ada.token, headers={"If-None-Match": etag})
    assert fresh.status_code == 200 and fresh.get_json()["raised_total"] == "5"


def test_drafts_are_private_to_their_owner(api, people, make_proposal):
    ada, bela = people("artist"), people("artist")
    draft = make_proposal(ada)
    assert api.get(f"/api/proposals/{draft['id']}").status_code == 404
    assert api.get(f"/api/proposals/{draft['id']}", token=bela.token).status_code == 404
    assert [p["id"] for p in api.get("/api/proposals", token=ada.token).get_json()["items"]] == [draft["id"]]
    assert api.get("/api/proposals").get_json()["items"] == []


def test_patch_with_if_match(api, people, make_proposal, db):
    ada = people("artist")
    proposal = make_proposal(ada)
    url = f"/api/proposals/{proposal['id']}"

    missing = api.patch(url, token=ada.token, json={"title": "New"})
    assert missing.status_code == 428

    ok = api.patch(url, token=ada.token, json={"title": "New title", "goal": "42"}, headers={"If-Match": '"1"'})
    assert ok.status_code == 200 and ok.headers["ETag"].startswith('"2.')
    assert ok.get_json()["title"] == "New title" and ok.get_json()["goal"] == "42"

    before = snapshot(db)
    stale = api.patch(url, token=ada.token, json={"title": "Lost update"}, headers={"If-Match": '"1"'})
    assert stale.status_code == 412 and stale.get_json()["code"] == "precondition-failed"
    assert snapshot(db) == before


def test_open_proposals_keep_their_terms(api, people, make_proposal, db):
    ada = people("artist")
    proposal = make_proposal(ada, publish=True)
    url = f"/api/proposals/{proposal['id']}"
    etag = api.get(url).headers["ETag"]
    before = snapshot(db)
    response = api.patch(url, token=ada.token, json={"goal": "1"}, headers={"If-Match": etag})
    assert response.status_code == 409
    assert snapshot(db) == before
    assert api.patch(url, token=ada.token, json={"description": "More"}, headers={"If-Match": etag}).status_code == 200


def test_lifecycle(api, people, make_proposal, db):
    ada = people("artist")
    proposal = make_proposal(ada)
    url = f"/api/proposals/{proposal['id']}"
    published = api.post(f"{url}/publish", token=ada.token).get_json()
    assert published["status"] == "open" and published["published_at"]
    assert api.post(f"{url}/publish", token=ada.token).status_code == 409
    assert api.post(f"{url}/close", token=ada.token).get_json()["status"] == "closed"
    before = snapshot(db)
    for action in ("publish", "cancel", "close"):
        response = api.post(f"{url}/{action}", token=ada.token)
        assert response.status_code == 409 and response.get_json()["code"] == "invalid-transition"
    assert snapshot(db) == before
    actions = [r[0] for r in db.execute(text(
        "SELECT action FROM audit_log WHERE entity_id = :id ORDER BY id"), {"id": proposal["id"]})]
    assert actions == ["proposal.created", "proposal.publish", "proposal.close"]


def test_publishing_after_the_deadline_is_refused(api, people, make_proposal, db):
    ada = people("artist")
    proposal = make_proposal(ada)
    db.execute(text("UPDATE proposals SET deadline = now() - interval '1 day' WHERE id = :id"), {"id": proposal["id"]})
    db.commit()
    before = snapshot(db)
    response = api.post(f"/api/proposals/{proposal['id']}/publish", token=ada.token)
    assert response.status_code == 409 and "deadline" in response.get_json()["detail"]
    assert snapshot(db) == before


def test_filters_and_sorts_with_keyset_pages(api, people, make_proposal, db):
    ada, bela = people("artist"), people("artist")
    made = []
    for i in range(7):
        owner = ada if i % 2 == 0 else bela
        made.append(make_proposal(owner, publish=True, title=f"P{i}", category="sound" if i < 3 else "textile",
                                  tags=["tag-a"] if i % 3 == 0 else ["tag-b"], deadline=future(10 + i)))
    for i, p in enumerate(made):
        db.execute(text("UPDATE proposals SET raised_total = :r WHERE id = :id"), {"r": (i * 37) % 11, "id": p["id"]})
    db.commit()

    def collect(query: str, limit: int = 3) -> list[str]:
        titles, cursor = [], None
        while True:
            url = f"/api/proposals?{query}&limit={limit}" + (f"&cursor={cursor}" if cursor else "")
            page = api.get(url).get_json()
            titles += [p["title"] for p in page["items"]]
            cursor = page["next_cursor"]
            if not cursor:
                return titles

    assert collect("sort=newest") == [f"P{i}" for i in reversed(range(7))]
    assert collect("sort=deadline") == [f"P{i}" for i in range(7)]
    funded = sorted(range(7), key=lambda i: ((i * 37) % 11, made[i]["id"]), reverse=True)
    assert collect("sort=most_funded", limit=2) == [f"P{i}" for i in funded]
    assert collect("category=sound") == ["P2", "P1", "P0"]
    assert collect("tag=tag-a") == ["P6", "P3", "P0"]
    assert collect(f"owner={bela.id}") == ["P5", "P3", "P1"]
    assert collect("status=draft") == []


def test_list_limits(api, people):
    assert api.get("/api/proposals?limit=101").status_code == 422
    assert api.get("/api/proposals?limit=0").status_code == 422
    assert api.get("/api/proposals?limit=100").status_code == 200


def test_deadline_must_be_future_and_timezone_aware(api, people, db):
    ada = people("artist")
    before = snapshot(db)
    past = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    assert api.post("/api/proposals", token=ada.token, json=proposal_body(deadline=past)).status_code == 422
    naive = datetime.now().replace(microsecond=0).isoformat()
    assert api.post("/api/proposals", token=ada.token, json=proposal_body(deadline=naive)).status_code == 422
    assert snapshot(db) == before


def test_patch_validates_like_create(api, people, make_proposal, db):
    ada = people("artist")
    proposal = make_proposal(ada)
    url = f"/api/proposals/{proposal['id']}"
    before = snapshot(db)
    past = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    for body in ({"deadline": past}, {"goal": 5}, {"goal": "0"}, {"tags": ["!!!"]}, {"title": None},
                 {"owner_id": ada.id}):
        response = api.patch(url, token=ada.token, json=body, headers={"If-Match": '"1"'})
        assert response.status_code == 422, body
    assert snapshot(db) == before
    deduped = api.patch(url, token=ada.token, json={"tags": ["a", "a", "b"]}, headers={"If-Match": '"1"'})
    assert deduped.get_json()["tags"] == ["a", "b"]
