"""media-cleanup: a committed media deletion or rejection -> the objects it names deleted (idempotent)."""

import functions_framework

from shared.events.consumer import on_event


@functions_framework.cloud_event
@on_event(None)  # no database: deleting an object that is gone already counts as done
def handle(_unit, envelope) -> None:
    from shared.media.cleanup import delete_objects

    # A storage failure raises: Pub/Sub retries, then dead-letters.
    delete_objects(envelope)
