"""The notifications function's subscription hears exactly the events its code reads, and the
schema admits exactly the kinds the code makes."""
from __future__ import annotations

import re

from infra.manifest import REPO, load
from shared.live.documents import EVENTS
from shared.notifications.kinds import KINDS
from shared.notifications.notices import EVENT_TYPES


def test_the_subscription_filter_names_every_event_the_function_reads():
    function = load().by_name("notifications")
    assert function.topic == "domain-events"
    heard = set(EVENT_TYPES) | EVENTS
    assert set(re.findall(r'attributes\.type = "([a-z_.]+)"', function.filter)) == heard
    assert function.filter.count(" OR ") == len(heard) - 1


def test_the_migrated_check_admits_every_kind_and_no_other():
    migration = (REPO / "migrations" / "versions" / "0017_notifications.py").read_text()
    admitted = re.search(r"_KINDS = \((.*?)\)\n", migration, re.S).group(1)
    assert set(re.findall(r"'([a-z_]+)'", admitted)) == set(KINDS)
