"""graph-etl: each domain event refreshes what it changed in the graph (idempotently)."""
import shared.startup  # noqa: F401  (first, before anything heavy: see shared/startup.py)

import functions_framework

from shared.events.consumer import on_event


@functions_framework.cloud_event
@on_event("graph-etl")
def handle(unit, envelope) -> None:
    from shared.graph.etl import apply_event
    from shared.graph.port import get_graph_for_writes

    # A failure (the graph is down) raises: Pub/Sub retries, then dead-letters.
    apply_event(unit, get_graph_for_writes(), envelope)
