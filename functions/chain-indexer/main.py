"""chain-indexer: on each scheduler tick, index every configured chain up to head - confirmations."""
import shared.startup  # first, before anything heavy: see shared/startup.py

import functions_framework

from shared.indexer import tick


@functions_framework.cloud_event
@shared.startup.resumes
def handle(cloud_event) -> None:
    # The tick carries nothing: each run continues from the chains' checkpoints.
    tick()
