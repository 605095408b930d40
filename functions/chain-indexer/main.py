"""chain-indexer: on each scheduler tick, index every configured chain up to head - confirmations."""
import shared.startup  # noqa: F401  (first, before anything heavy: see shared/startup.py)

import functions_framework

from shared.chain.indexer import tick
from shared.events.consumer import on_tick


@functions_framework.cloud_event
@on_tick
def handle() -> None:
    # Each run continues from the chains' checkpoints.
    tick()
