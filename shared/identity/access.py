"""Who may do what: the caller as the rules see it, and the rules, checked in the shared
layer so every function agrees (decision 0005). No token verification here (auth.py):
a function that only applies the rules carries none of it."""
from __future__ import annotations

import uuid
from datetime import datetime
from typing import Protocol

from shared.errors import Forbidden


class Viewer(Protocol):
    """The caller's profile as the authorization rules read it: a Core row of users
    on reads, the ORM ``User`` on writes."""

    id: uuid.UUID
    role: str
    is_admin: bool
    display_name: str | None
    wallet_address: str | None
    suspended_at: datetime | None


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
