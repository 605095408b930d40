"""Decoded logs as PostgreSQL COPY text: the indexer's hot path.

One line per log for web3_transactions and, for the events announced to other
systems, one line for the outbox with the envelope of docs/events.md
(column orders: chain_store.EVENT_COLUMNS and OUTBOX_COLUMNS). Strings are assembled directly rather than through csv and
per-row JSON documents: at tens of thousands of events per range, that is where
the time goes. Every field is a number, a hex string, a UUID, a timestamp or JSON
made by json.dumps; only a backslash needs escaping in COPY's text format.
"""
from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from shared.chain.abi import EventSpec, checksum
from shared.chain.events import ANNOUNCED, amount_of
from shared.chain.ids import platform_uuid
from shared.chain.rpc import hex_int
from shared.events.topics import DOMAIN_EVENTS

NULL = "\\N"
_dumps = json.JSONEncoder(separators=(",", ":")).encode


@dataclass(frozen=True)
class CopyBatch:
    events: bytes
    announcements: bytes
    count: int


@dataclass(frozen=True)
class EventSource:
    """What a (contract, topic0) pair decodes to."""

    spec: EventSpec
    contract: str  # checksummed
    is_funding: bool


# The namespace of the indexer's event ids (uuid5): any fixed UUID, never to change.
EVENT_ID_NAMESPACE = bytes.fromhex("5d1c6f0e8a4b4f7c9a3e2b6d0c8f1a47")


def event_id(chain_id: int, block_hash: str, tx_hash: str, log_index: int, epoch: int) -> str:
    """The announced event's id, uuid5 of the log's identity and the chain's reorg epoch.

    The same log read again (a repeat within an answer, a range delivered twice, a crash
    between read and commit) is the same event; consumers de-duplicate it by id. The epoch
    (the checkpoint's count of rollbacks) makes a log announced again after a rollback a
    new event: after A→B→A the first announcement was reverted, and its id consumed.
    Equal to ``uuid.uuid5``; written out because it runs once per event on the hot path.
    """
    name = f"{chain_id}:{block_hash.lower()}:{tx_hash.lower()}:{log_index}:{epoch}".encode()
    value = int.from_bytes(hashlib.sha1(EVENT_ID_NAMESPACE + name).digest()[:16], "big")
    value = (value & ~(0xF << 76) | 5 << 76) & ~(0x3 << 62) | 0x2 << 62
    text = f"{value:032x}"
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


@lru_cache(maxsize=4096)
def _proposal_text(onchain_id: int) -> str | None:
    proposal = platform_uuid(onchain_id)
    return None if proposal is None else str(proposal)


def _copy_text(value: str) -> str:
    return value.replace("\\", "\\\\") if "\\" in value else value


def _json_value(value: Any) -> str:
    if type(value) is int:
        return f'"{value}"'  # decimal string: JSON numbers lose precision past 2**53
    return _dumps(value)


def _args_json(args: dict[str, Any]) -> str:
    return "{" + ",".join(f'"{name}":{_json_value(value)}' for name, value in args.items()) + "}"


def copy_lines(chain_id: int, sources: dict[tuple[str, str], EventSource], logs: Iterable[dict[str, Any]],
               block_times: dict[int, str], indexed_at: datetime | None = None, *, epoch: int = 0) -> CopyBatch:
    """COPY text for the logs; logs of unknown events are skipped. ``epoch``: see ``event_id``."""
    occurred = (indexed_at or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    lines: list[str] = []
    announcements: list[str] = []
    seen: set[tuple[str, str, int]] = set()
    for log in logs:
        identity = (log["blockHash"].lower(), log["transactionHash"].lower(), hex_int(log["logIndex"]))
        if identity in seen:
            # A provider sent this log twice in one answer: one row, one announcement. (A log
            # stored by an earlier tick is announced only if its insert is new: store.py.)
            continue
        seen.add(identity)
        topics = log["topics"]
        source = sources.get((log["address"].lower(), topics[0] if topics else ""))
        if source is None:
            continue  # the filter asked for known events only; a node may still send others
        spec = source.spec
        args = spec.decode(topics, log["data"])
        number = hex_int(log["blockNumber"])
        log_index = hex_int(log["logIndex"])
        block_hash, tx_hash, block_time = log["blockHash"], log["transactionHash"], block_times[number]
        amount = amount_of(args)
        onchain_id = args.get("proposalId") if source.is_funding else None
        proposal = _proposal_text(onchain_id) if onchain_id is not None else None
        args_json = _copy_text(_args_json(args))
        announce = ANNOUNCED.get(spec.name)
        if announce is not None:
            announced_id = event_id(chain_id, block_hash, tx_hash, log_index, epoch)
            if spec.name == "Transfer":
                aggregate = f'"artwork","aggregate_id":"{source.contract}:{args["tokenId"]}"'
            else:
                aggregate = f'"proposal","aggregate_id":"{proposal or onchain_id}"'
            envelope = (
                f'{{"event_id":"{announced_id}","type":"{announce}","occurred_at":"{occurred}",'
                f'"aggregate_type":{aggregate},"schema_version":1,"payload":{{"chain_id":{chain_id},'
                f'"block_number":{number},"block_time":"{block_time}","tx_hash":"{tx_hash}",'
                f'"log_index":{log_index},"contract":"{source.contract}","event":"{spec.name}","args":{args_json}}}}}'
            )
            announcements.append(f"{announced_id}\t{DOMAIN_EVENTS}\t{announce}\t{occurred}\t{envelope}\n")
        lines.append(
            f"{chain_id}\t{number}\t{block_hash}\t{block_time}\t{tx_hash}\t{log_index}\t{source.contract}\t"
            f"{spec.name}\t{args_json}\t{NULL if amount is None else amount}\t{proposal or NULL}\n"
        )
    return CopyBatch("".join(lines).encode(), "".join(announcements).encode(), len(lines))


def sources_for(contracts: Sequence[tuple[str | None, dict[str, EventSpec], bool]]
                ) -> dict[tuple[str, str], EventSource]:
    """(address, specs by topic0, is the funding contract) -> lookup by (address, topic0)."""
    found: dict[tuple[str, str], EventSource] = {}
    for address, specs, is_funding in contracts:
        if address:
            contract = checksum(address)
            found.update({(contract.lower(), topic0): EventSource(spec, contract, is_funding)
                          for topic0, spec in specs.items()})
    return found
