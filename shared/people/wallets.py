"""Linking a wallet with Sign-In with Ethereum (EIP-4361).

The server writes the whole message and keeps it with a single-use nonce: the client
only signs. Verification recovers the signer (eth-account, imported on this path
only) and requires the stored message byte for byte, so domain, URI, chain id, nonce,
address and expiry are exactly what was issued. One wallet per user, one user per
wallet; a nonce is spent by its first successful use.

A linked wallet is replaced by linking another (proved the same way) and unlinked on
request. What the old wallet did on chain stays the chain's, by address: its fundings and
tokens stop counting as the person's (the graph follows: user.wallet_linked and
user.wallet_unlinked name the wallet before).
"""
from __future__ import annotations

import secrets
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


class ChallengeRequest(ApiModel):
    model_config = ConfigDict(extra="forbid")

    address: Address


class Challenge(ApiModel):
    message: str = Field(description="sign exactly this text with personal_sign (EIP-191)")
    nonce: str
    expires_at: AwareDatetime


class LinkRequest(ApiModel):
    model_config = ConfigDict(extra="forbid")

    message: Annotated[str, Field(max_length=2000)]
    signature: Annotated[str, StringConstraints(pattern=r"^0x[0-9a-fA-F]{130}$")]


class WalletOut(ApiModel):
    wallet_address: str


def _checksum(address: str) -> str:
    from eth_utils import to_checksum_address

    return to_checksum_address(address)


def _message(domain: str, uri: str, chain_id: int, address: str, nonce: str, issued: datetime,
             expires: datetime) -> str:
    def stamp(moment: datetime) -> str:
        return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")

    return (
        f"{domain} wants you to sign in with your Ethereum account:\n{address}\n\n"
        f"Link this wallet to your KalaKrut account.\n\n"
        f"URI: {uri}\nVersion: 1\nChain ID: {chain_id}\nNonce: {nonce}\n"
        f"Issued At: {stamp(issued)}\nExpiration Time: {stamp(expires)}"
    )


def challenge(session: Session, user: User, request: ChallengeRequest) -> Challenge:
    from shared.models import WalletChallenge

    settings = get_settings()
    settings.require("siwe_domain", "siwe_uri", "chain_id")
    address = _checksum(request.address)
    issued = datetime.now(UTC).replace(microsecond=0)
    expires = issued + CHALLENGE_LIFETIME
    nonce = secrets.token_hex(16)
    message = _message(settings.siwe_domain, settings.siwe_uri, settings.chain_id, address, nonce, issued, expires)
    session.add(WalletChallenge(nonce=nonce, user_id=user.id, address=address, message=message,
                                issued_at=issued, expires_at=expires))
    return Challenge(message=message, nonce=nonce, expires_at=expires)


def _nonce_of(message: str) -> str:
    for line in message.splitlines():
        if line.startswith("Nonce: "):
            return line.removeprefix("Nonce: ").strip()
    raise SignatureRejected("the message has no nonce")


def link(session: Session, user: User, request: LinkRequest) -> User:
    from shared.models import WalletChallenge

    challenge = session.scalars(
        select(WalletChallenge).where(WalletChallenge.nonce == _nonce_of(request.message)).with_for_update()
    ).one_or_none()
    now = datetime.now(UTC)
    if challenge is None or challenge.user_id != user.id or challenge.message != request.message:
        raise SignatureRejected("this message was not issued to you")
    if challenge.used_at is not None:
        raise SignatureRejected("this message was already used")
    if challenge.expires_at <= now:
        raise SignatureRejected("this message has expired: ask for a new challenge")

    from eth_account import Account
    from eth_account.messages import encode_defunct

    try:
        signer = Account.recover_message(encode_defunct(text=request.message), signature=request.signature)
    except Exception:  # eth-account raises several types for malformed signatures
        raise SignatureRejected("the signature is not valid") from None
    if signer != challenge.address:
        raise SignatureRejected("the message was not signed by that address")

    challenge.used_at = now
    holder = session.scalar(select(users.c.id).where(users.c.wallet_address == signer, users.c.id != user.id))
    if holder is not None:
        raise Conflict("this wallet is linked to another account")
    if user.wallet_address == signer:
        return user  # linked already: nothing changes
    _change_wallet(session, user, "user.wallet_linked", signer)
    return user


def unlink(session: Session, user: User) -> None:
    """Unlink the account's wallet (idempotent)."""
    if user.wallet_address is not None:
        _change_wallet(session, user, "user.wallet_unlinked", None)


def _change_wallet(session: Session, user: User, action: str, wallet: str | None) -> None:
    """Set the account's wallet, audited, and say so with the wallet before (the graph's
    FUNDED edges follow it: shared/graph/etl.py)."""
    previous, user.wallet_address = user.wallet_address, wallet
    audit.record(session, user, action, "user", user.id, address=wallet or previous, previous=previous)
    outbox.emit(session, action, "user", user.id,
                {"id": str(user.id), "wallet_address": wallet, "previous_wallet_address": previous})
