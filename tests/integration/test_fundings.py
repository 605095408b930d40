"""The funding history and the web app's run-time config, through the functions."""
from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import text

from shared.paging import encode_cursor

BACKER = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
STRANGER = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC"


def _log(db, proposal_id: str, block: int, log_index: int, event: str, backer: str, amount: int) -> None:
    """A row as the indexer stores it (its own tests drive it from a real chain)."""
    db.execute(text(
        "INSERT INTO web3_transactions (chain_id, tx_hash, log_index, block_number, block_hash, block_time, contract,"
        " event, args, amount, proposal_id) VALUES (31337, :tx, :log, :block, :hash, :time, :contract, :event,"
        " CAST(:args AS jsonb), :amount, :proposal)"),
        {"tx": "0x" + f"{block:02x}{log_index:02x}".rjust(64, "a"), "log": log_index, "block": block,
         "hash": "0x" + f"{block:x}".rjust(64, "b"), "time": datetime(2026, 11, 1, tzinfo=UTC) + timedelta(minutes=block),
         "contract": "0x5FbDB2315678afecb367f032d93F642f64180aa3", "event": event,
         "args": f'{{"proposalId":"{uuid.UUID(proposal_id).int}","backer":"{backer}","amount":"{amount}"}}',
         "amount": amount, "proposal": proposal_id})


def test_funding_history_is_newest_first_names_linked_backers_and_pages(api, people, make_proposal, db):
    ada, ivan = people("artist"), people("investor", name="Ivan Backer")
    proposal = make_proposal(ada, publish=True)
    db.execute(text("UPDATE users SET wallet_address = :a WHERE id = :id"), {"a": BACKER, "id": ivan.id})
    _log(db, proposal["id"], 10, 0, "Funded", BACKER, 10**18)
    _log(db, proposal["id"], 11, 3, "Funded", STRANGER, 2 * 10**18)
    _log(db, proposal["id"], 11, 4, "Refunded", STRANGER, 2 * 10**18)
    _log(db, str(uuid.uuid4()), 12, 0, "Funded", BACKER, 5)  # another proposal's
    db.commit()

    url = f"/api/proposals/{proposal['id']}/fundings"
    first = api.get(url, query_string={"limit": 2}).get_json()
    assert [(f["kind"], f["block_number"]) for f in first["items"]] == [("refunded", 11), ("funded", 11)]
    assert first["items"][0]["amount"] == str(2 * 10**18) and first["items"][0]["backer_name"] is None
    rest = api.get(url, query_string={"limit": 2, "cursor": first["next_cursor"]}).get_json()
    assert rest["next_cursor"] is None
    [funding] = rest["items"]
    assert (funding["backer"], funding["backer_user_id"], funding["backer_name"]) == (BACKER, ivan.id, "Ivan Backer")
    naive = encode_cursor("fundings", ["2026-11-01T00:10:00", 31337, 10, 0])  # a time without its zone
    assert api.get(url, query_string={"cursor": naive}).status_code == 400


def test_funding_history_of_a_draft_is_its_owners(api, people, make_proposal):
    ada, bela = people("artist"), people("artist")
    draft = make_proposal(ada)
    assert api.get(f"/api/proposals/{draft['id']}/fundings", token=bela.token).status_code == 404
    assert api.get(f"/api/proposals/{draft['id']}/fundings", token=ada.token).get_json()["items"] == []
    bad = api.get(f"/api/proposals/{draft['id']}/fundings", token=ada.token, query_string={"cursor": "nope"})
    assert bad.status_code == 400 and bad.get_json()["code"] == "invalid-cursor"


def test_site_config_is_public_and_comes_from_the_environment(api):
    config = api.get("/api/config")
    assert config.status_code == 200
    body = config.get_json()
    assert body["firebase"] == {"api_key": "test-api-key", "auth_domain": "demo-kalakrut-test.firebaseapp.com",
                                "project_id": "demo-kalakrut-test"}
    assert body["chain"] == {"chain_id": 31337, "funding_contract": "0x5FbDB2315678afecb367f032d93F642f64180aa3",
                             "market_contract": "0x9fE46736679d2D9a65F0992F2272dE9f3c7fa6e0"}
    assert body["auth_emulator_url"] is None
