"""ID-token verification (shared/identity/tokens.py) and the revocation lookup behind it.

RS256: real tokens signed by a test key. The faked edges are Google's: its public-key
endpoint (www.googleapis.com/service_accounts/v1/jwk/securetoken@...), served on loopback
with the test key instead, and, for the cloud path of the revocation check, the metadata
server and Identity Toolkit, which only exist on Google Cloud. The emulator path of that
check runs against the real Auth emulator (test_auth_api.py).
"""
from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from shared.errors import ServiceUnavailable, Unauthenticated
from shared.identity.auth import FirebaseAuth

PROJECT = "demo-kalakrut-rs256"
KID = "test-key-1"
CLOSED = "127.0.0.1:9"  # nothing listens there


def _key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


class Edge:
    """A loopback stand-in for one of Google's HTTP endpoints: answers each path from
    ``routes`` (status, JSON body) and records what it was sent."""

    def __init__(self, routes: dict[str, tuple[int, object]]) -> None:
        self.routes, self.requests = routes, []
        edge = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                edge.requests.append((self.command, self.path, dict(self.headers), body))
                status, payload = edge.routes.get(self.path.split("?")[0], (404, {"error": "no such path"}))
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = _answer

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.host = f"127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _jwks(key) -> dict:
    jwk = jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key(), as_dict=True)
    return {"keys": [{**jwk, "kid": KID, "alg": "RS256", "use": "sig"}]}


@pytest.fixture(scope="module")
def signing_key():
    return _key()


@pytest.fixture(scope="module")
def google_keys(signing_key):
    edge = Edge({"/jwk": (200, _jwks(signing_key))})
    yield f"http://{edge.host}/jwk"
    edge.close()


@pytest.fixture(scope="module")
def verifier(google_keys):
    return FirebaseAuth(PROJECT, check_revoked=False, keys_url=google_keys)


def _claims(**overrides):
    now = int(time.time())
    claims = {
        "iss": f"https://securetoken.google.com/{PROJECT}",
        "aud": PROJECT,
        "auth_time": now - 10,
        "iat": now - 10,
        "exp": now + 3600,
        "sub": "uid-123",
        "email": "ada@example.test",
        "firebase": {"sign_in_provider": "password"},
    }
    claims.update(overrides)
    return claims


def _sign(key, claims, kid=KID):
    return jwt.encode(claims, key, algorithm="RS256", headers={"kid": kid})


def _unsigned(claims):
    """What the Auth emulator issues."""
    return jwt.encode(claims, None, algorithm="none")


def test_valid_token(verifier, signing_key):
    claims = verifier.verify(_sign(signing_key, _claims()))
    assert claims.uid == "uid-123" and claims.email == "ada@example.test"


@pytest.mark.parametrize(("case", "reason"), [
    ("expired", "expired"),
    ("wrong_audience", "not valid"),
    ("wrong_issuer", "not valid"),
    ("tampered", "not valid"),
    ("other_key", "not valid"),
    ("unknown_kid", "not valid"),
    ("no_kid", "not valid"),
    ("hs256_with_the_public_key", "not valid"),
    ("unsigned", "not valid"),
    ("garbage", "not valid"),
    ("issued_in_the_future", "not valid"),
    ("signed_in_in_the_future", "not valid"),
    ("empty_uid", "not valid"),
    ("uid_too_long", "not valid"),
    ("uid_not_a_string", "not valid"),
    ("no_auth_time", "not valid"),
])
def test_rejected_tokens(case, reason, verifier, signing_key):
    key = signing_key
    now = int(time.time())
    if case == "expired":
        token = _sign(key, _claims(iat=now - 7200, auth_time=now - 7200, exp=now - 3600))
    elif case == "wrong_audience":
        token = _sign(key, _claims(aud="someone-else"))
    elif case == "wrong_issuer":
        token = _sign(key, _claims(iss="https://securetoken.google.com/someone-else"))
    elif case == "tampered":
        header, _payload, signature = _sign(key, _claims()).split(".")
        forged = jwt.utils.base64url_encode(json.dumps(_claims(sub="admin-uid")).encode()).decode()
        token = f"{header}.{forged}.{signature}"
    elif case == "other_key":
        token = _sign(_key(), _claims())
    elif case == "unknown_kid":
        token = _sign(key, _claims(), kid="nope")
    elif case == "no_kid":
        token = jwt.encode(_claims(), key, algorithm="RS256")
    elif case == "hs256_with_the_public_key":
        # The classic algorithm confusion: an HMAC keyed with the public key's PEM (built by
        # hand: PyJWT refuses to sign it).
        public = key.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
        signing_input = b".".join(jwt.utils.base64url_encode(json.dumps(part).encode())
                                  for part in ({"alg": "HS256", "kid": KID, "typ": "JWT"}, _claims()))
        mac = hmac.new(public, signing_input, hashlib.sha256).digest()
        token = (signing_input + b"." + jwt.utils.base64url_encode(mac)).decode()
    elif case == "unsigned":
        token = _unsigned(_claims())
    elif case == "issued_in_the_future":
        token = _sign(key, _claims(iat=now + 600))
    elif case == "signed_in_in_the_future":
        token = _sign(key, _claims(auth_time=now + 600))
    elif case == "empty_uid":
        token = _sign(key, _claims(sub=""))
    elif case == "uid_too_long":
        token = _sign(key, _claims(sub="u" * 129))
    elif case == "uid_not_a_string":
        token = _sign(key, _claims(sub=123))
    elif case == "no_auth_time":
        token = _sign(key, {k: v for k, v in _claims().items() if k != "auth_time"})
    else:
        token = "not.a.token"
    with pytest.raises(Unauthenticated) as error:
        verifier.verify(token)
    assert reason in error.value.detail


def test_unreachable_signing_keys_are_a_retryable_503(signing_key):
    keyless = FirebaseAuth(PROJECT, check_revoked=False, keys_url=f"http://{CLOSED}/jwk")
    with pytest.raises(ServiceUnavailable) as error:
        keyless.verify(_sign(signing_key, _claims()))
    assert error.value.headers["Retry-After"] == "5"


def test_the_signing_keys_are_fetched_once_and_made_up_kids_do_not_refetch(signing_key):
    """Keys are cached (an hour); a kid not in the set may refetch it at most every 30 s,
    so tokens with made-up kids cannot turn every request into a fetch from Google."""
    edge = Edge({"/jwk": (200, _jwks(signing_key))})
    try:
        auth = FirebaseAuth(PROJECT, check_revoked=False, keys_url=f"http://{edge.host}/jwk")
        for _ in range(3):
            auth.verify(_sign(signing_key, _claims()))
        for kid in ("made-up-1", "made-up-2"):
            with pytest.raises(Unauthenticated):
                auth.verify(_sign(signing_key, _claims(), kid=kid))
        assert len(edge.requests) == 1
    finally:
        edge.close()


# The revocation check's cloud path: the function's token from the metadata server, the
# account from Identity Toolkit (both loopback stand-ins, see the module docstring).

METADATA_TOKEN_PATH = "/computeMetadata/v1/instance/service-accounts/default/token"
LOOKUP_PATH = f"/v1/projects/{PROJECT}/accounts:lookup"


@pytest.fixture
def google_cloud(monkeypatch):
    metadata = Edge({METADATA_TOKEN_PATH: (200, {"access_token": "ya29.function-token", "expires_in": 3599,
                                                  "token_type": "Bearer"})})
    toolkit = Edge({LOOKUP_PATH: (200, {"users": [{"localId": "uid-123", "validSince": "0"}]})})
    monkeypatch.setenv("GCE_METADATA_HOST", metadata.host)
    monkeypatch.setattr("shared.identity.accounts.CLOUD_BASE", f"http://{toolkit.host}")
    yield metadata, toolkit
    metadata.close()
    toolkit.close()


@pytest.fixture
def checking(google_cloud, google_keys):
    return FirebaseAuth(PROJECT, check_revoked=True, keys_url=google_keys)


def test_the_cloud_lookup_sends_the_functions_own_token(checking, google_cloud, signing_key):
    metadata, toolkit = google_cloud
    for _ in range(2):
        assert checking.verify(_sign(signing_key, _claims())).uid == "uid-123"
    assert len(metadata.requests) == 1  # the access token is cached until near its expiry
    assert metadata.requests[0][2]["Metadata-Flavor"] == "Google"
    method, path, headers, body = toolkit.requests[-1]
    assert (method, path, json.loads(body)) == ("POST", LOOKUP_PATH, {"localId": ["uid-123"]})
    assert headers["Authorization"] == "Bearer ya29.function-token"


@pytest.mark.parametrize(("account", "reason"), [
    ({"localId": "uid-123", "validSince": "{after_the_token}"}, "revoked"),
    ({"localId": "uid-123", "validSince": "0", "disabled": True}, "disabled or deleted"),
    (None, "disabled or deleted"),
])
def test_revoked_tokens_and_gone_accounts_are_refused(account, reason, checking, google_cloud, signing_key):
    token = _sign(signing_key, _claims())  # issued 10 s ago
    if account:
        account = {**account, "validSince": account["validSince"].format(after_the_token=int(time.time()) - 5)}
    google_cloud[1].routes[LOOKUP_PATH] = (200, {"users": [account]} if account else {})
    with pytest.raises(Unauthenticated) as error:
        checking.verify(token)
    assert reason in error.value.detail


@pytest.mark.parametrize("failure", ["no_metadata_server", "metadata_error", "toolkit_error", "toolkit_garbage"])
def test_an_unmade_revocation_check_is_a_retryable_503(failure, checking, google_cloud, signing_key, monkeypatch):
    """A valid signature, but the account lookup cannot be made: the caller did nothing
    wrong, so not 401, and no 500 either."""
    metadata, toolkit = google_cloud
    if failure == "no_metadata_server":
        monkeypatch.setenv("GCE_METADATA_HOST", CLOSED)
    elif failure == "metadata_error":
        metadata.routes[METADATA_TOKEN_PATH] = (500, {"error": "internal"})
    elif failure == "toolkit_error":
        toolkit.routes[LOOKUP_PATH] = (403, {"error": {"message": "PERMISSION_DENIED"}})
    else:
        toolkit.routes[LOOKUP_PATH] = (200, {"users": [{"localId": "uid-123", "validSince": "soon"}]})
    with pytest.raises(ServiceUnavailable) as error:
        checking.verify(_sign(signing_key, _claims()))
    assert error.value.headers["Retry-After"] == "5"


# The emulator's tokens are unsigned; every claim is still checked.

EMULATED = "demo-emulated"


def _emulator_claims(**overrides):
    return _claims(**{"iss": f"https://securetoken.google.com/{EMULATED}", "aud": EMULATED, **overrides})


def test_emulator_tokens_have_their_claims_checked():
    emulated = FirebaseAuth(EMULATED, check_revoked=False, emulator_host=CLOSED)
    now = int(time.time())
    assert emulated.verify(_unsigned(_emulator_claims())).uid == "uid-123"
    for claims, reason in [(_emulator_claims(iat=now - 7200, exp=now - 3600), "expired"),
                           (_emulator_claims(aud="someone-else"), "not valid"),
                           (_claims(), "not valid")]:  # another project's issuer and audience
        with pytest.raises(Unauthenticated) as error:
            emulated.verify(_unsigned(claims))
        assert reason in error.value.detail


def test_an_unreachable_auth_emulator_is_a_retryable_503():
    emulated = FirebaseAuth(EMULATED, check_revoked=True, emulator_host=CLOSED)
    with pytest.raises(ServiceUnavailable):
        emulated.verify(_unsigned(_emulator_claims()))
