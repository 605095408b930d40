import pytest
from sqlalchemy import text

from shared.media import storage
from tests.conftest import MEDIA
from tests.integration.conftest import deliver_media_cleanups, snapshot


def test_register_is_idempotent_and_takes_email_from_the_token(api, auth_emulator, db):
    uid, token = auth_emulator.sign_up("ada@example.test", display_name="Ada")
    first = api.post("/api/register", token=token, json={"role": "artist", "bio": "Textiles."})
    assert first.status_code == 201
    assert first.headers["Location"] == "/api/me"
    profile = first.get_json()
    assert profile["email"] == "ada@example.test"
    assert profile["display_name"] == "Ada"
    assert profile["role"] == "artist" and profile["is_admin"] is False

    again = api.post("/api/register", token=token, json={"role": "artist"})
    assert again.status_code == 200 and again.get_json()["id"] == profile["id"]
    assert db.execute(text("SELECT count(*) FROM users WHERE firebase_uid = :u"), {"u": uid}).scalar() == 1


def test_email_in_the_body_is_refused(api, auth_emulator, db):
    _, token = auth_emulator.sign_up("real@example.test")
    response = api.post("/api/register", token=token, json={"role": "investor", "email": "fake@example.test"})
    assert response.status_code == 422
    assert db.execute(text("SELECT count(*) FROM users")).scalar() == 0


def test_registering_again_with_another_role_conflicts(api, people, db):
    person = people("collector")
    before = snapshot(db)
    response = api.post("/api/register", token=person.token, json={"role": "artist"})
    assert response.status_code == 409 and response.get_json()["code"] == "conflict"
    assert snapshot(db) == before


def test_me_requires_registration(api, auth_emulator):
    _, token = auth_emulator.sign_up("new@example.test")
    response = api.get("/api/me", token=token)
    assert response.status_code == 403
    assert response.get_json()["code"] == "registration-required"


def test_patch_me(api, people):
    person = people("artist")
    response = api.patch("/api/me", token=person.token, json={
        "display_name": "  Ada O.  ", "bio": "Weaver", "links": ["https://ada.example/portfolio"]})
    assert response.status_code == 200
    body = response.get_json()
    assert body["display_name"] == "Ada O."
    assert body["bio"] == "Weaver" and body["links"] == ["https://ada.example/portfolio"]
    cleared = api.patch("/api/me", token=person.token, json={"bio": None, "links": None}).get_json()
    assert cleared["bio"] is None and cleared["links"] == [] and cleared["display_name"] == "Ada O."


def test_public_profile_and_follows(api, people):
    ada, ivan = people("artist"), people("investor")
    assert api.post(f"/api/users/{ada.id}/follow", token=ivan.token).status_code == 204
    assert api.post(f"/api/users/{ada.id}/follow", token=ivan.token).status_code == 204  # idempotent
    public = api.get(f"/api/users/{ada.id}").get_json()
    assert public["followers"] == 1 and public["following"] == 0
    assert "email" not in public
    assert api.get(f"/api/users/{ivan.id}").get_json()["following"] == 1
    assert api.delete(f"/api/users/{ada.id}/follow", token=ivan.token).status_code == 204
    assert api.delete(f"/api/users/{ada.id}/follow", token=ivan.token).status_code == 204
    assert api.get(f"/api/users/{ada.id}").get_json()["followers"] == 0


def test_following_yourself_or_nobody(api, people, db):
    ada = people("artist")
    before = snapshot(db)
    assert api.post(f"/api/users/{ada.id}/follow", token=ada.token).status_code == 422
    assert api.post("/api/users/00000000-0000-0000-0000-000000000000/follow", token=ada.token).status_code == 404
    assert snapshot(db) == before


@pytest.fixture
def firebase_unreachable(monkeypatch):
    """Account deletions go to a firebase-admin app whose Auth endpoint is a closed port: the
    real deletion call, failing as it does when the service is unreachable."""
    from shared.identity.auth import FirebaseAuth, get_firebase

    monkeypatch.setenv("FIREBASE_AUTH_EMULATOR_HOST", "127.0.0.1:9")
    unreachable = FirebaseAuth("demo-kalakrut", check_revoked=True, emulator_host="127.0.0.1:9",
                               app_name="auth-unreachable")
    monkeypatch.setattr(get_firebase(), "delete_account", unreachable.delete_account)
    yield
    monkeypatch.undo()


def test_delete_me_when_the_sign_in_account_cannot_be_deleted(api, people, db, firebase_unreachable):
    """The profile is erased and committed first; Firebase failing after it is a retryable
    503 and the uid waits in account_deletions (the retry: the next test)."""
    ada = people("artist")
    response = api.delete("/api/me", token=ada.token)
    assert response.status_code == 503 and response.headers["Retry-After"] == "5"
    db.rollback()
    assert db.execute(text("SELECT deleted_at IS NOT NULL FROM users WHERE id = :id"), {"id": ada.id}).scalar()
    assert db.execute(text("SELECT firebase_uid FROM account_deletions")).scalars().all() == [ada.uid]


def _failing_finish(uid, delete_account):
    from shared import errors

    raise errors.ServiceUnavailable("account deletion is unavailable", headers={"Retry-After": "5"})


def test_a_retried_erasure_deletes_the_account_and_forgets_its_uid(api, people, db, monkeypatch):
    ada = people("artist")
    with monkeypatch.context() as patched:
        patched.setattr("shared.people.users.finish_account_deletion", _failing_finish)
        assert api.delete("/api/me", token=ada.token).status_code == 503
    assert api.get("/api/me", token=ada.token).get_json()["code"] == "registration-required"  # erased, signed in
    again = api.post("/api/register", token=ada.token, json={"role": "artist"})
    assert again.status_code == 409 and "DELETE /api/me" in again.get_json()["detail"]  # no new profile meanwhile
    assert api.delete("/api/me", token=ada.token).status_code == 204  # the retry finishes
    db.rollback()
    assert db.execute(text("SELECT count(*) FROM account_deletions")).scalar() == 0
    assert api.get("/api/me", token=ada.token).status_code == 401  # the sign-in account is gone
    stranger = people("investor")
    db.execute(text("DELETE FROM users WHERE id = :id"), {"id": stranger.id})
    db.commit()
    # A signed-in account with no profile and no erasure pending has nothing to erase.
    assert api.delete("/api/me", token=stranger.token).get_json()["code"] == "registration-required"


def test_delete_me_changes_nothing_anywhere_when_its_transaction_fails(api, people, db, monkeypatch):
    """Firebase is called only after the commit: a failing transaction leaves the profile
    and the sign-in account as they were."""
    from shared import errors
    from shared.identity.auth import get_firebase
    from shared.people import users

    ada = people("artist")
    deleted: list[str] = []
    monkeypatch.setattr(get_firebase(), "delete_account", deleted.append)
    real_erase = users.erase

    def erase_then_fail(session, user):
        real_erase(session, user)
        session.flush()
        raise errors.ServiceUnavailable("the database went away")

    monkeypatch.setattr(users, "erase", erase_then_fail)
    before = snapshot(db)
    assert api.delete("/api/me", token=ada.token).status_code == 503
    assert snapshot(db) == before and deleted == []
    monkeypatch.undo()
    assert api.get("/api/me", token=ada.token).status_code == 200


def test_delete_me_erases_personal_data_but_keeps_history(api, people, make_proposal, processor_upload, cleaner, db):
    ada, ivan = people("artist"), people("investor")
    avatar = processor_upload(ada)
    assert api.patch("/api/me", token=ada.token, json={"avatar_media_id": avatar}).status_code == 200
    published = make_proposal(ada, publish=True)
    draft = make_proposal(ada, title="Unfinished")
    api.post(f"/api/users/{ada.id}/follow", token=ivan.token)

    assert api.delete("/api/me", token=ada.token).status_code == 204

    row = db.execute(text("SELECT firebase_uid, email, display_name, bio, deleted_at FROM users WHERE id = :id"),
                     {"id": ada.id}).one()
    assert row[:4] == (None, None, None, None) and row.deleted_at is not None
    ids = {r[0] for r in db.execute(text("SELECT id::text FROM proposals")).all()}
    assert published["id"] in ids and draft["id"] not in ids  # funded history stays, drafts go
    assert db.execute(text("SELECT count(*) FROM follows")).scalar() == 0
    assert db.execute(text("SELECT count(*) FROM media")).scalar() == 0
    assert deliver_media_cleanups(cleaner, db) == 1  # the avatar's files go after the commit
    assert list(storage.client().list_blobs(MEDIA, prefix=f"media/{avatar}/")) == []
    assert api.get(f"/api/users/{ada.id}").status_code == 404
    # The sign-in account is gone too: the old token no longer authenticates.
    assert api.get("/api/me", token=ada.token).status_code == 401
    actions = [r[0] for r in db.execute(text("SELECT action FROM audit_log WHERE entity_id = :id"), {"id": ada.id})]
    assert "user.erased" in actions


def test_signing_out_everywhere_ends_every_session(api, people, db):
    """POST /api/me/sessions/revoke: tokens issued before it fail the revocation check at once
    (issue 22, finding 6); a new sign-in works again."""
    import time

    ada = people("artist")
    assert api.get("/api/me", token=ada.token).status_code == 200
    time.sleep(1.1)  # the sign-in service keeps whole seconds: a token of this very second would stay valid
    assert api.post("/api/me/sessions/revoke", token=ada.token).status_code == 204
    refused = api.get("/api/me", token=ada.token)
    assert refused.status_code == 401 and "revoked" in refused.get_json()["detail"]
    db.rollback()
    assert db.execute(text("SELECT count(*) FROM audit_log WHERE action = 'user.signed_out_everywhere'")).scalar() == 1
