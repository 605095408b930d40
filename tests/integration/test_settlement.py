"""Issue 23, points 3 and 4 (the API's side): the artist's withdrawal and the backers' refunds as
transactions for their own wallets to send, what a wallet backed, an artist's own proposals,
and public backer counts.

Against anvil, the real database and the indexer: the call data the API answers with is sent
from the linked wallet (eth_sendTransaction, the account impersonated on anvil) and must move
the money on chain; indexing it must then move the proposal."""
from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from eth_account import Account
from sqlalchemy import text

from local.chain import chain_time, encode_call
from shared.chain.abi import checksum
from shared.chain.rpc import RpcError
from shared.paging import encode_cursor
from tests.integration.test_indexer import (  # noqa: F401  (fixtures: chain, engine)
    ETHER,
    chain,
    config,
    engine,
    index,
)
from tests.integration.test_wallets import ask, sign

CONFLICT = "invalid-transition"


# -- helpers ---------------------------------------------------------------------------------

def link(api, person, account) -> str:
    """Link ``account`` to ``person`` with Sign-In with Ethereum, as the web app does."""
    message = ask(api, person, account.address)["message"]
    response = api.post("/api/me/wallet", token=person.token,
                        json={"message": message, "signature": sign(account, message)})
    assert response.status_code == 200, response.get_data(as_text=True)
    return account.address


def wallet(api, node, person) -> str:
    """A new wallet linked to ``person``, with gas money, that anvil sends from."""
    address = link(api, person, Account.create())
    node.rpc.call("anvil_setBalance", address, hex(10 * ETHER))
    node.rpc.call("anvil_impersonateAccount", address)
    return address


def campaign(node, make_proposal, owner, artist: str, *, seconds: int = 600, goal: int = ETHER) -> str:
    """An open ETH proposal of ``owner`` and its campaign paying ``artist``, with the same goal and
    deadline (as the operator opens it)."""
    deadline = chain_time(node.rpc) + seconds
    proposal = make_proposal(owner, publish=True, goal=str(goal), currency="ETH",
                             deadline=datetime.fromtimestamp(deadline, UTC).isoformat())
    deployment = node.platform.deployment
    node.rpc.transact(deployment.operator, deployment.funding,
                       encode_call("openCampaign(uint256,address,uint256,uint64)", uuid.UUID(proposal["id"]).int,
                                   artist, goal, deadline))
    return proposal["id"]


def balance(node, address: str) -> int:
    return int(node.rpc.call("eth_getBalance", address, "latest"), 16)


def send(node, sender: str, call: dict) -> int:
    """Send the API's transaction from ``sender``; returns what it paid in gas."""
    receipt = node.rpc.transact(sender, call["to"], call["data"], int(call["value"]))
    return int(receipt["gasUsed"], 16) * int(receipt["effectiveGasPrice"], 16)


def conflict(response) -> None:
    assert response.status_code == 409, response.get_data(as_text=True)
    assert response.content_type == "application/problem+json" and response.get_json()["code"] == CONFLICT


def positions(api, person, **query) -> dict:
    response = api.get("/api/me/fundings", token=person.token, query_string=query)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def set_status(db, proposal_id: str, status: str) -> None:
    db.execute(text("UPDATE proposals SET status = :status WHERE id = :id"), {"status": status, "id": proposal_id})
    db.commit()


def invest(db, proposal_id: str, backer: str, funded: int, refunded: int = 0) -> None:
    """A position as the indexer derives it (its own tests drive it from a real chain)."""
    db.execute(text(
        "INSERT INTO investments (chain_id, onchain_proposal_id, backer, proposal_id, funded, refunded, events, "
        "last_tx_hash) VALUES (31337, :onchain, :backer, :proposal, :funded, :refunded, 1, :tx)"),
        {"onchain": uuid.UUID(proposal_id).int, "backer": backer, "proposal": proposal_id, "funded": funded,
         "refunded": refunded, "tx": "0x" + uuid.uuid4().hex * 2})
    db.commit()


# -- against the chain -----------------------------------------------------------------------

def test_the_artist_withdraws_a_funded_proposal_with_the_transaction_the_api_answers(api, people, make_proposal,
                                                                                     chain, engine):
    cfg = config(chain)
    ada, bela, ivan, mina = people("artist"), people("artist"), people("investor"), people("investor")
    artist, ivans, minas = wallet(api, chain, ada), wallet(api, chain, ivan), wallet(api, chain, mina)
    proposal = campaign(chain, make_proposal, ada, artist)
    url = f"/api/proposals/{proposal}/withdrawal"
    chain.platform.fund(ivans, uuid.UUID(proposal).int, 4 * ETHER // 10)
    chain.platform.fund(minas, uuid.UUID(proposal).int, ETHER // 10)
    index(engine, cfg)
    conflict(api.get(url, token=ada.token))  # open: the goal is not met yet
    chain.platform.fund(chain.accounts[2], uuid.UUID(proposal).int, ETHER // 2)  # a wallet nobody linked
    index(engine, cfg)

    assert api.get(url).status_code == 401
    assert api.get(url, token=bela.token).status_code == 403  # the owner's only
    assert api.get(url, token=ivan.token).status_code == 403
    response = api.get(url, token=ada.token)
    assert response.status_code == 200, response.get_data(as_text=True)
    call = response.get_json()
    assert call == {"chain_id": 31337, "to": checksum(chain.platform.deployment.funding),
                    "data": encode_call("withdraw(uint256)", uuid.UUID(proposal).int), "value": "0",
                    "amount": str(ETHER), "artist": artist}

    before = balance(chain, artist)
    gas = send(chain, artist, call)
    assert balance(chain, artist) == before + ETHER - gas
    assert chain.platform.campaign(uuid.UUID(proposal).int)[2] is True  # withdrawn, says the contract
    index(engine, cfg)
    public = api.get(f"/api/proposals/{proposal}").get_json()
    assert (public["status"], public["raised_total"], public["backers"]) == ("withdrawn", str(ETHER), 3)
    conflict(api.get(url, token=ada.token))  # once is all
    [listed] = api.get("/api/proposals").get_json()["items"]
    assert listed["backers"] == 3

    # What each backer sees is theirs alone: nothing to take back from a withdrawn proposal.
    [own] = positions(api, ivan)["items"]
    assert own["proposal_id"] == proposal and own["status"] == "withdrawn"
    assert (own["funded"], own["refunded"], own["refundable"]) == (str(4 * ETHER // 10), "0", "0")
    assert own["last_tx_hash"].startswith("0x") and own["raised_total"] == str(ETHER) and own["goal"] == str(ETHER)
    assert [p["funded"] for p in positions(api, mina)["items"]] == [str(ETHER // 10)]
    assert positions(api, ada) == {"items": [], "next_cursor": None}  # her wallet backed nothing
    conflict(api.get(f"/api/proposals/{proposal}/refund", token=ivan.token))  # not failed


def test_a_backer_takes_back_a_failed_proposal_with_the_transaction_the_api_answers(api, people, make_proposal,
                                                                                   chain, engine):
    cfg = config(chain)
    ada, ivan, mina, cleo, olga = (people("artist"), people("investor"), people("investor"), people("collector"),
                                   people("investor"))
    artist, ivans, minas = wallet(api, chain, ada), wallet(api, chain, ivan), wallet(api, chain, mina)
    wallet(api, chain, olga)  # linked, but never funded
    missed = campaign(chain, make_proposal, ada, artist, seconds=300)
    running = campaign(chain, make_proposal, ada, artist, seconds=3_600)
    url = f"/api/proposals/{missed}/refund"
    chain.platform.fund(ivans, uuid.UUID(missed).int, ETHER // 4)
    chain.platform.fund(ivans, uuid.UUID(missed).int, ETHER // 8)
    chain.platform.fund(minas, uuid.UUID(missed).int, ETHER // 10)
    chain.platform.fund(ivans, uuid.UUID(running).int, ETHER // 5)
    index(engine, cfg)
    conflict(api.get(url, token=ivan.token))  # open: the deadline has not passed on chain

    chain.rpc.call("evm_increaseTime", 301)
    chain.rpc.call("anvil_mine", "0x1")
    index(engine, cfg)
    assert api.get(f"/api/proposals/{missed}").get_json()["status"] == "failed"
    assert api.get(f"/api/proposals/{running}").get_json()["status"] == "open"
    conflict(api.get(f"/api/proposals/{missed}/withdrawal", token=ada.token))  # the goal was missed

    assert api.get(url).status_code == 401
    conflict(api.get(url, token=cleo.token))  # no wallet linked
    conflict(api.get(url, token=olga.token))  # a wallet that gave nothing
    conflict(api.get(url, token=ada.token))  # the artist's wallet gave nothing either
    response = api.get(url, token=ivan.token)
    assert response.status_code == 200, response.get_data(as_text=True)
    call = response.get_json()
    given = ETHER // 4 + ETHER // 8
    assert call == {"chain_id": 31337, "to": checksum(chain.platform.deployment.funding),
                    "data": encode_call("refund(uint256)", uuid.UUID(missed).int), "value": "0",
                    "amount": str(given), "backer": ivans}

    # Ivan's positions, newest proposal first, a page at a time; what he may take back is the failed one's.
    first = positions(api, ivan, limit=1)
    [newest] = first["items"]
    assert (newest["proposal_id"], newest["refundable"], newest["funded"]) == (running, "0", str(ETHER // 5))
    rest = positions(api, ivan, limit=1, cursor=first["next_cursor"])
    [failed] = rest["items"]
    assert rest["next_cursor"] is None
    assert (failed["proposal_id"], failed["status"]) == (missed, "failed")
    assert (failed["funded"], failed["refunded"], failed["refundable"]) == (str(given), "0", str(given))

    before = balance(chain, ivans)
    gas = send(chain, ivans, call)
    assert balance(chain, ivans) == before + given - gas
    index(engine, cfg)
    conflict(api.get(url, token=ivan.token))  # nothing left to take back
    [failed] = [p for p in positions(api, ivan)["items"] if p["proposal_id"] == missed]
    assert (failed["funded"], failed["refunded"], failed["refundable"]) == (str(given), str(given), "0")
    [hers] = positions(api, mina)["items"]
    assert (hers["proposal_id"], hers["refundable"]) == (missed, str(ETHER // 10))
    assert positions(api, cleo) == {"items": [], "next_cursor": None}
    # Both backers counted, refunded or not; the proposal stays failed.
    public = api.get(f"/api/proposals/{missed}").get_json()
    assert (public["status"], public["backers"], public["raised_total"]) == ("failed", 2, str(ETHER // 10))

    # Mina's call data works from her wallet only: from Ivan's the contract refuses it.
    minas_call = api.get(url, token=mina.token).get_json()
    assert minas_call["amount"] == str(ETHER // 10) and minas_call["backer"] == minas
    with pytest.raises(RpcError):
        send(chain, ivans, minas_call)
    before = balance(chain, minas)
    gas = send(chain, minas, minas_call)
    assert balance(chain, minas) == before + ETHER // 10 - gas


# -- without a chain: what the index says -----------------------------------------------------

def test_settlement_needs_a_campaign_and_the_right_state(api, people, make_proposal, db):
    ada, bela, ivan, admin = people("artist"), people("artist"), people("investor"), people("investor", admin=True)
    draft = make_proposal(ada)
    published = make_proposal(ada, publish=True)
    assert api.get(f"/api/proposals/{published['id']}/withdrawal", token=admin.token).status_code == 403
    assert api.get(f"/api/proposals/{draft['id']}/withdrawal", token=bela.token).status_code == 404
    assert api.get(f"/api/proposals/{draft['id']}/refund", token=ivan.token).status_code == 404
    assert api.get(f"/api/proposals/{uuid.uuid4()}/withdrawal", token=ada.token).status_code == 404
    assert api.get(f"/api/proposals/{uuid.uuid4()}/refund", token=ivan.token).status_code == 404
    assert api.get("/api/proposals/not-a-uuid/refund", token=ivan.token).status_code == 404
    conflict(api.get(f"/api/proposals/{draft['id']}/withdrawal", token=ada.token))
    for status in ("open", "failed", "withdrawn", "closed", "cancelled"):
        set_status(db, published["id"], status)
        conflict(api.get(f"/api/proposals/{published['id']}/withdrawal", token=ada.token))
    # Funded in the database but no campaign indexed: nothing to send it to.
    set_status(db, published["id"], "funded")
    response = api.get(f"/api/proposals/{published['id']}/withdrawal", token=ada.token)
    conflict(response)
    assert "no campaign" in response.get_json()["detail"]
    set_status(db, published["id"], "failed")
    conflict(api.get(f"/api/proposals/{published['id']}/refund", token=ivan.token))


def test_a_proposal_whose_campaign_is_on_chain_cannot_be_cancelled_or_closed(api, people, make_proposal, chain,
                                                                          engine, db):
    """The contract knows no "closed": once the campaign is on chain its state is the chain's
    (decision 0025), so that backers' money is always withdrawn or refunded through the API."""
    ada = people("artist")
    on_chain = campaign(chain, make_proposal, ada, chain.artist)
    off_chain = make_proposal(ada, publish=True, currency="ETH")
    index(engine, config(chain))
    for action in ("cancel", "close"):
        response = api.post(f"/api/proposals/{on_chain}/{action}", token=ada.token)
        conflict(response)
        assert "on chain" in response.get_json()["detail"]
    assert api.get(f"/api/proposals/{on_chain}").get_json()["status"] == "open"
    # The operator has sent the transaction that opens it (mined, maybe, not yet confirmed): no.
    with engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO campaign_sends (tx_hash, proposal_id, chain_id, sender, nonce, max_fee_per_gas, "
            "priority_fee_per_gas, raw) VALUES (:tx, :id, 31337, :sender, 0, 1, 1, '0x')"),
            {"tx": "0x" + "ab" * 32, "id": off_chain["id"], "sender": chain.accounts[0]})
    conflict(api.post(f"/api/proposals/{off_chain['id']}/cancel", token=ada.token))
    # Seen to revert: no campaign will come of it, the artist may cancel.
    with engine.begin() as conn:
        conn.execute(text("UPDATE campaign_sends SET reverted_at = now()"))
    assert api.post(f"/api/proposals/{off_chain['id']}/cancel", token=ada.token).status_code == 200


def test_my_fundings_show_only_the_callers_wallet(api, people, make_proposal, db):
    ada, ivan, mina, cleo = people("artist"), people("investor"), people("investor"), people("collector")
    minas_account = Account.create()
    ivans, minas = link(api, ivan, Account.create()), link(api, mina, minas_account)
    first, second = make_proposal(ada, publish=True), make_proposal(ada, publish=True)
    hidden = make_proposal(ada)  # a draft: its title is its owner's, whoever backed it
    invest(db, first["id"], ivans, 3 * ETHER)
    invest(db, second["id"], ivans, 5, refunded=5)
    invest(db, hidden["id"], ivans, 7)
    invest(db, first["id"], minas, 2 * ETHER)
    set_status(db, second["id"], "failed")

    items = positions(api, ivan)["items"]
    assert [(p["proposal_id"], p["funded"], p["refunded"], p["refundable"]) for p in items] == [
        (second["id"], "5", "5", "0"), (first["id"], str(3 * ETHER), "0", "0")]
    assert [p["proposal_id"] for p in positions(api, mina)["items"]] == [first["id"]]
    assert [p["proposal_id"] for p in positions(api, ada)["items"]] == []  # no wallet linked
    # Unlinked, the wallet's positions are nobody's; linked by someone else, theirs.
    assert api.delete("/api/me/wallet", token=mina.token).status_code == 204
    assert positions(api, mina)["items"] == []
    assert positions(api, cleo)["items"] == []
    link(api, cleo, minas_account)
    assert [p["funded"] for p in positions(api, cleo)["items"]] == [str(2 * ETHER)]

    assert api.get("/api/me/fundings").status_code == 401
    for query, status in (({"cursor": "nope"}, 400), ({"limit": 0}, 422), ({"limit": 101}, 422),
                          ({"cursor": encode_cursor("newest", ["2026-01-01T00:00:00+00:00", str(uuid.uuid4())])}, 400),
                          ({"cursor": encode_cursor("my-fundings", ["2026-01-01T00:00:00", str(uuid.uuid4())])}, 400),
                          ({"sort": "newest"}, 422)):
        response = api.get("/api/me/fundings", token=ivan.token, query_string=query)
        assert response.status_code == status, (query, response.get_data(as_text=True))
        assert response.content_type == "application/problem+json"


def test_my_proposals_are_the_callers_own_with_drafts_and_backer_counts(api, people, make_proposal, db):
    ada, bela, ivan = people("artist"), people("artist"), people("investor")
    draft = make_proposal(ada, title="Still a draft")
    backed = make_proposal(ada, publish=True, title="Backed")
    make_proposal(bela, title="Bela's draft")
    make_proposal(bela, publish=True, title="Bela's")
    invest(db, backed["id"], "0x70997970C51812dc3A010C7d01b50e0d17dc79C8", ETHER)
    invest(db, backed["id"], "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC", ETHER, refunded=ETHER)

    mine = api.get("/api/me/proposals", token=ada.token).get_json()
    assert [(p["id"], p["status"], p["backers"]) for p in mine["items"]] == [
        (backed["id"], "open", 2), (draft["id"], "draft", 0)]
    assert mine["next_cursor"] is None
    page = api.get("/api/me/proposals", token=ada.token, query_string={"limit": 1}).get_json()
    rest = api.get("/api/me/proposals", token=ada.token,
                   query_string={"limit": 1, "cursor": page["next_cursor"]}).get_json()
    assert [p["id"] for p in page["items"] + rest["items"]] == [backed["id"], draft["id"]]
    drafts = api.get("/api/me/proposals", token=ada.token, query_string={"status": "draft"}).get_json()
    assert [p["title"] for p in drafts["items"]] == ["Still a draft"]
    assert [p["title"] for p in api.get("/api/me/proposals", token=bela.token).get_json()["items"]] == [
        "Bela's", "Bela's draft"]
    assert api.get("/api/me/proposals", token=ivan.token).get_json() == {"items": [], "next_cursor": None}
    assert api.get("/api/me/proposals").status_code == 401
    for query in ({"owner": bela.id}, {"status": "deleted"}, {"limit": "ten"}):
        assert api.get("/api/me/proposals", token=ada.token, query_string=query).status_code == 422

    # The public proposal counts its backers, in the detail, the list and an edit's answer.
    assert api.get(f"/api/proposals/{backed['id']}").get_json()["backers"] == 2
    assert {p["id"]: p["backers"] for p in api.get("/api/proposals").get_json()["items"]}[backed["id"]] == 2
    edited = api.patch(f"/api/proposals/{backed['id']}", token=ada.token, json={"title": "Backed twice"},
                       headers={"If-Match": f'"{backed["version"]}"'})
    assert edited.status_code == 200 and edited.get_json()["backers"] == 2
