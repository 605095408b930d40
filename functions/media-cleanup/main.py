"""media-cleanup: a committed media deletion or rejection -> the objects it names deleted (once per event)."""
import shared.startup  # noqa: F401  (first, before anything heavy: see shared/startup.py)

import functions_framework

from shared.events.consumer import on_event


@functions_framework.cloud_event
@on_event("media-cleanup")
def handle(_unit, envelope) -> None:
    from shared.media.cleanup import delete_objects

    # A storage failure raises: Pub/Sub retries, then dead-letters. The deletions are not in
    # the unit's transaction, so a redelivery after a failed commit deletes again: harmless,
    # an object that is gone already counts as done.
    delete_objects(envelope)
