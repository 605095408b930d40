"""outbox-relay: on each scheduler tick, publish the outbox rows the fast path missed."""
import functions_framework

from shared.outbox import relay
from shared.pubsub import get_publisher


@functions_framework.cloud_event
def handle(cloud_event) -> None:
    # The tick carries nothing: every sweep publishes whatever is due.
    relay(get_publisher)
