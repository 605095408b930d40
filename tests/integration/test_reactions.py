"""Favorites, likes, view tracking and popularity: idempotent, exact under concurrency."""
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import text

from shared.market.popularity import fold


@pytest.fixture
def item(people, make_item):
    return make_item(people("artist"), listed=True)


@pytest.mark.parametrize("kind", ["favorite", "like"])
def test_put_and_delete_are_idempotent(kind, api, people, item, db):
    fan = people("collector")
    url = f"/api/items/{item['id']}/{kind}"
    for _ in range(3):
        response = api.put(url, token=fan.token)
        assert response.status_code == 200 and response.get_json() == {"item_id": item["id"], "active": True,
                                                                        "count": 1}
    for _ in range(2):
        assert api.delete(url, token=fan.token).get_json()["count"] == 0
    events = [row[0] for row in db.execute(text(f"SELECT type FROM outbox WHERE type LIKE '{kind}.%' ORDER BY id"))]
    assert events == [f"{kind}.added", f"{kind}.removed"]  # only real changes are events


def test_counts_stay_exact_under_concurrency(api, people, item, db, function_clients, auth_emulator):
    fans = [people("collector") for _ in range(8)]
    url = f"/api/items/{item['id']}/favorite"
    client = function_clients["marketplace"]

    def toggle(fan):
        for method in ("PUT", "PUT", "DELETE", "PUT", "PUT"):
            assert client.open(url, method=method, headers={"Authorization": f"Bearer {fan.token}"}).status_code == 200

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(toggle, fans))
    db.rollback()
    count, rows = db.execute(text("SELECT favorite_count, (SELECT count(*) FROM favorites WHERE item_id = :i) "
                                  "FROM items WHERE id = :i"), {"i": item["id"]}).one()
    assert count == rows == 8


def test_reactions_need_a_visible_item(api, people, make_item):
    artist = people("artist")
    draft = make_item(artist)
    assert api.put(f"/api/items/{draft['id']}/like", token=people("collector").token).status_code == 404
    assert api.put(f"/api/items/{draft['id']}/like").status_code == 401


def test_views_are_counted_once_per_viewer_and_window(api, people, item):
    fan = people("collector")
    body = {"item_id": item["id"], "action": "view"}
    assert api.post("/api/analytics/track", json=body, token=fan.token).get_json()["counted"] is True
    assert api.post("/api/analytics/track", json=body, token=fan.token).get_json()["counted"] is False
    anonymous = api.post("/api/analytics/track", json=body, headers={"User-Agent": "Browser A"}).get_json()
    assert anonymous == {"counted": True, "view_count": 2, "copy_count": 0}
    again = api.post("/api/analytics/track", json=body, headers={"User-Agent": "Browser A"}).get_json()
    assert again["counted"] is False
    other_browser = api.post("/api/analytics/track", json=body, headers={"User-Agent": "Browser B"}).get_json()
    assert other_browser["view_count"] == 3
    copied = api.post("/api/analytics/track", json={**body, "action": "copy"}, token=fan.token).get_json()
    assert copied["copy_count"] == 1


def test_tracking_rejects_unknown_and_private_items(api, people, make_item, db):
    from tests.integration.conftest import snapshot

    draft = make_item(people("artist"))
    before = snapshot(db)
    assert api.post("/api/analytics/track", json={"item_id": draft["id"], "action": "view"}).status_code == 404
    assert api.post("/api/analytics/track", json={"item_id": draft["id"], "action": "stare"}).status_code == 422
    assert snapshot(db) == before


def test_popularity_job_ranks_by_decayed_interactions(api, people, make_item, db):
    from shared.db import get_engine

    artist = people("artist")
    quiet, loved = make_item(artist, listed=True, title="Quiet"), make_item(artist, listed=True, title="Loved")
    fans = [people("collector") for _ in range(3)]
    for fan in fans:
        api.put(f"/api/items/{loved['id']}/favorite", token=fan.token)
    api.post("/api/analytics/track", json={"item_id": quiet["id"], "action": "view"}, token=fans[0].token)
    assert fold(get_engine()) == {"interactions": 4, "items": 2}
    assert fold(get_engine()) == {"interactions": 0, "items": 0}  # each interaction counts once
    page = api.get("/api/items?sort=popular").get_json()["items"]
    assert [i["title"] for i in page] == ["Loved", "Quiet"]
    scores = {i["title"]: i["popularity"] for i in page}
    assert scores["Loved"] == pytest.approx(15, rel=0.01) and scores["Quiet"] == pytest.approx(1, rel=0.01)
    # Folding one more interaction adds to the score, decayed from when it happened.
    api.put(f"/api/items/{quiet['id']}/like", token=fans[1].token)
    fold(get_engine())
    quiet_now = api.get(f"/api/items/{quiet['id']}").get_json()["popularity"]
    assert quiet_now == pytest.approx(4, rel=0.01)


def test_my_reactions_show_what_the_caller_did(api, people, item):
    fan, other = people("collector"), people("investor")
    url = f"/api/items/{item['id']}"
    assert api.put(f"{url}/like", token=fan.token).status_code == 200
    assert api.get(f"{url}/reactions", token=fan.token).get_json() == {"item_id": item["id"], "favorite": False,
                                                                       "like": True}
    assert api.get(f"{url}/reactions", token=other.token).get_json()["like"] is False
    assert api.get(f"{url}/reactions").status_code == 401
