"""graph-etl: each domain event refreshes what it changed in the graph (idempotently)."""
import shared.startup  # first, before anything heavy: see shared/startup.py

import functions_framework

from shared.events import envelope_from


@functions_framework.cloud_event
@shared.startup.resumes
def handle(cloud_event) -> None:
    from shared.db import get_engine
    from shared.graph import get_graph_for_writes
    from shared.graph_etl import consume_batch

    # A failure (the graph is down) raises: Pub/Sub retries, then dead-letters.
    consume_batch(get_engine(), get_graph_for_writes(), [envelope_from(cloud_event)])
