"""chain-indexer: on each scheduler tick, index every configured chain up to head - confirmations."""
import functions_framework

from shared.indexer import tick


@functions_framework.cloud_event
def handle(cloud_event) -> None:
    # The tick carries nothing: each run continues from the chains' checkpoints.
    tick()
