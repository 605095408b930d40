"""Event decoding: the word-slicing fast path equals eth_abi on the same logs, the
declared events equal the compiled contracts', and COPY lines are what PostgreSQL reads."""
from __future__ import annotations

import json
import random
import uuid
from datetime import datetime

import pytest
from eth_abi import encode

from local.chain import artifact
from shared.chain.abi import EventSpec, Param, checksum, events_of
from shared.chain.events import ARTWORK_EVENTS, FUNDING_EVENTS, MARKET_EVENTS, parse_event
from shared.chain.ids import platform_uuid
from shared.chain.rows import copy_lines, sources_for

UINT256_MAX = 2**256 - 1
FUNDING = "0x5FbDB2315678afecb367f032d93F642f64180aa3"


def _word(abi_type: str, value) -> str:
    return "0x" + encode([abi_type], [value]).hex()


def _log(spec: EventSpec, values: dict, address: str = FUNDING, block: int = 7, index: int = 0) -> dict:
    indexed = [p for p in spec.params if p.indexed]
    plain = [p for p in spec.params if not p.indexed]
    data = encode([p.type for p in plain], [values[p.name] for p in plain]).hex()
    return {"address": address.lower(), "topics": [spec.topic0] + [_word(p.type, values[p.name]) for p in indexed],
            "data": "0x" + data, "blockNumber": hex(block), "blockHash": "0x" + "ab" * 32,
            "transactionHash": "0x" + f"{index:064x}", "logIndex": hex(index)}


def _random_value(abi_type: str, rng: random.Random):
    if abi_type == "address":
        return checksum("0x" + rng.randbytes(20).hex())
    if abi_type == "bool":
        return rng.random() < 0.5
    if abi_type.startswith("bytes"):
        return rng.randbytes(int(abi_type[5:]))
    bits = int(abi_type.lstrip("uint") or 256)
    if abi_type.startswith("uint"):
        return rng.choice([0, 1, 2**bits - 1, rng.getrandbits(bits)])
    return rng.choice([-(2 ** (bits - 1)), -1, 0, 2 ** (bits - 1) - 1, rng.getrandbits(bits - 1) - 2 ** (bits - 2)])


@pytest.mark.parametrize("types", [
    ["uint256", "address", "uint256"], ["int8", "int256", "bool"], ["bytes32", "bytes4", "uint64"],
    ["uint256", "string", "bytes"], ["address", "uint256[]"],
])
def test_fast_decoding_equals_eth_abi(types):
    from eth_abi import decode

    rng = random.Random(repr(types))
    dynamic = {"string": lambda: "é\t\\ " + rng.randbytes(4).hex(), "bytes": lambda: rng.randbytes(40),
               "uint256[]": lambda: [UINT256_MAX, 0, rng.getrandbits(256)]}
    params = [Param(f"a{i}", t, indexed=i == 0) for i, t in enumerate(types)]
    spec = EventSpec("Thing", params)
    for _ in range(50):
        values = {p.name: dynamic[p.type]() if p.type in dynamic else _random_value(p.type, rng) for p in params}
        log = _log(spec, values)
        decoded = spec.decode(log["topics"], log["data"])
        plain = [p for p in params if not p.indexed]
        expected = dict(zip([p.name for p in plain],
                            decode([p.type for p in plain], bytes.fromhex(log["data"][2:])), strict=True))
        expected[params[0].name] = decode([params[0].type], bytes.fromhex(log["topics"][1][2:]))[0]
        normalised = {k: ("0x" + v.hex() if isinstance(v, bytes) else checksum(v) if isinstance(v, str)
                          and len(v) == 42 and v.startswith("0x") else list(v) if isinstance(v, tuple) else v)
                      for k, v in expected.items()}
        assert decoded == normalised


def test_wrong_topic_count_or_short_data_is_an_error():
    spec = parse_event(FUNDING_EVENTS[1])
    log = _log(spec, {"proposalId": 1, "backer": FUNDING, "amount": 5})
    with pytest.raises(ValueError, match="topics"):
        spec.decode(log["topics"][:2], log["data"])
    with pytest.raises(ValueError, match="short"):
        spec.decode(log["topics"], log["data"][:40])


@pytest.mark.parametrize(("contract", "declared"), [("ProposalFunding", FUNDING_EVENTS),
                                                    ("ArtworkToken", ARTWORK_EVENTS),
                                                    ("ArtworkMarket", MARKET_EVENTS)])
def test_declared_events_are_the_compiled_contracts_events(contract, declared):
    compiled = {spec.topic0: spec.signature for spec in events_of(artifact(contract)["abi"]).values()}
    ours = {spec.topic0: spec.signature for spec in map(parse_event, declared)}
    assert ours.items() <= compiled.items()
    names = {(p.name, p.indexed) for s in map(parse_event, declared) for p in s.params}
    abi_names = {(i["name"], i["indexed"]) for e in artifact(contract)["abi"] if e["type"] == "event"
                 for i in e["inputs"] if e["name"] in {parse_event(d).name for d in declared}}
    assert names == abi_names


def test_campaign_ids_are_proposal_uuids():
    proposal = uuid.uuid4()
    assert platform_uuid(proposal.int) == proposal
    assert platform_uuid(2**128) is None and platform_uuid(UINT256_MAX) is None


def test_copy_lines_carry_exact_amounts_and_announce_only_flows():
    funded, opened = parse_event(FUNDING_EVENTS[1]), parse_event(FUNDING_EVENTS[0])
    proposal = uuid.uuid4()
    logs = [_log(opened, {"proposalId": UINT256_MAX, "artist": FUNDING, "goal": UINT256_MAX, "deadline": 9}, index=0),
            _log(funded, {"proposalId": proposal.int, "backer": FUNDING, "amount": UINT256_MAX}, index=1),
            {**_log(funded, {"proposalId": 1, "backer": FUNDING, "amount": 1}, index=2), "address": "0x" + "1" * 40}]
    sources = sources_for([(FUNDING, {s.topic0: s for s in (funded, opened)}, True)])
    batch = copy_lines(31337, sources, logs, {7: "2026-11-22T00:00:00+00:00"})
    rows = [line.split("\t") for line in batch.events.decode().splitlines()]
    assert batch.count == 2 and len(rows) == 2  # the log of an unknown contract is skipped
    assert rows[0][7:] == ["CampaignOpened", json.dumps({"proposalId": str(UINT256_MAX), "artist": FUNDING,
                                                          "goal": str(UINT256_MAX), "deadline": "9"},
                                                         separators=(",", ":")), str(UINT256_MAX), "\\N"]
    assert rows[1][9:] == [str(UINT256_MAX), str(proposal)]
    (announcement,) = batch.announcements.decode().splitlines()
    event_id, topic, kind, occurred, envelope = announcement.split("\t")
    from shared.events.envelope import EventEnvelope

    parsed = EventEnvelope.model_validate_json(envelope)
    assert (topic, kind, str(parsed.event_id), parsed.type) == ("domain-events", "chain.funded", event_id,
                                                                "chain.funded")
    assert (parsed.aggregate_type, parsed.aggregate_id) == ("proposal", str(proposal))
    assert parsed.payload["args"]["amount"] == str(UINT256_MAX) and parsed.payload["log_index"] == 1
    assert uuid.UUID(event_id).version == 5  # the log's identity: rows.event_id
    assert parsed.occurred_at == datetime.fromisoformat(occurred) and parsed.occurred_at.tzinfo is not None


def test_a_log_the_provider_repeats_is_one_row_and_one_announcement():
    funded = parse_event(FUNDING_EVENTS[1])
    log = _log(funded, {"proposalId": uuid.uuid4().int, "backer": FUNDING, "amount": 5}, index=3)
    sources = sources_for([(FUNDING, {funded.topic0: funded}, True)])
    repeated = {**log, "logIndex": "0x03", "blockHash": log["blockHash"].upper().replace("0X", "0x")}
    batch = copy_lines(31337, sources, [log, repeated, log], {7: "t"})
    assert batch.count == 1 and len(batch.announcements.decode().splitlines()) == 1
    # Re-mined in another block (a reorg) it is another log.
    assert copy_lines(31337, sources, [log, {**log, "blockHash": "0x" + "cd" * 32}], {7: "t"}).count == 2


def test_copy_text_escapes_backslashes():
    spec = EventSpec("Named", [Param("id", "uint256", True), Param("name", "string", False)])
    sources = sources_for([(FUNDING, {spec.topic0: spec}, False)])
    batch = copy_lines(1, sources, [_log(spec, {"id": 1, "name": 'a\\b"c\td'})], {7: "t"})
    fields = batch.events.decode().rstrip("\n").split("\t")
    assert len(fields) == 11  # the string's tab stayed inside its JSON escape
    # COPY's text format reads a doubled backslash as one; what remains is json.dumps' JSON.
    assert json.loads(fields[8].replace("\\\\", "\\"))["name"] == 'a\\b"c\td'


def test_checksum_is_eip55():
    from eth_utils import to_checksum_address

    rng = random.Random(55)
    for _ in range(200):
        address = "0x" + rng.randbytes(20).hex()
        assert checksum(address) == checksum(address.upper().replace("0X", "0x")) == to_checksum_address(address)
    with pytest.raises(ValueError, match="not an address"):
        checksum("0x1234")


def test_keccak_backend_agrees_with_pycryptodome():
    """The indexer hashes with safe-pysha3; eth-hash's other backend must give the same digests."""
    from eth_hash.backends.pycryptodome import backend as pycryptodome

    from shared.chain.abi import keccak

    assert keccak(b"").hex() == "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470"
    assert keccak(b"Transfer(address,address,uint256)").hex() == (
        "ddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef")
    rng = random.Random(3)
    for size in (1, 31, 135, 136, 137, 1000):  # around the 136-byte sponge rate
        data = rng.randbytes(size)
        assert keccak(data) == pycryptodome.keccak256(data)


def test_event_ids_are_uuid5_of_the_logs_identity_and_epoch():
    from shared.chain.rows import EVENT_ID_NAMESPACE, event_id

    namespace = uuid.UUID(bytes=EVENT_ID_NAMESPACE)
    block, tx = "0x" + "Ab" * 32, "0x" + "cD" * 32
    expected = uuid.uuid5(namespace, f"1:{block.lower()}:{tx.lower()}:3:0")
    assert event_id(1, block, tx, 3, 0) == str(expected)
    assert event_id(1, block.lower(), tx.upper().replace("0X", "0x"), 3, 0) == str(expected)
    others = {event_id(2, block, tx, 3, 0), event_id(1, block, tx, 4, 0), event_id(1, block, tx, 3, 1)}
    assert str(expected) not in others and len(others) == 3
