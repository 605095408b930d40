"""Linking wallets: an Ethereum one with Sign-In with Ethereum (EIP-4361), a Solana one with
Sign-In with Solana (the same message for a Solana account, signed with ed25519).

The server writes the whole message and keeps it with a single-use nonce: the client
only signs. Verification checks the signature against the stored message byte for byte,
so domain, URI, chain, nonce, address and expiry are exactly what was issued. An account
holds one wallet of each kind, a wallet one account; a nonce is spent by its first
successful use, and only for the kind of wallet it was issued for.

The Ethereum wallet (``wallet_address``) is the one the platform's chain knows: what it
funds and holds is the person's. The Solana wallet (``solana_address``, base58, 32 bytes)
is where accounts moved from Solana platforms (Fonana) come from; nothing on the platform's
chain reads it.

A linked wallet is replaced by linking another (proved the same way) and unlinked on
request. What the old wallet did on chain stays the chain's, by address: its fundings and
tokens stop counting as the person's (the graph follows: user.wallet_linked and
user.wallet_unlinked name the wallet before).
"""
from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Annotated

from pydantic import AwareDatetime, ConfigDict, Field, StringConstraints
from sqlalchemy import select

from shared import audit
from shared.config import get_settings
from shared.errors import Conflict, SignatureRejected
from shared.events import outbox
from shared.tables import users
from shared.types import ApiModel

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from shared.models import User

CHALLENGE_LIFETIME = timedelta(minutes=10)
Address = Annotated[str, StringConstraints(pattern=r"^0x[0-9a-fA-F]{40}$")]
_BASE58 = "[1-9A-HJ-NP-Za-km-z]"
SolanaAddress = Annotated[str, StringConstraints(pattern=f"^{_BASE58}{{32,44}}$")]
# The cluster a Solana wallet signs in for (SIWS's chain id).
SOLANA_CLUSTER = "mainnet"


class ChallengeRequest(ApiModel):
    model_config = ConfigDict(extra="forbid")

    address: Address


class SolanaChallengeRequest(ApiModel):
    model_config = ConfigDict(extra="forbid")

    address: SolanaAddress


class Challenge(ApiModel):
    message: str = Field(description="sign exactly this text with personal_sign (EIP-191)")
    nonce: str
    expires_at: AwareDatetime


class LinkRequest(ApiModel):
    model_config = ConfigDict(extra="forbid")

    message: Annotated[str, Field(max_length=2000)]
    signature: Annotated[str, StringConstraints(pattern=r"^0x[0-9a-fA-F]{130}$")]


class SolanaLinkRequest(ApiModel):
    model_config = ConfigDict(extra="forbid")

    message: Annotated[str, Field(max_length=2000)]
    signature: Annotated[str, StringConstraints(pattern=f"^{_BASE58}{{64,90}}$")] = Field(
        description="the ed25519 signature of the message's UTF-8 bytes, in base58")


class WalletOut(ApiModel):
    wallet_address: str


class SolanaWalletOut(ApiModel):
    solana_address: str


def _checksum(address: str) -> str:
    from eth_utils import to_checksum_address

    return to_checksum_address(address)


def _ethereum_signed(message: str, signature: str, address: str) -> bool:
    from eth_account import Account
    from eth_account.messages import encode_defunct

    try:
        return Account.recover_message(encode_defunct(text=message), signature=signature) == address
    except Exception:  # eth-account raises several types for malformed signatures
        raise SignatureRejected("the signature is not valid") from None


def _solana_signed(message: str, signature: str, address: str) -> bool:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    from shared.people import base58

    raw = base58.decode(signature)
    if len(raw) != 64:
        raise SignatureRejected("the signature is not valid")
    try:  # an address that is no 32-byte key (base58 of another length) verifies nothing
        Ed25519PublicKey.from_public_bytes(base58.decode(address)).verify(raw, message.encode())
    except (InvalidSignature, ValueError):
        return False
    return True


@dataclass(frozen=True)
class _Chain:
    """What differs between linking one kind of wallet and another."""
    name: str  # wallet_challenges.chain
    account: str  # "... sign in with your {account} account"
    column: str  # the users column that holds it
    normalize: Callable[[str], str]  # the address as stored, or ValidationFailed
    chain_id: Callable[[], str | int]
    signed_by: Callable[[str, str, str], bool]  # (message, signature, address), or SignatureRejected


ETHEREUM = _Chain("ethereum", "Ethereum", "wallet_address", _checksum, lambda: get_settings().chain_id,
                  _ethereum_signed)
# A Solana address is challenged as written (every base58 text of its length is accepted, as the
# schema says); one that is no 32-byte key can sign nothing, so it is never linked.
SOLANA = _Chain("solana", "Solana", "solana_address", str, lambda: SOLANA_CLUSTER, _solana_signed)


def _message(domain: str, uri: str, chain: _Chain, address: str, nonce: str, issued: datetime,
             expires: datetime) -> str:
    def stamp(moment: datetime) -> str:
        return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")

    return (
        f"{domain} wants you to sign in with your {chain.account} account:\n{address}\n\n"
        f"Link this wallet to your KalaKrut account.\n\n"
        f"URI: {uri}\nVersion: 1\nChain ID: {chain.chain_id()}\nNonce: {nonce}\n"
        f"Issued At: {stamp(issued)}\nExpiration Time: {stamp(expires)}"
    )


def challenge(session: Session, user: User, request: ChallengeRequest | SolanaChallengeRequest,
              chain: _Chain = ETHEREUM) -> Challenge:
    from shared.models import WalletChallenge

    settings = get_settings()
    settings.require("siwe_domain", "siwe_uri", *(["chain_id"] if chain is ETHEREUM else []))
    address = chain.normalize(request.address)
    issued = datetime.now(UTC).replace(microsecond=0)
    expires = issued + CHALLENGE_LIFETIME
    nonce = secrets.token_hex(16)
    message = _message(settings.siwe_domain, settings.siwe_uri, chain, address, nonce, issued, expires)
    session.add(WalletChallenge(nonce=nonce, user_id=user.id, chain=chain.name, address=address, message=message,
                                issued_at=issued, expires_at=expires))
    return Challenge(message=message, nonce=nonce, expires_at=expires)


def _nonce_of(message: str) -> str:
    for line in message.splitlines():
        if line.startswith("Nonce: "):
            return line.removeprefix("Nonce: ").strip()
    raise SignatureRejected("the message has no nonce")


def link(session: Session, user: User, request: LinkRequest | SolanaLinkRequest, chain: _Chain = ETHEREUM) -> str:
    """Link the wallet that signed the challenge; the address linked."""
    from shared.models import WalletChallenge

    challenge = session.scalars(
        select(WalletChallenge).where(WalletChallenge.nonce == _nonce_of(request.message)).with_for_update()
    ).one_or_none()
    now = datetime.now(UTC)
    if challenge is None or challenge.user_id != user.id or challenge.message != request.message \
            or challenge.chain != chain.name:
        raise SignatureRejected("this message was not issued to you")
    if challenge.used_at is not None:
        raise SignatureRejected("this message was already used")
    if challenge.expires_at <= now:
        raise SignatureRejected("this message has expired: ask for a new challenge")
    if not chain.signed_by(request.message, request.signature, challenge.address):
        raise SignatureRejected("the message was not signed by that address")

    challenge.used_at = now
    address = challenge.address
    column = users.c[chain.column]
    holder = session.scalar(select(users.c.id).where(column == address, users.c.id != user.id))
    if holder is not None:
        raise Conflict("this wallet is linked to another account")
    if getattr(user, chain.column) != address:  # else linked already: nothing changes
        _change_wallet(session, user, chain, address)
    return address


def unlink(session: Session, user: User, chain: _Chain = ETHEREUM) -> None:
    """Unlink the account's wallet of that kind (idempotent)."""
    if getattr(user, chain.column) is not None:
        _change_wallet(session, user, chain, None)


def _change_wallet(session: Session, user: User, chain: _Chain, wallet: str | None) -> None:
    """Set the account's wallet, audited, and say so with the wallet before (the graph's
    FUNDED edges follow the Ethereum one: shared/graph/etl.py)."""
    previous = getattr(user, chain.column)
    setattr(user, chain.column, wallet)
    prefix = "user.wallet" if chain is ETHEREUM else f"user.{chain.name}_wallet"
    action = f"{prefix}_{'linked' if wallet else 'unlinked'}"
    audit.record(session, user, action, "user", user.id, address=wallet or previous, previous=previous)
    outbox.emit(session, action, "user", user.id,
                {"id": str(user.id), chain.column: wallet, f"previous_{chain.column}": previous})
