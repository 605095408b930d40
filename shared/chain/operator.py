"""The campaign operator: opens the on-chain campaign of each published ETH proposal.

Each run (a scheduler tick) works on the platform's funding chain (CHAIN_ID) under one
advisory lock per chain, so concurrent instances never pick the same nonce. Nonces belong
to the one sending account, so a run first keeps every nonce it has handed out alive,
lowest first (a gap would hold every later transaction back for ever):

* a recorded transaction the node does not know (a crash between recording and sending,
  dropped from the mempool) is sent again; if the node refuses it (fees too low since), it
  is signed again at the same nonce with today's fees;
* one whose proposal no longer wants its campaign (cancelled, opened another way) is
  replaced by a filler: a 0-value transfer to itself at the same nonce;
* the lowest one, pending longer than ``stuck_after``, is replaced at its nonce with fees up
  by an eighth, never above ``MAX_FEE_MULTIPLE`` times what the network asks now.

Then each open ETH proposal whose campaign the indexer has not seen is settled: on chain
already, or opened by a mined transaction of ours -> nothing to do; reverted -> left for a
person (logged at ERROR, never retried); a transaction of ours outstanding -> the nonce
pass has it; none -> sign one, record it (committed, with the proposal's row locked and
still open, so an artist's cancel and the send never cross) and only then send it.
Recording before sending makes every crash safe. Proposals whose artist has linked no
wallet wait until one is linked.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import text

from shared.chain.abi import checksum, encode_call
from shared.chain.rpc import RpcError, RpcUnavailable, hex_int
from shared.chain.signing import SigningError, sign_transaction
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
# A replacement never offers more than this many times what the network asks now: a
# transaction stuck behind something else must not bid its fees up without end.
MAX_FEE_MULTIPLE = 4
FILLER_GAS = 21_000
# What a node says of a raw transaction it already has, or whose nonce is spent: not an error.
_BENIGN = ("already known", "already imported", "nonce too low", "known transaction")
# Errors of one proposal's turn; the others still get theirs.
TURN_ERRORS = (RpcError, RpcUnavailable, SigningError)

_PENDING = text("""
    SELECT p.id, p.goal, p.deadline, u.wallet_address FROM proposals p JOIN users u ON u.id = p.owner_id
     WHERE p.status = 'open' AND p.currency = 'ETH' AND p.deadline > :not_before
       AND u.wallet_address IS NOT NULL AND u.deleted_at IS NULL
       AND NOT EXISTS (SELECT 1 FROM web3_transactions w WHERE w.proposal_id = p.id AND w.chain_id = :chain
                       AND w.contract = :funding AND w.event = 'CampaignOpened')
       AND NOT EXISTS (SELECT 1 FROM campaign_sends s WHERE s.proposal_id = p.id AND s.chain_id = :chain
                       AND s.reverted_at IS NOT NULL)
     ORDER BY p.published_at NULLS FIRST, p.id
     LIMIT :limit
""")
_SENDS = text("SELECT tx_hash, nonce, purpose FROM campaign_sends WHERE proposal_id = :proposal AND chain_id = :chain "
              "ORDER BY sent_at DESC, nonce DESC")
# The newest transaction of each nonce not yet mined, lowest nonce first, with its proposal's wish.
_OUTSTANDING = text("""
    SELECT DISTINCT ON (s.nonce) s.tx_hash, s.proposal_id, s.nonce, s.purpose, s.raw, s.max_fee_per_gas,
           s.priority_fee_per_gas, s.sent_at, p.status, p.currency, p.goal, p.deadline, u.wallet_address
      FROM campaign_sends s JOIN proposals p ON p.id = s.proposal_id JOIN users u ON u.id = p.owner_id
     WHERE s.chain_id = :chain AND s.sender = :sender AND s.nonce >= :used
     ORDER BY s.nonce, s.sent_at DESC
""")
_RECORD = text("""
    INSERT INTO campaign_sends (tx_hash, proposal_id, chain_id, sender, nonce, max_fee_per_gas,
                                priority_fee_per_gas, raw, purpose, sent_at)
    VALUES (:tx_hash, :proposal, :chain, :sender, :nonce, :max_fee, :priority_fee, :raw, :purpose, :sent_at)
""")
_HIGHEST_NONCE = text("SELECT max(nonce) FROM campaign_sends WHERE chain_id = :chain AND sender = :sender")
_STILL_OPEN = text("SELECT status = 'open' FROM proposals WHERE id = :id FOR UPDATE")


@dataclass
class OperatorReport:
    chain_id: int
    locked: bool = True
    opened: int = 0  # found open on chain
    sent: int = 0
    resent: int = 0
    replaced: int = 0
    filled: int = 0
    waiting: int = 0
    failed: list[str] = field(default_factory=list)


def bumped(old: int, floor: int) -> int:
    """A replacement's fee: above the old one by an eighth, and at least what the network asks."""
    return max(floor, old * BUMP_NUMERATOR // BUMP_DENOMINATOR + 1)


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
        answer = self.rpc.call("eth_call", {"to": self.funding, "data": encode_call(CAMPAIGNS, proposal_id.int)},
                               "latest")
        return int(answer[2:66] or "0", 16) != 0  # the first word is the artist; zero: no campaign

    def fees(self) -> tuple[int, int]:
        """(max fee, priority fee) per gas: twice the base fee plus the node's suggested tip."""
        base = hex_int(self.rpc.call("eth_getBlockByNumber", "latest", False).get("baseFeePerGas", "0x0"))
        priority = hex_int(self.rpc.call("eth_maxPriorityFeePerGas"))
        return 2 * base + priority, priority

    def _failed(self, what: str, error: Exception, **extra: str) -> None:
        self.report.failed.append(redact(f"{what}: {type(error).__name__}: {error}"))
        logger.error("campaign operator step failed", extra={"step": what, "error": redact(str(error)), **extra})

    # -- one run ------------------------------------------------------------------

    def run(self, limit: int = 50) -> OperatorReport:
        used = hex_int(self.rpc.call("eth_getTransactionCount", self.sender, "latest"))
        with self.conn.begin():
            outstanding = self.conn.execute(_OUTSTANDING, {"chain": self.chain_id, "sender": self.sender,
                                                           "used": used}).all()
        for send in outstanding:
            try:
                self.keep_alive(send, executable=send.nonce == used)
            except TURN_ERRORS as error:
                self._failed(f"nonce {send.nonce}", error, tx=send.tx_hash)
        held = {send.proposal_id for send in outstanding if send.purpose == "open"}
        with self.conn.begin():
            pending = self.conn.execute(_PENDING, {"not_before": self.now() + MIN_TIME_LEFT, "chain": self.chain_id,
                                                   "funding": self.funding, "limit": limit}).all()
        for row in pending:
            try:
                self.settle(row, used, held)
            except TURN_ERRORS as error:
                self._failed(str(row.id), error, proposal_id=str(row.id))
        return self.report

    def keep_alive(self, send: Any, *, executable: bool) -> None:
        """One handed-out nonce: sent again, re-signed, bumped or filled, so later ones can follow."""
        # What this nonce should carry now: the campaign while its proposal still wants it, else a filler.
        wanted = (send.purpose == "open" and send.status == "open" and send.currency == "ETH"
                  and send.wallet_address is not None and not self.campaign_exists(send.proposal_id))
        as_recorded = send.purpose == ("open" if wanted else "filler")
        known = self.rpc.call("eth_getTransactionByHash", send.tx_hash) is not None
        stuck = executable and self.now() - send.sent_at > self.stuck_after
        if known and as_recorded and not stuck:
            self.report.waiting += 1
            return
        if not known and as_recorded and self.broadcast(send.raw):
            self.report.resent += 1  # the recorded transaction, as it was: nothing else changes
            return
        # Signed again at this nonce: refused as it was, stuck, or no longer wanted (a filler).
        max_fee, priority = self.fees()
        if known:  # a replacement of what the node holds: it must pay more
            cap = MAX_FEE_MULTIPLE * max_fee
            priority = bumped(int(send.priority_fee_per_gas), priority)
            max_fee = max(bumped(int(send.max_fee_per_gas), max_fee), priority)
            if max_fee > cap:
                logger.warning("not bidding higher for a stuck nonce", extra={"nonce": send.nonce, "tx": send.tx_hash})
                self.report.waiting += 1
                return
        else:
            max_fee = max(max_fee, int(send.max_fee_per_gas))
            priority = min(max(priority, int(send.priority_fee_per_gas)), max_fee)
        if wanted:
            self.send(send, send.nonce, max_fee, priority)
            self.report.replaced += 1
        else:
            self.send(send, send.nonce, max_fee, priority, filler=True)
            self.report.filled += 1

    def settle(self, row: Any, used: int, held: set[uuid.UUID]) -> None:
        if self.campaign_exists(row.id):
            self.report.opened += 1
            return
        if row.id in held:  # its transaction is outstanding: the nonce pass looks after it
            self.report.waiting += 1
            return
        with self.conn.begin():
            sends = self.conn.execute(_SENDS, {"proposal": row.id, "chain": self.chain_id}).all()
        for send in sends:
            if send.purpose != "open" or send.nonce >= used:
                continue
            receipt = self.rpc.call("eth_getTransactionReceipt", send.tx_hash)
            if receipt is None:
                continue  # replaced by another transaction of that nonce
            if hex_int(receipt["status"]) == 1:
                self.report.waiting += 1  # mined; the campaign shows once the node's state has it
                return
            # Not CampaignExists (checked above): the terms were refused; a person must look.
            with self.conn.begin():
                self.conn.execute(text("UPDATE campaign_sends SET reverted_at = now() WHERE tx_hash = :tx"),
                                  {"tx": send.tx_hash})
            self.report.failed.append(f"{row.id}: openCampaign reverted in {send.tx_hash}")
            logger.error("openCampaign reverted", extra={"proposal_id": str(row.id), "tx": send.tx_hash})
            return
        max_fee, priority = self.fees()
        if self.send(row, self.next_nonce(), max_fee, priority, proposal_id=row.id):
            self.report.sent += 1

    def next_nonce(self) -> int:
        pending = hex_int(self.rpc.call("eth_getTransactionCount", self.sender, "pending"))
        with self.conn.begin():
            highest = self.conn.execute(_HIGHEST_NONCE, {"chain": self.chain_id, "sender": self.sender}).scalar()
        return max(pending, highest + 1 if highest is not None else 0)

    def send(self, row: Any, nonce: int, max_fee: int, priority: int, *, filler: bool = False,
             proposal_id: uuid.UUID | None = None) -> bool:
        """Sign, record (committed) and send; False if the proposal stopped being open meanwhile."""
        proposal = proposal_id or row.proposal_id
        if filler:
            transaction = {"to": self.sender, "data": "0x", "gas": FILLER_GAS}
        else:
            data = encode_call(OPEN_CAMPAIGN, proposal.int, checksum(row.wallet_address), int(row.goal),
                               int(row.deadline.timestamp()))
            # Against the mined state: a pending transaction of ours (one replaced) would make it
            # revert with CampaignExists. A revert here is raised: nothing is sent.
            estimate = self.rpc.call("eth_estimateGas", {"from": self.sender, "to": self.funding, "data": data}, "latest")
            transaction = {"to": self.funding, "data": data, "gas": hex_int(estimate) * 5 // 4}
        raw, tx_hash = sign_transaction(self.signer, {
            "chainId": self.chain_id, "nonce": nonce, "value": 0, "maxFeePerGas": max_fee,
            "maxPriorityFeePerGas": priority, **transaction})
        with self.conn.begin():  # recorded before it is sent: a crash in between is found next run
            if not filler and not self.conn.execute(_STILL_OPEN, {"id": proposal}).scalar():
                return False  # cancelled meanwhile: the row lock orders us after the artist
            self.conn.execute(_RECORD, {"tx_hash": tx_hash, "proposal": proposal, "chain": self.chain_id,
                                        "sender": self.sender, "nonce": nonce, "max_fee": max_fee,
                                        "priority_fee": priority, "raw": raw, "sent_at": self.now(),
                                        "purpose": "filler" if filler else "open"})
        self.broadcast(raw, strict=True)
        logger.info("campaign transaction sent", extra={"proposal_id": str(proposal), "tx": tx_hash, "nonce": nonce,
                                                        "filler": filler})
        return True

    def broadcast(self, raw: str, *, strict: bool = False) -> bool:
        """Send a signed transaction; True if the node has it (or its nonce is spent). A refusal
        is raised when ``strict``, else False (the caller signs it again)."""
        try:
            self.rpc.call("eth_sendRawTransaction", raw)
        except RpcError as error:
            message = error.message.lower()
            if any(benign in message for benign in _BENIGN):
                return True
            if strict:
                raise
            logger.info("raw transaction refused", extra={"reason": redact(error.message[:200])})
            return False
        return True


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


def run_all() -> list[OperatorReport]:
    """The function's run: the platform's funding chain (CHAIN_ID). Campaigns are opened on that
    chain only, so that each proposal has one chain whose verdicts it follows (decision 0025)."""
    from shared.config import ConfigError, get_settings
    from shared.db import get_engine

    settings = get_settings()
    chains = [chain for chain in settings.indexer_chains if chain.chain_id == settings.chain_id]
    if not chains or not chains[0].funding_contract:
        raise ConfigError("invalid configuration: INDEXER_CHAINS must name CHAIN_ID's chain with its funding_contract")
    signer = signer_from_settings()
    reports = []
    try:
        reports.append(operate(get_engine(), chains[0], signer))
    except TURN_ERRORS as error:  # the node or KMS down for the whole run: said, and tried next tick
        report = OperatorReport(chains[0].chain_id)
        report.failed.append(redact(f"{type(error).__name__}: {error}"))
        reports.append(report)
    for report in reports:
        # A failed proposal is logged at ERROR (the alert) and tried again next tick: raising would
        # only park the tick itself in the dead-letter topic, and ticks carry nothing to replay.
        log = logger.error if report.failed else logger.info
        log("campaign operator run", extra={"report": report.__dict__, "chain_id": report.chain_id})
    return reports
