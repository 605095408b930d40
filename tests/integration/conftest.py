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

from infra.manifest import REPO, load
from local.processes import free_port, port_open, spawn
from local.pubsub import push_body
from shared.media import storage
from tests.conftest import UPLOADS
from tests.support.openapi_client import ApiClient, OpenApiChecker
from tests.support.roles import AsFunction

TABLES = ("audit_log", "follows", "proposals", "media", "wallet_challenges", "users", "outbox", "processed_events",
          "web3_transactions", "chain_blocks", "indexer_checkpoints", "investments", "artwork_tokens", "graph_sync_state",
          "categories", "tags", "items", "favorites", "likes", "analytics_events", "popularity_inbox", "auctions", "bids",
          "account_deletions", "payment_holds", "orders", "ledger_journals", "ledger_entries", "payout_accounts",
          "payouts", "notifications", "notification_preferences", "reports", "item_vectors",
          "proposal_vectors")
# Every test starts with these categories (admins manage them; tests name them).
CATEGORIES = ("textile", "sound", "painting", "sculpture", "photography", "digital-art", "craft")
_emails = itertools.count()
CONSUMER = REPO / "tests" / "support" / "consumer_fn" / "main.py"


@pytest.fixture(scope="session")
def openapi_checker(app_env) -> OpenApiChecker:
    from infra.openapi import build

    return OpenApiChecker(build())


@pytest.fixture(scope="session")
def function_clients(app_env) -> dict:
    from functions_framework import create_app

    manifest = load()
    return {
        f.name: AsFunction(f.name, create_app(target=f.entry_point, source=str(f.main)).test_client())
        for f in manifest.http_functions()
    }


@pytest.fixture
def api(function_clients, openapi_checker, clean_state) -> ApiClient:
    return ApiClient(load(), function_clients, openapi_checker)


@pytest.fixture(autouse=True)
def _fast_path_resumed():
    """A test that takes Pub/Sub away pauses the fast path (shared/events/outbox.py): the
    next test starts with it running."""
    from shared.events.outbox import resume_fast_path

    resume_fast_path()
    yield
    resume_fast_path()


@pytest.fixture(scope="session")
def owner_engine(database_url):
    """The tests' own access (set-up, inspection, truncation), as the database's superuser:
    the functions under test connect as a role holding only the migration job's grants."""
    from sqlalchemy import create_engine

    engine = create_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def db(app_env, owner_engine):
    with owner_engine.connect() as connection:
        yield connection


def reset_tables(connection) -> None:
    from shared import maintenance

    connection.execute(text(f"TRUNCATE {', '.join(TABLES)}, rate_limits CASCADE"))
    maintenance.switch_off(connection)
    maintenance.forget()
    connection.execute(text("INSERT INTO categories (slug, name, sort_order) "
                            "SELECT slug, initcap(replace(slug, '-', ' ')), ord "
                            "FROM unnest(string_to_array(:slugs, ',')) WITH ORDINALITY AS c(slug, ord)"),
                       {"slugs": ",".join(CATEGORIES)})


@pytest.fixture
def clean_state(app_env, auth_emulator, owner_engine) -> Iterator[None]:
    with owner_engine.begin() as connection:
        reset_tables(connection)
    yield
    with owner_engine.begin() as connection:
        reset_tables(connection)  # also after: tests without this fixture expect empty tables
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


def item_body(**overrides) -> dict:
    body = {
        "title": "Indigo Loom Study",
        "description": "Hand-dyed cotton on a backstrap loom.",
        "kind": "physical",
        "price": "45000",
        "currency": "EUR",
        "inventory": 3,
        "shipping_regions": ["NG", "GB"],
        "category": "textile",
        "tags": ["weaving", "indigo"],
    }
    body.update(overrides)
    return body


@pytest.fixture
def make_item(api):
    """Factory: an item of ``owner`` (listed when told)."""

    def make(owner: Person, *, listed: bool = False, **overrides) -> dict:
        response = api.post("/api/items", token=owner.token, json=item_body(**overrides))
        assert response.status_code == 201, response.get_data(as_text=True)
        item = response.get_json()
        if listed:
            response = api.post(f"/api/items/{item['id']}/list", token=owner.token)
            assert response.status_code == 200, response.get_data(as_text=True)
            item = response.get_json()
        return item

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


# -- media ---------------------------------------------------------------------

def event_function_client(name: str):
    """An event function served by functions-framework's test client.

    Loading it registers its target ("handle") as a CloudEvent function process-wide (the
    decorator's registry, and FUNCTION_SIGNATURE_TYPE): both are put back afterwards, so an
    HTTP function whose target is also "handle", created later, stays HTTP."""
    from functions_framework import _function_registry, create_app

    registry, signature = dict(_function_registry.REGISTRY_MAP), os.environ.get("FUNCTION_SIGNATURE_TYPE")
    try:
        return AsFunction(name, create_app(target="handle", source=str(load().by_name(name).main),
                                           signature_type="cloudevent").test_client())
    finally:
        _function_registry.REGISTRY_MAP.clear()
        _function_registry.REGISTRY_MAP.update(registry)
        if signature is None:
            os.environ.pop("FUNCTION_SIGNATURE_TYPE", None)
        else:
            os.environ["FUNCTION_SIGNATURE_TYPE"] = signature


@pytest.fixture(scope="session")
def processor(app_env):
    """The image-processing function."""
    return event_function_client("image-processing")


@pytest.fixture(scope="session")
def cleaner(app_env):
    """The media-cleanup function."""
    return event_function_client("media-cleanup")


def event_push(envelope: dict) -> dict:
    """A domain event, with the attributes the outbox publishes it with."""
    return push_body(envelope, type=envelope["type"], event_id=envelope["event_id"])


def deliver_media_cleanups(cleaner, db, *, event_type: str = "media.deleted") -> int:
    """Push every event of ``event_type`` in the outbox to media-cleanup, as Pub/Sub would."""
    db.rollback()
    envelopes = db.execute(text("SELECT envelope FROM outbox WHERE type = :type ORDER BY id"),
                           {"type": event_type}).scalars().all()
    for envelope in envelopes:
        assert cleaner.post("/", json=event_push(envelope)).status_code == 200
    return len(envelopes)


def request_upload(api, person, data: bytes, *, purpose="avatar", content_type="image/jpeg", size=None) -> dict:
    response = api.post("/api/media/uploads", token=person.token,
                        json={"purpose": purpose, "content_type": content_type, "size": size or max(len(data), 1)})
    assert response.status_code == 201, response.get_data(as_text=True)
    return response.get_json()


def notify(processor, name: str) -> int:
    """What GCS sends for a finished upload: the object resource, JSON_API_V1."""
    blob = storage.client().bucket(UPLOADS).get_blob(name)
    resource = {"bucket": UPLOADS, "name": name, "generation": str(blob.generation or 1), "size": str(blob.size),
                "contentType": blob.content_type}
    return processor.post("/", json=push_body(resource, eventType="OBJECT_FINALIZE",
                                              payloadFormat="JSON_API_V1")).status_code


def upload(api, processor, person, data: bytes, **kwargs) -> dict:
    ticket = request_upload(api, person, data, **kwargs)
    name = f"uploads/{person.id}/{ticket['media']['id']}"
    storage.client().bucket(UPLOADS).blob(name).upload_from_string(data, content_type="image/jpeg")
    assert notify(processor, name) == 200
    return api.get(f"/api/media/{ticket['media']['id']}", token=person.token).get_json()



@pytest.fixture
def processor_upload(api, processor):
    """Factory: a processed (ready) upload of ``person`` (an avatar unless told); returns its id."""
    from tests.support import images

    def make(person, purpose: str = "avatar") -> str:
        return upload(api, processor, person, images.jpeg((400, 300)), purpose=purpose)["id"]

    return make
