"""auction-close: on each scheduler tick, close the auctions past their end, take the winners'
money and hand the items over, and let go of card authorisations that back nothing."""
import shared.startup  # noqa: F401  (first, before anything heavy: see shared/startup.py)

import logging

import functions_framework

from shared.config import get_settings
from shared.events.consumer import on_tick
from shared.market.auction_close import run
from shared.payments.stripe_gateway import get_gateway

logger = logging.getLogger(__name__)


@functions_framework.cloud_event
@on_tick
def handle() -> None:
    closed = run(get_gateway, get_settings().platform_fee_bps)
    if closed:
        logger.info("closed %d auctions: %s", len(closed), closed)
