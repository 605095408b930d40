"""Cards as the API sees them: starting to add one (Stripe.js finishes it in the browser),
authorising an amount on one, and the problems a payment's failure becomes."""
from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from pydantic import Field

from shared.errors import Conflict, PaymentDeclined, ServiceUnavailable
from shared.payments import gateway as port
from shared.payments import holds
from shared.types import ApiModel

if TYPE_CHECKING:
    from shared.payments.gateway import Gateway


class CardSetup(ApiModel):
    client_secret: str = Field(description="for Stripe.js confirmCardSetup; for the caller only")


def unavailable() -> ServiceUnavailable:
    return ServiceUnavailable("the payment provider is unavailable; try again", headers={"Retry-After": "5"})


def authorise(gateway: Gateway, **hold: Any) -> uuid.UUID:
    """``holds.authorise``, its failures as the API's problems: 402 declined, 503 unreachable."""
    try:
        return holds.authorise(gateway, **hold)
    except port.PaymentDeclined as error:
        raise PaymentDeclined(f"your card was not authorised for this amount ({error.code}); nothing was charged"
                              ) from None
    except port.PaymentUnavailable:
        raise unavailable() from None
    except holds.KeyInUse:
        raise Conflict("a request with this Idempotency-Key is under way; see your orders") from None


def start_setup(user_id: uuid.UUID, gateway: Gateway) -> CardSetup:
    try:
        return CardSetup(client_secret=gateway.setup(str(user_id)))
    except (port.PaymentUnavailable, port.PaymentDeclined):
        raise unavailable() from None
