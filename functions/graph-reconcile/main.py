"""graph-reconcile: on each scheduler tick, sync what events missed; a full comparison when due."""
import shared.startup  # noqa: F401  (first, before anything heavy: see shared/startup.py)

from datetime import timedelta

import functions_framework

from shared.events.consumer import on_tick


@functions_framework.cloud_event
@on_tick
def handle() -> None:
    from shared.config import get_settings
    from shared.db import get_engine
    from shared.graph.port import get_graph_for_writes
    from shared.graph.reconcile import reconcile

    settings = get_settings()
    reconcile(get_engine(), get_graph_for_writes(), budget_seconds=settings.graph_reconcile_budget_seconds,
              full_every=timedelta(minutes=settings.graph_full_reconcile_minutes))
