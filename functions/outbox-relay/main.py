"""outbox-relay: on each scheduler tick, publish the outbox rows the fast path missed."""
import shared.startup  # first, before anything heavy: see shared/startup.py

import functions_framework

from shared.outbox import relay
from shared.pubsub import get_publisher


@functions_framework.cloud_event
@shared.startup.resumes
def handle(cloud_event) -> None:
    # The tick carries nothing: every sweep publishes whatever is due.
    relay(get_publisher)
