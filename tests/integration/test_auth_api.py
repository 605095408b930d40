"""Authentication as the functions see it, with Auth emulator tokens."""
import time


def test_revoked_token_is_refused(api, people, auth_emulator):
    """Revocation is checked against the Auth emulator (AUTH_CHECK_REVOKED defaults on)."""
    from firebase_admin import auth

    from shared.auth import get_firebase

    ada = people("artist")
    assert api.get("/api/me", token=ada.token).status_code == 200
    time.sleep(1.1)  # revocation is second-granular: the token must predate it
    auth.revoke_refresh_tokens(ada.uid, app=get_firebase()._app)
    response = api.get("/api/me", token=ada.token)
    assert response.status_code == 401 and "revoked" in response.get_json()["detail"]
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_malformed_authorization_headers(api, function_clients):
    client = function_clients["registration"]
    for header in ("Basic abc", "Bearer", "Bearer ", "token"):
        response = client.get("/api/me", headers={"Authorization": header})
        assert response.status_code == 401, header
        assert response.get_json()["code"] == "unauthenticated"
