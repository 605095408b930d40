"""Demo data, loaded through the public API (Hosting -> functions), never through SQL.

Idempotent: accounts are signed in when they exist, registration is idempotent,
and an artist's proposals are created only if that artist has none yet.
"""
from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import requests

from local.chain import Deployment, Platform, Rpc
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
BACKERS = [
    ("ivan@demo.kalakrut.dev", "Ivan Petrov", "investor"),
    ("mina@demo.kalakrut.dev", "Mina Sato", "investor"),
    ("cleo@demo.kalakrut.dev", "Cleo Dubois", "collector"),
]


class Client:
    def __init__(self, base: str, token: str) -> None:
        self.base = base
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {token}"

    def call(self, method: str, path: str, **kwargs) -> requests.Response:
        response = self.session.request(method, self.base + path, timeout=30, **kwargs)
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
    for email, name, role in BACKERS:
        client = Client(base_url, _account(auth, email, name))
        me = client.call("POST", "/api/register", json={"role": role, "display_name": name}).json()
        people[email] = (client, me["id"])
        for artist_email, *_ in ARTISTS:
            client.call("POST", f"/api/users/{people[artist_email][1]}/follow")
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
            f"{funded} on-chain fundings")


def fund_on_chain(chain: Platform, proposals: list[dict]) -> int:
    """The platform opens a campaign per published ETH proposal that has none on this
    chain yet; dev accounts back it."""
    accounts = chain.rpc.call("eth_accounts")
    fundings = 0
    for proposal in proposals:
        proposal_id, goal = uuid.UUID(proposal["id"]).int, int(proposal["goal"])
        if chain.has_campaign(proposal_id):
            continue
        chain.open_campaign(proposal_id, accounts[1], goal, seconds=45 * 86_400)
        for account, percent in PLEDGES:
            chain.fund(accounts[account], proposal_id, goal * percent // 100)
            fundings += 1
    return fundings


def main() -> int:
    """`make seed`: load the demo data into a stack started by `make dev`."""
    from local.stack import StackConfig

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
