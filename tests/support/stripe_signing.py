"""Stripe-Signature headers made as Stripe makes them: HMAC-SHA256 of "<t>.<body>" with the
endpoint's secret, hex. The tests' own, kept apart from the webhook's check
(shared/payments/webhook.py) that they are held against."""
from __future__ import annotations

import hashlib
import hmac
import time


def signature(stamp: int, payload: bytes, secret: str) -> str:
    return hmac.new(secret.encode(), f"{stamp}.".encode() + payload, hashlib.sha256).hexdigest()


def header(payload: bytes, secret: str, at: int | None = None) -> str:
    """A whole header, signed now unless ``at`` says when."""
    at = at or int(time.time())
    return f"t={at},v1={signature(at, payload, secret)}"
