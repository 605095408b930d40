"""The copy's own engine: as many connections as its threads hold at once, whatever pool the
functions' settings (DB_POOL_SIZE, DB_MAX_OVERFLOW) give, so no table waits for one until
QueuePool gives up."""
import pytest

from infra.datamove.__main__ import _engine, _load_connections
from infra.datamove.into import AHEAD
from shared.config import get_settings


@pytest.fixture
def small_pool(monkeypatch):
    monkeypatch.delenv("CLOUD_SQL_INSTANCE", raising=False)
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", "p")
    monkeypatch.setenv("DATABASE_URL", "postgresql+pg8000://loader@/platform")
    monkeypatch.setenv("DB_POOL_SIZE", "1")
    monkeypatch.setenv("DB_MAX_OVERFLOW", "0")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_a_copy_has_a_connection_for_each_thread_it_runs(small_pool):
    assert _load_connections(1) == AHEAD + 2  # into a schema: staging, take-in, the direct attempts
    assert _load_connections(8) == 8  # eight tables side by side
    configured = _engine(None, _load_connections(1)).pool
    assert configured.size() == AHEAD + 2
    assert _engine(None).pool.size() == 1  # a command that holds one keeps the configured pool
    assert _engine("postgresql+pg8000://loader@/platform", 8).pool.size() == 8
    assert _engine("postgresql+pg8000://loader@/platform").pool.size() == 5
