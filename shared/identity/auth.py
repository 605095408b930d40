"""Who is calling, and what they may do.

Identity is a Firebase ID token (shared/identity/tokens.py: signature, expiry, audience,
issuer) and, when configured, the account behind it looked up to refuse revoked tokens
and disabled or deleted accounts (shared/identity/accounts.py). Roles and ownership live
in PostgreSQL. firebase-admin is imported only to delete an account.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from shared.config import ConfigError
from shared.errors import AccountSuspended, ServiceUnavailable, Unauthenticated
from shared.identity.access import Viewer
from shared.identity.tokens import GOOGLE_KEYS_URL, IdTokenVerifier, InvalidToken, KeysUnavailable
from shared.memo import Recent

if TYPE_CHECKING:
    from shared.db import Work
    from shared.identity.accounts import Account, FirebaseAccounts

logger = logging.getLogger(__name__)
RETRY_AFTER = {"Retry-After": "5"}


@dataclass(frozen=True)
class Claims:
    uid: str
    email: str | None
    name: str | None


class FirebaseAuth:
    """Firebase Authentication for one project. ``emulator_host`` (host:port) points
    token checks at the Auth emulator, whose tokens are unsigned; account deletion goes
    through firebase-admin, which reads the same FIREBASE_AUTH_EMULATOR_HOST itself."""

    def __init__(
        self, project_id: str, *, check_revoked: bool, emulator_host: str | None = None,
        keys_url: str = GOOGLE_KEYS_URL, app_name: str = "kalakrut", revocation_window: float = 0.0,
    ) -> None:
        from shared.identity.accounts import FirebaseAccounts

        if emulator_host is not None and not project_id.startswith("demo-"):
            # The emulator's tokens carry no signature: accepting them for a real project would
            # let anyone sign in as anyone. Firebase's own rule: emulators run demo- projects.
            raise ConfigError(f"FIREBASE_AUTH_EMULATOR_HOST is set for project {project_id!r}: "
                              "the Auth emulator is for demo- projects only")
        self._project_id = project_id
        self._tokens = IdTokenVerifier(project_id, emulated=emulator_host is not None, keys_url=keys_url)
        self._accounts = FirebaseAccounts(project_id, emulator_host=emulator_host) if check_revoked else None
        # A token revoked elsewhere still works for up to this window (decision 0024).
        self._recent: Recent[str, Account | None] = Recent(revocation_window)
        self._app_name = app_name

    def verify(self, token: str) -> Claims:
        try:
            claims = self._tokens.verify(token)
        except KeysUnavailable:
            logger.exception("could not fetch Google's token signing keys")
            raise ServiceUnavailable("token verification is unavailable", headers=RETRY_AFTER) from None
        except InvalidToken as error:
            # Expired, wrong audience/issuer, bad signature, malformed: the caller's to fix
            # by signing in again.
            raise Unauthenticated(error.reason) from None
        if self._accounts is not None:
            _refuse_revoked(self._recent.get(claims["sub"], lambda: _lookup(self._accounts, claims["sub"])), claims)
        return Claims(uid=claims["sub"], email=claims.get("email"), name=claims.get("name"))

    def delete_account(self, uid: str) -> None:
        """Delete the sign-in account; an already deleted one counts as done."""
        self._admin("delete_user", uid, what="account deletion")
        self._forget(uid)

    def revoke_sessions(self, uid: str) -> None:
        """Sign the account out everywhere: its refresh tokens stop working, and every ID token
        issued before now fails the revocation check that every request makes."""
        self._admin("revoke_refresh_tokens", uid, what="signing out everywhere")
        self._forget(uid)

    def set_disabled(self, uid: str, disabled: bool) -> None:
        """Disable the sign-in account (no new tokens; with ``revoke_sessions``, none of the old
        ones either), or enable it again."""
        self._admin("update_user", uid, what="disabling the account" if disabled else "enabling the account",
                    disabled=disabled)
        self._forget(uid)

    def _forget(self, uid: str) -> None:
        self._recent.forget(uid)
        forget_viewer(uid)

    def _admin(self, call: str, uid: str, *, what: str, **arguments: Any) -> None:
        """firebase-admin's ``auth.<call>(uid, **arguments)``: a missing account counts as done;
        an unreachable service is a 503 the client may retry."""
        from firebase_admin import auth, exceptions
        from google.auth.exceptions import GoogleAuthError

        try:
            getattr(auth, call)(uid, app=self._admin_app(), **arguments)
        except auth.UserNotFoundError:
            pass
        except (exceptions.FirebaseError, GoogleAuthError):
            logger.exception("Firebase Auth refused %s", what)
            raise ServiceUnavailable(f"{what} is unavailable", headers=RETRY_AFTER) from None

    def _admin_app(self) -> Any:
        import firebase_admin

        try:
            return firebase_admin.get_app(self._app_name)
        except ValueError:
            # No credential: Application Default Credentials (the function's service account).
            return firebase_admin.initialize_app(options={"projectId": self._project_id}, name=self._app_name)


def _lookup(accounts: FirebaseAccounts, uid: str) -> Account | None:
    from shared.identity.accounts import LookupFailed

    try:
        return accounts.lookup(uid)
    except LookupFailed:
        # Identity Toolkit unreachable or erring, or no access token for it: nothing the
        # caller did, so worth a retry.
        logger.exception("could not look the account up to check revocation")
        raise ServiceUnavailable("token verification is unavailable", headers=RETRY_AFTER) from None


def _refuse_revoked(account: Account | None, claims: dict[str, Any]) -> None:
    if account is None or account.disabled:
        raise Unauthenticated("the account is disabled or deleted")
    # firebase-admin's rule: a token issued before the account's validSince is revoked.
    if int(claims["iat"]) < account.valid_since:
        raise Unauthenticated("the ID token has been revoked")


@lru_cache(maxsize=1)
def get_firebase() -> FirebaseAuth:
    from shared.config import get_settings

    settings = get_settings()
    return FirebaseAuth(settings.google_cloud_project, check_revoked=settings.auth_check_revoked,
                        emulator_host=settings.firebase_auth_emulator_host,
                        revocation_window=settings.auth_revocation_cache_seconds)


def claims_from_header(header: str | None, *, required: bool) -> Claims | None:
    if not header:
        if required:
            raise Unauthenticated("send Authorization: Bearer <Firebase ID token>")
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("the Authorization header must be 'Bearer <token>'")
    return get_firebase().verify(token.strip())


# The caller's row as reads see it, remembered briefly per uid: every signed-in read would
# otherwise pay a query for it. Only found rows: a caller who registers a moment after being
# told to must be found at once. Writes always load the caller afresh, and forget it here.
VIEWER_MEMORY_SECONDS = 10.0
_viewers: Recent[str, Any] = Recent(VIEWER_MEMORY_SECONDS, keep=lambda row: row is not None)


def forget_viewer(uid: str) -> None:
    _viewers.forget(uid)


def load_viewer(unit: Work, claims: Claims, *, orm: bool) -> Viewer | None:
    """The caller's active profile: the ORM ``User`` when ``orm``, else a Core row of just
    what the rules read (``Viewer``; a handler that shows the profile reads it itself).
    A suspended account is refused (403), whatever the route: its token stands for nobody."""
    viewer = _load_viewer(unit, claims, orm=orm)
    if viewer is not None and viewer.suspended_at is not None:
        raise AccountSuspended("an administrator suspended this account")
    return viewer


def _load_viewer(unit: Work, claims: Claims, *, orm: bool) -> Viewer | None:
    from sqlalchemy import select

    from shared.tables import users

    active = (users.c.firebase_uid == claims.uid, users.c.deleted_at.is_(None))
    if orm:
        from shared.db import after_commit
        from shared.models import User

        # A write may change what the rules read: forget it now, and again once it is committed
        # (a read meanwhile may have remembered the row as it was).
        forget_viewer(claims.uid)
        after_commit(unit.session, lambda: forget_viewer(claims.uid))
        return unit.session.scalars(select(User).where(*active)).one_or_none()
    return _viewers.get(claims.uid, lambda: unit.connection.execute(
        select(*(users.c[name] for name in Viewer.__annotations__)).where(*active)).one_or_none())
