"""The cloud database path: Cloud SQL through the connector with IAM database auth.

Cloud SQL cannot run here, so the connector class is the faked edge: the test records
what the engine asks it for, and proves nothing connects before the first query.
"""
import sys
import types

import pytest
from sqlalchemy import event

from shared.config import Settings
from shared.db import build_engine


def test_cloud_engine_uses_the_connector_lazily_with_iam_auth(monkeypatch):
    calls = []

    class FakeConnector:
        def __init__(self, **kwargs):
            calls.append(("init", kwargs))

        def connect(self, instance, driver, **kwargs):
            calls.append(("connect", instance, driver, kwargs))
            raise ConnectionRefusedError("no Cloud SQL here")

    module = types.ModuleType("google.cloud.sql.connector")
    module.Connector = FakeConnector
    module.IPTypes = types.SimpleNamespace(PRIVATE="PRIVATE", PUBLIC="PUBLIC")
    monkeypatch.setitem(sys.modules, "google.cloud.sql.connector", module)

    settings = Settings(google_cloud_project="p", cloud_sql_instance="p:europe-west1:main",
                        db_name="kalakrut", db_iam_user="fn@p.iam", db_pool_size=3, db_max_overflow=1)
    engine = build_engine(settings)
    assert calls == [("init", {"refresh_strategy": "lazy"})]
    assert engine.pool.size() == 3

    try:
        engine.connect()
    except Exception:
        pass
    # The connector's socket is TLS already: pg8000 is told not to negotiate its own.
    assert calls[1] == ("connect", "p:europe-west1:main", "pg8000",
                        {"user": "fn@p.iam", "db": "kalakrut", "enable_iam_auth": True, "ip_type": "PRIVATE",
                         "ssl_context": False})


def test_local_engine_uses_the_url():
    engine = build_engine(Settings(google_cloud_project="p", database_url="postgresql+pg8000://postgres@/db?unix_sock=/tmp/x"))
    assert engine.url.database == "db" and engine.url.query["unix_sock"] == "/tmp/x"
    assert engine.pool.size() == 2


def test_a_tcp_url_keeps_the_drivers_tls_negotiation():
    """Only a unix socket is known to have no TLS (tests/integration/test_db_connections.py)."""
    engine = build_engine(Settings(google_cloud_project="p",
                                   database_url="postgresql+pg8000://fn@db.example.test:5432/kalakrut"))
    asked = {}

    @event.listens_for(engine, "do_connect")
    def record(dialect, connection_record, cargs, cparams):
        asked.update(cparams)
        raise ConnectionRefusedError("nothing to connect to here")

    with pytest.raises(Exception, match="nothing to connect to"):
        engine.connect()
    assert asked["host"] == "db.example.test" and "ssl_context" not in asked
