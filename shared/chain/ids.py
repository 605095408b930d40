"""Ids the platform gives on chain (a campaign's: its proposal's; a market sale's) are UUIDs as
integers. Standard library only: the order functions read them without the chain's decoding."""
from __future__ import annotations

import uuid

# An id at or above this bound was not given by the platform.
PLATFORM_IDS = 1 << 128


def platform_uuid(onchain_id: int) -> uuid.UUID | None:
    """The platform's UUID an id on chain is; None for ids the platform never gives."""
    return uuid.UUID(int=onchain_id) if 0 <= onchain_id < PLATFORM_IDS else None
