"""Stripe's events about our payment intents, verified and applied once.

Stripe signs each delivery (``Stripe-Signature``: a timestamp and an HMAC of the raw body
with the endpoint's secret); an unsigned, forged or replayed (older than five minutes)
delivery changes nothing and gets a 400 ``signature-rejected``. A verified event moves the hold its intent
belongs to the way our own call's answer would have (holds.settled): guarded by status, so
a redelivery, or an event about something we already know, is a no-op. Events about
intents no hold knows (another integration on the same account) are acknowledged and
ignored, so that Stripe does not retry them for three days.
"""
from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING

from shared.errors import SignatureRejected
from shared.payments import holds
from shared.types import ApiModel

if TYPE_CHECKING:
    from sqlalchemy import Connection

logger = logging.getLogger(__name__)

# What each event says of its intent, in the status words holds.settled takes.
_INTENT_EVENTS = {"payment_intent.succeeded": "succeeded", "payment_intent.canceled": "canceled"}


class Received(ApiModel):
    received: bool
    applied: str | None = None


def verify(payload: bytes, signature: str | None, secret: str) -> dict:
    """The event, if the signature is Stripe's for this endpoint; SignatureRejected (400, as
    Stripe's guide answers) otherwise."""
    import stripe

    if not signature:
        raise SignatureRejected("missing Stripe-Signature header")
    try:
        stripe.WebhookSignature.verify_header(payload.decode("utf-8"), signature, secret, tolerance=300)
        event = json.loads(payload)
    except (stripe.SignatureVerificationError, UnicodeDecodeError, ValueError):
        raise SignatureRejected("the signature does not match the payload") from None
    if not isinstance(event, dict) or not isinstance(event.get("type"), str):
        raise SignatureRejected("signed, but not a Stripe event")
    return event


def apply(conn: Connection, event: dict) -> Received:
    status = _INTENT_EVENTS.get(event["type"])
    intent = (event.get("data") or {}).get("object") if isinstance(event.get("data"), dict) else None
    if status is None or not isinstance(intent, dict) or not isinstance(intent.get("id"), str):
        return Received(received=True)
    after = holds.settled(conn, intent["id"], status)
    logger.info("payment event", extra={"event_type": event["type"], "provider_ref": intent["id"], "hold": after})
    return Received(received=True, applied=after)
