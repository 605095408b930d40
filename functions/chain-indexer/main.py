"""chain-indexer: on each scheduler tick, index every configured chain up to head - confirmations,
and derive what the indexed chain decides: the proposals it funds, fails or pays out, and the
artworks it sells for ETH."""
import shared.startup  # noqa: F401  (first, before anything heavy: see shared/startup.py)

import functions_framework

from shared.chain.indexer import tick
from shared.chain.store import follow_all
from shared.events.consumer import on_tick
from shared.market.chain_sales import follow_chain as follow_sales
from shared.proposals.lifecycle import follow_chain as follow_proposals

# What the chain decides commits with the blocks that decide it.
FOLLOW = follow_all(follow_proposals, follow_sales)


@functions_framework.cloud_event
@on_tick
def handle() -> None:
    # Each run continues from the chains' checkpoints.
    tick(follow=FOLLOW)
