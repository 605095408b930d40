"""chain-indexer: on each scheduler tick, index every configured chain up to head - confirmations,
and move the proposals the indexed chain funds, fails or pays out."""
import shared.startup  # noqa: F401  (first, before anything heavy: see shared/startup.py)

import functions_framework

from shared.chain.indexer import tick
from shared.events.consumer import on_tick
from shared.proposals.lifecycle import follow_chain


@functions_framework.cloud_event
@on_tick
def handle() -> None:
    # Each run continues from the chains' checkpoints; what the chain decides about
    # proposals (funded, failed, withdrawn) commits with the blocks that decide it.
    tick(follow=follow_chain)
