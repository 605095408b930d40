"""The campaign operator: opens the on-chain campaign of each published ETH proposal.

Each run (a scheduler tick) takes the open ETH proposals whose campaign the indexer has
not seen yet and settles each one against the chain, under one advisory lock per chain
(so concurrent instances never pick the same nonce):

* the campaign exists on chain -> nothing to do (the indexer records CampaignOpened);
* a transaction we sent for it was mined -> nothing to do (or, if it reverted, say why);
* one is pending -> wait; unknown to the node (a crash between recording and sending, or
  dropped from the mempool) -> send the recorded raw transaction again; pending longer
  than ``stuck_after`` -> replace it at the same nonce with fees raised by an eighth;
* none -> sign a new one, record it (committed) and only then send it.

Recording before sending makes every crash safe: the next run finds the transaction. The
nonce is the node's pending count, or one past the highest we recorded that the chain has
not used yet if that is higher (a recorded transaction the node has not seen holds its
place). Proposals whose artist has linked no wallet wait until one is linked.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import text

from shared.chain.abi import checksum, keccak
from shared.chain.rpc import RpcError, hex_int
from shared.chain.signing import sign_transaction
from shared.redact import redact

if TYPE_CHECKING:
    import uuid

    from sqlalchemy import Connection, Engine

    from shared.chain.rpc import JsonRpc
    from shared.chain.signing import Signer
    from shared.config import ChainConfig

logger = logging.getLogger(__name__)

LOCK_NAMESPACE = 0x6B6F  # "ko": the operator's advisory locks, one per chain
OPEN_CAMPAIGN = "openCampaign(uint256,address,uint256,uint64)"
CAMPAIGNS = "campaigns(uint256)"
# A campaign opened this close to its deadline could not be funded: leave it.
MIN_TIME_LEFT = timedelta(minutes=5)
# Replacement transactions must pay at least 10% more (geth's rule); an eighth clears it.
BUMP_NUMERATOR, BUMP_DENOMINATOR = 9, 8

_PENDING = text("""
    SELECT p.id, p.goal, p.deadline, u.wallet_address FROM proposals p JOIN users u ON u.id = p.owner_id
     WHERE p.status = 'open' AND p.currency = 'ETH' AND p.deadline > :not_before
       AND u.wallet_address IS NOT NULL AND u.deleted_at IS NULL
       AND NOT EXISTS (SELECT 1 FROM web3_transactions w WHERE w.proposal_id = p.id AND w.chain_id = :chain
                       AND w.contract = :funding AND w.event = 'CampaignOpened')
     ORDER BY p.published_at NULLS FIRST, p.id
     LIMIT :limit
""")
_SENDS = text("SELECT tx_hash, nonce, raw, max_fee_per_gas, priority_fee_per_gas, sent_at FROM campaign_sends "
              "WHERE proposal_id = :proposal AND chain_id = :chain ORDER BY sent_at DESC, nonce DESC")
_RECORD = text("""
    INSERT INTO campaign_sends (tx_hash, proposal_id, chain_id, sender, nonce, max_fee_per_gas,
                                priority_fee_per_gas, raw, sent_at)
    VALUES (:tx_hash, :proposal, :chain, :sender, :nonce, :max_fee, :priority_fee, :raw, :sent_at)
""")
_HIGHEST_NONCE = text("SELECT max(nonce) FROM campaign_sends WHERE chain_id = :chain AND sender = :sender")


@dataclass
class OperatorReport:
    chain_id: int
    locked: bool = True
    opened: int = 0  # found open on chain
    sent: int = 0
    resent: int = 0
    replaced: int = 0
    waiting: int = 0
    failed: list[str] = field(default_factory=list)


def _selector(signature: str) -> bytes:
    return keccak(signature.encode())[:4]


def open_campaign_data(proposal_id: uuid.UUID, artist: str, goal: int, deadline: int) -> str:
    from eth_abi import encode

    return "0x" + (_selector(OPEN_CAMPAIGN) + encode(["uint256", "address", "uint256", "uint64"],
                                                      [proposal_id.int, artist, goal, deadline])).hex()


@dataclass
class CampaignOperator:
    conn: Connection
    rpc: JsonRpc
    signer: Signer
    chain_id: int
    funding: str
    stuck_after: timedelta = timedelta(minutes=3)
    now: Any = field(default=lambda: datetime.now(UTC))

    def __post_init__(self) -> None:
        self.funding = checksum(self.funding)
        self.sender = self.signer.address
        self.report = OperatorReport(self.chain_id)

    # -- the chain ----------------------------------------------------------------

    def campaign_exists(self, proposal_id: uuid.UUID) -> bool:
        data = "0x" + (_selector(CAMPAIGNS) + proposal_id.int.to_bytes(32, "big")).hex()
        answer = self.rpc.call("eth_call", {"to": self.funding, "data": data}, "latest")
        return int(answer[2:66] or "0", 16) != 0  # the first word is the artist; zero: no campaign

    def fees(self) -> tuple[int, int]:
        """(max fee, priority fee) per gas: twice the base fee plus the node's suggested tip."""
        base = hex_int(self.rpc.call("eth_getBlockByNumber", "latest", False).get("baseFeePerGas", "0x0"))
        priority = hex_int(self.rpc.call("eth_maxPriorityFeePerGas"))
        return 2 * base + priority, priority

    # -- one run ------------------------------------------------------------------

    def run(self, limit: int = 50) -> OperatorReport:
        with self.conn.begin():
            pending = self.conn.execute(_PENDING, {"not_before": self.now() + MIN_TIME_LEFT, "chain": self.chain_id,
                                                   "funding": self.funding, "limit": limit}).all()
        used = hex_int(self.rpc.call("eth_getTransactionCount", self.sender, "latest"))
        for row in pending:
            try:
                self.settle(row, used)
            except RpcError as error:  # this proposal's turn failed; the others still get theirs
                self.report.failed.append(redact(f"{row.id}: {error}"))
                logger.error("campaign not opened", extra={"proposal_id": str(row.id), "error": redact(str(error))})
        return self.report

    def settle(self, row: Any, used: int) -> None:
        if self.campaign_exists(row.id):
            self.report.opened += 1
            return
        with self.conn.begin():
            sends = self.conn.execute(_SENDS, {"proposal": row.id, "chain": self.chain_id}).all()
        for send in sends:
            receipt = self.rpc.call("eth_getTransactionReceipt", send.tx_hash)
            if receipt is not None:
                if hex_int(receipt["status"]) != 1:
                    # Not CampaignExists (checked above): the terms were refused; a person must look.
                    self.report.failed.append(f"{row.id}: openCampaign reverted in {send.tx_hash}")
                    logger.error("openCampaign reverted", extra={"proposal_id": str(row.id), "tx": send.tx_hash})
                else:
                    self.report.waiting += 1  # mined; the campaign shows once the node's state has it
                return
        latest = sends[0] if sends else None
        if latest is not None and latest.nonce >= used:
            if self.rpc.call("eth_getTransactionByHash", latest.tx_hash) is None:
                self.broadcast(latest.raw)
                self.report.resent += 1
            elif self.now() - latest.sent_at > self.stuck_after:
                self.send(row, latest.nonce, replacing=latest)
                self.report.replaced += 1
            else:
                self.report.waiting += 1
            return
        # No transaction of ours holds a nonce for it (none yet, or its nonce went to another).
        self.send(row, self.next_nonce())
        self.report.sent += 1

    def next_nonce(self) -> int:
        pending = hex_int(self.rpc.call("eth_getTransactionCount", self.sender, "pending"))
        with self.conn.begin():
            highest = self.conn.execute(_HIGHEST_NONCE, {"chain": self.chain_id, "sender": self.sender}).scalar()
        return max(pending, highest + 1 if highest is not None else 0)

    def send(self, row: Any, nonce: int, replacing: Any = None) -> None:
        max_fee, priority = self.fees()
        if replacing is not None:
            priority = max(priority, int(replacing.priority_fee_per_gas) * BUMP_NUMERATOR // BUMP_DENOMINATOR + 1)
            max_fee = max(max_fee, int(replacing.max_fee_per_gas) * BUMP_NUMERATOR // BUMP_DENOMINATOR + 1,
                          priority)
        deadline = int(row.deadline.timestamp())
        call = {"from": self.sender, "to": self.funding,
                "data": open_campaign_data(row.id, checksum(row.wallet_address), int(row.goal), deadline)}
        # Against the mined state: a pending transaction of ours (the one replaced) would make it
        # revert with CampaignExists. A revert here is raised: nothing is sent.
        gas = hex_int(self.rpc.call("eth_estimateGas", call, "latest")) * 5 // 4
        raw, tx_hash = sign_transaction(self.signer, {
            "chainId": self.chain_id, "nonce": nonce, "to": self.funding, "data": call["data"], "value": 0,
            "gas": gas, "maxFeePerGas": max_fee, "maxPriorityFeePerGas": priority})
        with self.conn.begin():  # recorded before it is sent: a crash in between is found next run
            self.conn.execute(_RECORD, {"tx_hash": tx_hash, "proposal": row.id, "chain": self.chain_id,
                                        "sender": self.sender, "nonce": nonce, "max_fee": max_fee,
                                        "priority_fee": priority, "raw": raw, "sent_at": self.now()})
        self.broadcast(raw)
        logger.info("campaign transaction sent", extra={"proposal_id": str(row.id), "tx": tx_hash, "nonce": nonce,
                                                        "replacing": replacing.tx_hash if replacing else None})

    def broadcast(self, raw: str) -> None:
        try:
            self.rpc.call("eth_sendRawTransaction", raw)
        except RpcError as error:
            # Known already, or its nonce is taken (by its own replacement, or mined): the next
            # run reads the outcome from the chain. Anything else is this proposal's failure.
            message = error.message.lower()
            if "already known" in message or "nonce too low" in message or "already imported" in message:
                logger.info("raw transaction not taken", extra={"reason": error.message[:200]})
                return
            raise


def operate(engine: Engine, chain: ChainConfig, signer: Signer, *, stuck_after: timedelta | None = None,
            now: Any = None) -> OperatorReport:
    """One run for one chain under its advisory lock; another run holding it means skip."""
    from shared.chain.rpc import JsonRpc

    if not chain.funding_contract:
        return OperatorReport(chain.chain_id, locked=False)
    with engine.connect() as conn:
        locked = conn.execute(text("SELECT pg_try_advisory_lock(:ns, :chain)"),
                              {"ns": LOCK_NAMESPACE, "chain": chain.chain_id}).scalar_one()
        conn.commit()
        if not locked:
            return OperatorReport(chain.chain_id, locked=False)
        try:
            rpc = JsonRpc(chain.rpc_url, timeout=chain.rpc_timeout_seconds)
            extra: dict[str, Any] = {"stuck_after": stuck_after} if stuck_after else {}
            if now is not None:
                extra["now"] = now
            return CampaignOperator(conn, rpc, signer, chain.chain_id, chain.funding_contract, **extra).run()
        finally:
            if conn.in_transaction():
                conn.rollback()
            conn.execute(text("SELECT pg_advisory_unlock(:ns, :chain)"), {"ns": LOCK_NAMESPACE, "chain": chain.chain_id})
            conn.commit()


def signer_from_settings() -> Signer:
    """Cloud KMS where OPERATOR_KMS_KEY names a key version; the local key otherwise."""
    from shared.chain.signing import KeySigner, KmsSigner
    from shared.config import ConfigError, get_settings

    settings = get_settings()
    if settings.operator_kms_key:
        return KmsSigner(settings.operator_kms_key)
    if settings.operator_private_key:
        return KeySigner(settings.operator_private_key)
    raise ConfigError("invalid configuration: OPERATOR_KMS_KEY (or, locally, OPERATOR_PRIVATE_KEY) must be set")


def run_all(budget_seconds: float = 50.0) -> list[OperatorReport]:
    """The function's run: each configured chain with a funding contract."""
    from shared.config import get_settings
    from shared.db import get_engine

    settings = get_settings()
    signer = signer_from_settings()
    deadline = time.monotonic() + budget_seconds
    reports = []
    for chain in settings.indexer_chains:
        if time.monotonic() > deadline:
            break
        reports.append(operate(get_engine(), chain, signer))
    for report in reports:
        # A failed proposal is logged at ERROR (the alert) and tried again next tick: raising would
        # only park the tick itself in the dead-letter topic, and ticks carry nothing to replay.
        log = logger.error if report.failed else logger.info
        log("campaign operator run", extra={"report": report.__dict__, "chain_id": report.chain_id})
    return reports
