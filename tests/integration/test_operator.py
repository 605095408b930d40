"""Issue 23, point 2: the campaign operator opens each published ETH proposal's campaign,
idempotently, across crashes, stuck transactions and concurrent runs, signing with a key
(anvil's, as locally) or through Cloud KMS's API (a stand-in of its two methods: KMS has
no offline emulator; the signature handling under test is ours)."""
from __future__ import annotations

import base64
import threading
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from eth_account import Account
from sqlalchemy import text

from local.chain import ANVIL_OPERATOR_KEY, chain_time
from shared.chain import operator as operator_module
from shared.chain.operator import operate
from shared.chain.rpc import RpcUnavailable
from shared.chain.signing import SECP256K1_N, KeySigner, KmsSigner, sign_transaction
from tests.integration.test_indexer import (  # noqa: F401  (fixtures: chain, engine)
    ETHER,
    chain,
    config,
    engine,
    index,
)


def published(engine, chain, *, wallet: str | None = None, hours: int = 48, goal: int = ETHER) -> uuid.UUID:
    deadline = datetime.fromtimestamp(chain_time(chain.rpc), UTC) + timedelta(hours=hours)
    with engine.begin() as conn:
        wallet = wallet or chain.artist
        owner = conn.execute(text("SELECT id FROM users WHERE wallet_address = :wallet"), {"wallet": wallet}).scalar()
        owner = owner or conn.execute(text(
            "INSERT INTO users (role, email, wallet_address) VALUES ('artist', :email, :wallet) RETURNING id"),
            {"email": f"{uuid.uuid4().hex}@example.com", "wallet": wallet}).scalar_one()
        return conn.execute(text(
            "INSERT INTO proposals (owner_id, title, goal, currency, deadline, status, published_at) "
            "VALUES (:owner, 'A proposal', :goal, 'ETH', :deadline, 'open', now()) RETURNING id"),
            {"owner": owner, "goal": goal, "deadline": deadline}).scalar_one()


def sends(engine) -> list:
    with engine.connect() as conn:
        return conn.execute(text("SELECT proposal_id, nonce, tx_hash, max_fee_per_gas, priority_fee_per_gas "
                                 "FROM campaign_sends ORDER BY sent_at, nonce")).all()


@pytest.fixture
def signer():
    return KeySigner(ANVIL_OPERATOR_KEY)


def test_a_published_proposal_gets_its_campaign_once(chain, engine, signer):
    proposal = published(engine, chain)
    with engine.connect() as conn:
        deadline = conn.execute(text("SELECT deadline FROM proposals WHERE id = :id"), {"id": proposal}).scalar()
    report = operate(engine, config(chain), signer)
    assert (report.sent, report.failed) == (1, [])
    artist, on_chain_deadline, withdrawn, goal, raised = chain.platform.campaign(proposal.int)
    assert (artist.lower(), on_chain_deadline, withdrawn, goal, raised) == \
        (chain.artist.lower(), int(deadline.timestamp()), False, ETHER, 0)
    # Again, before and after the indexer saw it: nothing more is sent.
    assert operate(engine, config(chain), signer).opened == 1
    index(engine, config(chain))
    again = operate(engine, config(chain), signer)
    assert (again.sent, again.opened, again.waiting) == (0, 0, 0)
    assert len(sends(engine)) == 1


def test_a_campaign_opened_already_on_chain_is_left_alone(chain, engine, signer):
    proposal = published(engine, chain)
    chain.platform.open_campaign(proposal.int, chain.artist, ETHER)
    assert operate(engine, config(chain), signer).opened == 1
    assert sends(engine) == []


def test_a_proposal_without_the_artists_wallet_waits_for_it(chain, engine, signer):
    proposal = published(engine, chain)
    with engine.begin() as conn:
        conn.execute(text("UPDATE users SET wallet_address = NULL"))
    assert operate(engine, config(chain), signer).sent == 0
    with engine.begin() as conn:
        conn.execute(text("UPDATE users SET wallet_address = :w"), {"w": chain.artist})
    assert operate(engine, config(chain), signer).sent == 1
    assert chain.platform.has_campaign(proposal.int)


def test_a_crash_between_recording_and_sending_is_sent_by_the_next_run(chain, engine, signer, monkeypatch):
    proposal = published(engine, chain)

    def crash(self, raw, strict=False):
        raise KeyboardInterrupt  # the instance dies right after the commit

    with monkeypatch.context() as patched:
        patched.setattr(operator_module.CampaignOperator, "broadcast", crash)
        with pytest.raises(KeyboardInterrupt):
            operate(engine, config(chain), signer)
    assert len(sends(engine)) == 1 and not chain.platform.has_campaign(proposal.int)
    report = operate(engine, config(chain), signer)
    assert (report.resent, report.sent) == (1, 0)
    assert chain.platform.has_campaign(proposal.int)
    assert len(sends(engine)) == 1


def test_a_stuck_transaction_is_replaced_at_its_nonce_with_higher_fees(chain, engine, signer):
    proposal = published(engine, chain)
    chain.rpc.call("evm_setAutomine", False)
    try:
        assert operate(engine, config(chain), signer).sent == 1
        later = datetime.now(UTC) + timedelta(minutes=10)
        assert operate(engine, config(chain), signer, now=lambda: later).replaced == 1
    finally:
        chain.rpc.call("evm_setAutomine", True)
    chain.rpc.call("anvil_mine", "0x1")
    first, second = sends(engine)
    assert first.nonce == second.nonce
    assert second.priority_fee_per_gas * 10 > first.priority_fee_per_gas * 11
    assert second.max_fee_per_gas * 10 > first.max_fee_per_gas * 11
    assert chain.platform.has_campaign(proposal.int)
    receipt = chain.rpc.call("eth_getTransactionReceipt", second.tx_hash)
    assert receipt is not None and int(receipt["status"], 16) == 1
    assert chain.rpc.call("eth_getTransactionReceipt", first.tx_hash) is None  # replaced, never mined
    assert operate(engine, config(chain), signer).opened == 1


def test_concurrent_runs_never_share_a_nonce(chain, engine, signer):
    proposals = [published(engine, chain) for _ in range(6)]
    reports = []
    threads = [threading.Thread(target=lambda: reports.append(operate(engine, config(chain), signer)))
               for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for _ in range(5):  # a run that found the lock taken did nothing; the next one does it
        if sum(r.sent for r in reports) >= len(proposals):
            break
        reports.append(operate(engine, config(chain), signer))
    assert [f for r in reports for f in r.failed] == [] and sum(r.locked for r in reports) >= 1
    nonces = [send.nonce for send in sends(engine)]
    assert len(nonces) == len(set(nonces)) == len(proposals)
    assert all(chain.platform.has_campaign(p.int) for p in proposals)


class KmsStandIn:
    """Cloud KMS's getPublicKey and asymmetricSign for one EC_SIGN_SECP256K1_SHA256 key version."""

    def __init__(self, private_key_hex: str) -> None:
        from cryptography.hazmat.primitives.asymmetric import ec

        self.key = ec.derive_private_key(int(private_key_hex, 16), ec.SECP256K1())
        self.name = "projects/p/locations/global/keyRings/r/cryptoKeys/operator/cryptoKeyVersions/1"
        self.high_s_seen = 0

    def __call__(self, method: str, url: str, body):
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec, utils

        if method == "GET" and url.endswith(f"/{self.name}/publicKey"):
            pem = self.key.public_key().public_bytes(serialization.Encoding.PEM,
                                                     serialization.PublicFormat.SubjectPublicKeyInfo)
            return {"pem": pem.decode(), "algorithm": "EC_SIGN_SECP256K1_SHA256"}
        assert method == "POST" and url.endswith(f"/{self.name}:asymmetricSign")
        digest = base64.b64decode(body["digest"]["sha256"])
        signature = self.key.sign(digest, ec.ECDSA(utils.Prehashed(hashes.SHA256())))
        self.high_s_seen += utils.decode_dss_signature(signature)[1] > SECP256K1_N // 2
        return {"signature": base64.b64encode(signature).decode()}


def test_the_kms_signer_signs_what_the_chain_accepts(chain, engine):
    kms = KmsStandIn(ANVIL_OPERATOR_KEY)
    signer = KmsSigner(kms.name, endpoint="https://kms.invalid/v1", http=kms)
    assert signer.address == KeySigner(ANVIL_OPERATOR_KEY).address == chain.accounts[0]
    proposals = [published(engine, chain) for _ in range(4)]
    assert operate(engine, config(chain), signer).sent == 4
    assert all(chain.platform.has_campaign(p.int) for p in proposals)
    # KMS returns high-s half of the time; Ethereum takes only low-s: each was flipped and its v
    # found, and eth-account (not our code) recovers the operator from every signed transaction.
    for nonce in range(12):
        raw, _ = sign_transaction(signer, {"chainId": 31337, "nonce": nonce, "to": chain.accounts[2], "value": 1,
                                           "data": "0x", "gas": 21_000, "maxFeePerGas": 10**9,
                                           "maxPriorityFeePerGas": 1})
        assert Account.recover_transaction(raw) == signer.address
        v, _, s = signer.sign_digest(uuid.uuid4().bytes * 2)
        assert s <= SECP256K1_N // 2 and v in (0, 1)
    assert kms.high_s_seen > 0


def test_a_nonce_whose_proposal_was_cancelled_is_filled_so_the_next_ones_go_through(chain, engine, signer,
                                                                                  monkeypatch):
    """A recorded transaction never reached the node and its proposal was cancelled meanwhile:
    its nonce is taken by a 0-value transfer to itself, or every later campaign would wait."""
    first = published(engine, chain)

    def crash(self, raw, strict=False):
        raise KeyboardInterrupt

    with monkeypatch.context() as patched:
        patched.setattr(operator_module.CampaignOperator, "broadcast", crash)
        with pytest.raises(KeyboardInterrupt):
            operate(engine, config(chain), signer)
    with engine.begin() as conn:
        conn.execute(text("UPDATE proposals SET status = 'cancelled' WHERE id = :id"), {"id": first})
    second = published(engine, chain)
    report = operate(engine, config(chain), signer)
    assert (report.filled, report.sent, report.failed) == (1, 1, [])
    filler, opened = sends(engine)[1:]
    assert (filler.proposal_id, opened.proposal_id, opened.nonce) == (first, second, filler.nonce + 1)
    assert chain.platform.has_campaign(second.int) and not chain.platform.has_campaign(first.int)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT purpose FROM campaign_sends WHERE tx_hash = :tx"),
                            {"tx": filler.tx_hash}).scalar() == "filler"
    used = int(chain.rpc.call("eth_getTransactionCount", signer.address, "latest"), 16)
    assert used == opened.nonce + 1  # no gap left behind


def test_a_recorded_transaction_the_node_refuses_is_signed_again_with_todays_fees(chain, engine, signer,
                                                                                monkeypatch):
    proposal = published(engine, chain)
    with monkeypatch.context() as patched:  # fees far under the base fee: the node refuses it
        patched.setattr(operator_module.CampaignOperator, "fees", lambda self: (1, 1))
        refused = operate(engine, config(chain), signer)
    assert refused.sent == 0 and len(refused.failed) == 1 and len(sends(engine)) == 1
    report = operate(engine, config(chain), signer)
    assert (report.replaced, report.failed) == (1, [])
    first, second = sends(engine)
    assert first.nonce == second.nonce and second.max_fee_per_gas > 1
    assert chain.platform.has_campaign(proposal.int)


def test_a_node_that_times_out_for_one_proposal_does_not_stop_the_others(chain, engine, signer, monkeypatch):
    slow, fine = published(engine, chain), published(engine, chain)
    real = operator_module.CampaignOperator.broadcast
    calls = []

    def flaky(self, raw, strict=False):
        calls.append(raw)
        if len(calls) == 1:
            raise RpcUnavailable("the node timed out", timeout=True)
        return real(self, raw, strict=strict)

    with monkeypatch.context() as patched:
        patched.setattr(operator_module.CampaignOperator, "broadcast", flaky)
        report = operate(engine, config(chain), signer)
    assert report.sent == 1 and len(report.failed) == 1 and "RpcUnavailable" in report.failed[0]
    again = operate(engine, config(chain), signer)  # the recorded one is sent as it was
    assert (again.resent, again.failed) == (1, [])
    assert chain.platform.has_campaign(slow.int) and chain.platform.has_campaign(fine.int)
