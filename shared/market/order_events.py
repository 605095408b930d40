"""The event view of an order, for the order functions and the chain's sales alike."""
from __future__ import annotations

from typing import Any


def payload(order: Any) -> dict[str, Any]:
    """An order (ORM object or row) as events carry it: no shipping address (events travel
    further than the API's answer); amounts as decimal strings, like the API."""
    return {"id": str(order.id), "buyer_id": str(order.buyer_id), "seller_id": str(order.seller_id),
            "item_id": str(order.item_id), "auction_id": str(order.auction_id) if order.auction_id else None,
            "quantity": order.quantity, "amount": str(order.amount), "fee": str(order.fee),
            "currency": order.currency, "status": order.status}
