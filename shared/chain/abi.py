"""Decoding contract event logs from the ABI, and encoding the calls the platform makes.

Every event of the platform's contracts has only one-word arguments (uint, int,
address, bool, bytesN), so the hot path slices the hex words itself; that is what
eth_abi does for these types, without its per-call stream and registry overhead
(tests compare the two on random values, uint256 max included). Any other type
(string, bytes, arrays) goes through eth_abi.
"""
from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

_WORD = re.compile(r"^(u?int(\d*)|address|bool|bytes([1-9]|[12]\d|3[0-2]))$")


def keccak(data: bytes) -> bytes:
    return _keccak256()(data)


@lru_cache(maxsize=1)
def _keccak256() -> Callable[[bytes], bytes]:
    # eth-hash's safe-pysha3 backend, named rather than auto-chosen: auto prefers
    # pycryptodome, whose cffi bindings parse C declarations as they load (~15 ms of
    # the indexer's cold start, against ~2 ms). eth_utils would add ~120 ms more.
    from eth_hash.backends.pysha3 import backend

    return backend.keccak256


@lru_cache(maxsize=65_536)
def checksum(address: str) -> str:
    """EIP-55 mixed-case address (tests compare it with eth_utils.to_checksum_address)."""
    hex_address = address.lower().removeprefix("0x")
    if len(hex_address) != 40 or not all(c in "0123456789abcdef" for c in hex_address):
        raise ValueError(f"not an address: {address!r}")
    digest = keccak(hex_address.encode()).hex()
    return "0x" + "".join(c.upper() if d in "89abcdef" else c for c, d in zip(hex_address, digest[:40], strict=True))


def encode_call(signature: str, *args: Any) -> str:
    """Call data (0x-hex) for ``name(type,...)`` with ``args``: its 4-byte selector, then the
    arguments as eth_abi encodes them (the operator's, the wallet's and the tests' calls)."""
    from eth_abi import encode  # on this path only: decoding events does not need it

    types = [t for t in signature[signature.index("(") + 1:-1].split(",") if t]
    return "0x" + (keccak(signature.encode())[:4] + encode(types, list(args))).hex()


def _word_decoder(abi_type: str):
    match = _WORD.match(abi_type)
    if match is None:
        return None
    if abi_type == "address":
        return lambda word: checksum("0x" + word[24:])
    if abi_type == "bool":
        return lambda word: int(word, 16) != 0
    if abi_type.startswith("bytes"):
        size = int(match.group(3))
        return lambda word: "0x" + word[: 2 * size]
    if abi_type.startswith("uint"):
        return lambda word: int(word, 16)
    bits = int(match.group(2) or 256)

    def signed(word: str) -> int:
        value = int(word, 16) & ((1 << bits) - 1)
        return value - (1 << bits) if value >> (bits - 1) else value

    return signed


@dataclass(frozen=True)
class Param:
    name: str
    type: str
    indexed: bool


class EventSpec:
    def __init__(self, name: str, params: Iterable[Param]) -> None:
        self.name = name
        self.params = tuple(params)
        self.signature = f"{name}({','.join(p.type for p in self.params)})"
        self.topic0 = "0x" + keccak(self.signature.encode()).hex()
        indexed = [p for p in self.params if p.indexed]
        self._topic_decoders = [(p.name, _word_decoder(p.type) or (lambda word: "0x" + word)) for p in indexed]
        data_params = [p for p in self.params if not p.indexed]
        self._data_names = [p.name for p in data_params]
        self._data_types = [p.type for p in data_params]
        word_decoders = [_word_decoder(p.type) for p in data_params]
        # None: some argument is dynamic, so the data goes through eth_abi.
        self._data_decoders = None if None in word_decoders else list(zip(self._data_names, word_decoders, strict=True))

    def decode(self, topics: list[str], data: str) -> dict[str, Any]:
        """Arguments by name; ``topics`` and ``data`` as the node returns them (0x-hex)."""
        if len(topics) != len(self._topic_decoders) + 1:
            raise ValueError(f"{self.name}: expected {len(self._topic_decoders) + 1} topics, got {len(topics)}")
        args = {name: decode(topic[2:]) for (name, decode), topic in zip(self._topic_decoders, topics[1:], strict=True)}
        if self._data_decoders is not None:
            if len(data) < 2 + 64 * len(self._data_decoders):
                raise ValueError(f"{self.name}: data too short")
            for i, (name, decode) in enumerate(self._data_decoders):
                args[name] = decode(data[2 + 64 * i: 66 + 64 * i])
        else:
            from eth_abi import decode as abi_decode

            values = abi_decode(self._data_types, bytes.fromhex(data[2:]))
            args.update(zip(self._data_names, map(_plain, values), strict=True))
        return args

    def __repr__(self) -> str:
        return f"EventSpec({self.signature})"


def _plain(value: Any) -> Any:
    if isinstance(value, bytes):
        return "0x" + value.hex()
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    if isinstance(value, str) and value.startswith("0x") and len(value) == 42:
        return checksum(value)
    return value


def events_of(abi: list[dict[str, Any]]) -> dict[str, EventSpec]:
    """The non-anonymous events of a contract ABI, by topic0."""
    specs = [
        EventSpec(item["name"], (Param(i["name"], i["type"], bool(i.get("indexed"))) for i in item["inputs"]))
        for item in abi
        if item.get("type") == "event" and not item.get("anonymous")
    ]
    return {spec.topic0: spec for spec in specs}

