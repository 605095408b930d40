"""Issue 24, the ETH half through the API: sell an artwork token at a fixed price or by auction,
buy it, bid, settle; every bid and purchase is money paid into the market contract.

Against anvil, the real database and the indexer: the transactions the API answers with are sent
from the linked wallets (anvil impersonates them) and must do on chain what they say; indexing
them then shows the sale, the order and the seller's proceeds."""
from __future__ import annotations

import uuid

import pytest

from local.chain import MARKET_FEE_BPS
from shared.chain.abi import checksum
from tests.integration.test_indexer import (  # noqa: F401  (fixtures: chain, engine)
    ETHER,
    chain,
    config,
    engine,
    index,
)
from tests.integration.test_settlement import balance, send, wallet


@pytest.fixture
def gallery(api, people, make_item, processor_upload, chain, engine):
    """A seller's listed digital item priced in ETH, linked to a token minted to the seller's wallet;
    two collectors with wallets."""
    seller, ann, ben = people("artist"), people("investor"), people("investor")
    wallets = {person.uid: wallet(api, chain, person) for person in (seller, ann, ben)}
    token_id = uuid.uuid4().int
    chain.platform.mint(wallets[seller.uid], token_id)
    index(engine, config(chain))
    item = make_item(seller, listed=True, kind="digital", inventory=None, shipping_regions=[], currency="ETH",
                     price=str(ETHER), file_media_id=processor_upload(seller, "artwork"),
                     token={"chain_id": 31337, "contract": chain.platform.deployment.artwork, "token_id": str(token_id)})
    return {"seller": seller, "ann": ann, "ben": ben, "item": item, "wallets": wallets, "token_id": token_id}


def conflict(response) -> None:
    assert response.status_code == 409, response.get_data(as_text=True)
    assert response.content_type == "application/problem+json" and response.get_json()["code"] == "conflict"


def sign_all(chain, answer: dict) -> None:
    for call in answer["calls"]:
        send(chain, answer["sender"], call)


def sales(api, item) -> list[dict]:
    response = api.get(f"/api/items/{item['id']}/sales")
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()["items"]


def ask(api, person, item, path: str = "", status: int = 200, **body):
    response = api.post(f"/api/items/{item['id']}/sales{path}", token=person.token, json=body or None)
    assert response.status_code == status, response.get_data(as_text=True)
    return response


def test_sell_at_a_fixed_price_buy_and_the_order_and_proceeds_follow(api, gallery, chain, engine):
    seller, ann, item, wallets = gallery["seller"], gallery["ann"], gallery["item"], gallery["wallets"]
    ask(api, ann, item, status=403, kind="fixed", price=str(ETHER))  # not the token's owner
    opened = ask(api, seller, item, kind="fixed", price=str(2 * ETHER)).get_json()
    assert opened["sender"] == wallets[seller.uid] and len(opened["calls"]) == 2
    sign_all(chain, opened)
    assert sales(api, item) == []  # not on the platform until the indexer has seen it
    index(engine, config(chain))
    [sale] = sales(api, item)
    assert (sale["id"], sale["kind"], sale["status"], sale["price"], sale["seller"]) == (
        opened["sale_id"], "fixed", "open", str(2 * ETHER), wallets[seller.uid])
    path = f"/{sale['id']}"
    conflict(ask(api, ann, item, f"{path}/bid", status=409, amount=str(3 * ETHER)))  # a fixed price is bought
    buy = ask(api, ann, item, f"{path}/buy").get_json()
    assert buy["calls"][0]["value"] == str(2 * ETHER)
    paid = balance(chain, wallets[ann.uid])
    gas = send(chain, wallets[ann.uid], buy["calls"][0])
    assert balance(chain, wallets[ann.uid]) == paid - 2 * ETHER - gas  # the money is paid in
    index(engine, config(chain))
    assert sales(api, item)[0]["status"] == "sold"
    conflict(ask(api, gallery["ben"], item, f"{path}/buy", status=409))  # sold once
    [order] = api.get("/api/orders?role=buyer", token=ann.token).get_json()["items"]
    fee = 2 * ETHER * MARKET_FEE_BPS // 10_000
    assert (order["status"], order["currency"], order["amount"], order["fee"], order["sale_id"]) == (
        "fulfilled", "ETH", str(2 * ETHER), str(fee), sale["id"])
    assert api.get(f"/api/orders/{order['id']}", token=seller.token).get_json()["id"] == order["id"]
    refused = api.post(f"/api/orders/{order['id']}/refund", token=seller.token)
    assert refused.status_code == 409  # the contract keeps no refund
    # The buyer holds the item now (the token moved), and downloads it.
    assert api.get(f"/api/items/{item['id']}/download", token=ann.token).status_code == 200
    # The seller's proceeds are theirs to withdraw from the contract.
    assert chain.platform.credits(wallets[seller.uid]) == 2 * ETHER - fee


def test_an_auction_takes_bids_paid_in_and_settles_to_the_highest(api, gallery, chain, engine):
    seller, ann, ben, item, wallets = (gallery[k] for k in ("seller", "ann", "ben", "item", "wallets"))
    ask(api, seller, item, status=422, kind="auction", price=str(ETHER))  # an auction needs a length
    sign_all(chain, ask(api, seller, item, kind="auction", price=str(ETHER), duration_seconds=3600).get_json())
    index(engine, config(chain))
    [sale] = sales(api, item)
    path = f"/{sale['id']}"
    assert (sale["kind"], sale["minimum_bid"], sale["ends_at"] is not None) == ("auction", str(ETHER), True)
    ask(api, ann, item, f"{path}/bid", status=422, amount=str(ETHER - 1))
    ask(api, ann, item, f"{path}/bid", status=422, amount=str(2**256))  # the takeover is not a bid
    send(chain, wallets[ann.uid], ask(api, ann, item, f"{path}/bid", amount=str(ETHER)).get_json()["calls"][0])
    index(engine, config(chain))
    assert sales(api, item)[0]["minimum_bid"] == str(ETHER + ETHER // 20)
    ask(api, ben, item, f"{path}/bid", status=422, amount=str(ETHER + 1))
    send(chain, wallets[ben.uid], ask(api, ben, item, f"{path}/bid", amount=str(2 * ETHER)).get_json()["calls"][0])
    assert chain.platform.credits(wallets[ann.uid]) == ETHER  # outbid: hers to withdraw
    conflict(ask(api, seller, item, f"{path}/cancel", status=409))  # bids bind the seller
    conflict(ask(api, ann, item, f"{path}/settle", status=409))  # not over yet
    chain.rpc.call("evm_increaseTime", 3600)
    chain.rpc.call("evm_mine")
    index(engine, config(chain))
    conflict(ask(api, ann, item, f"{path}/bid", status=409, amount=str(3 * ETHER)))  # over
    settle = ask(api, ann, item, f"{path}/settle").get_json()  # anyone settles
    send(chain, wallets[ann.uid], settle["calls"][0])
    index(engine, config(chain))
    [sold] = sales(api, item)
    assert (sold["status"], sold["buyer"], sold["amount"], sold["bids"]) == ("sold", wallets[ben.uid], str(2 * ETHER), 2)
    [order] = api.get("/api/orders?role=seller", token=seller.token).get_json()["items"]
    assert (order["buyer_id"], order["status"]) == (ben.id, "fulfilled")


def test_what_cannot_be_sold_for_eth_and_who_may_cancel(api, gallery, people, make_item, chain, engine):
    seller, ann, item = gallery["seller"], gallery["ann"], gallery["item"]
    priced_in_euro = make_item(seller, listed=True)
    conflict(ask(api, seller, priced_in_euro, status=409, kind="fixed", price="1"))  # no token, EUR
    ask(api, seller, item, status=422, kind="fixed", price="0")
    ask(api, seller, item, status=422, kind="fixed", price=str(ETHER), duration_seconds=3600)
    ask(api, seller, item, status=422, kind="swap", price=str(ETHER))
    missing = api.post(f"/api/items/{item['id']}/sales/{uuid.uuid4()}/buy", token=ann.token)
    conflict(missing)
    sign_all(chain, ask(api, seller, item, kind="fixed", price=str(ETHER)).get_json())
    index(engine, config(chain))
    [sale] = sales(api, item)
    assert api.post(f"/api/items/{item['id']}/sales/{sale['id']}/cancel", token=ann.token).status_code == 403
    cancel = ask(api, seller, item, f"/{sale['id']}/cancel").get_json()
    send(chain, cancel["sender"], cancel["calls"][0])
    index(engine, config(chain))
    assert sales(api, item)[0]["status"] == "cancelled"
    owner = chain.platform.read(chain.platform.deployment.artwork, "ownerOf(uint256)", ["address"],
                                gallery["token_id"])[0]
    assert checksum(owner) == gallery["wallets"][seller.uid]  # the token came back
