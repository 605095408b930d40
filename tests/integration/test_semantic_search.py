"""Semantic search: the embeddings function keeps items' and proposals' vectors from their events
(once per text), and GET /api/search?mode=semantic|hybrid finds things by meaning, with the real
local model (the packaged WordLlama) on the real pgvector index."""
from __future__ import annotations

import pytest
from sqlalchemy import text

from tests.integration.conftest import event_function_client, event_push

CATALOGUE = {
    "Saffron Shore Blanket": ("A hand-loomed wool blanket in saffron and rust, woven in a fishing village on the "
                              "Atlantic shore.", "textile", ["wool", "blanket"]),
    "Midnight Harbour Print": ("A photograph of boats in a harbour at night, printed on cotton rag paper.",
                               "photography", ["night", "boats"]),
    "Celadon Tea Bowl": ("A wheel-thrown stoneware bowl with a pale green glaze.", "craft", ["ceramics", "tea"]),
    "Granite Torso": ("A carved stone figure of a swimmer, polished granite.", "sculpture", ["stone"]),
    "Field Recordings of Rain": ("An album of rain on tin roofs and forest canopies.", "sound", ["album", "ambient"]),
}
# Asked in other words than the works' own: only their meaning leads to them.
BY_MEANING = {
    "warm ochre textile from the coast": "Saffron Shore Blanket",
    "pottery for drinking tea": "Celadon Tea Bowl",
    "music of the weather": "Field Recordings of Rain",
    "sculpted rock": "Granite Torso",
    "pictures of ships after dark": "Midnight Harbour Print",
}


@pytest.fixture(scope="session")
def embedder_function(app_env):
    return event_function_client("embeddings")


def deliver(function, db, after: int = 0) -> int:
    """Push the outbox's events after ``after`` to the function, as the topic's subscription would."""
    db.rollback()
    envelopes = db.execute(text("SELECT envelope FROM outbox WHERE id > :after ORDER BY id"),
                           {"after": after}).scalars().all()
    for envelope in envelopes:
        response = function.post("/", json=event_push(envelope))
        assert response.status_code == 200, response.get_data(as_text=True)
    return len(envelopes)


@pytest.fixture
def maker(people):
    return people("artist", name="Ines Maker")


@pytest.fixture
def catalogue(api, maker, make_item, embedder_function, db) -> dict[str, str]:
    artist = maker
    made = {title: make_item(artist, listed=True, title=title, description=description, category=category, tags=tags)
            for title, (description, category, tags) in CATALOGUE.items()}
    deliver(embedder_function, db)
    return {title: item["id"] for title, item in made.items()}


def search(api, **query) -> dict:
    response = api.get("/api/search", query_string=query)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def vectors(db) -> dict[str, tuple]:
    db.rollback()
    return {str(row.id): (row.model, row.dimensions, bytes(row.content_hash), row.embedded_at)
            for row in db.execute(text("SELECT * FROM item_vectors"))}


def test_each_text_is_embedded_once_whatever_the_events_say(api, maker, catalogue, embedder_function, db):
    from shared.embeddings.local import MODEL

    before = vectors(db)
    assert set(before) == set(catalogue.values())
    assert {(model, dims) for model, dims, *_ in before.values()} == {(MODEL, 256)}
    assert deliver(embedder_function, db) > 0  # every event again: a redelivery embeds nothing anew
    assert vectors(db) == before

    blanket = catalogue["Saffron Shore Blanket"]
    for change, embedded_again in (({"price": "99000"}, False), ({"title": "Saffron Coast Blanket"}, True)):
        mark = db.execute(text("SELECT max(id) FROM outbox")).scalar_one()
        etag = api.get(f"/api/items/{blanket}").headers["ETag"]
        changed = api.patch(f"/api/items/{blanket}", token=maker.token, headers={"If-Match": etag}, json=change)
        assert changed.status_code == 200, changed.get_data(as_text=True)
        assert deliver(embedder_function, db, mark) > 0
        # A price is not what a thing is found by; its title is.
        assert (vectors(db)[blanket] != before[blanket]) is embedded_again, change


def test_semantic_search_finds_things_by_what_they_are(api, catalogue):
    for question, title in BY_MEANING.items():
        found = search(api, q=question, mode="semantic")
        assert found["mode"] == "semantic"
        assert found["items"][0]["title"] == title, question
        assert all(-1 <= hit["score"] <= 1 for hit in found["items"])


def test_hybrid_search_fuses_words_and_meaning_and_pages(api, catalogue):
    found = search(api, q="stone figure", mode="hybrid")
    assert found["mode"] == "hybrid" and found["items"][0]["title"] == "Granite Torso"
    everything = search(api, q="handmade work", mode="hybrid", limit=100)["items"]
    first = search(api, q="handmade work", mode="hybrid", limit=2)
    second = search(api, q="handmade work", mode="hybrid", limit=2, cursor=first["next_cursor"])
    assert [h["id"] for h in first["items"] + second["items"]] == [h["id"] for h in everything[:4]]
    scores = [h["score"] for h in everything]
    assert scores == sorted(scores, reverse=True)


def test_semantic_pages_follow_the_distance_and_leave_hidden_things_out(api, catalogue, people):
    all_hits = search(api, q="art", mode="semantic", limit=100)["items"]
    assert {h["id"] for h in all_hits} == set(catalogue.values())
    first = search(api, q="art", mode="semantic", limit=3)
    second = search(api, q="art", mode="semantic", limit=3, cursor=first["next_cursor"])
    assert [h["id"] for h in first["items"] + second["items"]] == [h["id"] for h in all_hits]
    assert second["next_cursor"] is None

    admin = people("collector", admin=True)
    torso = catalogue["Granite Torso"]
    assert api.post(f"/api/admin/items/{torso}/hide", token=admin.token, json={}).status_code == 200
    assert torso not in {h["id"] for h in search(api, q="sculpted rock", mode="semantic")["items"]}
    assert torso not in {h["id"] for h in search(api, q="sculpted rock", mode="hybrid")["items"]}
    # Filters apply as in the words' search.
    assert {h["title"] for h in search(api, q="art", mode="semantic", category="craft")["items"]} == {
        "Celadon Tea Bowl"}


@pytest.mark.parametrize(("query", "answered"), [
    ({"mode": "semantic"}, "browse"),  # no words: nothing to mean
    ({"mode": "hybrid", "q": "rain", "sort": "newest"}, "text"),  # another order than relevance
    ({"mode": "semantic", "q": "ines", "type": "artist"}, "text"),  # artists have no vectors
])
def test_what_meaning_cannot_rank_is_searched_by_words(api, catalogue, query, answered):
    assert search(api, **query)["mode"] == answered


def test_an_unknown_mode_is_a_422(api):
    assert api.get("/api/search", query_string={"mode": "vector", "q": "rain"}).status_code == 422


def test_a_cursor_of_one_mode_is_refused_by_another(api, catalogue):
    cursor = search(api, q="art", mode="semantic", limit=1)["next_cursor"]
    for other in ({"mode": "hybrid"}, {"mode": "keyword"}, {"mode": "semantic", "q": "art", "sort": "relevance"}):
        query = {"q": "art", "limit": 1, "cursor": cursor, **other}
        status = api.get("/api/search", query_string=query).status_code
        assert status == (200 if other.get("mode") == "semantic" else 400), other

