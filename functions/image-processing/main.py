"""image-processing: uploads bucket finalize notifications -> validated, stripped variants."""
import shared.startup  # first, before anything heavy: see shared/startup.py

import functions_framework

from shared.media_processing import handle_notification


@functions_framework.cloud_event
@shared.startup.resumes
def handle(cloud_event) -> None:
    handle_notification(cloud_event)
