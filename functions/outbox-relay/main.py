"""outbox-relay: on each scheduler tick, publish the outbox rows the fast path missed."""
import shared.startup  # noqa: F401  (first, before anything heavy: see shared/startup.py)

import functions_framework

from shared.events.consumer import on_tick
from shared.events.outbox import relay
from shared.events.pubsub import get_publisher


@functions_framework.cloud_event
@on_tick
def handle() -> None:
    # The tick carries nothing: every sweep publishes whatever is due.
    relay(get_publisher)
