"""campaign-operator: on each scheduler tick, open the on-chain campaign of every published
ETH proposal that has none (shared/chain/operator.py: idempotent, crash-safe, one nonce
sequence per chain under an advisory lock, stuck transactions replaced)."""
import shared.startup  # noqa: F401  (first, before anything heavy: see shared/startup.py)

import functions_framework

from shared.chain.operator import run_all
from shared.events.consumer import on_tick


@functions_framework.cloud_event
@on_tick
def handle() -> None:
    run_all()
