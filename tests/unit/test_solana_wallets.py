"""Base58 as Solana writes it: known vectors, leading zeros, round trips, refusals."""
import os

import pytest

from shared.people import base58


@pytest.mark.parametrize(("raw", "text"), [
    (b"", ""),
    (b"\x00", "1"),
    (b"\x00\x00\x01", "112"),
    (b"hello world", "StV1DL6CwTryKyV"),
    (bytes(32), "1" * 32),  # the system program's address
    (bytes.fromhex("0000287fb4cd"), "11233QC4"),
])
def test_known_vectors(raw, text):
    assert base58.encode(raw) == text and base58.decode(text) == raw


def test_random_bytes_round_trip():
    for size in (1, 31, 32, 33, 64):
        for _ in range(200):
            raw = os.urandom(size)
            assert base58.decode(base58.encode(raw)) == raw


@pytest.mark.parametrize("text", ["0", "O", "I", "l", "abc+", "é"])
def test_characters_outside_the_alphabet_are_refused(text):
    with pytest.raises(ValueError, match="not a base58 character"):
        base58.decode(text)
