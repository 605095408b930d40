"""Session-wide real services for the tests: embedded PostgreSQL, the Firebase Auth
emulator, localstripe (Stripe) and the others, on loopback, started once and stopped by the fixtures."""
from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from local import postgres
from local.firebase import AuthEmulator, EmulatorPorts, start_emulators
from local.processes import free_port
from local.storage import write_signing_key
from local.stripe import SECRET_KEY as STRIPE_SECRET_KEY
from local.stripe import WEBHOOK_SECRET as STRIPE_WEBHOOK_SECRET

PROJECT = "demo-kalakrut-test"
UPLOADS, MEDIA = "test-uploads", "test-media"


def reset_caches() -> None:
    from shared import db
    from shared.config import get_settings
    from shared.events import pubsub
    from shared.graph import port
    from shared.identity import auth
    from shared.media import storage
    from shared.payments import stripe_gateway

    get_settings.cache_clear()
    db.reset()
    auth.get_firebase.cache_clear()
    pubsub.get_publisher.cache_clear()
    storage.client.cache_clear()
    port.get_graph.cache_clear()
    port.get_graph_for_writes.cache_clear()
    stripe_gateway.get_gateway.cache_clear()


@pytest.fixture(scope="session")
def postgres_server(tmp_path_factory) -> Iterator[postgres.EmbeddedPostgres]:
    server = postgres.start(tmp_path_factory.mktemp("pg"), keep=False)
    yield server
    server.stop()


# The login role of the functions under test: no superuser; a member of every function's
# role, whose grants the migration job gives (tests/support/roles.py switches per request).
APP_ROLE = "app-tests"


@pytest.fixture(scope="session")
def database_url(postgres_server) -> str:
    """The test database, migrated by the migration job as it runs in the cloud; the URL is
    the superuser's, for the tests' own inspection (functions get ``app_database_url``)."""
    from infra.manifest import load
    from tests.support.roles import role_of

    database = "kalakrut_test"
    url = postgres_server.ensure_database(database)
    roles = [role_of(f.name) for f in load().functions if f.database]
    postgres_server.provision(database, [APP_ROLE, *roles])
    postgres_server.run_migration_job(database, [APP_ROLE, *roles], PROJECT)
    from sqlalchemy import create_engine, text

    owner = create_engine(url)
    with owner.begin() as connection:
        connection.execute(text("GRANT " + ", ".join(f'"{role}"' for role in roles) + f' TO "{APP_ROLE}"'))
    owner.dispose()
    return url


@pytest.fixture(scope="session")
def app_database_url(postgres_server, database_url) -> str:
    return postgres_server.url("kalakrut_test", APP_ROLE)


@pytest.fixture(scope="session")
def auth_emulator(tmp_path_factory) -> Iterator[AuthEmulator]:
    ports = EmulatorPorts(auth=free_port(), hosting=None, hub=free_port(), logging=free_port())
    child = start_emulators(PROJECT, ports, tmp_path_factory.mktemp("firebase"), router_url=None)
    yield AuthEmulator(f"127.0.0.1:{ports.auth}", PROJECT)
    child.stop()


@pytest.fixture(scope="session")
def pubsub_emulator(tmp_path_factory) -> Iterator[str]:
    """The Cloud SDK Pub/Sub emulator with every topic of functions.yaml; yields its host."""
    from infra.manifest import load
    from local.pubsub import provision, start_emulator

    port = free_port()
    child = start_emulator(port, tmp_path_factory.mktemp("pubsub"))
    host = f"127.0.0.1:{port}"
    provision(host, PROJECT, load(), push_urls={})
    yield host
    child.stop()


@pytest.fixture(scope="session")
def storage_emulator(tmp_path_factory) -> Iterator[int]:
    """gcp-storage-emulator with the uploads and media buckets; yields its port."""
    from local.storage import create_buckets, start_emulator

    port = free_port()
    workdir = tmp_path_factory.mktemp("storage")
    child = start_emulator(port, workdir / "data", workdir)
    create_buckets(port, PROJECT, [UPLOADS, MEDIA])
    yield port
    child.stop()


@pytest.fixture(scope="session")
def graph_url(tmp_path_factory) -> Iterator[str]:
    """FalkorDB (the local graph engine) on loopback; yields GRAPH_URL."""
    from local.graph import start_falkordb

    port = free_port()
    child = start_falkordb(port, tmp_path_factory.mktemp("graph"))
    yield f"falkordb://127.0.0.1:{port}/kalakrut_test"
    child.stop()


@pytest.fixture(scope="session")
def stripe_server(tmp_path_factory) -> Iterator[str]:
    """localstripe (the local Stripe, local/stripe.py), empty; yields STRIPE_API_BASE."""
    from local.stripe import start_localstripe

    port = free_port()
    child = start_localstripe(port, tmp_path_factory.mktemp("stripe"))
    yield f"http://127.0.0.1:{port}"
    child.stop()


@pytest.fixture(scope="session")
def firestore_emulator(tmp_path_factory) -> Iterator[str]:
    """The Cloud SDK Firestore emulator with the repository's rules; yields its host."""
    from local.firestore import start_firestore

    port = free_port()
    child = start_firestore(port, tmp_path_factory.mktemp("firestore"), PROJECT)
    yield f"127.0.0.1:{port}"
    child.stop()


@pytest.fixture(scope="session")
def smtp_sink(tmp_path_factory):
    """The local mail server (local/smtp.py): a real SMTP server keeping what it is sent."""
    from local.smtp import SmtpSink

    sink = SmtpSink(free_port(), tmp_path_factory.mktemp("smtp") / "mail").start()
    yield sink
    sink.stop()


@pytest.fixture(scope="session")
def app_env(app_database_url, auth_emulator, pubsub_emulator, storage_emulator, graph_url, stripe_server, smtp_sink,
            firestore_emulator, tmp_path_factory) -> Iterator[None]:
    """The environment a deployed function would have, pointed at the local services."""
    values = {
        "GOOGLE_CLOUD_PROJECT": PROJECT,
        "DATABASE_URL": app_database_url,
        "FIREBASE_AUTH_EMULATOR_HOST": auth_emulator.base.removeprefix("http://"),
        "CORS_ALLOWED_ORIGINS": "http://127.0.0.1:5000, http://localhost:5000",
        "MAX_BODY_BYTES": "16384",
        "PUBSUB_EMULATOR_HOST": pubsub_emulator,
        "STORAGE_EMULATOR_HOST": f"http://127.0.0.1:{storage_emulator}",
        "UPLOADS_BUCKET": UPLOADS,
        "MEDIA_BUCKET": MEDIA,
        "MEDIA_PUBLIC_URL": f"http://127.0.0.1:{storage_emulator}/{MEDIA}",
        "SIGNING_KEY_FILE": str(write_signing_key(tmp_path_factory.mktemp("keys") / "signer.json", PROJECT)),
        "UPLOAD_MAX_BYTES": str(8 * 1024 * 1024),
        "MAX_IMAGE_PIXELS": "30000000",
        "SIWE_DOMAIN": "kalakrut.test",
        "SIWE_URI": "https://kalakrut.test",
        "CHAIN_ID": "31337",
        "FIREBASE_WEB_API_KEY": "test-api-key",
        "FUNDING_CONTRACT": "0x5FbDB2315678afecb367f032d93F642f64180aa3",
        # local/chain.py's deploy_platform on a fresh anvil puts ArtworkMarket here (the deployer's third contract).
        "MARKET_CONTRACT": "0x9fE46736679d2D9a65F0992F2272dE9f3c7fa6e0",
        "GRAPH_URL": graph_url,
        "STRIPE_API_BASE": stripe_server,
        "STRIPE_SECRET_KEY": STRIPE_SECRET_KEY,
        "STRIPE_WEBHOOK_SECRET": STRIPE_WEBHOOK_SECRET,
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(smtp_sink.port),
        "SMTP_STARTTLS": "false",
        "SMTP_FROM": "notifications@kalakrut.test",
        "APP_URL": "https://kalakrut.test",
        "FIRESTORE_EMULATOR_HOST": firestore_emulator,
        # Tests write fast from one address; the limiter has its own tests.
        "RATE_LIMIT_PER_SECOND": "100000",
        "RATE_LIMIT_BURST": "100000",
        "RATE_LIMIT_EXPENSIVE_PER_SECOND": "100000",
        "RATE_LIMIT_EXPENSIVE_BURST": "100000",
        "RATE_LIMIT_READS_PER_SECOND": "100000",
        "RATE_LIMIT_READS_BURST": "100000",
    }
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    reset_caches()
    yield
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    reset_caches()
