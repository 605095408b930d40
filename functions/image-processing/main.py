"""image-processing: uploads bucket finalize notifications -> validated, stripped variants."""
import shared.startup  # noqa: F401  (first, before anything heavy: see shared/startup.py)

import functions_framework

from shared.events.consumer import entry
from shared.media.processing import handle_notification


@functions_framework.cloud_event
@entry
def handle(cloud_event) -> None:
    # A storage notification, not a domain event: applied once per object generation.
    handle_notification(cloud_event)
