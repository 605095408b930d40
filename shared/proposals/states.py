"""The proposal lifecycle as an explicit transition table.

draft -> open -> funded | closed | cancelled. Funding is the chain's to decide
(``fund`` has no HTTP route); people publish, cancel and close.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Actor = Literal["owner", "owner_or_admin", "system"]


@dataclass(frozen=True)
class Transition:
    sources: frozenset[str]
    target: str
    actor: Actor


TRANSITIONS: dict[str, Transition] = {
    "publish": Transition(frozenset({"draft"}), "open", "owner"),
    "cancel": Transition(frozenset({"draft", "open"}), "cancelled", "owner_or_admin"),
    "close": Transition(frozenset({"open", "funded"}), "closed", "owner_or_admin"),
    "fund": Transition(frozenset({"open"}), "funded", "system"),
}

# What the owner may still change in each state: the terms backers agreed to
# (goal, currency, deadline) are frozen once a proposal is open.
EDITABLE: dict[str, frozenset[str]] = {
    "draft": frozenset({"title", "description", "category", "tags", "goal", "currency", "deadline", "cover_media_id"}),
    "open": frozenset({"title", "description", "category", "tags", "cover_media_id"}),
}

HTTP_ACTIONS = tuple(name for name, t in TRANSITIONS.items() if t.actor != "system")


def target_of(action: str, current: str) -> str | None:
    """The state ``action`` leads to from ``current``, or None if it is not allowed."""
    transition = TRANSITIONS[action]
    return transition.target if current in transition.sources else None
