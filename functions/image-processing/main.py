"""image-processing: uploads bucket finalize notifications -> validated, stripped variants."""
import functions_framework

from shared.media_processing import handle_notification


@functions_framework.cloud_event
def handle(cloud_event) -> None:
    handle_notification(cloud_event)
