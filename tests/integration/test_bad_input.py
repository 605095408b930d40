"""Bad input gets a 4xx problem+json with a stable code, and changes nothing."""
import pytest

from tests.integration.conftest import proposal_body, snapshot

INJECTION = "'; DROP TABLE users; --"


@pytest.fixture
def artist(people):
    return people("artist")


def _assert_problem(response, status: int, code: str) -> None:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.content_type == "application/problem+json"
    body = response.get_json()
    assert body["code"] == code and body["type"] == f"/problems/{code}" and body["status"] == status
    assert "Traceback" not in response.get_data(as_text=True)


@pytest.mark.parametrize(("raw", "content_type", "status", "code"), [
    (b"{", "application/json", 400, "malformed-json"),
    (b"", "application/json", 400, "malformed-json"),
    (b"\xff\xfe", "application/json", 400, "malformed-json"),
    (b"null", "application/json", 400, "malformed-json"),
    (b"[]", "application/json", 422, "validation-error"),
    (b'{"title": "x"}', "text/plain", 415, "unsupported-media-type"),
    (b"title=x", "application/x-www-form-urlencoded", 415, "unsupported-media-type"),
])
def test_unparseable_bodies(raw, content_type, status, code, api, artist, db):
    before = snapshot(db)
    response = api.post("/api/proposals", token=artist.token, data=raw, content_type=content_type)
    _assert_problem(response, status, code)
    assert snapshot(db) == before


@pytest.mark.parametrize("override", [
    {"goal": 1000},                      # amounts are strings, never JSON numbers
    {"goal": "-5"},
    {"goal": "0"},
    {"goal": "1" * 79},
    {"currency": "DOGE"},
    {"title": ""},
    {"title": "x" * 141},
    {"title": "line\nbreak"},
    {"tags": ["¿?"]},                   # nothing left of it once normalized
    {"category": "no-such-category"},
    {"tags": [f"t{i}" for i in range(11)]},
    {"category": INJECTION},
    {"deadline": "tomorrow"},
    {"unknown_field": 1},
    {"raised_total": "999"},             # derived from the chain, never from clients
    {"status": "open"},
])
def test_invalid_fields(override, api, artist, db):
    before = snapshot(db)
    response = api.post("/api/proposals", token=artist.token, json=proposal_body(**override))
    _assert_problem(response, 422, "validation-error")
    assert response.get_json()["errors"]
    assert snapshot(db) == before


def test_oversize_body(api, artist, db):
    before = snapshot(db)
    response = api.post("/api/proposals", token=artist.token, json=proposal_body(description="x" * 20_000))
    _assert_problem(response, 413, "payload-too-large")
    assert snapshot(db) == before


def test_injection_strings_are_just_text(api, artist, db):
    response = api.post("/api/proposals", token=artist.token, json=proposal_body(title=INJECTION, description=INJECTION))
    assert response.status_code == 201
    assert response.get_json()["title"] == INJECTION
    assert api.get(f"/api/proposals?owner={artist.id}", token=artist.token).get_json()["items"][0]["title"] == INJECTION


@pytest.mark.parametrize(("query", "status", "code"), [
    ("cursor=garbage", 400, "invalid-cursor"),
    (f"cursor={INJECTION}", 400, "invalid-cursor"),
    ("sort=price", 422, "validation-error"),
    ("status=deleted", 422, "validation-error"),
    ("owner=1%20OR%201=1", 422, "validation-error"),
    (f"category={INJECTION}", 422, "validation-error"),
    ("limit=ten", 422, "validation-error"),
    ("unknown=1", 422, "validation-error"),
])
def test_bad_queries(query, status, code, api):
    _assert_problem(api.get(f"/api/proposals?{query}"), status, code)


def test_cursor_from_another_sort(api, people, make_proposal):
    ada = people("artist")
    for _ in range(3):
        make_proposal(ada, publish=True)
    cursor = api.get("/api/proposals?sort=deadline&limit=1").get_json()["next_cursor"]
    _assert_problem(api.get(f"/api/proposals?sort=newest&cursor={cursor}"), 400, "invalid-cursor")


def test_bad_path_ids_and_unknown_routes(api, function_clients):
    client = function_clients["proposals"]
    not_uuid = client.get("/api/proposals/not-a-uuid")
    assert not_uuid.status_code == 404 and not_uuid.content_type == "application/problem+json"
    wrong_method = client.put("/api/proposals")
    assert wrong_method.status_code == 405 and "POST" in wrong_method.headers["Allow"]
    assert wrong_method.get_json()["code"] == "method-not-allowed"


def test_profile_patch_validation(api, people, db):
    ada = people("artist")
    before = snapshot(db)
    for body in ({"display_name": None}, {"links": ["javascript:alert(1)"]}, {"links": ["https://a.example"] * 6},
                 {"role": "investor"}, {"bio": "x" * 2001}):
        response = api.patch("/api/me", token=ada.token, json=body)
        assert response.status_code == 422, body
    assert snapshot(db) == before


@pytest.mark.parametrize("path", ["/api/search?q=%00", "/api/search?q=a%00b", "/api/tags?prefix=%00",
                                  "/api/proposals?tag=%00"])
def test_a_nul_character_in_a_query_is_a_422_not_a_500(path, api):
    """PostgreSQL text cannot hold NUL: refused before any query runs (issue 22, finding 4)."""
    _assert_problem(api.get(path), 422, "validation-error")


@pytest.mark.parametrize("field", ["title", "description"])
def test_a_nul_character_in_a_body_field_is_a_422_and_changes_nothing(field, api, artist, db):
    before = snapshot(db)
    response = api.post("/api/proposals", token=artist.token, json=proposal_body(**{field: "before\x00after"}))
    _assert_problem(response, 422, "validation-error")
    bio = api.patch("/api/me", token=artist.token, json={"bio": "\x00"})
    _assert_problem(bio, 422, "validation-error")
    assert snapshot(db) == before


def test_a_body_nested_sixty_thousand_deep_is_a_400(api, artist, db):
    before = snapshot(db)
    deep = b"[" * 60_000 + b"]" * 60_000
    response = api.post("/api/proposals", token=artist.token, data=deep, content_type="application/json",
                        headers={"Content-Length": str(len(deep))})
    assert response.status_code in (400, 413)  # too deep, or over the body limit first: never a 500
    assert response.content_type == "application/problem+json"
    assert snapshot(db) == before


@pytest.mark.parametrize(("depth", "recursion_limit"), [(40, None), (5_000, None), (5_000, 20_000)])
def test_a_body_nested_deeper_than_any_model_within_the_size_limit_is_a_400(api, artist, depth, recursion_limit):
    """Refused by the API's own bound, whatever the interpreter's recursion limit is (a library
    may raise it: then the decoder takes 5,000 levels, and the bound still refuses them)."""
    import sys

    deep = b"[" * depth + b"]" * depth
    saved = sys.getrecursionlimit()
    sys.setrecursionlimit(recursion_limit or saved)
    try:
        response = api.post("/api/proposals", token=artist.token, data=deep, content_type="application/json")
    finally:
        sys.setrecursionlimit(saved)
    _assert_problem(response, 400, "malformed-json")


def test_a_nul_character_in_a_path_is_a_404(api, people):
    person = people("artist")
    _assert_problem(api.get("/api/proposals/%00"), 404, "not-found")
    _assert_problem(api.delete("/api/categories/%00", token=person.token), 404, "not-found")


def test_a_create_that_loses_a_race_to_the_unique_constraint_is_a_409(api, people, db, monkeypatch):
    """Two admins create the same category at once: both pass the existence check, one insert
    wins; the other meets the unique constraint and learns it exists (a 409, not a 500)."""
    from sqlalchemy import text

    from shared.market import taxonomy

    admin = people("artist")
    db.execute(text("UPDATE users SET is_admin = true WHERE id = :id"), {"id": admin.id})
    db.commit()
    body = {"slug": "racing", "name": "Racing", "sort_order": 99}
    assert api.post("/api/categories", token=admin.token, json=body).status_code == 201
    monkeypatch.setattr(taxonomy, "_exists", lambda session, slug: False)  # the check ran before the winner's commit
    _assert_problem(api.post("/api/categories", token=admin.token, json=body), 409, "conflict")
