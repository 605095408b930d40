"""The local stack gives each function exactly its local deployed configuration: every
``stack:`` source resolves, nothing comes from the developer's shell, and each function
connects as its own database role."""
from __future__ import annotations

from types import SimpleNamespace

import pytest

from infra.manifest import load
from local.config import StackConfig
from local.stack import Stack


@pytest.fixture
def stack(tmp_path, monkeypatch):
    """A stack that has started nothing: enough to compute what each function is given."""
    monkeypatch.setenv("SHELL_ONLY_SECRET", "from-the-shell")
    stack = Stack(StackConfig.ephemeral(tmp_path))
    stack.pg = SimpleNamespace(url=lambda database, role="postgres": f"postgresql+pg8000://{role}@/{database}")
    stack.contracts = SimpleNamespace(funding="0x" + "1" * 40, artwork="0x" + "2" * 40, market="0x" + "3" * 40)
    stack.pubsub_host = "127.0.0.1:1"
    return stack


@pytest.mark.parametrize("function", [f.name for f in load().functions])
def test_a_function_gets_its_configuration_and_nothing_else(stack, function):
    env = stack.function_env(function)
    config = stack.deployed[function]
    platform = {"PATH", "HOME", "K_SERVICE"}
    # Every setting it is given locally resolves (an empty value is one transport of two).
    assert set(env) - platform <= set(config["env"])
    assert set(config["env"]) - set(env) <= {"LOCAL_PUBSUB_URL"}
    assert "SHELL_ONLY_SECRET" not in env and "PYTHONPATH" not in env
    assert env["K_SERVICE"] == function
    if config["database"]:
        assert env["DATABASE_URL"].startswith(f"postgresql+pg8000://fn-{function}@/")


def test_the_migration_job_grants_every_database_function_and_no_one_else(stack):
    assert stack.database_roles() == sorted(f"fn-{f.name}" for f in load().functions if f.database)
    assert stack.values("registration")["database_function_roles"] == ",".join(stack.database_roles())


def test_the_local_hosting_emulator_allows_loopback_and_production_does_not(tmp_path):
    import json

    from infra.manifest import REPO
    from local.firebase import EmulatorPorts, emulator_config

    def csp(config: dict) -> str:
        return next(h["value"] for rule in config["hosting"]["headers"] for h in rule["headers"]
                    if h["key"] == "Content-Security-Policy")

    def directive(policy: str, name: str) -> str:
        return next(d.strip() for d in policy.split(";") if d.split()[0] == name)

    local = emulator_config(EmulatorPorts(auth=1, hosting=2, hub=3, logging=4), tmp_path)
    assert "target" not in local["hosting"]
    # The emulators' APIs, their media and localstripe's Stripe.js (a script) are on loopback.
    for name in ("connect-src", "img-src", "script-src"):
        assert directive(csp(local), name).endswith("http://127.0.0.1:* http://localhost:*"), name
    assert "https://js.stripe.com" in directive(csp(local), "script-src")
    for name in ("default-src", "frame-src", "frame-ancestors", "object-src"):
        assert "127.0.0.1" not in directive(csp(local), name), name
    production = json.loads((REPO / "firebase.json").read_text())
    assert "127.0.0.1" not in csp(production) and "localhost" not in csp(production)


def test_the_local_broker_retries_with_the_clouds_policy(stack):
    """Locally, as in the cloud, a consumer's outage is ridden out for as long before a
    message is parked: the stack's subscriptions take functions.yaml's retry policy."""
    from local.broker import seconds

    subscriptions = stack.subscriptions({f.name: f"http://127.0.0.1:1/{f.name}" for f in load().event_functions()})
    assert len(subscriptions) == len(load().event_functions())
    for subscription in subscriptions:
        assert (subscription.min_backoff, subscription.max_backoff, subscription.max_delivery_attempts) == (10, 600, 10)
    assert seconds("0.5s") == 0.5
    with pytest.raises(ValueError):
        seconds("10m")


def test_the_router_forwards_any_path_as_an_ascii_request_target():
    """Hosting sends /api/users/d%C2%9A; the router once failed to forward it (a 500 of its
    own) where the function answers 404 (issue 22, finding 4)."""
    from local.router import target

    assert target("/api/users/d\u009a", b"") == "/api/users/d%C2%9A"
    assert target("/api/search", b"q=a%20b&x=\xff") == "/api/search?q=a%20b&x=%FF"
    assert target("/api/items/1", b"") == "/api/items/1"
    assert target("/api/users/%00", b"") == "/api/users/%00"  # what was escaped stays escaped
