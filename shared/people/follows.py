"""Who follows whom, as lists: a person's followers and the people they follow.

Following someone is the follower's act, so it is the follower's to show (decision 0030): a
follow is listed to others only if the follower made their follows public (``follows_public``
on their profile; off by default, as decision 0023 keeps follows private). So a profile's
"following" list is shown when its owner's follows are public, and its "followers" list shows
the followers whose follows are public; the person followed always sees all their followers
(who follows the reader is the reader's to know), and everyone sees their own lists whole.
The counts on profiles stay public, as before.
"""
from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Literal

from sqlalchemy import select

from shared.errors import Forbidden
from shared.paging import PageQuery, SortKey, keyset_page
from shared.people.users import get_active
from shared.tables import active_user, follows, users
from shared.types import ApiModel

if TYPE_CHECKING:
    from sqlalchemy import Connection

    from shared.identity.access import Viewer

Direction = Literal["followers", "following"]


class PersonOut(ApiModel):
    id: uuid.UUID
    display_name: str | None
    role: str
    avatar_url: str | None


class PeoplePage(ApiModel):
    items: list[PersonOut]
    next_cursor: str | None


def people(conn: Connection, viewer: Viewer | None, user_id: uuid.UUID, direction: Direction,
           query: PageQuery) -> PeoplePage:
    """The profile's followers or the people it follows, latest follow first, as far as the
    viewer may see them; 403 for a following list its owner keeps private."""
    owner = get_active(conn, user_id)
    own = viewer is not None and viewer.id == owner.id
    # The other end of each follow: who follows the profile, or whom the profile follows.
    near, far = ((follows.c.followee_id, follows.c.follower_id) if direction == "followers"
                 else (follows.c.follower_id, follows.c.followee_id))
    followed_at = follows.c.created_at.label("followed_at")
    rows_select = (select(users.c.id, users.c.display_name, users.c.role, users.c.avatar_url, followed_at)
                   .join(follows, far == users.c.id)
                   .where(near == owner.id, active_user()))
    if not own and direction == "following" and not owner.follows_public:
        raise Forbidden("this person keeps whom they follow to themselves")
    if not own and direction == "followers":
        rows_select = rows_select.where(users.c.follows_public)
    rows, next_cursor = keyset_page(conn, rows_select, f"people-{direction}",
                                    SortKey(followed_at, True, datetime.fromisoformat), users.c.id,
                                    query.cursor, query.limit)
    return PeoplePage(items=[PersonOut.model_validate(row, from_attributes=True) for row in rows],
                      next_cursor=next_cursor)
