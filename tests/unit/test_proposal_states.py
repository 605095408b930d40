import pytest

from shared.proposals.states import CHAIN_STATES, EDITABLE, HTTP_ACTIONS, TRANSITIONS, chain_action, target_of
from shared.tables import PROPOSAL_STATUSES

ALL = ("draft", "open", "funded", "failed", "withdrawn", "closed", "cancelled")
ALLOWED = {
    ("publish", "draft"): "open",
    ("cancel", "draft"): "cancelled",
    ("cancel", "open"): "cancelled",
    ("close", "open"): "closed",
    ("close", "funded"): "closed",
    # The chain: forwards, and back again when a reorg removes what caused the move.
    ("fund", "open"): "funded", ("fund", "failed"): "funded", ("fund", "withdrawn"): "funded",
    ("fail", "open"): "failed", ("fail", "funded"): "failed", ("fail", "withdrawn"): "failed",
    ("withdraw", "funded"): "withdrawn", ("withdraw", "open"): "withdrawn", ("withdraw", "failed"): "withdrawn",
    ("reopen", "funded"): "open", ("reopen", "failed"): "open", ("reopen", "withdrawn"): "open",
}


def test_the_table_names_every_stored_state():
    assert set(ALL) == set(PROPOSAL_STATUSES)


@pytest.mark.parametrize("current", sorted(CHAIN_STATES))
@pytest.mark.parametrize("target", sorted(CHAIN_STATES))
def test_the_chain_moves_between_its_states_by_one_named_action(current, target):
    if current == target:
        with pytest.raises(ValueError):
            chain_action(current, target)
    else:
        action = chain_action(current, target)
        assert TRANSITIONS[action].actor == "chain" and target_of(action, current) == target


@pytest.mark.parametrize("action", list(TRANSITIONS))
@pytest.mark.parametrize("state", ALL)
def test_transition_table(action, state):
    assert target_of(action, state) == ALLOWED.get((action, state))


def test_terminal_states_go_nowhere():
    for state in ("closed", "cancelled"):
        assert all(target_of(action, state) is None for action in TRANSITIONS)


def test_funding_is_not_an_http_action():
    assert set(HTTP_ACTIONS) == {"publish", "cancel", "close"}


def test_terms_freeze_once_open():
    assert {"goal", "currency", "deadline"} <= EDITABLE["draft"]
    assert not {"goal", "currency", "deadline"} & EDITABLE["open"]
    assert "funded" not in EDITABLE and "closed" not in EDITABLE
