"""Firebase ID tokens, verified with PyJWT the way Firebase documents for third-party
JWT libraries: RS256 signed by one of Google's ``securetoken`` keys, audience the project,
issuer ``https://securetoken.google.com/<project>``, a non-empty ``sub`` of at most 128
characters (the uid), issued and signed in at or before now, not expired.

Not firebase-admin: importing its ``auth`` module costs about five times what PyJWT does
(it brings requests, google-auth's transports and its whole admin client), on the cold
start of every signed-in request (docs/decisions/0018-token-verification-with-pyjwt.md).
The Auth emulator's tokens are unsigned; with the emulator configured the signature is not
checked (as firebase-admin does), every claim still is.
"""
from __future__ import annotations

import time
from typing import Any

# Google's public keys for Firebase ID tokens, as a JWK set (the issuer's OpenID
# configuration names it). A rotated key appears here hours before it signs anything.
GOOGLE_KEYS_URL = "https://www.googleapis.com/service_accounts/v1/jwk/securetoken@system.gserviceaccount.com"
KEYS_LIFESPAN_SECONDS = 3600
FETCH_TIMEOUT_SECONDS = 10
MAX_UID_LENGTH = 128
REQUIRED = ["exp", "iat", "auth_time", "sub", "aud", "iss"]


class InvalidToken(Exception):
    """The token is not a valid ID token of this project: the caller must sign in again."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class KeysUnavailable(Exception):
    """Google's signing keys could not be fetched: nothing the caller did."""


class IdTokenVerifier:
    def __init__(self, project_id: str, *, emulated: bool, keys_url: str = GOOGLE_KEYS_URL) -> None:
        self._project_id = project_id
        self._issuer = f"https://securetoken.google.com/{project_id}"
        self._emulated = emulated
        self._keys_url = keys_url
        self._keys: Any = None  # PyJWKClient, built on the first signed token

    def verify(self, token: str) -> dict[str, Any]:
        """The token's claims, every check passed; raises InvalidToken or KeysUnavailable."""
        import jwt

        try:
            if self._emulated:
                claims = jwt.decode(token, options={
                    "verify_signature": False, "verify_exp": True, "verify_iat": True, "verify_aud": True,
                    "verify_iss": True, "verify_sub": True, "require": REQUIRED,
                }, audience=self._project_id, issuer=self._issuer)
            else:
                key = self._signing_keys().get_signing_key_from_jwt(token)
                claims = jwt.decode(token, key, algorithms=["RS256"], audience=self._project_id,
                                    issuer=self._issuer, options={"require": REQUIRED})
        except (jwt.PyJWKClientConnectionError, jwt.PyJWKSetError) as error:
            raise KeysUnavailable(str(error)) from error
        except jwt.ExpiredSignatureError:
            raise InvalidToken("the ID token has expired") from None
        except jwt.PyJWTError:
            # Bad signature, unknown key, wrong audience or issuer, missing claim, malformed.
            raise InvalidToken("the ID token is not valid") from None
        uid = claims["sub"]
        if not uid or len(uid) > MAX_UID_LENGTH or not _is_past(claims["auth_time"]):
            raise InvalidToken("the ID token is not valid")
        return claims

    def _signing_keys(self) -> Any:
        if self._keys is None:
            from jwt import PyJWKClient

            # An unknown kid refetches the set at most every 30 s (PyJWT's cooldown), so
            # tokens with made-up kids cannot make every request a fetch.
            self._keys = PyJWKClient(self._keys_url, lifespan=KEYS_LIFESPAN_SECONDS, timeout=FETCH_TIMEOUT_SECONDS)
        return self._keys


def _is_past(timestamp: Any) -> bool:
    return isinstance(timestamp, int | float) and not isinstance(timestamp, bool) and timestamp <= time.time()
