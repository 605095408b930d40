"""The engine over the embedded PostgreSQL's unix socket: pg8000 negotiates no TLS there
(PostgreSQL never offers it on a Unix-domain socket), so no connection builds an SSL
context, which costs ~20 ms of CPU each (docs/decisions/0019-driver-tls.md)."""
import ssl

import pytest
from sqlalchemy import text

from shared.config import Settings
from shared.db import build_engine


def test_a_unix_socket_connection_builds_no_ssl_context(database_url, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("an SSL context was built for a unix-socket connection")

    monkeypatch.setattr(ssl, "create_default_context", refuse)
    engine = build_engine(Settings(google_cloud_project="p", database_url=database_url))
    try:
        with engine.connect() as connection:
            assert connection.execute(text("SELECT 1")).scalar() == 1
    finally:
        engine.dispose()


def test_each_in_process_function_runs_as_its_own_role(function_clients, app_env):
    """Statements made while a function handles a request run as fn-<function>, with that
    role's grants only (tests/support/roles.py); outside a request, as the tests' login."""
    from shared.db import get_engine
    from tests.support.roles import acting_as

    with acting_as("marketplace"), get_engine().connect() as connection:
        assert connection.execute(text("SELECT current_user")).scalar_one() == "fn-marketplace"
    with get_engine().connect() as connection:
        assert connection.execute(text("SELECT current_user")).scalar_one() == "app-tests"
    # No function's role may change the schema (only the migration job's can).
    with acting_as("proposals"), get_engine().connect() as connection, pytest.raises(Exception, match="permission"):
        connection.execute(text("CREATE TABLE intruder (id int)"))


def test_a_value_the_driver_cannot_send_leaves_no_connection_out_of_step(database_url):
    """pg8000 fails converting a year-1 date at UTC+14 after it began the statement: that
    connection would answer each later statement with the previous one's rows. The engine
    discards it (shared/db.py), so the next statement on the one pooled connection is right."""
    from datetime import datetime, timedelta, timezone

    engine = build_engine(Settings(google_cloud_project="p", database_url=database_url, db_pool_size=1,
                                   db_max_overflow=0))
    edge = datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=14)))
    try:
        for n in range(3):
            with pytest.raises(OverflowError), engine.begin() as connection:
                connection.execute(text("SELECT CAST(:at AS timestamptz)"), {"at": edge})
            with engine.begin() as connection:
                assert connection.execute(text("SELECT 40 + :n"), {"n": n}).scalar() == 40 + n
    finally:
        engine.dispose()
