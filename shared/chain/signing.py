"""Signing the platform's transactions: with Cloud KMS in the cloud, with a key locally.

Both signers only sign a 32-byte digest; building and encoding the EIP-1559 transaction
is shared (``sign_transaction``). In the cloud the key is a Cloud KMS asymmetric key of
algorithm EC_SIGN_SECP256K1_SHA256: it never leaves KMS, the function's account may only
ask it to sign (roles/cloudkms.signer on that key) and read its public key, and no
environment variable holds it. KMS signs whatever 32 bytes it is given as the "sha256"
digest, so it signs the transaction's keccak hash; Ethereum wants the low-s form and the
recovery id, which KMS does not give: both are worked out here. Locally, the same code
signs with the anvil account that deployed the contracts (decision 0025).
"""
from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from shared.chain.abi import checksum, keccak
from shared.redact import redact

if TYPE_CHECKING:
    from collections.abc import Callable

# The order of secp256k1's group: a signature's s above half of it is flipped (EIP-2).
SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
KMS_ENDPOINT = "https://cloudkms.googleapis.com/v1"


class SigningError(RuntimeError):
    """The signer could not sign (KMS refused or answered what is not a signature)."""


class Signer(Protocol):
    @property
    def address(self) -> str: ...

    def sign_digest(self, digest: bytes) -> tuple[int, int, int]:
        """(v, r, s) of the 32-byte digest, v in {0, 1} and s low."""
        ...


@dataclass
class KeySigner:
    """A private key in memory: anvil's, locally and in tests. Never in the cloud."""

    private_key: str = field(repr=False)

    def __post_init__(self) -> None:
        from eth_keys import keys

        self._key = keys.PrivateKey(bytes.fromhex(self.private_key.removeprefix("0x")))

    @property
    def address(self) -> str:
        return checksum(self._key.public_key.to_checksum_address())

    def sign_digest(self, digest: bytes) -> tuple[int, int, int]:
        return self._key.sign_msg_hash(digest).vrs


@dataclass
class KmsSigner:
    """A Cloud KMS secp256k1 key version (projects/…/cryptoKeyVersions/N), through its REST API.

    ``post``/``get`` default to authorized calls with the instance's credentials; tests pass
    calls to a local stand-in of the two KMS methods used (KMS cannot run offline)."""

    key_version: str
    endpoint: str = KMS_ENDPOINT
    http: Callable[[str, str, dict[str, Any] | None], dict[str, Any]] | None = field(default=None, repr=False)
    _address: str | None = field(default=None, init=False)

    def _call(self, method: str, url: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        call = self.http or _google_call
        try:
            return call(method, url, body)
        except SigningError:
            raise
        except Exception as error:  # no token, no route, KMS's own error: said without credentials
            raise SigningError(redact(f"KMS {method} failed: {type(error).__name__}: {error}")) from error

    @property
    def address(self) -> str:
        if self._address is None:
            from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat, load_pem_public_key

            answer = self._call("GET", f"{self.endpoint}/{self.key_version}/publicKey")
            key = load_pem_public_key(answer["pem"].encode())
            point = key.public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
            self._address = checksum("0x" + keccak(point[1:])[-20:].hex())
        return self._address

    def sign_digest(self, digest: bytes) -> tuple[int, int, int]:
        from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

        answer = self._call("POST", f"{self.endpoint}/{self.key_version}:asymmetricSign",
                            {"digest": {"sha256": base64.b64encode(digest).decode()}})
        try:
            r, s = decode_dss_signature(base64.b64decode(answer["signature"]))
        except (KeyError, ValueError) as error:
            raise SigningError("KMS answered something that is not a DER signature") from error
        if s > SECP256K1_N // 2:
            s = SECP256K1_N - s
        return recovery_id(digest, r, s, self.address), r, s


def recovery_id(digest: bytes, r: int, s: int, address: str) -> int:
    """The v (0 or 1) under which (r, s) recovers ``address``."""
    from eth_keys import keys

    for v in (0, 1):
        try:
            recovered = keys.Signature(vrs=(v, r, s)).recover_public_key_from_msg_hash(digest)
        except Exception:
            continue
        if recovered.to_checksum_address() == address:
            return v
    raise SigningError("the signature does not recover the key's address")


def _google_call(method: str, url: str, body: dict[str, Any] | None) -> dict[str, Any]:
    """An authorized call with the instance's service account (roles on the key only)."""
    import google.auth
    import google.auth.transport.urllib3
    import urllib3

    credentials, _ = google.auth.default(scopes=["https://www.googleapis.com/auth/cloudkms"])
    http = urllib3.PoolManager()
    credentials.refresh(google.auth.transport.urllib3.Request(http))
    response = http.request(method, url, body=json.dumps(body) if body is not None else None, timeout=10.0,
                            headers={"Authorization": f"Bearer {credentials.token}",
                                     "Content-Type": "application/json"})
    if response.status != 200:
        raise SigningError(f"KMS answered HTTP {response.status}")
    return json.loads(response.data)


def sign_transaction(signer: Signer, transaction: dict[str, Any]) -> tuple[str, str]:
    """(raw transaction, its hash), both 0x-hex, of an EIP-1559 transaction dict
    (chainId, nonce, to, data, value, gas, maxFeePerGas, maxPriorityFeePerGas)."""
    from eth_account._utils.legacy_transactions import encode_transaction, serializable_unsigned_transaction_from_dict

    unsigned = serializable_unsigned_transaction_from_dict({**transaction, "type": 2})
    raw = encode_transaction(unsigned, vrs=signer.sign_digest(unsigned.hash()))
    return "0x" + raw.hex(), "0x" + keccak(raw).hex()
