"""End to end: the whole local stack (PostgreSQL, function processes, router, Auth and
Hosting emulators), driven through Hosting's /api/** rewrites as a browser would."""
from __future__ import annotations

import json
import os
import time

import pytest
import requests

from infra.manifest import REPO
from local.seed import seed
from local.stack import Stack, StackConfig
from tests.support.waiting import wait_for


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    stack = Stack(StackConfig.ephemeral(tmp_path_factory.mktemp("stack"), schedule_interval=2))
    with stack:
        yield stack
    # Everything the stack started is gone: no orphans.
    assert stack.children == []


def _alive(group: int) -> bool:
    """Is any process of this process group (a child and all it started) still there?"""
    try:
        os.killpg(group, 0)
    except ProcessLookupError:
        return False
    return True


def test_sign_up_register_create_publish_through_hosting(stack):
    base = stack.hosting_url
    _, token = stack.auth().sign_up("e2e-artist@example.test", display_name="E2E Artist")
    auth = {"Authorization": f"Bearer {token}"}

    registered = requests.post(f"{base}/api/register", json={"role": "artist"}, headers=auth, timeout=30)
    assert registered.status_code == 201, registered.text
    me = requests.get(f"{base}/api/me", headers=auth, timeout=30).json()
    assert me["email"] == "e2e-artist@example.test" and me["display_name"] == "E2E Artist"

    body = {"title": "Through Hosting", "goal": "1000", "currency": "EUR", "deadline": "2099-01-01T00:00:00Z"}
    created = requests.post(f"{base}/api/proposals", json=body, headers=auth, timeout=30)
    assert created.status_code == 201, created.text
    proposal_id = created.json()["id"]
    published = requests.post(f"{base}/api/proposals/{proposal_id}/publish", headers=auth, timeout=30)
    assert published.status_code == 200 and published.json()["status"] == "open"

    listed = requests.get(f"{base}/api/proposals", params={"status": "open"}, timeout=30)
    assert proposal_id in [p["id"] for p in listed.json()["items"]]
    # Anonymous reads are the CDN's to keep for a while; Hosting passes the validators through.
    assert listed.headers["Cache-Control"].startswith("public, max-age=0, s-maxage=")
    again = requests.get(f"{base}/api/proposals", params={"status": "open"}, timeout=30,
                         headers={"If-None-Match": listed.headers["ETag"]})
    assert again.status_code == 304


def test_errors_arrive_as_problem_json_through_hosting(stack):
    response = requests.post(f"{stack.hosting_url}/api/proposals", data="{", timeout=30,
                             headers={"Content-Type": "application/json"})
    assert response.status_code == 401
    assert response.headers["Content-Type"].startswith("application/problem+json")
    # Paths the API has no route for, however odd, are its problems too: a segment that begins
    # with a dot (Hosting's globs skip those), a newline, a character outside ASCII.
    for path in ("/api/media/.exe", "/api/users/a%0Ab", "/api/users/d%C2%9A", "/api/items/x/.y"):
        odd = requests.get(f"{stack.hosting_url}{path}", timeout=30)
        assert odd.status_code == 404 and odd.headers["Content-Type"].startswith("application/problem+json"), path


def test_openapi_and_site_are_static(stack):
    served = requests.get(f"{stack.hosting_url}/api/openapi.json", timeout=30)
    assert served.status_code == 200
    assert served.json() == json.loads((REPO / "public" / "openapi.json").read_text())
    page = requests.get(f"{stack.hosting_url}/", timeout=30)
    assert page.status_code == 200 and "KalaKrut Creative" in page.text


def _proposals(stack) -> dict[str, dict]:
    items = requests.get(f"{stack.hosting_url}/api/proposals?limit=100", timeout=30).json()["items"]
    return {p["title"]: p for p in items}


def test_demo_seed_is_idempotent_and_its_fundings_reach_the_api_through_the_indexer(stack):
    from local.chain import Platform, Rpc

    chain = Platform(Rpc(stack.chain_url), stack.contracts)
    first = seed(stack.hosting_url, stack.auth(), chain)
    again = seed(stack.hosting_url, stack.auth(), chain)
    assert "4 new proposals" in first and "4 new items" in first and "6 on-chain fundings" in first
    assert "0 new proposals" in again and "0 new items" in again and "0 on-chain fundings" in again
    # make dev again: the database persists, the chain is new; the demo is funded there too.
    from local.chain import deploy_platform

    fresh_chain = Platform(chain.rpc, deploy_platform(chain.rpc))
    assert "6 on-chain fundings" in seed(stack.hosting_url, stack.auth(), fresh_chain)
    titles = set(_proposals(stack))
    assert {"Woven Cities", "Resonant Forest", "Indigo Futures"} <= titles
    assert "Tape Loops" not in titles  # a draft stays private
    # Scheduler tick -> Pub/Sub -> chain-indexer -> PostgreSQL -> proposals API.
    woven = int(_proposals(stack)["Woven Cities"]["goal"])
    assert wait_for(lambda: _proposals(stack)["Woven Cities"]["raised_total"] == str(woven * 65 // 100), 60)
    status = requests.get(f"{stack.hosting_url}/api/chain/status", timeout=30).json()["chains"][0]
    assert status["chain_id"] == 31337 and status["checkpoint"] <= status["head"]


def test_marketplace_through_hosting(stack):
    """Search finds the demo items; the popularity job (Scheduler -> Pub/Sub) ranks them."""
    seed(stack.hosting_url, stack.auth())
    found = requests.get(f"{stack.hosting_url}/api/search", params={"q": "loom weaving"}, timeout=30).json()
    assert found["items"][0]["title"] == "Indigo Loom Study"
    assert requests.get(f"{stack.hosting_url}/api/search", params={"q": "resonatr"}, timeout=30).json()["mode"] == "fuzzy"
    stack.scheduler.tick("popularity")

    def ranked() -> bool:
        items = requests.get(f"{stack.hosting_url}/api/items", params={"sort": "popular", "limit": 100},
                             timeout=30).json()["items"]
        return bool(items) and items[0]["popularity"] > 0

    assert wait_for(ranked, 60)
    categories = requests.get(f"{stack.hosting_url}/api/categories", timeout=30).json()["items"]
    assert {"textile", "sound"} <= {c["slug"] for c in categories}  # the starter set


def test_the_graph_follows_the_database_through_events(stack):
    """Commit -> outbox -> Pub/Sub push -> graph-etl -> FalkorDB -> network API through Hosting."""
    seed(stack.hosting_url, stack.auth())
    token = stack.auth().sign_in("ivan@demo.kalakrut.dev")

    def ego() -> dict:
        response = requests.get(f"{stack.hosting_url}/api/network/ego", headers={"Authorization": f"Bearer {token}"},
                                timeout=30)
        assert response.status_code == 200, response.text
        return response.json()

    # Ivan follows both demo artists (the seed): his ego network shows them.
    assert wait_for(lambda: sum(e["type"] == "FOLLOWS" for e in ego()["edges"]) == 2, 30)
    names = {n["name"] for n in ego()["nodes"]}
    assert {"Ada Okafor", "Bela Horváth"} <= names


def test_stop_leaves_no_process_behind(tmp_path):
    stack = Stack(StackConfig.ephemeral(tmp_path, hosting=False)).start()
    pids = [child.process.pid for child in stack.children]
    assert pids and all(_alive(pid) for pid in pids)
    stack.stop()
    assert not any(_alive(pid) for pid in pids)


def _outbox(stack: Stack, sql: str):
    from sqlalchemy import create_engine, text

    engine = create_engine(stack.database_url)
    try:
        with engine.begin() as connection:
            return connection.execute(text(sql)).all()
    finally:
        engine.dispose()


def test_scheduled_relay_publishes_what_the_fast_path_missed(stack):
    """Scheduler tick -> Pub/Sub push -> outbox-relay function -> published."""
    event_id = "00000000-0000-4000-8000-00000000e2e1"
    envelope = json.dumps({"event_id": event_id, "type": "test.missed", "occurred_at": "2026-01-01T00:00:00+00:00",
                           "aggregate_type": "thing", "aggregate_id": "1", "schema_version": 1, "payload": {}})
    _outbox(stack, "INSERT INTO outbox (event_id, topic, type, occurred_at, envelope) VALUES "
                   f"('{event_id}', 'domain-events', 'test.missed', now() - interval '1 minute', '{envelope}') RETURNING id")
    assert wait_for(lambda: _outbox(stack, f"SELECT published_at FROM outbox WHERE event_id = '{event_id}'")[0][0], 30)


def test_the_push_broker_is_the_default_and_the_emulator_still_works(tmp_path, stack):
    assert stack.broker is not None and stack.pubsub_host is None  # the module's stack: the default
    with Stack(StackConfig.ephemeral(tmp_path, hosting=False, pubsub="emulator")) as stack:
        assert stack.broker is None and stack.pubsub_host is not None
        _, token = stack.auth().sign_up("broker@example.test")
        response = requests.post(f"{stack.router_url}/api/register", json={"role": "collector"},
                                 headers={"Authorization": f"Bearer {token}"}, timeout=30)
        assert response.status_code == 201
        rows = _outbox(stack, "SELECT type, published_at FROM outbox")
        assert [(t, p is not None) for t, p in rows] == [("user.registered", True)]


def test_the_stack_runs_a_chain_with_the_contracts(stack):
    from local.chain import Rpc, artifact, encode_call

    rpc = Rpc(stack.chain_url)
    assert rpc.call("eth_chainId") == hex(31337)
    assert rpc.call("eth_getCode", stack.contracts.artwork, "latest") == artifact("ArtworkToken")["deployedBytecode"]
    # ProposalFunding's operator is an immutable, written into its code at deployment.
    operator = rpc.call("eth_call", {"to": stack.contracts.funding, "data": encode_call("operator()")}, "latest")
    assert int(operator, 16) == int(stack.contracts.operator, 16)


def test_signed_upload_urls_answer_cors_for_the_site_only(stack):
    """Browsers PUT straight to the signed URL: the storage front answers CORS as the
    uploads bucket's CORS rule does (infra/terraform/storage.tf), for the site's origins."""
    url = f"{stack.storage_front_url}/kalakrut-uploads/uploads/some/object"
    preflight = {"Access-Control-Request-Method": "PUT",
                 "Access-Control-Request-Headers": "content-type,x-goog-content-length-range"}
    allowed = requests.options(url, headers={"Origin": stack.hosting_url, **preflight}, timeout=30)
    assert allowed.status_code == 200
    assert allowed.headers["Access-Control-Allow-Origin"] == stack.hosting_url
    assert "PUT" in allowed.headers["Access-Control-Allow-Methods"]
    assert "x-goog-content-length-range" in allowed.headers["Access-Control-Allow-Headers"]
    foreign = requests.options(url, headers={"Origin": "https://elsewhere.example", **preflight}, timeout=30)
    assert foreign.status_code == 403 and "Access-Control-Allow-Origin" not in foreign.headers
    assert "x-goog-if-generation-match" in allowed.headers["Access-Control-Allow-Headers"]


def test_an_upload_url_writes_once(stack):
    """The signed PUT carries x-goog-if-generation-match: 0 (as GCS enforces it, the storage
    front does): a checked upload cannot be replaced through its still-valid URL."""
    from tests.support import images

    token = stack.auth().sign_up(f"once-{time.time_ns()}@example.test", display_name="Once")[1]
    signed_in = {"Authorization": f"Bearer {token}"}
    assert requests.post(f"{stack.hosting_url}/api/register", json={"role": "artist"}, headers=signed_in,
                         timeout=30).status_code == 201
    photo = images.jpeg((64, 48))
    ticket = requests.post(f"{stack.hosting_url}/api/media/uploads", headers=signed_in, timeout=30,
                           json={"purpose": "artwork", "content_type": "image/jpeg", "size": len(photo)}).json()
    assert ticket["headers"]["x-goog-if-generation-match"] == "0"
    first = requests.put(ticket["upload_url"], data=photo, headers=ticket["headers"], timeout=30)
    assert first.status_code == 200
    again = requests.put(ticket["upload_url"], data=images.png((8, 8), "RGB"), headers=ticket["headers"], timeout=30)
    assert again.status_code == 412


def test_the_campaign_operator_opens_published_eth_proposals(stack):
    """The campaign-operator function, as deployed but signing with anvil's key: publish, and
    the campaign is on chain, paying the artist's linked wallet."""
    import uuid

    from sqlalchemy import create_engine, text

    from local.chain import Platform, Rpc
    from shared.chain.abi import checksum

    _, token = stack.auth().sign_up("operator-e2e@example.test", display_name="Op Artist")
    auth = {"Authorization": f"Bearer {token}"}
    requests.post(f"{stack.hosting_url}/api/register", json={"role": "artist"}, headers=auth, timeout=30)
    artist_wallet = Rpc(stack.chain_url).call("eth_accounts")[1]
    engine = create_engine(stack.database_url)
    with engine.begin() as conn:  # as linking it with SIWE leaves it (tests/integration/test_wallets.py)
        conn.execute(text("UPDATE users SET wallet_address = :wallet WHERE email = 'operator-e2e@example.test'"),
                     {"wallet": checksum(artist_wallet)})
    engine.dispose()
    body = {"title": "On chain soon", "goal": "3000000000000000000", "currency": "ETH", "deadline": "2099-01-01T00:00:00Z"}
    proposal = requests.post(f"{stack.hosting_url}/api/proposals", json=body, headers=auth, timeout=30).json()
    chain = Platform(Rpc(stack.chain_url), stack.contracts)
    onchain_id = uuid.UUID(proposal["id"]).int
    time.sleep(4)  # a full operator pass: a draft stays off chain
    assert not chain.has_campaign(onchain_id)
    requests.post(f"{stack.hosting_url}/api/proposals/{proposal['id']}/publish", headers=auth, timeout=30)
    assert wait_for(lambda: chain.has_campaign(onchain_id), 30)
    artist, deadline, _, goal, raised = chain.campaign(onchain_id)
    assert (goal, raised) == (3 * 10**18, 0) and deadline == 4070908800
    assert artist.lower() == artist_wallet.lower()


def test_a_killed_function_is_restarted_and_reported(stack):
    """As Cloud Run replaces a crashed instance: the supervisor starts it again and says so
    (status.json, which `python -m local.status` prints)."""
    import signal

    def network() -> dict:
        return next(row for row in stack.supervisor.status() if row["name"] == "network")

    before = network()
    os.killpg(before["pid"], signal.SIGKILL)
    assert wait_for(lambda: network()["restarts"] == before["restarts"] + 1 and network()["state"] == "running",
                    timeout=30)
    restarted = network()
    assert restarted["pid"] != before["pid"] and restarted["last_exit"] == -signal.SIGKILL
    status = json.loads((stack.config.state_dir / "status.json").read_text())
    assert {row["name"] for row in status["functions"]} == {f.name for f in stack.manifest.functions}
    # Back behind the router: the route answers again (401: it wants a token, not a 502).
    assert wait_for(lambda: requests.get(f"{stack.hosting_url}/api/network/ego", timeout=5).status_code == 401,
                    timeout=30)
