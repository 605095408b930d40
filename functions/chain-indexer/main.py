"""chain-indexer: on each scheduler tick, index every configured chain up to head - confirmations."""

import functions_framework

from shared.chain.indexer import tick
from shared.events.consumer import on_tick


@functions_framework.cloud_event
@on_tick
def handle() -> None:
    # Each run continues from the chains' checkpoints.
    tick()
