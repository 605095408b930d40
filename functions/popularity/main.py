"""popularity: on each scheduler tick, fold the waiting interactions into popularity scores."""
import shared.startup  # first, before anything heavy: see shared/startup.py

import logging

import functions_framework

from shared import log
from shared.config import get_settings
from shared.db import get_engine
from shared.popularity import fold

logger = logging.getLogger(__name__)


@functions_framework.cloud_event
@shared.startup.resumes
def handle(cloud_event) -> None:
    log.configure(get_settings().log_level)
    logger.info("popularity folded: %s", fold(get_engine()))
