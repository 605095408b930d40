"""The platform operator's local stand-in: opens the on-chain campaign of every open
proposal in ETH that has none yet, for the artist's linked wallet (or the dev artist
account). In the cloud this is the operator's act, outside this repository's functions;
locally it makes a proposal published in the web app fundable within seconds."""
from __future__ import annotations

import uuid
from datetime import datetime

import requests

from local.chain import Platform, chain_time
from local.periodic import Periodic


def open_pending_campaigns(api_url: str, chain: Platform, known: set[str]) -> int:
    """One pass over the open ETH proposals; ``known`` remembers those already on chain."""
    fallback_artist = chain.rpc.call("eth_accounts")[1]
    opened, cursor = 0, None
    while True:
        page = requests.get(f"{api_url}/api/proposals", params={"status": "open", "limit": 100, "cursor": cursor},
                            timeout=30).json()
        for proposal in page["items"]:
            if proposal["currency"] != "ETH" or proposal["id"] in known:
                continue
            owner = requests.get(f"{api_url}/api/users/{proposal['owner_id']}", timeout=30).json()
            seconds = int(datetime.fromisoformat(proposal["deadline"]).timestamp()) - chain_time(chain.rpc)
            if seconds > 0:
                opened += chain.ensure_campaign(uuid.UUID(proposal["id"]).int, owner.get("wallet_address") or fallback_artist,
                                                int(proposal["goal"]), seconds)
                known.add(proposal["id"])
        cursor = page.get("next_cursor")
        if not cursor:
            return opened


class CampaignOperator(Periodic):
    def __init__(self, api_url: str, chain: Platform, interval: float = 3.0) -> None:
        super().__init__("campaign-operator", interval)
        self._api_url, self._chain = api_url, chain
        self._known: set[str] = set()

    def step(self) -> None:
        open_pending_campaigns(self._api_url, self._chain, self._known)
