import pytest

from shared.proposals.states import EDITABLE, HTTP_ACTIONS, TRANSITIONS, target_of

ALL = ("draft", "open", "funded", "closed", "cancelled")
ALLOWED = {
    ("publish", "draft"): "open",
    ("cancel", "draft"): "cancelled",
    ("cancel", "open"): "cancelled",
    ("close", "open"): "closed",
    ("close", "funded"): "closed",
    ("fund", "open"): "funded",
}


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
