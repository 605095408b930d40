"""Write endpoints are rate-limited per address and per user, with state every instance shares."""
from concurrent.futures import ThreadPoolExecutor

import pytest

from shared.config import get_settings


@pytest.fixture
def strict_limits(monkeypatch, app_env):
    """Call to allow five writes, then one every two seconds (none comes back during a test)."""

    def enable() -> None:
        monkeypatch.setenv("RATE_LIMIT_PER_SECOND", "0.5")
        monkeypatch.setenv("RATE_LIMIT_BURST", "5")
        monkeypatch.setenv("TRUSTED_PROXY_HOPS", "1")
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


def test_reads_are_not_limited(people, make_item, function_clients, strict_limits):
    item = make_item(people("artist"), listed=True)
    client = function_clients["marketplace"]
    strict_limits()
    assert {client.get(f"/api/items/{item['id']}").status_code for _ in range(12)} == {200}


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
