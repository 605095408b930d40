"""The indexer's writes: events in bulk, the rows derived from them, and reorg rollback.

Everything for one block range is one transaction on the connection that holds
the chain's advisory lock: the events, the derived investments, raised totals and
artwork owners, the outbox events, the block hashes and the checkpoint. A crash
at any point leaves either all of it or none of it.

Derived rows change by the delta of the events that were actually inserted
(``ON CONFLICT DO NOTHING ... RETURNING``), so a range delivered twice changes
nothing, and a rollback subtracts exactly what the removed events had added.
"""
from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Protocol

from sqlalchemy import text

from shared.bulk import copy_rows, is_unique_violation
from shared.redact import redact

if TYPE_CHECKING:
    from datetime import datetime

    from sqlalchemy import Connection

    from shared.chain.rows import CopyBatch

# One advisory-lock namespace for the indexer; the second key is the chain id.
LOCK_NAMESPACE = 0x6B6B  # "kk"
# web3_transactions' and outbox's columns, in the order of chain_rows' COPY text.
EVENT_COLUMNS = ("chain_id", "block_number", "block_hash", "block_time", "tx_hash", "log_index", "contract",
                 "event", "args", "amount", "proposal_id")
OUTBOX_COLUMNS = ("event_id", "topic", "type", "occurred_at", "envelope")
FLOW = "('Funded', 'Refunded')"


class Addresses(Protocol):
    """The contracts a chain's index holds (indexer.Contracts)."""

    @property
    def funding(self) -> str | None: ...
    @property
    def artwork(self) -> str | None: ...
    @property
    def market(self) -> str | None: ...


@dataclass(frozen=True)
class Moved:
    """What stored or rolled-back blocks changed, for what follows from them (``Follow``)."""

    chain_id: int
    contracts: Addresses
    first_block: int  # the blocks from here on were stored, or removed
    last_block: int  # the block the index now ends at
    clock: datetime | str | None  # the chain's clock: the time of that block
    proposals: list[uuid.UUID]  # whose events the blocks held


# What else follows from stored or removed blocks, in their transaction. The chain-indexer
# function passes the proposals' lifecycle (shared/proposals/lifecycle.py) and the market's
# sales (shared/market/chain_sales.py); the chain package itself knows neither.
Follow = Callable[["Connection", Moved], object]


def follow_all(*follows: Follow) -> Follow:
    """One Follow that runs each of ``follows`` in turn, in the same transaction."""
    def follow(conn: Connection, moved: Moved) -> None:
        for each in follows:
            each(conn, moved)
    return follow


@dataclass(frozen=True)
class Checkpoint:
    number: int
    hash: str | None
    range_size: int | None = None
    # Rollbacks so far on this chain: part of every announced event's id (rows.event_id).
    epoch: int = 0


@dataclass(frozen=True)
class Block:
    number: int
    hash: str
    parent_hash: str
    time: str | None = None  # ISO 8601


def try_lock(conn: Connection, chain_id: int) -> bool:
    locked = conn.execute(text("SELECT pg_try_advisory_lock(:ns, :chain)"),
                          {"ns": LOCK_NAMESPACE, "chain": chain_id}).scalar_one()
    conn.commit()
    return bool(locked)


def unlock(conn: Connection, chain_id: int) -> None:
    conn.execute(text("SELECT pg_advisory_unlock(:ns, :chain)"), {"ns": LOCK_NAMESPACE, "chain": chain_id})
    conn.commit()


def load_checkpoint(conn: Connection, chain_id: int, start_block: int) -> Checkpoint:
    row = conn.execute(text("SELECT block_number, block_hash, range_size, reorgs FROM indexer_checkpoints "
                            "WHERE chain_id = :chain"), {"chain": chain_id}).one_or_none()
    if row is None:
        conn.execute(text("INSERT INTO indexer_checkpoints (chain_id, block_number) VALUES (:chain, :number) "
                          "ON CONFLICT DO NOTHING"), {"chain": chain_id, "number": start_block - 1})
        return Checkpoint(start_block - 1, None)
    return Checkpoint(*row)


def record_tick(conn: Connection, chain_id: int, head: int | None, error: str | None) -> None:
    """How the tick ended: the head it saw (if the node answered at all) and its error, if any."""
    conn.execute(text("UPDATE indexer_checkpoints SET head_block = coalesce(CAST(:head AS bigint), head_block), "
                      "head_seen_at = CASE WHEN CAST(:head AS bigint) IS NULL THEN head_seen_at ELSE now() END, "
                      "last_error = :error, updated_at = now() WHERE chain_id = :chain"),
                 {"chain": chain_id, "head": head, "error": redact(error)[:2000] if error else None})


def recent_blocks(conn: Connection, chain_id: int, limit: int) -> list[Block]:
    """Stored block hashes, newest first."""
    rows = conn.execute(text("SELECT number, hash, parent_hash FROM chain_blocks WHERE chain_id = :chain "
                             "ORDER BY number DESC LIMIT :limit"), {"chain": chain_id, "limit": limit})
    return [Block(*row) for row in rows]


def _reverted_events(source: str) -> str:
    """INSERT a chain.reverted event per announced row of CTE ``source`` (envelope as in chain_rows)."""
    return f"""
    INSERT INTO outbox (event_id, topic, type, occurred_at, envelope)
    SELECT e.event_id, 'domain-events', 'chain.reverted', now(), jsonb_build_object(
        'event_id', e.event_id, 'type', 'chain.reverted',
        'occurred_at', to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
        'aggregate_type', CASE WHEN e.event = 'Transfer' THEN 'artwork' ELSE 'proposal' END,
        'aggregate_id', CASE WHEN e.event = 'Transfer' THEN e.contract || ':' || (e.args->>'tokenId')
                             ELSE coalesce(e.proposal_id::text, e.args->>'proposalId') END,
        'schema_version', 1,
        'payload', jsonb_build_object(
            'chain_id', e.chain_id, 'block_number', e.block_number,
            'block_time', to_char(e.block_time AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"+00:00"'),
            'tx_hash', e.tx_hash, 'log_index', e.log_index, 'contract', e.contract, 'event', e.event,
            'args', e.args))::json
    FROM (SELECT gen_random_uuid() AS event_id, s.* FROM {source} s
          WHERE (s.contract = :funding AND s.event IN {FLOW}) OR (s.contract = :artwork AND s.event = 'Transfer')) e
    """


_FLOW_SUMS = f"""
    SELECT chain_id, (args->>'proposalId')::numeric AS onchain_id, args->>'backer' AS backer, proposal_id,
           coalesce(sum(amount) FILTER (WHERE event = 'Funded'), 0) AS funded,
           coalesce(sum(amount) FILTER (WHERE event = 'Refunded'), 0) AS refunded,
           count(*) AS events,
           -- The latest Funded transaction, without sorting each group: positions compare as text.
           right(max(lpad(block_number::text, 19, '0') || lpad(log_index::text, 10, '0') || tx_hash)
                 FILTER (WHERE event = 'Funded'), 66) AS last_tx_hash
    FROM {{source}} WHERE contract = :funding AND event IN {FLOW}
    GROUP BY 1, 2, 3, 4
"""
_RAISED = """
    UPDATE proposals p SET raised_total = p.raised_total {sign} d.delta
    FROM (SELECT proposal_id, sum(funded - refunded) AS delta FROM {flows} WHERE proposal_id IS NOT NULL
          GROUP BY proposal_id) d
    WHERE p.id = d.proposal_id
"""
_LATEST_OWNERS = """
    SELECT DISTINCT ON (contract, (args->>'tokenId')::numeric)
           chain_id, contract, (args->>'tokenId')::numeric AS token_id, args->>'to' AS owner, block_number, log_index
    FROM {source} WHERE contract = :artwork AND event = 'Transfer' {extra}
    ORDER BY contract, (args->>'tokenId')::numeric, block_number DESC, log_index DESC
"""

_DERIVE = f"""
WITH inserted AS ({{inserted}}
), flows AS ({_FLOW_SUMS.format(source="inserted")}
), investments_up AS (
    INSERT INTO investments (chain_id, onchain_proposal_id, backer, proposal_id, funded, refunded, events,
                             last_tx_hash)
    SELECT chain_id, onchain_id, backer, proposal_id, funded, refunded, events, last_tx_hash FROM flows
    ON CONFLICT (chain_id, onchain_proposal_id, backer) DO UPDATE SET
        funded = investments.funded + excluded.funded, refunded = investments.refunded + excluded.refunded,
        events = investments.events + excluded.events,
        last_tx_hash = coalesce(excluded.last_tx_hash, investments.last_tx_hash)
), raised AS ({_RAISED.format(sign="+", flows="flows")}
), owners AS (
    INSERT INTO artwork_tokens (chain_id, contract, token_id, owner, block_number, log_index)
    {_LATEST_OWNERS.format(source="inserted", extra="")}
    ON CONFLICT (chain_id, contract, token_id) DO UPDATE SET
        owner = excluded.owner, block_number = excluded.block_number, log_index = excluded.log_index
    WHERE (artwork_tokens.block_number, artwork_tokens.log_index) < (excluded.block_number, excluded.log_index)
){{announce}}
SELECT count(*) FROM inserted
"""
_COPIED = f"""
    SELECT {', '.join(EVENT_COLUMNS)} FROM web3_transactions
    WHERE chain_id = :chain AND block_number BETWEEN :first AND :last"""
_INSERT_STAGED = f"""
    INSERT INTO web3_transactions ({', '.join(EVENT_COLUMNS)})
    SELECT {', '.join(EVENT_COLUMNS)} FROM web3_staging
    ON CONFLICT (chain_id, tx_hash, log_index) DO NOTHING
    RETURNING {', '.join(EVENT_COLUMNS)}"""
# Only logs new to the table are announced: a range delivered twice says nothing twice.
_ANNOUNCE_STAGED = f""", announced AS (
    INSERT INTO outbox ({', '.join(OUTBOX_COLUMNS)})
    SELECT {', '.join('o.' + column for column in OUTBOX_COLUMNS)} FROM outbox_staging o
    JOIN inserted i ON i.tx_hash = o.envelope->'payload'->>'tx_hash'
                   AND i.log_index = (o.envelope->'payload'->>'log_index')::int
    -- An id is the log's identity in this epoch (rows.event_id): already there, already announced.
    ON CONFLICT (event_id) DO NOTHING
)"""

_REMOVE = f"""
WITH removed AS (
    DELETE FROM web3_transactions WHERE chain_id = :chain AND block_number > :ancestor
    RETURNING {', '.join(EVENT_COLUMNS)}
), flows AS ({_FLOW_SUMS.format(source="removed")}
), investments_down AS (
    UPDATE investments i SET funded = i.funded - f.funded, refunded = i.refunded - f.refunded,
                             events = i.events - f.events
    FROM flows f
    WHERE i.chain_id = f.chain_id AND i.onchain_proposal_id = f.onchain_id AND i.backer = f.backer
), raised AS ({_RAISED.format(sign="-", flows="flows")}
), announced AS ({_reverted_events("removed")}
)
SELECT DISTINCT (args->>'tokenId')::numeric FROM removed WHERE contract = :artwork AND event = 'Transfer'
"""


def store_range(conn: Connection, chain_id: int, batch: CopyBatch, first_block: int, blocks: Sequence[Block],
                checkpoint: Checkpoint, *, contracts: Addresses, keep_blocks: int, follow: Follow | None = None) -> int:
    """Commit the logs of blocks ``first_block`` .. ``checkpoint.number``; returns how many were new."""
    params = {"chain": chain_id, "first": first_block, "last": checkpoint.number,
              "funding": contracts.funding, "artwork": contracts.artwork}
    with conn.begin():
        # The inserted rows feed several statements: keep them (and the joins) in memory.
        conn.execute(text("SET LOCAL work_mem = '64MB'"))
        inserted = 0
        if batch.count:
            inserted = _copy_new(conn, batch, params)
            if inserted is None:
                inserted = _insert_idempotently(conn, batch, params)
        _save_blocks(conn, chain_id, blocks)
        if follow is not None:  # what follows from these blocks commits with them
            clock = next((block.time for block in blocks if block.number == checkpoint.number), None)
            touched = touched_between(conn, chain_id, first_block, checkpoint.number) if batch.count else []
            follow(conn, Moved(chain_id, contracts, first_block, checkpoint.number, clock, touched))
        conn.execute(text("DELETE FROM chain_blocks WHERE chain_id = :chain AND number < :oldest"),
                     {"chain": chain_id, "oldest": checkpoint.number - keep_blocks})
        conn.execute(text("UPDATE indexer_checkpoints SET block_number = :number, block_hash = :hash, "
                          "range_size = :size, last_error = NULL, updated_at = now() WHERE chain_id = :chain"),
                     {"chain": chain_id, "number": checkpoint.number, "hash": checkpoint.hash,
                      "size": checkpoint.range_size})
    return inserted


class _NotAllNew(Exception):
    pass


def _copy_new(conn: Connection, batch: CopyBatch, params: dict[str, object]) -> int | None:
    """The usual case, blocks seen for the first time: COPY straight into the tables.
    None (and nothing written) if any of the logs is already there."""
    try:
        with conn.begin_nested():
            copy_rows(conn, "web3_transactions", EVENT_COLUMNS, batch.events)
            present = conn.execute(text(f"SELECT count(*) FROM ({_COPIED}) c"), params).scalar_one()
            if present != batch.count:
                raise _NotAllNew  # the blocks held other logs (a rewound checkpoint): take the careful path
            if batch.announcements:
                copy_rows(conn, "outbox", OUTBOX_COLUMNS, batch.announcements)
            conn.execute(text(_DERIVE.format(inserted=_COPIED, announce="")), params)
    except _NotAllNew:
        return None
    except Exception as error:
        if not is_unique_violation(error):
            raise
        return None
    return batch.count


def _insert_idempotently(conn: Connection, batch: CopyBatch, params: dict[str, object]) -> int:
    """Some logs were stored before (a range delivered again): insert and announce only the others."""
    conn.execute(text(
        "CREATE TEMP TABLE IF NOT EXISTS web3_staging (LIKE web3_transactions INCLUDING DEFAULTS) "
        "ON COMMIT DELETE ROWS"))
    conn.execute(text(
        "CREATE TEMP TABLE IF NOT EXISTS outbox_staging (event_id uuid, topic text, type text, "
        "occurred_at timestamptz, envelope json) ON COMMIT DELETE ROWS"))
    copy_rows(conn, "web3_staging", EVENT_COLUMNS, batch.events)
    if batch.announcements:
        copy_rows(conn, "outbox_staging", OUTBOX_COLUMNS, batch.announcements)
    return conn.execute(text(_DERIVE.format(inserted=_INSERT_STAGED, announce=_ANNOUNCE_STAGED)),
                        params).scalar_one()


def touched_between(conn: Connection, chain_id: int, first: int, last: int | None = None) -> list[uuid.UUID]:
    """The proposals whose events sit in blocks ``first`` .. ``last`` (to the end if None)."""
    return list(conn.execute(text(
        "SELECT DISTINCT proposal_id FROM web3_transactions WHERE chain_id = :chain AND block_number >= :first "
        "AND (CAST(:last AS bigint) IS NULL OR block_number <= :last) AND proposal_id IS NOT NULL"),
        {"chain": chain_id, "first": first, "last": last}).scalars())


def _save_blocks(conn: Connection, chain_id: int, blocks: Sequence[Block]) -> None:
    if not blocks:
        return
    conn.execute(text(
        "INSERT INTO chain_blocks (chain_id, number, hash, parent_hash, time) "
        "SELECT :chain, * FROM unnest(CAST(:numbers AS bigint[]), CAST(:hashes AS text[]), CAST(:parents AS text[]), "
        "CAST(:times AS timestamptz[])) ON CONFLICT (chain_id, number) DO UPDATE SET hash = excluded.hash, "
        "parent_hash = excluded.parent_hash, time = excluded.time"),
        {"chain": chain_id, "numbers": [b.number for b in blocks], "hashes": [b.hash for b in blocks],
         "parents": [b.parent_hash for b in blocks], "times": [b.time for b in blocks]})


def roll_back(conn: Connection, chain_id: int, ancestor: Checkpoint, *, contracts: Addresses,
              follow: Follow | None = None) -> None:
    """Forget everything after ``ancestor``: events, their derived effects, block hashes."""
    artwork = contracts.artwork
    params = {"chain": chain_id, "ancestor": ancestor.number, "funding": contracts.funding, "artwork": artwork}
    with conn.begin():
        touched = touched_between(conn, chain_id, ancestor.number + 1)
        tokens = [row[0] for row in conn.execute(text(_REMOVE), params)]
        conn.execute(text("DELETE FROM investments WHERE chain_id = :chain AND events = 0"), params)
        conn.execute(text(_RECOMPUTE_LAST_TX), params)
        if tokens:
            _recompute_owners(conn, chain_id, artwork, tokens)
        conn.execute(text("DELETE FROM chain_blocks WHERE chain_id = :chain AND number > :ancestor"), params)
        if follow is not None:
            # The clock goes back to the ancestor's time (none before the start block: no deadline passed).
            clock = conn.execute(text("SELECT time FROM chain_blocks WHERE chain_id = :chain AND number = :ancestor"),
                                 params).scalar_one_or_none()
            follow(conn, Moved(chain_id, contracts, ancestor.number + 1, ancestor.number, clock, touched))
        conn.execute(text("UPDATE indexer_checkpoints SET block_number = :ancestor, block_hash = :hash, "
                          "reorgs = reorgs + 1, updated_at = now() WHERE chain_id = :chain"),
                     {**params, "hash": ancestor.hash})


# Positions whose latest funding was just rolled back: take the latest that remains.
_RECOMPUTE_LAST_TX = """
    UPDATE investments i SET last_tx_hash = (
        SELECT w.tx_hash FROM web3_transactions w
        WHERE w.chain_id = i.chain_id AND w.contract = :funding AND w.event = 'Funded'
          AND (w.args->>'proposalId')::numeric = i.onchain_proposal_id AND w.args->>'backer' = i.backer
        ORDER BY w.block_number DESC, w.log_index DESC LIMIT 1)
    WHERE i.chain_id = :chain AND i.last_tx_hash IS NOT NULL AND NOT EXISTS (
        SELECT 1 FROM web3_transactions w WHERE w.chain_id = i.chain_id AND w.tx_hash = i.last_tx_hash)
"""


def _recompute_owners(conn: Connection, chain_id: int, artwork: str | None, tokens: list[Decimal]) -> None:
    """A removed Transfer may have been the latest: take the owner from what remains."""
    params = {"chain": chain_id, "artwork": artwork, "tokens": [str(token) for token in tokens]}
    conn.execute(text("DELETE FROM artwork_tokens WHERE chain_id = :chain AND contract = :artwork "
                      "AND token_id = ANY(CAST(:tokens AS numeric[]))"), params)
    latest = _LATEST_OWNERS.format(
        source="web3_transactions",
        extra="AND chain_id = :chain AND (args->>'tokenId')::numeric = ANY(CAST(:tokens AS numeric[]))")
    conn.execute(text(f"INSERT INTO artwork_tokens (chain_id, contract, token_id, owner, block_number, log_index) "
                      f"{latest}"), params)
