"""Authentication as the functions see it, with Auth emulator tokens. Accounts are revoked,
disabled and deleted with firebase-admin, so the lookup is checked against what the admin
SDK writes."""
import time

import pytest


@pytest.fixture(scope="module")
def admin(auth_emulator):
    """firebase-admin's auth module and an app of its own, pointed at the emulator."""
    import firebase_admin
    from firebase_admin import auth

    from tests.conftest import PROJECT

    app = firebase_admin.initialize_app(options={"projectId": PROJECT}, name="test-admin")
    yield lambda call, *args, **kwargs: getattr(auth, call)(*args, app=app, **kwargs)
    firebase_admin.delete_app(app)


@pytest.fixture
def revocation_window(monkeypatch):
    """The functions' look at an account is remembered this many seconds (decision 0024)."""
    from tests.conftest import reset_caches

    def window(seconds: float) -> None:
        monkeypatch.setenv("AUTH_REVOCATION_CACHE_SECONDS", str(seconds))
        reset_caches()

    yield window
    monkeypatch.undo()
    reset_caches()


def test_revoked_token_is_refused_once_the_window_has_passed(api, people, admin, auth_emulator, revocation_window):
    """Revocation is checked against the Auth emulator (AUTH_CHECK_REVOKED defaults on),
    at most once per uid per window: a token revoked elsewhere works until it ends."""
    revocation_window(1.0)
    ada = people("artist")
    time.sleep(1.1)  # revocation is second-granular: the token must predate it
    assert api.get("/api/me", token=ada.token).status_code == 200  # looked up, remembered
    admin("revoke_refresh_tokens", ada.uid)
    assert api.get("/api/me", token=ada.token).status_code == 200  # within the window
    time.sleep(1.0)
    response = api.get("/api/me", token=ada.token)
    assert response.status_code == 401 and "revoked" in response.get_json()["detail"]
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    # Signing in again after the revocation gives a token that works.
    assert api.get("/api/me", token=auth_emulator.sign_in(ada.email)).status_code == 200


@pytest.mark.parametrize("change", ["disabled", "deleted"])
def test_tokens_of_disabled_or_deleted_accounts_are_refused(change, api, people, admin, revocation_window):
    revocation_window(0)  # every request looks the account up
    ada = people("artist")
    if change == "disabled":
        admin("update_user", ada.uid, disabled=True)
    else:
        admin("delete_user", ada.uid)
    response = api.get("/api/me", token=ada.token)
    assert response.status_code == 401 and "disabled or deleted" in response.get_json()["detail"]


def test_malformed_authorization_headers(api, function_clients):
    client = function_clients["registration"]
    for header in ("Basic abc", "Bearer", "Bearer ", "token"):
        response = client.get("/api/me", headers={"Authorization": header})
        assert response.status_code == 401, header
        assert response.get_json()["code"] == "unauthenticated"


def test_reads_remember_the_callers_row_briefly_writes_never(api, people, db):
    """Signed-in reads load the caller's row once per 10 s (decision 0024); the caller's own
    write forgets it at once, and a write always loads it afresh."""
    from sqlalchemy import text

    ada = people("artist")
    assert api.get("/api/network/insights", token=ada.token).status_code == 403  # remembered: not an admin
    db.execute(text("UPDATE users SET is_admin = true WHERE id = :id"), {"id": ada.id})
    db.commit()
    assert api.get("/api/network/insights", token=ada.token).status_code == 403  # within the window
    assert api.patch("/api/me", json={"bio": "now an admin"}, token=ada.token).status_code == 200
    assert api.get("/api/network/insights", token=ada.token).status_code == 200
