"""The proposal lifecycle as one explicit transition table: who or what moves a proposal.

People publish, cancel and close (HTTP actions). Funding is the chain's to decide: the
``chain`` actions are applied by the chain indexer in the transaction that stores the
blocks which cause them (shared/proposals/lifecycle.py), and a reorg that removes those
blocks moves the proposal back the same way. Decision 0025 has the table with its triggers.

    draft --publish--> open --fund--> funded --withdraw--> withdrawn
                        |  \\--fail--> failed (refunds open)
                        \\--cancel/close--> cancelled/closed
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Actor = Literal["owner", "owner_or_admin", "chain"]

# The states the chain derives: from these, the chain's actions lead to one another (a
# reorg can undo any of them); people's actions never lead into them except publish.
CHAIN_STATES = frozenset({"open", "funded", "failed", "withdrawn"})


@dataclass(frozen=True)
class Transition:
    sources: frozenset[str]
    target: str
    actor: Actor
    trigger: str


def _from_chain_states(target: str) -> frozenset[str]:
    return CHAIN_STATES - {target}


TRANSITIONS: dict[str, Transition] = {
    "publish": Transition(frozenset({"draft"}), "open", "owner", "the artist"),
    # Neither once the campaign is on chain (shared/proposals/proposals.py): the chain decides then.
    "cancel": Transition(frozenset({"draft", "open"}), "cancelled", "owner_or_admin",
                         "the artist or an admin, before the campaign is on chain"),
    "close": Transition(frozenset({"open", "funded"}), "closed", "owner_or_admin",
                        "the artist or an admin, before the campaign is on chain (fiat proposals: any time)"),
    "fund": Transition(_from_chain_states("funded"), "funded", "chain",
                       "confirmed fundings reach the goal (from failed or withdrawn: a reorg)"),
    "fail": Transition(_from_chain_states("failed"), "failed", "chain",
                       "an indexed block's time reaches the deadline below the goal (from funded or "
                       "withdrawn: a reorg removed fundings)"),
    "withdraw": Transition(_from_chain_states("withdrawn"), "withdrawn", "chain",
                           "the artist's Withdrawn event is confirmed"),
    "reopen": Transition(_from_chain_states("open"), "open", "chain",
                         "a reorg removed the fundings, the withdrawal or the deadline's block"),
}

# What the owner may still change in each state: the terms backers agreed to
# (goal, currency, deadline) are frozen once a proposal is open.
EDITABLE: dict[str, frozenset[str]] = {
    "draft": frozenset({"title", "description", "category", "tags", "goal", "currency", "deadline", "cover_media_id"}),
    "open": frozenset({"title", "description", "category", "tags", "cover_media_id"}),
}

HTTP_ACTIONS = tuple(name for name, t in TRANSITIONS.items() if t.actor != "chain")


def target_of(action: str, current: str) -> str | None:
    """The state ``action`` leads to from ``current``, or None if it is not allowed."""
    transition = TRANSITIONS[action]
    return transition.target if current in transition.sources else None


def chain_action(current: str, target: str) -> str:
    """The chain's action that moves a proposal from ``current`` to ``target``."""
    for name, transition in TRANSITIONS.items():
        if transition.actor == "chain" and transition.target == target and current in transition.sources:
            return name
    raise ValueError(f"the chain has no transition from {current} to {target}")
