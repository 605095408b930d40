"""Demo data, loaded through the public API (Hosting -> functions), never through SQL.

Idempotent: accounts are signed in when they exist, registration is idempotent,
and an artist's proposals are created only if that artist has none yet.
"""
from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, datetime, timedelta

import requests

from local.chain import Deployment, Platform, Rpc
from local.config import StackConfig
from local.firebase import AuthEmulator

ARTISTS = [
    ("ada@demo.kalakrut.dev", "Ada Okafor", "Large-scale textile installations.", [
        ("Woven Cities", "A 12-metre tapestry mapping Lagos by night.", "textile", ["installation", "lagos"], "2500000000000000000", "ETH", True),
        ("Indigo Futures", "Natural-dye workshop series for young weavers.", "education", ["workshop"], "450000", "EUR", True),
    ]),
    ("bela@demo.kalakrut.dev", "Bela Horváth", "Generative sound sculpture.", [
        ("Resonant Forest", "Twenty solar-powered sound sculptures in a beech wood.", "sound", ["sculpture", "generative"], "1800000000000000000", "ETH", True),
        ("Tape Loops", "An album recorded on salvaged tape machines.", "music", ["album"], "300000", "USD", False),
    ]),
]
# (title, description, category, tags, price in cents, EUR, inventory) per artist, all listed.
ITEMS = {
    "ada@demo.kalakrut.dev": [
        ("Indigo Loom Study", "Hand-dyed cotton on a backstrap loom, 60 x 90 cm.", "textile", ["indigo", "weaving"],
         "45000", 3),
        ("Night Market Runner", "A woven runner after Lagos' night markets.", "textile", ["lagos", "weaving"],
         "28000", 5),
    ],
    "bela@demo.kalakrut.dev": [
        ("Beech Resonator No. 4", "A solar sound sculpture from the Resonant Forest series.", "sound",
         ["sculpture", "generative"], "120000", 1),
        ("Tape Loop Box", "A hand-built tape loop machine with three loops.", "music", ["tape", "instrument"],
         "35000", 2),
    ],
}
BACKERS = [
    ("ivan@demo.kalakrut.dev", "Ivan Petrov", "investor"),
    ("mina@demo.kalakrut.dev", "Mina Sato", "investor"),
    ("cleo@demo.kalakrut.dev", "Cleo Dubois", "collector"),
]
# Registered like anyone; the stack makes them an administrator (infra/admins.py: no API does).
MODERATOR = ("mod@demo.kalakrut.dev", "Moe Moderator", "collector")

RETRIES = 10


class Client:
    def __init__(self, base: str, token: str) -> None:
        self.base = base
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {token}"

    def call(self, method: str, path: str, **kwargs) -> requests.Response:
        for _ in range(RETRIES):
            response = self.session.request(method, self.base + path, timeout=30, **kwargs)
            if response.status_code != 429:
                break
            time.sleep(float(response.headers.get("Retry-After", "1")))  # writes are rate-limited
        if response.status_code >= 400:
            raise RuntimeError(f"{method} {path} -> {response.status_code}: {response.text}")
        return response


def _account(auth: AuthEmulator, email: str, name: str) -> str:
    try:
        return auth.sign_in(email)
    except requests.HTTPError:
        return auth.sign_up(email, display_name=name)[1]


# (backer account index on the dev chain, share of the goal in percent) per published ETH proposal.
PLEDGES = [(2, 30), (3, 25), (4, 10)]


def seed(base_url: str, auth: AuthEmulator, chain: Platform | None = None) -> str:
    deadline = (datetime.now(UTC) + timedelta(days=45)).isoformat()
    people: dict[str, tuple[Client, str]] = {}
    created = 0
    for email, name, bio, proposals in ARTISTS:
        client = Client(base_url, _account(auth, email, name))
        me = client.call("POST", "/api/register", json={"role": "artist", "display_name": name, "bio": bio}).json()
        people[email] = (client, me["id"])
        if client.call("GET", "/api/proposals", params={"owner": me["id"], "limit": 1}).json()["items"]:
            continue
        for title, description, category, tags, goal, currency, publish in proposals:
            body = {"title": title, "description": description, "category": category, "tags": tags,
                    "goal": goal, "currency": currency, "deadline": deadline}
            proposal = client.call("POST", "/api/proposals", json=body).json()
            created += 1
            if publish:
                client.call("POST", f"/api/proposals/{proposal['id']}/publish")
    for email, name, role in (*BACKERS, MODERATOR):
        client = Client(base_url, _account(auth, email, name))
        me = client.call("POST", "/api/register", json={"role": role, "display_name": name}).json()
        people[email] = (client, me["id"])
        for artist_email, *_ in ARTISTS:
            client.call("POST", f"/api/users/{people[artist_email][1]}/follow")
    items = seed_marketplace(people)
    funded = 0
    if chain:
        # Every run of the stack starts a fresh chain while the database persists:
        # fund whichever open demo proposal has no campaign on this chain yet.
        artists = [people[email][1] for email, *_ in ARTISTS]
        open_eth = [p for artist in artists for p in requests.get(
            f"{base_url}/api/proposals", params={"owner": artist, "status": "open", "limit": 100}, timeout=30,
        ).json()["items"] if p["currency"] == "ETH"]
        funded = fund_on_chain(chain, open_eth)
    return (f"demo data: {len(people)} people (password 'password123'), {created} new proposals, "
            f"{items} new items, {funded} on-chain fundings")


def seed_marketplace(people: dict[str, tuple[Client, str]]) -> int:
    """Listed items for each artist (when they have none yet), an auction of the first,
    and the backers' favorites, likes and views."""
    created: list[str] = []
    for email, items in ITEMS.items():
        client, artist_id = people[email]
        if client.call("GET", "/api/items", params={"owner": artist_id, "limit": 1}).json()["items"]:
            continue
        for title, description, category, tags, price, inventory in items:
            body = {"title": title, "description": description, "kind": "physical", "price": price,
                    "currency": "EUR", "inventory": inventory, "shipping_regions": ["GB", "DE", "NG", "HU"],
                    "category": category, "tags": tags}
            item = client.call("POST", "/api/items", json=body).json()
            client.call("POST", f"/api/items/{item['id']}/list")
            created.append(item["id"])
        first = created[-len(items)]
        ends_at = (datetime.now(UTC) + timedelta(days=3)).isoformat()
        client.call("POST", f"/api/items/{first}/auctions",
                    json={"ends_at": ends_at, "starting_price": "20000", "min_increment": "1000",
                          "reserve_price": "40000"})
    for index, (email, *_) in enumerate(BACKERS):
        client, _ = people[email]
        for position, item_id in enumerate(created):
            client.call("POST", "/api/analytics/track", json={"item_id": item_id, "action": "view"})
            if (position + index) % 2 == 0:
                client.call("PUT", f"/api/items/{item_id}/like")
            if position == index:
                client.call("PUT", f"/api/items/{item_id}/favorite")
    return len(created)


def fund_on_chain(chain: Platform, proposals: list[dict]) -> int:
    """Each published ETH demo proposal gets its campaign on this chain (the seed or the
    stack's campaign operator opens it) and, while nobody has backed it, dev accounts do."""
    accounts = chain.rpc.call("eth_accounts")
    fundings = 0
    for proposal in proposals:
        proposal_id, goal = uuid.UUID(proposal["id"]).int, int(proposal["goal"])
        chain.ensure_campaign(proposal_id, accounts[1], goal, seconds=45 * 86_400)
        if chain.campaign(proposal_id)[4]:  # raised: already backed on this chain
            continue
        for account, percent in PLEDGES:
            chain.fund(accounts[account], proposal_id, goal * percent // 100)
            fundings += 1
    return fundings


def main() -> int:
    """`make seed`: load the demo data into a stack started by `make dev`."""
    config = StackConfig.from_env()
    auth = AuthEmulator(f"127.0.0.1:{config.auth_port}", config.project)
    chain_file = config.state_dir / "chain.json"
    chain = None
    if chain_file.exists():
        deployed = json.loads(chain_file.read_text())
        chain = Platform(Rpc(deployed.pop("url")), Deployment(**deployed))
    print(seed(f"http://127.0.0.1:{config.hosting_port}", auth, chain))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
