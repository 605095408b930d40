"""Profiles and follows: registration, the caller's own profile, public profiles."""
from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    ConfigDict,
    Field,
    HttpUrl,
    StringConstraints,
    TypeAdapter,
    WithJsonSchema,
)
from sqlalchemy import delete, func, or_, select
from sqlalchemy.dialects.postgresql import insert

from shared import audit
from shared.db import transaction
from shared.errors import Conflict, NotFound, RegistrationRequired, ValidationFailed
from shared.events import outbox
from shared.tables import (
    account_deletions,
    active_user,
    follows,
    proposals,
    readable_columns,
    users,
    wallet_challenges,
)
from shared.types import ApiModel, Line, left_out

if TYPE_CHECKING:
    from sqlalchemy import Connection, Row
    from sqlalchemy.orm import Session

    from shared.identity.access import Viewer
    from shared.identity.auth import Claims
    from shared.models import User

Role = Literal["artist", "investor", "collector"]
DisplayName = Annotated[Line, Field(max_length=80)]
Bio = Annotated[str, Field(max_length=2000)]
def _http_url(value: str) -> str:
    return str(_URL.validate_python(value))


_URL = TypeAdapter(HttpUrl)
# At most 200 characters as sent (the URL's normal form may add a "/": an accepted length must
# not become a refused one), then checked and normalized as an http(s) URL.
Link = Annotated[str, StringConstraints(min_length=1, max_length=200), AfterValidator(_http_url),
                 WithJsonSchema({"type": "string", "format": "uri", "pattern": "^[Hh][Tt][Tt][Pp][Ss]?://[^\\s/?#@]+",
                                 "minLength": 1, "maxLength": 200})]
Links = Annotated[list[Link], Field(max_length=5)]


class RegisterIn(ApiModel):
    model_config = ConfigDict(extra="forbid")

    role: Role
    # Left out: the sign-in account's name (or the email's local part); never null.
    display_name: DisplayName = left_out()
    bio: Bio | None = None


class ProfilePatch(ApiModel):
    """Fields left out stay as they are; ``null`` clears bio and links."""

    model_config = ConfigDict(extra="forbid")

    # Not nullable: a profile always has a name (left out, it stays; null is refused by the schema).
    display_name: DisplayName = left_out()
    bio: Bio | None = None
    links: Links | None = None
    avatar_media_id: uuid.UUID | None = Field(default=None, description="a processed avatar upload of yours; null removes it")
    # Whether others may see whom you follow (GET /api/users/{id}/following; you among others' followers).
    follows_public: bool = left_out()


class PublicProfile(ApiModel):
    id: uuid.UUID
    display_name: str | None
    role: Role
    bio: str | None
    links: list[str]
    avatar_url: str | None
    wallet_address: str | None
    solana_address: str | None = Field(description="a linked Solana wallet (base58)")
    followers: int
    following: int
    follows_public: bool = Field(description="whether whom they follow is shown to others")
    created_at: AwareDatetime


class MyProfile(PublicProfile):
    email: str | None
    is_admin: bool
    updated_at: AwareDatetime


def _counts(db: Connection | Session, user_id: uuid.UUID) -> tuple[int, int]:
    """Followers and followed who others may meet (neither erased nor suspended), as the follow
    lists show them."""
    def active(column):
        return select(users.c.id).where(users.c.id == column, active_user()).exists()

    followers = select(func.count()).where(follows.c.followee_id == user_id,
                                           active(follows.c.follower_id)).scalar_subquery()
    following = select(func.count()).where(follows.c.follower_id == user_id,
                                           active(follows.c.followee_id)).scalar_subquery()
    return db.execute(select(followers, following)).one()


def _public_fields(db: Connection | Session, user: Viewer) -> dict:
    followers, following = _counts(db, user.id)
    return {
        "id": user.id,
        "display_name": user.display_name,
        "role": user.role,
        "bio": user.bio,
        "links": user.links,
        "avatar_url": user.avatar_url,
        "wallet_address": user.wallet_address,
        "solana_address": user.solana_address,
        "followers": followers,
        "following": following,
        "follows_public": user.follows_public,
        "created_at": user.created_at,
    }


def my_profile(db: Connection | Session, user: Viewer) -> MyProfile:
    return MyProfile(
        **_public_fields(db, user), email=user.email, is_admin=user.is_admin, updated_at=user.updated_at
    )


def public_profile(conn: Connection, user_id: uuid.UUID, viewer: Viewer | None) -> PublicProfile:
    """Anyone's public profile; a suspended person's only to administrators (decision 0031)."""
    admin = viewer is not None and viewer.is_admin
    return PublicProfile(**_public_fields(conn, get_active(conn, user_id, suspended=admin)))


def own_profile(conn: Connection, viewer: Viewer) -> MyProfile:
    """The caller's profile as it is now (the viewer row is a moment old: erased since on
    another instance, the caller has none)."""
    try:
        return my_profile(conn, get_active(conn, viewer.id))
    except NotFound:
        raise RegistrationRequired() from None


def get_active(db: Connection | Session, user_id: uuid.UUID, *, suspended: bool = False) -> Row:
    """A person's row unless erased, or suspended (``suspended``: suspended ones too)."""
    present = users.c.deleted_at.is_(None) if suspended else active_user()
    user = db.execute(select(*readable_columns(users)).where(users.c.id == user_id, present)).one_or_none()
    if user is None:
        raise NotFound("no such user")
    return user


def user_payload(user: User) -> dict:
    """What other systems (the graph) may know of a user: no email, no bio."""
    return {"id": str(user.id), "role": user.role, "display_name": user.display_name}


def _follow_payload(follower_id: uuid.UUID, followee_id: uuid.UUID) -> dict:
    return {"follower_id": str(follower_id), "followee_id": str(followee_id)}


def register(session: Session, claims: Claims, data: RegisterIn) -> tuple[User, bool]:
    """Create the caller's profile; repeating the same registration is harmless.

    Returns the profile and whether it was created now.
    """
    from shared.models import User

    if account_deletion_pending(session, claims.uid):
        # A new profile now would outlive the sign-in account it belongs to (decision 0005).
        raise Conflict("this account is being deleted: send DELETE /api/me again to finish")
    default_name = claims.name or (claims.email.split("@", 1)[0] if claims.email else None)
    inserted = session.execute(
        insert(users)
        .values(
            id=uuid.uuid4(),
            firebase_uid=claims.uid,
            email=claims.email,
            display_name=data.display_name or default_name,
            role=data.role,
            bio=data.bio,
        )
        .on_conflict_do_nothing(index_elements=["firebase_uid"])
        .returning(users.c.id)
    ).scalar_one_or_none()
    user = session.scalars(select(User).where(User.firebase_uid == claims.uid)).one()
    if inserted is None:
        if user.deleted_at is not None:
            raise Conflict("this account was deleted")
        if user.role != data.role:
            raise Conflict(f"already registered as {user.role}")
        return user, False
    audit.record(session, user, "user.registered", "user", user.id, role=user.role)
    outbox.emit(session, "user.registered", "user", user.id, user_payload(user))
    return user, True


def update_profile(session: Session, user: User, patch: ProfilePatch) -> User:
    """Change the profile; returns it as saved (with the database's updated_at)."""
    changes = patch.model_dump(mode="json", exclude_unset=True)
    if "links" in changes and changes["links"] is None:
        changes["links"] = []
    if "avatar_media_id" in changes:
        from shared.media import media  # only this path needs it: keeps the function's import small

        avatar = patch.avatar_media_id and media.attachable(session, user, patch.avatar_media_id, "avatar")
        changes["avatar_media_id"] = avatar.id if avatar else None
        changes["avatar_url"] = media.variant_url(avatar, media.AVATAR_WIDTH) if avatar else None
    for field, value in changes.items():
        setattr(user, field, value)
    if changes:
        audit.record(session, user, "user.updated", "user", user.id, fields=sorted(changes))
        outbox.emit(session, "user.updated", "user", user.id, user_payload(user))
        session.flush()
        session.refresh(user)
    return user


def erase(session: Session, user: User) -> str:
    """Erase the person: profile, sign-in link, wallet link, avatar images, follows both
    ways, favorites and likes, drafts. The row stays, nameless, for the records that money
    made (fundings by wallet, bids, audit), detached from the person (decision 0005).

    Each relationship goes as it goes one by one (follow.deleted, like.removed, ...), and the
    row's own event is user.deleted: consumers and the graph drop the person from those.
    The sign-in account is deleted after the commit (``finish_account_deletion``); until then
    its uid waits in account_deletions, so a failure on either side leaves a retry that works:
    the transaction failing leaves everything as it was, Firebase failing leaves the account
    able to sign in and ask again. Returns the uid.
    """
    from shared.market import reactions  # erasure only: the profile paths never load it
    from shared.media import media
    from shared.models import Media

    uid = user.firebase_uid
    for avatar in session.scalars(select(Media).where(Media.owner_id == user.id, Media.purpose == "avatar")):
        media.delete(session, user, avatar)  # a picture of a person is personal data
    unfollowed = session.execute(
        delete(follows).where(or_(follows.c.follower_id == user.id, follows.c.followee_id == user.id))
        .returning(follows.c.follower_id, follows.c.followee_id)).all()
    for follower, followee in unfollowed:
        outbox.emit(session, "follow.deleted", "follow", f"{follower}:{followee}", _follow_payload(follower, followee))
    reactions.withdraw_all(session, user.id)
    session.execute(delete(wallet_challenges).where(wallet_challenges.c.user_id == user.id))
    session.execute(delete(proposals).where(proposals.c.owner_id == user.id, proposals.c.status == "draft"))
    user.firebase_uid = None
    user.email = None
    user.display_name = None
    user.bio = None
    user.links = []
    user.avatar_url = None
    user.wallet_address = None
    user.solana_address = None
    user.deleted_at = datetime.now(UTC)
    audit.record(session, user, "user.erased", "user", user.id)
    outbox.emit(session, "user.deleted", "user", user.id, {"id": str(user.id)})
    if uid is not None:
        session.execute(insert(account_deletions).values(firebase_uid=uid).on_conflict_do_nothing())
    return uid


def account_deletion_pending(db: Connection | Session, uid: str) -> bool:
    """The uid's profile is erased and its sign-in account not yet deleted."""
    return db.execute(select(account_deletions.c.firebase_uid).where(account_deletions.c.firebase_uid == uid)) \
        .first() is not None


def finish_account_deletion(uid: str, delete_account: Callable[[str], None]) -> None:
    """Delete the erased profile's sign-in account, then forget its uid. Raises what
    ``delete_account`` raises (a 503 the caller retries with the same token, which works
    while the account does); an account already gone counts as deleted."""
    delete_account(uid)
    with transaction() as session:
        session.execute(delete(account_deletions).where(account_deletions.c.firebase_uid == uid))


def record_sign_out_everywhere(session: Session, user: User) -> None:
    """The audit trail of a user ending every session (the sign-in service does the ending)."""
    audit.record(session, user, "user.signed_out_everywhere", "user", user.id)


def follow(session: Session, user: User, target_id: uuid.UUID) -> None:
    if target_id == user.id:
        raise ValidationFailed("you cannot follow yourself")
    get_active(session, target_id)
    created = session.execute(
        insert(follows)
        .values(follower_id=user.id, followee_id=target_id)
        .on_conflict_do_nothing()
        .returning(follows.c.follower_id)
    ).scalar_one_or_none()
    if created:
        audit.record(session, user, "follow.created", "user", target_id)
        outbox.emit(session, "follow.created", "follow", f"{user.id}:{target_id}", _follow_payload(user.id, target_id))


def unfollow(session: Session, user: User, target_id: uuid.UUID) -> None:
    get_active(session, target_id, suspended=True)
    removed = session.execute(
        delete(follows).where(follows.c.follower_id == user.id, follows.c.followee_id == target_id)
    ).rowcount
    if removed:
        audit.record(session, user, "follow.deleted", "user", target_id)
        outbox.emit(session, "follow.deleted", "follow", f"{user.id}:{target_id}", _follow_payload(user.id, target_id))
