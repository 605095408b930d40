"""embeddings: an item's or a proposal's text, made or edited -> its vector for semantic search."""
import shared.startup  # noqa: F401  (first, before anything heavy: see shared/startup.py)

import functions_framework

from shared.events.consumer import on_event


@functions_framework.cloud_event
@on_event("embeddings")
def handle(unit, envelope) -> None:
    from shared.embeddings import store
    from shared.embeddings.embedder import get_embedder

    kind = store.EVENT_TYPES.get(envelope.type)
    if kind is None:
        return  # the cloud subscription's filter sends only these; locally every event arrives
    # The model unreachable raises: Pub/Sub retries, then dead-letters (python -m infra.replay).
    store.refresh(unit.connection, get_embedder(), kind, [envelope.aggregate_id])
