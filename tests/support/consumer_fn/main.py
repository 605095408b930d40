"""A consumer function for the tests: its effect is one audit row per event, and an
event whose payload says ``explode`` fails after writing (to prove rollback)."""
import functions_framework

from shared import audit
from shared.events.consumer import on_event


@functions_framework.cloud_event
@on_event("test-consumer")
def handle(unit, envelope) -> None:
    audit.record(unit.session, None, "test.consumed", envelope.aggregate_type, envelope.aggregate_id)
    unit.session.flush()
    if envelope.payload.get("explode"):
        raise RuntimeError("the consumer failed half-way")
