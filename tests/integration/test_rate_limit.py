"""Rate limits per address and per user, in buckets per function and route class: writes and
expensive reads with state every instance shares, signed-in reads per instance (decision 0024)."""
from concurrent.futures import ThreadPoolExecutor

import pytest

from shared.config import get_settings


@pytest.fixture
def strict_limits(monkeypatch, app_env):
    """Call to allow five requests of each class, then one every two seconds (none comes back
    during a test); the test client's peer (127.0.0.1) is the trusted proxy."""

    def enable() -> None:
        for kind in ("", "EXPENSIVE_", "READS_"):
            monkeypatch.setenv(f"RATE_LIMIT_{kind}PER_SECOND", "0.5")
            monkeypatch.setenv(f"RATE_LIMIT_{kind}BURST", "5")
        monkeypatch.setenv("TRUSTED_PROXIES", "127.0.0.1/32")
        get_settings.cache_clear()

    yield enable
    monkeypatch.undo()
    get_settings.cache_clear()


def _track(client, item_id: str, *, address: str, token: str | None = None):
    headers = {"X-Forwarded-For": f"203.0.113.77, {address}", "User-Agent": "limit-test"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return client.post("/api/analytics/track", json={"item_id": item_id, "action": "view"}, headers=headers)


def test_concurrent_requests_from_one_address(people, make_item, function_clients, strict_limits):
    item = make_item(people("artist"), listed=True)
    client = function_clients["marketplace"]
    strict_limits()
    with ThreadPoolExecutor(max_workers=8) as pool:
        responses = list(pool.map(lambda _: _track(client, item["id"], address="198.51.100.1"), range(24)))
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] * 5 + [429] * 19
    refused = next(r for r in responses if r.status_code == 429)
    assert refused.content_type == "application/problem+json" and refused.get_json()["code"] == "rate-limited"
    assert 1 <= int(refused.headers["Retry-After"]) <= 2
    # Another address has its own allowance: the forged first hop is not the key.
    assert _track(client, item["id"], address="198.51.100.2").status_code == 200


def test_one_user_from_many_addresses(people, make_item, function_clients, strict_limits):
    item = make_item(people("artist"), listed=True)
    fan = people("collector")
    client = function_clients["marketplace"]
    strict_limits()
    statuses = [_track(client, item["id"], address=f"198.51.100.{10 + i}", token=fan.token).status_code
                for i in range(7)]
    assert statuses == [200] * 5 + [429] * 2


def test_anonymous_reads_are_limited_per_address(people, make_item, function_clients, strict_limits):
    """Past the CDN (a direct call, a query string it has not cached) reads cost the database:
    counted per address in the instance's memory, whatever the forged first hop says."""
    item = make_item(people("artist"), listed=True)
    client = function_clients["marketplace"]
    strict_limits()
    statuses = [client.get(f"/api/items/{item['id']}", headers=_forged("198.51.100.60", i)).status_code
                for i in range(7)]
    assert statuses == [200] * 5 + [429] * 2
    assert client.get(f"/api/items/{item['id']}", headers=_forged("198.51.100.61", 0)).status_code == 200


def _forged(address: str, i: int) -> dict[str, str]:
    return {"X-Forwarded-For": f"203.0.113.{i}, {address}"}


def test_expensive_reads_are_limited_for_everyone(function_clients, strict_limits):
    """Search is public and its answer cacheable, but a new query string each time misses
    the CDN: every search counts, anonymous or not, whatever the forged first hop says."""
    client = function_clients["marketplace"]
    strict_limits()
    statuses = [client.get(f"/api/search?q=word{i}", headers=_forged("198.51.100.30", i)).status_code
                for i in range(7)]
    assert statuses == [200] * 5 + [429] * 2
    assert client.get("/api/search?q=other", headers=_forged("198.51.100.31", 0)).status_code == 200


def test_signed_in_reads_are_limited_per_user_not_per_address(people, function_clients, strict_limits):
    fan, colleague = people("collector"), people("collector")
    client = function_clients["registration"]
    strict_limits()
    statuses = [client.get("/api/me", headers={"Authorization": f"Bearer {fan.token}",
                                               **_forged(f"198.51.100.{40 + i}", i)}).status_code
                for i in range(7)]
    assert statuses == [200] * 5 + [429] * 2
    # Someone else behind the same address (an office, a carrier's NAT) reads on.
    office = {"Authorization": f"Bearer {colleague.token}", **_forged("198.51.100.40", 0)}
    assert client.get("/api/me", headers=office).status_code == 200
    refused = client.get("/api/me", headers={"Authorization": f"Bearer {fan.token}"})
    assert refused.status_code == 429 and refused.content_type == "application/problem+json"
    assert int(refused.headers["Retry-After"]) >= 1


def test_buckets_are_per_function_and_route_class(people, make_item, function_clients, strict_limits):
    """Spending one kind of allowance (marketplace writes) leaves the others whole."""
    fan, artist = people("collector"), people("artist")
    item = make_item(artist, listed=True)
    market = function_clients["marketplace"]
    strict_limits()
    assert [_track(market, item["id"], address="198.51.100.50", token=fan.token).status_code
            for _ in range(6)] == [200] * 5 + [429]
    signed_in = {"Authorization": f"Bearer {fan.token}", "X-Forwarded-For": "198.51.100.50"}
    follow = function_clients["registration"].post(f"/api/users/{artist.id}/follow", headers=signed_in)
    assert follow.status_code == 204  # registration's writes: another bucket
    assert market.get("/api/search?q=x", headers=signed_in).status_code == 200  # expensive reads: another
    assert market.get(f"/api/items/{item['id']}/reactions", headers=signed_in).status_code == 200  # reads


def test_refused_requests_change_nothing(people, make_item, function_clients, strict_limits, db):
    from sqlalchemy import text

    item = make_item(people("artist"), listed=True)
    client = function_clients["marketplace"]
    strict_limits()
    for _ in range(5):
        _track(client, item["id"], address="198.51.100.9")
    db.rollback()
    before = db.execute(text("SELECT count(*) FROM analytics_events")).scalar()
    assert _track(client, item["id"], address="198.51.100.9").status_code == 429
    db.rollback()
    assert db.execute(text("SELECT count(*) FROM analytics_events")).scalar() == before
