"""What each person chose to hear of, per kind: on or off, and by email or not. Only choices
that differ from a kind's default are stored (shared/notifications/kinds.py)."""
from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import ConfigDict, Field
from sqlalchemy import select, tuple_
from sqlalchemy.dialects.postgresql import insert

from shared.notifications.kinds import KINDS
from shared.notifications.tables import notification_preferences as prefs
from shared.types import ApiModel

if TYPE_CHECKING:
    from sqlalchemy import Connection

KindName = Literal[tuple(KINDS)]  # type: ignore[valid-type]


@dataclass(frozen=True)
class Choice:
    enabled: bool
    email: bool


def default(kind: str) -> Choice:
    return Choice(enabled=True, email=KINDS[kind].email)


def wanted(conn: Connection, pairs: Iterable[tuple[uuid.UUID, str]]) -> dict[tuple[uuid.UUID, str], Choice]:
    """Each (person, kind)'s choice: stored, or the kind's default."""
    pairs = set(pairs)
    if not pairs:
        return {}
    stored = {(row.user_id, row.kind): Choice(row.enabled, row.email) for row in conn.execute(
        select(prefs).where(tuple_(prefs.c.user_id, prefs.c.kind).in_(list(pairs))))}
    return {pair: stored.get(pair) or default(pair[1]) for pair in pairs}


class PreferenceIn(ApiModel):
    model_config = ConfigDict(extra="forbid")

    kind: KindName
    enabled: bool
    email: bool = Field(description="also by email, to the sign-in account's verified address")


class PreferenceOut(PreferenceIn):
    description: str


class Preferences(ApiModel):
    items: list[PreferenceOut]


class PreferencesIn(ApiModel):
    model_config = ConfigDict(extra="forbid")

    items: Annotated[list[PreferenceIn], Field(min_length=1, max_length=len(KINDS))]


def read(conn: Connection, user_id: uuid.UUID) -> Preferences:
    choices = wanted(conn, [(user_id, kind) for kind in KINDS])
    return Preferences(items=[PreferenceOut(kind=kind, description=KINDS[kind].description,
                                            enabled=choices[(user_id, kind)].enabled,
                                            email=choices[(user_id, kind)].email) for kind in KINDS])


def change(conn: Connection, user_id: uuid.UUID, body: PreferencesIn) -> Preferences:
    """Set the kinds named (the last word on a kind named twice); the others keep theirs."""
    chosen = {item.kind: Choice(item.enabled, item.email) for item in body.items}
    back_to_default = [kind for kind, choice in chosen.items() if choice == default(kind)]
    if back_to_default:
        conn.execute(prefs.delete().where(prefs.c.user_id == user_id, prefs.c.kind.in_(back_to_default)))
    rows = [{"user_id": user_id, "kind": kind, "enabled": choice.enabled, "email": choice.email}
            for kind, choice in chosen.items() if kind not in back_to_default]
    if rows:
        statement = insert(prefs).values(rows)
        conn.execute(statement.on_conflict_do_update(
            index_elements=[prefs.c.user_id, prefs.c.kind],
            set_={"enabled": statement.excluded.enabled, "email": statement.excluded.email}))
    return read(conn, user_id)
