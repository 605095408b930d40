"""Base58 (Bitcoin's alphabet), as Solana writes its addresses and signatures.

Twenty lines over Python's integers rather than a dependency in every bundle that links a
wallet; the round trip and the known vectors are tested (tests/unit/test_solana_wallets.py).
"""
from __future__ import annotations

ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_INDEX = {char: value for value, char in enumerate(ALPHABET)}


def decode(text: str) -> bytes:
    """The bytes ``text`` encodes; ValueError for a character outside the alphabet."""
    number = 0
    for char in text:
        if char not in _INDEX:
            raise ValueError(f"{char!r} is not a base58 character")
        number = number * 58 + _INDEX[char]
    body = number.to_bytes((number.bit_length() + 7) // 8, "big") if number else b""
    return b"\x00" * (len(text) - len(text.lstrip("1"))) + body  # each leading "1" is a zero byte


def encode(data: bytes) -> str:
    number = int.from_bytes(data, "big")
    digits = []
    while number:
        number, digit = divmod(number, 58)
        digits.append(ALPHABET[digit])
    return "1" * (len(data) - len(data.lstrip(b"\x00"))) + "".join(reversed(digits))
