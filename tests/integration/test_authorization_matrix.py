"""Every write endpoint x {owner, another user, anonymous, admin}: exactly the allowed
outcome, and a refused request changes nothing."""
import pytest

from tests.integration.conftest import proposal_body, snapshot

ACTORS = ("owner", "other", "anonymous", "admin")

# endpoint -> (state the proposal starts in, method, path suffix, body, expected status per actor)
PROPOSAL_WRITES = {
    "edit": ("open", "PATCH", "", {"title": "Changed"}, {"owner": 200, "other": 403, "anonymous": 401, "admin": 403}),
    # A draft is invisible to others, so they get 404, not 403.
    "publish": ("draft", "POST", "/publish", None, {"owner": 200, "other": 404, "anonymous": 401, "admin": 403}),
    "cancel": ("open", "POST", "/cancel", None, {"owner": 200, "other": 403, "anonymous": 401, "admin": 200}),
    "close": ("open", "POST", "/close", None, {"owner": 200, "other": 403, "anonymous": 401, "admin": 200}),
}


@pytest.fixture
def cast(people):
    return {"owner": people("artist"), "other": people("artist"), "admin": people("investor", admin=True), "anonymous": None}


@pytest.mark.parametrize("actor", ACTORS)
@pytest.mark.parametrize("endpoint", list(PROPOSAL_WRITES))
def test_proposal_writes(endpoint, actor, api, cast, make_proposal, db):
    state, method, suffix, body, expected = PROPOSAL_WRITES[endpoint]
    proposal = make_proposal(cast["owner"], publish=state == "open")
    url = f"/api/proposals/{proposal['id']}{suffix}"
    who = cast[actor]
    before = snapshot(db)
    headers = {"If-Match": f'"{proposal["version"]}"'} if method == "PATCH" else {}
    response = api.request(method, url, token=who.token if who else None, json=body, headers=headers)
    assert response.status_code == expected[actor], response.get_data(as_text=True)
    if response.status_code >= 400:
        assert response.content_type == "application/problem+json"
        assert snapshot(db) == before


@pytest.mark.parametrize(("role", "admin", "expected"), [
    ("artist", False, 201), ("investor", False, 403), ("collector", False, 403), ("investor", True, 403), (None, False, 401),
])
def test_create_proposal_is_for_artists(role, admin, expected, api, people, db):
    person = people(role, admin=admin) if role else None
    before = snapshot(db)
    response = api.post("/api/proposals", token=person.token if person else None, json=proposal_body())
    assert response.status_code == expected
    if expected != 201:
        assert snapshot(db) == before


@pytest.mark.parametrize(("method", "path", "body"), [
    ("PATCH", "/api/me", {"bio": "x"}),
    ("DELETE", "/api/me", None),
    ("POST", "/api/users/{target}/follow", None),
    ("DELETE", "/api/users/{target}/follow", None),
    ("POST", "/api/register", {"role": "artist"}),
    ("POST", "/api/me/wallet/challenge", {"address": "0x" + "ab" * 20}),
    ("POST", "/api/me/sessions/revoke", None),
    ("DELETE", "/api/me/wallet", None),
])
@pytest.mark.parametrize("actor", ("self", "anonymous", "admin"))
def test_profile_writes_act_only_on_the_caller(method, path, body, actor, api, people, auth_emulator, db):
    target = people("artist")
    caller = {"self": people("investor"), "admin": people("investor", admin=True), "anonymous": None}[actor]
    before = snapshot(db)
    response = api.request(method, path.format(target=target.id), token=caller.token if caller else None, json=body)
    if caller is None:
        assert response.status_code == 401
        assert snapshot(db) == before
    elif path == "/api/register":
        assert response.status_code == 409  # already an investor: no silent role change, even for admins
    else:
        assert response.status_code in (200, 201, 204)


@pytest.mark.parametrize(("actor", "expected"), [("owner", 204), ("other", 403), ("anonymous", 401), ("admin", 403)])
def test_media_delete(actor, expected, api, cast, db, processor_upload):
    media_id = processor_upload(cast["owner"])
    who = cast[actor]
    before = snapshot(db)
    response = api.delete(f"/api/media/{media_id}", token=who.token if who else None)
    assert response.status_code == expected
    if expected >= 400:
        assert snapshot(db) == before


@pytest.mark.parametrize(("role", "expected"), [("artist", 201), ("investor", 201), ("collector", 201), (None, 401)])
def test_anyone_registered_may_upload(role, expected, api, people, db):
    person = people(role) if role else None
    response = api.post("/api/media/uploads", token=person.token if person else None,
                        json={"purpose": "avatar", "content_type": "image/png", "size": 100})
    assert response.status_code == expected
