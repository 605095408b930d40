"""Who is calling, and what they may do.

Identity is a Firebase ID token verified with firebase-admin (signature, expiry,
audience, issuer and, when configured, revocation). Roles and ownership live in
PostgreSQL. firebase-admin is imported on the first authenticated request only:
public reads never pay for it.
"""
from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Protocol

from shared.http.problems import Forbidden, ServiceUnavailable, Unauthenticated

if TYPE_CHECKING:
    from shared.db import Work

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Claims:
    uid: str
    email: str | None
    name: str | None


class FirebaseAuth:
    """Firebase Authentication for one project, through its own firebase-admin app."""

    def __init__(
        self, project_id: str, *, check_revoked: bool, app_name: str = "kalakrut", credential: Any = None
    ) -> None:
        import firebase_admin

        try:
            self._app = firebase_admin.get_app(app_name)
        except ValueError:
            # credential None = Application Default Credentials (the function's service account).
            self._app = firebase_admin.initialize_app(credential, options={"projectId": project_id}, name=app_name)
        self._check_revoked = check_revoked

    def verify(self, token: str) -> Claims:
        from firebase_admin import auth, exceptions
        from google.auth.exceptions import GoogleAuthError

        try:
            decoded = auth.verify_id_token(token, app=self._app, check_revoked=self._check_revoked)
        except auth.CertificateFetchError:
            logger.exception("could not fetch Google's token signing certificates")
            raise ServiceUnavailable("token verification is unavailable", headers={"Retry-After": "5"}) from None
        except (auth.InvalidIdTokenError, auth.UserDisabledError, auth.UserNotFoundError, ValueError) as error:
            # Expired, revoked, wrong audience/issuer, bad signature, malformed:
            # all are the caller's to fix by signing in again.
            raise Unauthenticated(_reason(error)) from None
        except (exceptions.FirebaseError, GoogleAuthError):
            # The revocation check's account lookup failed (Identity Toolkit unreachable or
            # erring, or no access token for it): nothing the caller did, so worth a retry.
            logger.exception("could not look the account up to check revocation")
            raise ServiceUnavailable("token verification is unavailable", headers={"Retry-After": "5"}) from None
        return Claims(uid=decoded["uid"], email=decoded.get("email"), name=decoded.get("name"))

    def delete_account(self, uid: str) -> None:
        """Delete the sign-in account; an already deleted one counts as done."""
        from firebase_admin import auth, exceptions
        from google.auth.exceptions import GoogleAuthError

        try:
            auth.delete_user(uid, app=self._app)
        except auth.UserNotFoundError:
            pass
        except (exceptions.FirebaseError, GoogleAuthError):
            logger.exception("could not delete the Firebase account")
            raise ServiceUnavailable("account deletion is unavailable", headers={"Retry-After": "5"}) from None


def _reason(error: Exception) -> str:
    from firebase_admin import auth

    if isinstance(error, auth.ExpiredIdTokenError):
        return "the ID token has expired"
    if isinstance(error, auth.RevokedIdTokenError):
        return "the ID token has been revoked"
    if isinstance(error, auth.UserDisabledError | auth.UserNotFoundError):
        return "the account is disabled or deleted"
    return "the ID token is not valid"


@lru_cache(maxsize=1)
def get_firebase() -> FirebaseAuth:
    from shared.config import get_settings

    settings = get_settings()
    return FirebaseAuth(settings.google_cloud_project, check_revoked=settings.auth_check_revoked)


def claims_from_header(header: str | None, *, required: bool) -> Claims | None:
    if not header:
        if required:
            raise Unauthenticated("send Authorization: Bearer <Firebase ID token>")
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("the Authorization header must be 'Bearer <token>'")
    return get_firebase().verify(token.strip())


class Viewer(Protocol):
    """The caller's profile as the authorization rules read it: a Core row of users
    on reads, the ORM ``User`` on writes."""

    id: uuid.UUID
    role: str
    is_admin: bool
    display_name: str | None
    wallet_address: str | None


def load_viewer(unit: Work, claims: Claims, *, orm: bool) -> Viewer | None:
    """The caller's active profile: the ORM ``User`` when ``orm``, else a Core row."""
    from sqlalchemy import select

    from shared.tables import readable_columns, users

    active = (users.c.firebase_uid == claims.uid, users.c.deleted_at.is_(None))
    if orm:
        from shared.models import User

        return unit.session.scalars(select(User).where(*active)).one_or_none()
    return unit.connection.execute(select(*readable_columns(users)).where(*active)).one_or_none()


# Authorization rules, checked in the shared layer so every function agrees.

def require_role(user: Viewer, *roles: str) -> None:
    if user.role not in roles:
        raise Forbidden(f"only {' or '.join(roles)} accounts may do this")


def require_admin(user: Viewer) -> None:
    if not user.is_admin:
        raise Forbidden("only an administrator may do this")


def require_owner(user: Viewer, owner_id: uuid.UUID) -> None:
    if user.id != owner_id:
        raise Forbidden("only the owner may do this")


def require_owner_or_admin(user: Viewer, owner_id: uuid.UUID) -> None:
    if user.id != owner_id and not user.is_admin:
        raise Forbidden("only the owner or an administrator may do this")
