"""The chain indexer: one tick follows each configured chain from its checkpoint
to head - confirmations, range by range, and stops before its time budget.

Per range: read the bounding headers, eth_getLogs, then the headers of every
block that has logs and of the range end again (one JSON-RPC batch). The range
is committed only if it continues the checkpoint (parent hash), every log's block
hash is the node's, and the range end did not change while the logs were read;
otherwise the chain moved under us and the tick looks for the common ancestor.

Reorg handling: the stored hashes of recent blocks are compared with the node's,
newest first; the newest that still matches is the common ancestor, everything
after it is rolled back (events and their derived rows) and indexed again. A
node whose head is behind the checkpoint (lagging, or another node behind a load
balancer) is waited for, never taken for a reorg.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from shared.chain.abi import checksum
from shared.chain.events import artwork_specs, funding_specs, market_specs
from shared.chain.ranges import RangePolicy
from shared.chain.rows import EventSource, copy_lines, sources_for
from shared.chain.rpc import (
    QUANTITY,
    JsonRpc,
    MalformedAnswer,
    RpcError,
    RpcUnavailable,
    hex_int,
    well_formed_header,
    well_formed_logs,
)
from shared.chain.store import (
    Block,
    Checkpoint,
    Follow,
    load_checkpoint,
    recent_blocks,
    record_tick,
    roll_back,
    store_range,
    try_lock,
    unlock,
)
from shared.redact import redact
from shared.threads import fast_thread_switches, no_cycle_collection

if TYPE_CHECKING:
    from concurrent.futures import Future

    from sqlalchemy import Connection, Engine

    from shared.config import ChainConfig

logger = logging.getLogger(__name__)


class ChainMoved(Exception):
    """The node's chain changed while a range was read: find the common ancestor."""


class NodeBehind(Exception):
    """The node does not have blocks the indexer already has: wait for it."""


@dataclass
class TickReport:
    chain_id: int
    locked: bool = True
    checkpoint: int | None = None
    head: int | None = None
    events: int = 0
    ranges: int = 0
    reorgs: int = 0
    stopped: str = "caught-up"
    errors: list[str] = field(default_factory=list)


@dataclass
class Contracts:
    """What to ask eth_getLogs for, and how to decode what comes back."""

    funding: str | None
    artwork: str | None
    market: str | None
    sources: dict[tuple[str, str], EventSource]

    @classmethod
    def of(cls, chain: ChainConfig) -> Contracts:
        funding, artwork, market = (checksum(address) if address else None for address in
                                    (chain.funding_contract, chain.artwork_contract, chain.market_contract))
        return cls(funding, artwork, market, sources_for([(funding, funding_specs(), True),
                                                          (artwork, artwork_specs(), False),
                                                          (market, market_specs(), False)]))

    def log_filter(self, first: int, last: int) -> dict[str, Any]:
        addresses = sorted({address for address, _ in self.sources})
        topics = sorted({topic0 for _, topic0 in self.sources})
        return {"fromBlock": hex(first), "toBlock": hex(last), "address": addresses, "topics": [topics]}


def _header_calls(numbers: Sequence[int]) -> list[tuple[str, list[Any]]]:
    return [("eth_getBlockByNumber", [hex(number), False]) for number in numbers]


@dataclass
class ChainIndexer:
    conn: Connection
    chain: ChainConfig
    rpc: JsonRpc
    deadline: float
    clock: Callable[[], float] = time.monotonic
    follow: Follow | None = None

    def __post_init__(self) -> None:
        self.contracts = Contracts.of(self.chain)
        self.report = TickReport(self.chain.chain_id)
        self.writer = Writer(self._stored)

    def _stored(self, inserted: int) -> None:
        self.report.events += inserted

    # -- node reads -------------------------------------------------------------

    def headers(self, numbers: Sequence[int]) -> dict[int, dict[str, Any]]:
        """Headers by number, in batches; NodeBehind if the node lacks any of them."""
        found: dict[int, dict[str, Any]] = {}
        unique = sorted(set(numbers))
        size = self.chain.rpc_batch_size
        for start in range(0, len(unique), size):
            chunk = unique[start:start + size]
            for number, header in zip(chunk, self.rpc.batch(_header_calls(chunk)), strict=True):
                if header is None:
                    raise NodeBehind(f"the node has no block {number}")
                found[number] = well_formed_header(header)
        return found

    def head(self) -> int:
        number = self.rpc.call("eth_blockNumber")
        if not isinstance(number, str) or not QUANTITY.fullmatch(number):
            raise MalformedAnswer("the node answered eth_blockNumber with a malformed number")
        return hex_int(number)

    # -- the tick ---------------------------------------------------------------

    def run(self) -> TickReport:
        with no_cycle_collection():
            return self._run()

    def _run(self) -> TickReport:
        chain_id = self.chain.chain_id
        with self.conn.begin():
            checkpoint = load_checkpoint(self.conn, chain_id, self.chain.start_block)
        policy = RangePolicy(checkpoint.range_size or self.chain.initial_range, self.chain.max_range)
        head: int | None = None
        try:
            head = self.head()
            checkpoint = self.verify_tip(checkpoint, head)
            last_range_seconds = 0.0
            while True:
                target = head - self.chain.confirmations
                if checkpoint.number >= target:
                    head = self.head()
                    if checkpoint.number >= head - self.chain.confirmations:
                        self.report.stopped = "caught-up"
                        break
                    continue
                if self.clock() + 1.5 * last_range_seconds > self.deadline:
                    self.report.stopped = "budget"
                    break
                started = self.clock()
                first = checkpoint.number + 1
                last = min(target, first + policy.size - 1)
                try:
                    checkpoint = self.index_range(checkpoint, first, last, policy, head)
                except ChainMoved as moved:
                    logger.warning("chain moved while reading", extra={"chain_id": chain_id, "reason": str(moved)})
                    self.writer.wait()
                    checkpoint = self.recover(checkpoint)
                    head = self.head()
                last_range_seconds = self.clock() - started
        except NodeBehind as behind:
            self.report.stopped = "node-behind"
            logger.warning("waiting for a lagging node", extra={"chain_id": chain_id, "reason": str(behind)})
        except (RpcError, RpcUnavailable) as error:
            self.report.stopped = "rpc-error"
            self.report.errors.append(redact(str(error)))  # stored and served: no URL beyond its origin
            logger.error("chain node failed", extra={"chain_id": chain_id, "error": self.report.errors[-1]})
        except Exception as error:  # ours, not the node's: recorded for the status page, then raised
            self.report.stopped = "error"
            self.report.errors.append(redact(f"{type(error).__name__}: {error}"))
            raise
        finally:
            # Every submitted range is committed (or its failure raised) before the tick ends.
            self.writer.close()
            self.report.checkpoint = checkpoint.number
            self.report.head = head
            with self.conn.begin():
                record_tick(self.conn, chain_id, head, self.report.errors[-1] if self.report.errors else None)
        return self.report

    def verify_tip(self, checkpoint: Checkpoint, head: int) -> Checkpoint:
        """Is the block we stopped at still the node's? (A reorg may have come while we were away.)"""
        if checkpoint.hash is None:
            return checkpoint
        if head < checkpoint.number:
            raise NodeBehind(f"head {head} is behind the checkpoint {checkpoint.number}")
        tip = self.headers([checkpoint.number])[checkpoint.number]
        return checkpoint if tip["hash"] == checkpoint.hash else self.recover(checkpoint)

    def index_range(self, checkpoint: Checkpoint, first: int, last: int, policy: RangePolicy,
                    head: int) -> Checkpoint:
        bounds = self.headers([first, last])
        if checkpoint.hash is not None and bounds[first]["parentHash"] != checkpoint.hash:
            raise ChainMoved(f"block {first} does not continue the checkpoint {checkpoint.number}")
        try:
            logs = well_formed_logs(self.rpc.call("eth_getLogs", self.contracts.log_filter(first, last)))
        except (RpcError, RpcUnavailable) as error:
            if isinstance(error, RpcUnavailable) and not error.timeout:
                raise
            span = last - first + 1
            if span == 1:
                raise
            size = policy.shrink(str(error), span)
            logger.info("block range shrunk", extra={"chain_id": self.chain.chain_id, "span": span, "size": size,
                                                     "reason": str(error)[:200]})
            return checkpoint
        log_blocks = {hex_int(log["blockNumber"]) for log in logs}
        # Every block a reorg within the window could replace keeps its hash, whatever the range's
        # width: recover() walks them back to the common ancestor. (Kept before: only the first,
        # the last and blocks with logs, so after a wide quiet range a reorg of depth 1 found no
        # ancestor and re-indexed from the start block.) Far behind the head this is no block.
        tail = set(range(max(first, head - self.chain.reorg_window + 1), last + 1))
        # (A kept hash from another fork only makes recover() walk further back: it never matches.)
        after = self.headers(sorted(log_blocks | tail | {last}))
        if after[last]["hash"] != bounds[last]["hash"]:
            raise ChainMoved(f"block {last} changed while its logs were read")
        for log in logs:
            if after[hex_int(log["blockNumber"])]["hash"] != log["blockHash"]:
                raise ChainMoved(f"a log of block {hex_int(log['blockNumber'])} is from another fork")
        times = {number: _iso(after[number]["timestamp"]) for number in log_blocks}
        size = policy.adapt(last - first + 1, len(logs), self.chain.max_events_per_range)
        after[first] = bounds[first]
        done = checkpoint
        for chunk_logs, chunk_last in _chunks(logs, last, self.chain.max_events_per_range):
            batch = copy_lines(self.chain.chain_id, self.contracts.sources, chunk_logs, times, epoch=checkpoint.epoch)
            numbers = {hex_int(log["blockNumber"]) for log in chunk_logs} | {chunk_last}
            numbers |= {number for number in tail if done.number < number <= chunk_last}
            if done is checkpoint:
                numbers.add(first)
            blocks = [Block(n, after[n]["hash"], after[n]["parentHash"], _iso(after[n]["timestamp"]))
                      for n in sorted(numbers)]
            chunk_first, done = done.number + 1, Checkpoint(chunk_last, after[chunk_last]["hash"], size,
                                                               checkpoint.epoch)
            self.writer.submit(store_range, self.conn, self.chain.chain_id, batch, chunk_first, blocks, done,
                               contracts=self.contracts,
                               keep_blocks=self.chain.reorg_window, follow=self.follow)
        self.report.ranges += 1
        return done

    def recover(self, checkpoint: Checkpoint) -> Checkpoint:
        """Roll back to the newest stored block the node still has; re-index from there."""
        head = self.head()
        if head < checkpoint.number:
            raise NodeBehind(f"head {head} is behind the checkpoint {checkpoint.number}")
        with self.conn.begin():
            stored = recent_blocks(self.conn, self.chain.chain_id, self.chain.reorg_window + 1)
        ancestor = None
        size = self.chain.rpc_batch_size
        for start in range(0, len(stored), size):
            chunk = stored[start:start + size]
            # headers() raises NodeBehind for a block the node lacks: a lagging node is no reorg.
            answers = self.headers([block.number for block in chunk])
            match = next((block for block in chunk if answers[block.number]["hash"] == block.hash), None)
            if match is not None:
                ancestor = Checkpoint(match.number, match.hash, checkpoint.range_size, checkpoint.epoch + 1)
                break
        if ancestor is None:
            # Deeper than the blocks we keep: nothing stored can be trusted, index again from the start.
            logger.error("reorg deeper than the kept blocks: re-indexing from the start block",
                         extra={"chain_id": self.chain.chain_id})
            ancestor = Checkpoint(self.chain.start_block - 1, None, checkpoint.range_size, checkpoint.epoch + 1)
        if ancestor.number == checkpoint.number and ancestor.hash == checkpoint.hash:
            return checkpoint
        logger.warning("reorg: rolling back", extra={"chain_id": self.chain.chain_id, "from": checkpoint.number,
                                                     "to": ancestor.number})
        roll_back(self.conn, self.chain.chain_id, ancestor, contracts=self.contracts, follow=self.follow)
        self.report.reorgs += 1
        return ancestor


def _chunks(logs: list[dict[str, Any]], last: int, max_events: int) -> Iterator[tuple[list[dict[str, Any]], int]]:
    """The range's logs in commits of about ``max_events``, cut between blocks; each with the block it
    completes (the range's last block for the final one, so that empty stretches are covered too)."""
    start = 0
    while len(logs) - start > max_events:
        cut = start + max_events
        block = logs[cut - 1]["blockNumber"]
        while cut < len(logs) and logs[cut]["blockNumber"] == block:
            cut += 1
        if cut == len(logs):
            break
        yield logs[start:cut], hex_int(block)
        start = cut
    yield logs[start:], last


class Writer:
    """Commits ranges on one background thread, in order, one at a time: the database
    works on one range while this thread decodes the next one and reads the node."""

    def __init__(self, on_done: Callable[[int], None]) -> None:
        from concurrent.futures import ThreadPoolExecutor

        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="indexer-writer")
        self._pending: Future[int] | None = None
        self._on_done = on_done
        # The writer makes a dozen round trips per commit and needs the GIL after each
        # while this thread decodes: at the default switch interval those hand-overs
        # alone cost a third of the throughput.
        self._switches = ExitStack()
        self._switches.enter_context(fast_thread_switches())

    def submit(self, fn: Callable[..., int], *args: Any, **kwargs: Any) -> None:
        self.wait()
        self._pending = self._pool.submit(fn, *args, **kwargs)

    def wait(self) -> None:
        """Until the last submitted commit is done; its failure is raised here."""
        if self._pending is not None:
            pending, self._pending = self._pending, None
            self._on_done(pending.result())

    def close(self) -> None:
        try:
            self.wait()
        finally:
            self._pool.shutdown(wait=True)
            self._switches.close()


def _iso(timestamp: str) -> str:
    return datetime.fromtimestamp(hex_int(timestamp), UTC).isoformat()


def index_chain(engine: Engine, chain: ChainConfig, deadline: float, follow: Follow | None = None) -> TickReport:
    """One tick for one chain, under its advisory lock; another tick holding it means skip.
    ``follow``: what else the stored and removed blocks decide (store.Follow)."""
    with engine.connect() as conn:
        if not try_lock(conn, chain.chain_id):
            logger.info("another tick holds the chain", extra={"chain_id": chain.chain_id})
            return TickReport(chain.chain_id, locked=False, stopped="locked")
        try:
            rpc = JsonRpc(chain.rpc_url, timeout=chain.rpc_timeout_seconds)
            return ChainIndexer(conn, chain, rpc, deadline, follow=follow).run()
        finally:
            if conn.in_transaction():
                conn.rollback()
            unlock(conn, chain.chain_id)


def tick(budget_seconds: float | None = None, follow: Follow | None = None) -> list[TickReport]:
    """Every configured chain, within the tick's budget."""
    from shared.config import get_settings
    from shared.db import get_engine

    settings = get_settings()
    if not settings.indexer_chains:
        from shared.config import ConfigError

        raise ConfigError("invalid configuration: INDEXER_CHAINS must list at least one chain for this function")
    deadline = time.monotonic() + (budget_seconds or settings.indexer_budget_seconds)
    reports = [index_chain(get_engine(), chain, deadline, follow) for chain in settings.indexer_chains]
    for report in reports:
        lag = report.head - report.checkpoint if report.head is not None and report.checkpoint is not None else None
        logger.info("indexer tick", extra={"report": report.__dict__, "chain_id": report.chain_id, "lag_blocks": lag})
    if any(report.events or report.reorgs for report in reports):
        _announce(deadline)
    return reports


def _announce(deadline: float) -> None:
    """Publish the new chain events now rather than at the outbox-relay's next sweep
    (the graph should not wait a minute); whatever is left, the relay publishes."""
    from datetime import timedelta

    from shared.events.outbox import relay
    from shared.events.pubsub import get_publisher

    remaining = deadline - time.monotonic()
    if remaining > 1:
        relay(get_publisher, min_age=timedelta(0), budget_seconds=min(remaining, 10.0))
