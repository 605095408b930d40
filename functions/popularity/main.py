"""popularity: on each scheduler tick, fold the waiting interactions into popularity scores."""
import shared.startup  # noqa: F401  (first, before anything heavy: see shared/startup.py)

import logging

import functions_framework

from shared.db import get_engine
from shared.events.consumer import on_tick
from shared.market.popularity import fold

logger = logging.getLogger(__name__)


@functions_framework.cloud_event
@on_tick
def handle() -> None:
    logger.info("popularity folded: %s", fold(get_engine()))
