"""A consumer function for the tests: its effect is one audit row per event, and an
event whose payload says ``explode`` fails after writing (to prove rollback)."""
import functions_framework

from shared import audit
from shared.consumer import consume


def apply(session, envelope) -> None:
    audit.record(session, None, "test.consumed", envelope.aggregate_type, envelope.aggregate_id)
    session.flush()
    if envelope.payload.get("explode"):
        raise RuntimeError("the consumer failed half-way")


@functions_framework.cloud_event
def handle(cloud_event) -> None:
    consume(cloud_event, "test-consumer", apply)
