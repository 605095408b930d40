"""auction-close: on each scheduler tick, close the auctions past their end and settle them."""
import shared.startup  # noqa: F401  (first, before anything heavy: see shared/startup.py)

import logging

import functions_framework

from shared.events.consumer import on_tick
from shared.market.auction_close import close_due

logger = logging.getLogger(__name__)


@functions_framework.cloud_event
@on_tick
def handle() -> None:
    closed = close_due()
    if closed:
        logger.info("closed %d auctions: %s", len(closed), closed)
