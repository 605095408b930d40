"""media-cleanup: a committed media deletion or rejection -> the objects it names deleted (idempotent)."""
import shared.startup  # first, before anything heavy: see shared/startup.py

import functions_framework

from shared.events import envelope_from


@functions_framework.cloud_event
@shared.startup.resumes
def handle(cloud_event) -> None:
    from shared.media_cleanup import delete_objects

    # A storage failure raises: Pub/Sub retries, then dead-letters.
    delete_objects(envelope_from(cloud_event))
