"""ID-token verification with firebase-admin.

RS256: real tokens signed by a test key. The one faked edge is Google's public-key
endpoint (www.googleapis.com/robot/v1/metadata/x509/securetoken@...), which this
test serves on loopback with the test key's certificate instead.
"""
from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from shared.auth import FirebaseAuth
from shared.http.problems import ServiceUnavailable, Unauthenticated

PROJECT = "demo-kalakrut-rs256"
KID = "test-key-1"


def _key_and_cert():
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "securetoken.test")])
    now = datetime.now(UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - timedelta(days=1))
            .not_valid_after(now + timedelta(days=1)).sign(key, hashes.SHA256()))
    return key, cert.public_bytes(serialization.Encoding.PEM).decode()


@pytest.fixture(scope="module")
def signing_key():
    return _key_and_cert()


@pytest.fixture(scope="module")
def verifier(signing_key):
    _, cert_pem = signing_key
    body = json.dumps({KID: cert_pem}).encode()

    class Certs(BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Cache-Control", "public, max-age=3600")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Certs)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    patch = pytest.MonkeyPatch()
    patch.delenv("FIREBASE_AUTH_EMULATOR_HOST", raising=False)
    import firebase_admin._token_gen as token_gen

    patch.setattr(token_gen, "ID_TOKEN_CERT_URI", f"http://127.0.0.1:{server.server_port}/certs")
    yield FirebaseAuth(PROJECT, check_revoked=False, app_name="rs256-test", credential=_service_account())
    patch.undo()
    server.shutdown()


def _service_account():
    """A service-account credential made from a throwaway key, its token endpoint closed:
    signature checks never use it, but firebase-admin wants one outside the emulator and
    there is no ADC here."""
    from firebase_admin import credentials

    return credentials.Certificate({
        "type": "service_account",
        "project_id": PROJECT,
        "private_key_id": "test",
        "private_key": _key_and_cert()[0].private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode(),
        "client_email": f"test@{PROJECT}.iam.gserviceaccount.com",
        "client_id": "1",
        "token_uri": "http://127.0.0.1:9/token",
    })


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


def test_valid_token(verifier, signing_key):
    claims = verifier.verify(_sign(signing_key[0], _claims()))
    assert claims.uid == "uid-123" and claims.email == "ada@example.test"


@pytest.mark.parametrize(("case", "reason"), [
    ("expired", "expired"),
    ("wrong_audience", "not valid"),
    ("wrong_issuer", "not valid"),
    ("tampered", "not valid"),
    ("other_key", "not valid"),
    ("unknown_kid", "not valid"),
    ("unsigned", "not valid"),
    ("garbage", "not valid"),
])
def test_rejected_tokens(case, reason, verifier, signing_key):
    key = signing_key[0]
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
        token = _sign(_key_and_cert()[0], _claims())
    elif case == "unknown_kid":
        token = _sign(key, _claims(), kid="nope")
    elif case == "unsigned":
        token = jwt.encode(_claims(), None, algorithm="none")
    else:
        token = "not.a.token"
    with pytest.raises(Unauthenticated) as error:
        verifier.verify(token)
    assert reason in error.value.detail


def test_an_unreachable_revocation_check_is_a_retryable_503(verifier, signing_key):
    """A valid signature, but the account lookup behind check_revoked cannot be made (here:
    no access token for Identity Toolkit, its token endpoint closed): the caller did nothing
    wrong, so not 401, and no 500 either."""
    checking = FirebaseAuth(PROJECT, check_revoked=True, app_name="rs256-revocation", credential=_service_account())
    with pytest.raises(ServiceUnavailable) as error:
        checking.verify(_sign(signing_key[0], _claims()))
    assert error.value.headers["Retry-After"] == "5"


def test_an_unreachable_auth_emulator_is_a_retryable_503(monkeypatch):
    monkeypatch.setenv("FIREBASE_AUTH_EMULATOR_HOST", "127.0.0.1:9")  # nothing listens there
    emulated = FirebaseAuth("demo-unreachable", check_revoked=True, app_name="emulator-down")
    claims = _claims(iss="https://securetoken.google.com/demo-unreachable", aud="demo-unreachable")
    with pytest.raises(ServiceUnavailable):
        emulated.verify(jwt.encode(claims, None, algorithm="none"))  # the emulator's tokens are unsigned
