"""Stripe locally: localstripe 1.15.10 (PyPI, GPL-3.0), a stateful fake of Stripe's API,
run as its own process from .venv-tools; functions reach it with the official `stripe`
library pointed at it (STRIPE_API_BASE, any ``sk_test_`` key).

What it does: customers, PaymentMethods (card numbers such as 4242424242424242, or the
test ids ``pm_card_visa`` / ``pm_card_chargeCustomerFail``), PaymentIntents (automatic or
``capture_method="manual"`` with ``confirm=True`` -> ``requires_capture``; full or partial
capture; cancel), refunds, and webhooks: POST /_config/webhooks/<name> (form or JSON:
``url``, ``secret``, optional ``events[]``), delivered about 1 s after the event with a real
``Stripe-Signature`` header (``t=<created>,v1=<HMAC-SHA256 with the secret>``).

What it lacks (tests/integration/test_stripe_standin.py pins each):
- Connect accounts, Transfers, Checkout Sessions: 404.
- Idempotency-Key headers are ignored: a retried create makes a second object (the library
  retries a POST that timed out or got a 409/5xx, twice by default, with the same key).
- Only the parameters it knows: anything else (``description``, ``automatic_payment_methods``,
  ``cancellation_reason``, ``payment_method`` on confirm...) is a 400 "Unexpected ..." or a 500.
- Events: only ``payment_intent.succeeded`` and ``payment_intent.payment_failed`` for intents;
  no ``payment_intent.canceled``, ``.amount_capturable_updated``, ``.created``, ``charge.*``.
- No amount limits (Stripe caps at 99,999,999), no check that a refund fits the charge.
- Objects are leaner: a PaymentIntent has no ``amount_capturable``, ``amount_received``,
  ``canceled_at``, ``cancellation_reason``, and its ``latest_charge`` is the charge object, not
  its id; events carry ``api_version`` 2017-08-15 whatever the client asks for.
- Declines: only at confirmation with card 4000000000000341 (``pm_card_chargeCustomerFail``):
  HTTP 402 ``card_declined`` (stripe.CardError). 4000000000000002 is declined only when
  attached to a customer, and succeeds in a PaymentIntent. (The 3-D Secure cards 4000008260003178
  and 4000008400001629 decline too, after ``requires_action`` and localstripe's own authenticate call.)

Quirks of the process: it listens on every interface (``::``, no host option), and it pickles
its whole state to the fixed path /tmp/localstripe.pickle after every write (the cost grows
with the state), shared by every instance on the machine: started with ``--from-scratch`` it never reads it back, so each run
starts empty (like anvil). Webhook registrations live in memory only.
"""
from __future__ import annotations

import os
from pathlib import Path

import requests

from infra.manifest import REPO
from local.processes import Child, spawn

LOCALSTRIPE = REPO / ".venv-tools" / "bin" / "localstripe"
SECRET_KEY = "sk_test_kalakrut_local"
PUBLISHABLE_KEY = "pk_test_kalakrut_local"  # the web app's (GET /api/config)
# localstripe signs with any non-empty secret; the whsec_ prefix keeps it Stripe-shaped.
WEBHOOK_SECRET = "whsec_kalakrut_local"


def _serving(base_url: str) -> bool:
    try:
        return requests.get(f"{base_url}/v1/customers", params={"limit": 1},
                            auth=(SECRET_KEY, ""), timeout=1).status_code == 200
    except requests.RequestException:
        return False


def start_localstripe(port: int, logs: Path) -> Child:
    if not LOCALSTRIPE.exists():
        raise RuntimeError(f"{LOCALSTRIPE} is missing: `make install` builds .venv-tools")
    child = spawn("localstripe", [str(LOCALSTRIPE), "--port", str(port), "--from-scratch"],
                  env={**os.environ}, log_dir=logs)
    child.wait_until(lambda: _serving(f"http://127.0.0.1:{port}"), 30)
    return child


def register_webhook(base_url: str, name: str, url: str, secret: str, events: list[str] | None = None) -> None:
    """Deliver events (all, or only ``events``) to ``url``, signed with ``secret``; a second
    registration under the same name replaces the first."""
    if events is not None and not events:
        raise ValueError("events: None for all, or at least one event type")
    form = [("url", url), ("secret", secret)] + [("events[]", event) for event in events or ()]
    response = requests.post(f"{base_url}/_config/webhooks/{name}", data=form, timeout=10)
    response.raise_for_status()
