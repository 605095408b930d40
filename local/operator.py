"""The platform operator's local stand-in: opens the on-chain campaign of every open
proposal in ETH that has none yet, for the artist's linked wallet (or the dev artist
account). In the cloud this is the operator's act, outside this repository's functions
(its key stays off the platform); locally it makes a proposal published in the web app
fundable within seconds. It reads PostgreSQL as the platform's own back office would."""
from __future__ import annotations

import uuid

from sqlalchemy import create_engine, text

from local.chain import Platform, chain_time
from local.periodic import Periodic

OPEN_ETH_PROPOSALS = text("""
    SELECT p.id, p.goal, extract(epoch FROM p.deadline)::bigint AS deadline, u.wallet_address
      FROM proposals p JOIN users u ON u.id = p.owner_id
     WHERE p.status = 'open' AND p.currency = 'ETH'
""")


class CampaignOperator(Periodic):
    def __init__(self, database_url: str, chain: Platform, interval: float = 3.0) -> None:
        super().__init__("campaign-operator", interval)
        self._engine = create_engine(database_url, pool_size=1, max_overflow=0)
        self._chain = chain
        self._known: set[uuid.UUID] = set()  # proposals whose campaign is on this chain

    def step(self) -> None:
        with self._engine.connect() as conn:
            pending = [row for row in conn.execute(OPEN_ETH_PROPOSALS) if row.id not in self._known]
        if not pending:
            return
        fallback_artist = self._chain.rpc.call("eth_accounts")[1]
        now = chain_time(self._chain.rpc)
        for row in pending:
            if row.deadline > now:
                self._chain.ensure_campaign(row.id.int, row.wallet_address or fallback_artist, int(row.goal),
                                            row.deadline - now)
                self._known.add(row.id)

    def stop(self) -> None:
        super().stop()
        self._engine.dispose()
