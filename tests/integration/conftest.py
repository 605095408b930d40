"""Integration fixtures: every function served by functions-framework's own
create_app(...).test_client(), against the real PostgreSQL and Auth emulator."""
from __future__ import annotations

import itertools
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from local.processes import free_port, port_open, spawn
from shared.manifest import REPO, load
from tests.support.openapi_client import ApiClient, OpenApiChecker

TABLES = ("audit_log", "follows", "proposals", "users", "outbox", "processed_events")
_emails = itertools.count()
CONSUMER = REPO / "tests" / "support" / "consumer_fn" / "main.py"


@pytest.fixture(scope="session")
def openapi_checker(app_env) -> OpenApiChecker:
    from shared.http.openapi import build

    return OpenApiChecker(build())


@pytest.fixture(scope="session")
def function_clients(app_env) -> dict:
    from functions_framework import create_app

    manifest = load()
    return {
        f.name: create_app(target=f.entry_point, source=str(f.main)).test_client()
        for f in manifest.http_functions()
    }


@pytest.fixture
def api(function_clients, openapi_checker, clean_state) -> ApiClient:
    return ApiClient(load(), function_clients, openapi_checker)


@pytest.fixture
def db(app_env):
    from shared.db import get_engine

    with get_engine().connect() as connection:
        yield connection


@pytest.fixture
def clean_state(app_env, auth_emulator) -> Iterator[None]:
    yield
    from shared.db import get_engine

    with get_engine().begin() as connection:
        connection.execute(text(f"TRUNCATE {', '.join(TABLES)} CASCADE"))
    auth_emulator.clear()


def snapshot(connection) -> dict[str, list]:
    """Every row of every table, to prove a rejected request changed nothing."""
    return {
        table: sorted(map(tuple, connection.execute(text(f"SELECT * FROM {table}")).all()), key=repr)
        for table in TABLES
    }


@dataclass
class Person:
    uid: str
    token: str
    email: str
    id: str | None = None


@pytest.fixture
def people(api, auth_emulator, db):
    """Factory: an Auth emulator account, optionally registered with a role (and admin)."""

    def make(role: str | None = "artist", *, admin: bool = False, name: str | None = None) -> Person:
        email = f"person{next(_emails)}@example.test"
        uid, token = auth_emulator.sign_up(email, display_name=name)
        person = Person(uid, token, email)
        if role:
            response = api.post("/api/register", token=token, json={"role": role})
            assert response.status_code == 201, response.get_data(as_text=True)
            person.id = response.get_json()["id"]
        if admin:
            db.execute(text("UPDATE users SET is_admin = true WHERE id = :id"), {"id": person.id})
            db.commit()
        return person

    return make


def future(days: int = 30) -> str:
    return (datetime.now(UTC) + timedelta(days=days)).isoformat()


def proposal_body(**overrides) -> dict:
    body = {
        "title": "Woven Cities",
        "description": "A tapestry of Lagos by night.",
        "category": "textile",
        "tags": ["installation", "lagos"],
        "goal": "2500000000000000000",
        "currency": "ETH",
        "deadline": future(),
    }
    body.update(overrides)
    return body


@pytest.fixture
def make_proposal(api):
    def make(owner: Person, *, publish: bool = False, **overrides) -> dict:
        response = api.post("/api/proposals", token=owner.token, json=proposal_body(**overrides))
        assert response.status_code == 201, response.get_data(as_text=True)
        proposal = response.get_json()
        if publish:
            response = api.post(f"/api/proposals/{proposal['id']}/publish", token=owner.token)
            assert response.status_code == 200, response.get_data(as_text=True)
            proposal = response.get_json()
        return proposal

    return make


@pytest.fixture(scope="session")
def consumer_url(app_env, tmp_path_factory) -> Iterator[str]:
    """The test consumer (tests/support/consumer_fn) as its own functions-framework process."""
    port = free_port()
    child = spawn("test-consumer", [os.path.join(os.path.dirname(sys.executable), "functions-framework"),
                                    "--target", "handle", "--source", str(CONSUMER), "--signature-type", "cloudevent",
                                    "--host", "127.0.0.1", "--port", str(port)],
                  env={**os.environ, "PYTHONPATH": str(REPO), "K_SERVICE": "test-consumer"},
                  log_dir=tmp_path_factory.mktemp("consumer"))
    child.wait_until(lambda: port_open(port), 30)
    yield f"http://127.0.0.1:{port}/"
    child.stop()


def effects(db) -> int:
    """How many events the test consumer has applied."""
    db.rollback()
    return db.execute(text("SELECT count(*) FROM audit_log WHERE action = 'test.consumed'")).scalar()
