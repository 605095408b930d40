"""auction-close: on each scheduler tick, close the auctions past their end and settle them."""
import shared.startup  # first, before anything heavy: see shared/startup.py

import logging

import functions_framework

from shared import log
from shared.auction_close import close_due
from shared.config import get_settings

logger = logging.getLogger(__name__)


@functions_framework.cloud_event
@shared.startup.resumes
def handle(cloud_event) -> None:
    log.configure(get_settings().log_level)
    closed = close_due()
    if closed:
        logger.info("closed %d auctions: %s", len(closed), closed)
