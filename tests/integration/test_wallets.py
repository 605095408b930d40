"""Linking a wallet with Sign-In with Ethereum: real secp256k1 signatures (eth-account).
The SIWE domain, URI and chain id come from the test environment (tests/conftest.py)."""
from __future__ import annotations

import pytest
from eth_account import Account
from eth_account.messages import encode_defunct
from sqlalchemy import text

from tests.integration.conftest import snapshot


def sign(account, message: str) -> str:
    return "0x" + account.sign_message(encode_defunct(text=message)).signature.hex().removeprefix("0x")


def ask(api, person, address: str) -> dict:
    response = api.post("/api/me/wallet/challenge", token=person.token, json={"address": address})
    assert response.status_code == 201, response.get_data(as_text=True)
    return response.get_json()


def test_link_a_wallet(api, people, db):
    ivan, wallet = people("investor"), Account.create()
    challenge = ask(api, ivan, wallet.address.lower())
    message = challenge["message"]
    assert message.startswith("kalakrut.test wants you to sign in with your Ethereum account:\n" + wallet.address)
    assert "\nChain ID: 31337\n" in message and f"\nNonce: {challenge['nonce']}\n" in message
    response = api.post("/api/me/wallet", token=ivan.token, json={"message": message, "signature": sign(wallet, message)})
    assert response.status_code == 200 and response.get_json() == {"wallet_address": wallet.address}
    assert api.get("/api/me", token=ivan.token).get_json()["wallet_address"] == wallet.address
    db.rollback()
    assert db.execute(text("SELECT type FROM outbox WHERE type = 'user.wallet_linked'")).scalars().all() == [
        "user.wallet_linked"]


def test_replay_is_rejected(api, people, db):
    ivan, wallet = people("investor"), Account.create()
    message = ask(api, ivan, wallet.address)["message"]
    body = {"message": message, "signature": sign(wallet, message)}
    assert api.post("/api/me/wallet", token=ivan.token, json=body).status_code == 200
    replay = api.post("/api/me/wallet", token=ivan.token, json=body)
    assert replay.status_code == 400 and "already used" in replay.get_json()["detail"]


def test_expired_challenge_is_rejected(api, people, db):
    ivan, wallet = people("investor"), Account.create()
    challenge = ask(api, ivan, wallet.address)
    db.execute(text("UPDATE wallet_challenges SET expires_at = now() - interval '1 second'"))
    db.commit()
    before = snapshot(db)
    response = api.post("/api/me/wallet", token=ivan.token,
                        json={"message": challenge["message"], "signature": sign(wallet, challenge["message"])})
    assert response.status_code == 400 and "expired" in response.get_json()["detail"]
    assert snapshot(db) == before


@pytest.mark.parametrize("case", ["other_signer", "edited_message", "other_users_challenge", "garbage_signature"])
def test_forged_links_are_rejected(case, api, people, db):
    ivan, mallory, wallet = people("investor"), people("collector"), Account.create()
    message = ask(api, ivan, wallet.address)["message"]
    signature, caller = sign(wallet, message), ivan
    if case == "other_signer":
        signature = sign(Account.create(), message)
    elif case == "edited_message":
        message = message.replace("Chain ID: 31337", "Chain ID: 1")
        signature = sign(wallet, message)
    elif case == "other_users_challenge":
        caller = mallory
    else:
        signature = "0x" + "11" * 65
    before = snapshot(db)
    response = api.post("/api/me/wallet", token=caller.token, json={"message": message, "signature": signature})
    assert response.status_code == 400 and response.get_json()["code"] == "signature-rejected"
    assert snapshot(db) == before


def test_one_wallet_per_user_and_one_user_per_wallet(api, people):
    ivan, mina, wallet = people("investor"), people("investor"), Account.create()
    message = ask(api, ivan, wallet.address)["message"]
    assert api.post("/api/me/wallet", token=ivan.token, json={"message": message, "signature": sign(wallet, message)}).status_code == 200
    taken = ask(api, mina, wallet.address)["message"]
    response = api.post("/api/me/wallet", token=mina.token, json={"message": taken, "signature": sign(wallet, taken)})
    assert response.status_code == 409


def _link(api, person, wallet) -> int:
    message = ask(api, person, wallet.address)["message"]
    return api.post("/api/me/wallet", token=person.token,
                    json={"message": message, "signature": sign(wallet, message)}).status_code


def test_a_wallet_is_replaced_by_proving_another_and_unlinked_on_request(api, people, db):
    """Issue 22, finding 6: wallets can be replaced and unlinked; each change is audited and
    sent as an event naming the wallet before, and the old wallet is free for anyone."""
    ivan, mina, first, second = people("investor"), people("investor"), Account.create(), Account.create()
    assert _link(api, ivan, first) == 200
    assert _link(api, ivan, second) == 200  # replaces
    assert api.get("/api/me", token=ivan.token).get_json()["wallet_address"] == second.address
    assert _link(api, mina, first) == 200  # the old one is nobody's now
    assert api.delete("/api/me/wallet", token=ivan.token).status_code == 204
    assert api.delete("/api/me/wallet", token=ivan.token).status_code == 204  # idempotent
    assert api.get("/api/me", token=ivan.token).get_json()["wallet_address"] is None
    db.rollback()
    events = db.execute(text("SELECT type, envelope->'payload'->>'wallet_address', "
                             "envelope->'payload'->>'previous_wallet_address' FROM outbox "
                             "WHERE envelope->>'aggregate_id' = :id AND type LIKE 'user.wallet%' ORDER BY id"),
                        {"id": str(ivan.id)}).all()
    assert [tuple(e) for e in events] == [("user.wallet_linked", first.address, None),
                                          ("user.wallet_linked", second.address, first.address),
                                          ("user.wallet_unlinked", None, second.address)]
    audited = db.execute(text("SELECT action FROM audit_log WHERE entity_id = :id AND action LIKE 'user.wallet%'"),
                         {"id": ivan.id}).scalars().all()
    assert sorted(audited) == ["user.wallet_linked", "user.wallet_linked", "user.wallet_unlinked"]


def test_bad_addresses(api, people):
    ivan = people("investor")
    for address in ("0x123", "not an address", "0x" + "g" * 40):
        assert api.post("/api/me/wallet/challenge", token=ivan.token, json={"address": address}).status_code == 422
