import pytest

from shared.config import ConfigError, Settings, get_settings


@pytest.fixture
def env(monkeypatch):
    for name in ("GOOGLE_CLOUD_PROJECT", "DATABASE_URL", "CLOUD_SQL_INSTANCE", "DB_NAME", "DB_IAM_USER", "MAX_BODY_BYTES"):
        monkeypatch.delenv(name, raising=False)
    get_settings.cache_clear()
    yield monkeypatch
    get_settings.cache_clear()


def test_missing_variables_are_named(env):
    with pytest.raises(ConfigError) as error:
        get_settings()
    assert "GOOGLE_CLOUD_PROJECT" in str(error.value)


def test_exactly_one_database_path(env):
    from shared.db import build_engine

    env.setenv("GOOGLE_CLOUD_PROJECT", "p")
    # A function without a database reads its settings; building an engine names what is missing.
    with pytest.raises(ConfigError, match="exactly one of DATABASE_URL or CLOUD_SQL_INSTANCE"):
        build_engine(get_settings())
    env.setenv("DATABASE_URL", "postgresql+pg8000://x")
    env.setenv("CLOUD_SQL_INSTANCE", "proj:region:inst")
    get_settings.cache_clear()
    with pytest.raises(ConfigError, match="exactly one"):
        get_settings()


def test_cloud_sql_needs_iam_user_and_database(env):
    env.setenv("GOOGLE_CLOUD_PROJECT", "p")
    env.setenv("CLOUD_SQL_INSTANCE", "proj:europe-west1:main")
    with pytest.raises(ConfigError, match="DB_NAME and DB_IAM_USER"):
        get_settings()
    env.setenv("DB_NAME", "kalakrut")
    env.setenv("DB_IAM_USER", "fn-registration@proj.iam")
    get_settings.cache_clear()
    settings = get_settings()
    assert settings.cloud_sql_instance == "proj:europe-west1:main" and settings.db_private_ip


def test_malformed_values_are_named(env):
    env.setenv("GOOGLE_CLOUD_PROJECT", "p")
    env.setenv("CLOUD_SQL_INSTANCE", "not-a-connection-name")
    env.setenv("MAX_BODY_BYTES", "lots")
    with pytest.raises(ConfigError) as error:
        get_settings()
    assert "CLOUD_SQL_INSTANCE" in str(error.value) and "MAX_BODY_BYTES" in str(error.value)


def test_settings_are_read_once(env):
    env.setenv("GOOGLE_CLOUD_PROJECT", "first")
    env.setenv("DATABASE_URL", "postgresql+pg8000://x")
    assert get_settings().google_cloud_project == "first"
    env.setenv("GOOGLE_CLOUD_PROJECT", "second")
    assert get_settings().google_cloud_project == "first"
    assert isinstance(get_settings(), Settings)


def test_lists_are_comma_separated_and_empty_means_unset(env):
    env.setenv("GOOGLE_CLOUD_PROJECT", "p")
    env.setenv("DATABASE_URL", "postgresql+pg8000://x")
    env.setenv("CLOUD_SQL_INSTANCE", "")
    env.setenv("CORS_ALLOWED_ORIGINS", "https://a.example, https://b.example,")
    assert get_settings().cors_allowed_origins == ["https://a.example", "https://b.example"]


CHAIN = '{"chain_id": 1, "rpc_url": "https://rpc.example", "funding_contract": "0x5FbDB2315678afecb367f032d93F642f64180aa3"}'


@pytest.mark.parametrize(("value", "message"), [
    ("[{", "INDEXER_CHAINS: Value error, not JSON"),
    ('[{"chain_id": 1, "rpc_url": "https://rpc.example"}]', "needs funding_contract or artwork_contract"),
    (f'[{CHAIN[:-1]}, "confirmations": -1}}]', "INDEXER_CHAINS_0_CONFIRMATIONS"),
    ('[{"chain_id": 1, "rpc_url": "ftp://x", "artwork_contract": "0x00"}]', "INDEXER_CHAINS_0_RPC_URL"),
])
def test_indexer_chains_are_validated(env, value, message):
    env.setenv("GOOGLE_CLOUD_PROJECT", "p")
    env.setenv("DATABASE_URL", "postgresql+pg8000://x")
    env.setenv("INDEXER_CHAINS", value)
    with pytest.raises(ConfigError, match=message):
        get_settings()


def test_indexer_chains_defaults(env):
    env.setenv("GOOGLE_CLOUD_PROJECT", "p")
    env.setenv("DATABASE_URL", "postgresql+pg8000://x")
    env.setenv("INDEXER_CHAINS", f"[{CHAIN}]")
    (chain,) = get_settings().indexer_chains
    assert (chain.confirmations, chain.start_block, chain.reorg_window, chain.artwork_contract) == (12, 0, 256, None)


def _cloud_trusted():
    """What prod.tfvars gives TRUSTED_PROXIES: Cloud Run's front end and the Hosting CDN."""
    import re

    from shared.http.rate_limit import parse_networks
    from tests.unit.test_deployed_config import REPO

    tfvars = (REPO / "infra/terraform/environments/prod.tfvars").read_text()
    return parse_networks(re.search(r'TRUSTED_PROXIES = "([^"]+)"', tfvars).group(1).split(","))


@pytest.mark.parametrize("forged", ["", "6.6.6.6", "151.101.1.1", "6.6.6.6, 151.101.1.1", "not-an-address", "::1"])
def test_no_caller_chooses_its_address_through_hosting_or_directly(forged):
    from shared.http.rate_limit import client_address

    trusted = _cloud_trusted()
    sent = f"{forged}, " if forged else ""
    # Through Hosting: the CDN appends the client, Cloud Run's front end the CDN's edge, and
    # the container's peer is the front end.
    assert client_address("169.254.1.1", f"{sent}203.0.113.5, 151.101.65.195", trusted) == "203.0.113.5"
    # Straight to the function's run.app URL: the front end appends the caller itself.
    assert client_address("169.254.1.1", f"{sent}198.51.100.7", trusted) == "198.51.100.7"


def test_client_address_without_trusted_proxies_is_the_peer():
    from shared.http.rate_limit import client_address, parse_networks

    assert client_address("127.0.0.1", "6.6.6.6, 203.0.113.5", []) == "127.0.0.1"
    assert client_address("127.0.0.1", "6.6.6.6, 203.0.113.5", parse_networks(["127.0.0.1/32"])) == "203.0.113.5"
    assert client_address(None, None, []) == "unknown"
    # One IPv6 subscriber is one /64, not 2**64 buckets; IPv4 written as IPv6 is IPv4.
    assert client_address("2001:db8:1:2:aaaa::1", None, []) == client_address("2001:db8:1:2::9", None, []) \
        == "2001:db8:1:2::/64"
    assert client_address("::ffff:169.254.1.1", "203.0.113.5", parse_networks(["169.254.0.0/16"])) == "203.0.113.5"
    # A trusted peer forwarding garbage: the key is the peer, never the garbage.
    assert client_address("127.0.0.1", "x y z", parse_networks(["127.0.0.0/8"])) == "127.0.0.1"


def test_trusted_proxies_must_be_networks():
    from pydantic import ValidationError

    from shared.config import Settings

    assert Settings(google_cloud_project="demo-x", trusted_proxies="10.0.0.0/8, ::1").trusted_proxies == ["10.0.0.0/8", "::1"]
    with pytest.raises(ValidationError):
        Settings(google_cloud_project="demo-x", trusted_proxies="10.0.0.0/8, example.com")


def test_the_migration_job_grants_only_to_iam_service_account_users():
    import pytest

    from infra.migrate import app_users

    assert app_users("fn-proposals@kalakrut-dev.iam, fn-media@kalakrut-dev.iam,") == [
        "fn-proposals@kalakrut-dev.iam", "fn-media@kalakrut-dev.iam"]
    assert app_users("fn-media") == ["fn-media"]  # a local role: the account name alone
    with pytest.raises(SystemExit, match="not database users of functions"):
        app_users('fn@p.iam", "postgres')


def test_the_auth_emulator_is_refused_for_a_real_project():
    """Its tokens are unsigned: only a demo- project may trust them (issue 22, finding 7)."""
    import pytest

    from shared.config import ConfigError
    from shared.identity.auth import FirebaseAuth

    with pytest.raises(ConfigError, match="demo- projects only"):
        FirebaseAuth("kalakrut-prod", check_revoked=False, emulator_host="127.0.0.1:9099")
    FirebaseAuth("demo-kalakrut", check_revoked=False, emulator_host="127.0.0.1:9099")  # local: fine
