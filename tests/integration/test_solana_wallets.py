"""Linking a Solana wallet with Sign-In with Solana: real ed25519 keys and signatures
(cryptography), base58 addresses and signatures as Solana wallets write them."""
from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from eth_account import Account
from sqlalchemy import text

from shared.people import base58
from tests.integration.conftest import snapshot
from tests.integration.test_wallets import ask as ask_ethereum
from tests.integration.test_wallets import sign as sign_ethereum


class Keypair:
    def __init__(self) -> None:
        self.key = Ed25519PrivateKey.generate()
        self.address = base58.encode(self.key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw))

    def sign(self, message: str) -> str:
        return base58.encode(self.key.sign(message.encode()))


def ask(api, person, address: str) -> dict:
    response = api.post("/api/me/solana-wallet/challenge", token=person.token, json={"address": address})
    assert response.status_code == 201, response.get_data(as_text=True)
    return response.get_json()


def link(api, person, wallet: Keypair):
    message = ask(api, person, wallet.address)["message"]
    return api.post("/api/me/solana-wallet", token=person.token, json={"message": message,
                                                                        "signature": wallet.sign(message)})


def test_link_a_solana_wallet_beside_the_ethereum_one(api, people, db):
    ivan, wallet, evm = people("investor"), Keypair(), Account.create()
    challenge = ask(api, ivan, wallet.address)
    message = challenge["message"]
    assert message.startswith("kalakrut.test wants you to sign in with your Solana account:\n" + wallet.address)
    assert "\nChain ID: mainnet\n" in message and f"\nNonce: {challenge['nonce']}\n" in message
    response = api.post("/api/me/solana-wallet", token=ivan.token,
                        json={"message": message, "signature": wallet.sign(message)})
    assert response.status_code == 200 and response.get_json() == {"solana_address": wallet.address}
    evm_message = ask_ethereum(api, ivan, evm.address)["message"]
    assert api.post("/api/me/wallet", token=ivan.token, json={"message": evm_message,
                                                              "signature": sign_ethereum(evm, evm_message)}).status_code == 200
    me = api.get("/api/me", token=ivan.token).get_json()
    assert (me["solana_address"], me["wallet_address"]) == (wallet.address, evm.address)
    assert api.get(f"/api/users/{ivan.id}").get_json()["solana_address"] == wallet.address
    db.rollback()
    assert db.execute(text("SELECT type, envelope->'payload'->>'solana_address' FROM outbox "
                           "WHERE type LIKE 'user.solana%'")).all() == [("user.solana_wallet_linked", wallet.address)]
    assert api.delete("/api/me/solana-wallet", token=ivan.token).status_code == 204
    assert api.delete("/api/me/solana-wallet", token=ivan.token).status_code == 204  # idempotent
    me = api.get("/api/me", token=ivan.token).get_json()
    assert me["solana_address"] is None and me["wallet_address"] == evm.address  # the other kind stays


@pytest.mark.parametrize("case", ["other_signer", "edited_message", "other_users_challenge", "garbage_signature",
                                  "short_signature", "replay", "ethereum_route", "not_a_key"])
def test_forged_links_are_rejected(case, api, people, db):
    ivan, mallory, wallet = people("investor"), people("collector"), Keypair()
    message = ask(api, ivan, wallet.address)["message"]
    signature, caller, route = wallet.sign(message), ivan, "/api/me/solana-wallet"
    if case == "other_signer":
        signature = Keypair().sign(message)
    elif case == "edited_message":
        message = message.replace("Chain ID: mainnet", "Chain ID: devnet")
        signature = wallet.sign(message)
    elif case == "other_users_challenge":
        caller = mallory
    elif case == "garbage_signature":
        signature = "1" * 88
    elif case == "short_signature":
        signature = base58.encode(b"\x07" * 63)
    elif case == "replay":
        assert api.post(route, token=ivan.token, json={"message": message, "signature": signature}).status_code == 200
    elif case == "ethereum_route":  # a Solana challenge spent as an Ethereum one
        route, signature = "/api/me/wallet", "0x" + "11" * 65
    elif case == "not_a_key":  # base58 of 33 bytes: challenged as written, never linked
        message = ask(api, ivan, "1" * 33)["message"]
        signature = wallet.sign(message)
    before = snapshot(db)
    response = api.post(route, token=caller.token, json={"message": message, "signature": signature})
    assert response.status_code == 400 and response.get_json()["code"] == "signature-rejected", response.get_json()
    assert snapshot(db) == before


def test_one_solana_wallet_per_account_and_one_account_per_wallet(api, people):
    ivan, mina, wallet = people("investor"), people("investor"), Keypair()
    assert link(api, ivan, wallet).status_code == 200
    assert link(api, mina, wallet).status_code == 409
    assert link(api, ivan, Keypair()).status_code == 200  # replaces
    assert link(api, mina, wallet).status_code == 200  # the old one is free


@pytest.mark.parametrize("address", ["0x" + "a" * 40, "short", "O" * 44, "1" * 45])
def test_bad_solana_addresses(api, people, address):
    response = api.post("/api/me/solana-wallet/challenge", token=people("investor").token, json={"address": address})
    assert response.status_code == 422 and response.content_type == "application/problem+json"
