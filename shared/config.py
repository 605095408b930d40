"""Configuration from environment variables, read once and validated.

There are no defaults that point at a real project or database: a function
that is missing its configuration fails at first use with a message naming
every missing or malformed variable.
"""
from __future__ import annotations

import json
import os
from functools import lru_cache
from typing import Annotated, Literal, Self

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator


class ConfigError(RuntimeError):
    """The environment does not describe a usable configuration."""


def _json(value: object) -> object:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError as error:
            raise ValueError(f"not JSON: {error}") from None
    return value


def _comma_list(value: object) -> object:
    if isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    return value


def _networks(values: list[str]) -> list[str]:
    import ipaddress

    for value in values:
        ipaddress.ip_network(value, strict=False)  # a ValueError names the bad one
    return values


ADDRESS_PATTERN = r"^0x[0-9a-fA-F]{40}$"
# The largest upload (the API publishes it; UPLOAD_MAX_BYTES may only lower it).
UPLOAD_MAX_BYTES = 25 * 1024 * 1024


class ChainConfig(BaseModel):
    """One chain the indexer follows (an element of the INDEXER_CHAINS JSON list)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    chain_id: int = Field(ge=1)
    rpc_url: str = Field(pattern=r"^https?://", repr=False)  # carries the provider's key
    # Blocks newer than head - confirmations are not read yet: most reorgs stay above it.
    confirmations: int = Field(default=12, ge=0, le=10_000)
    start_block: int = Field(default=0, ge=0)
    funding_contract: str | None = Field(default=None, pattern=ADDRESS_PATTERN)
    artwork_contract: str | None = Field(default=None, pattern=ADDRESS_PATTERN)
    # ArtworkMarket: sales of the artwork contract's tokens for ETH (decision 0028).
    market_contract: str | None = Field(default=None, pattern=ADDRESS_PATTERN)
    initial_range: int = Field(default=2_000, ge=1)
    max_range: int = Field(default=10_000, ge=1)
    # How far back block hashes are kept; a reorg deeper than this re-indexes from start_block.
    reorg_window: int = Field(default=256, ge=1, le=100_000)
    # Events per commit, and the range size aims at no more than twice as many per read.
    max_events_per_range: int = Field(default=5_000, ge=1)
    rpc_batch_size: int = Field(default=100, ge=1, le=1_000)
    rpc_timeout_seconds: float = Field(default=20.0, gt=0)

    @model_validator(mode="after")
    def _has_contracts(self) -> Self:
        if not (self.funding_contract or self.artwork_contract):
            raise ValueError("a chain needs funding_contract or artwork_contract")
        if self.market_contract and not self.artwork_contract:
            raise ValueError("market_contract sells the artwork contract's tokens: name artwork_contract too")
        return self


# pydantic-settings would cost ~90 ms of every cold start; the variables are few and flat.
class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    google_cloud_project: str = Field(min_length=1, description="GCP/Firebase project id")

    # Exactly one database path: a SQLAlchemy URL (local, embedded PostgreSQL over its
    # unix socket) or a Cloud SQL instance reached through the connector with IAM auth.
    database_url: str | None = None
    cloud_sql_instance: str | None = Field(default=None, pattern=r"^[\w-]+:[\w-]+:[\w-]+$")
    db_name: str | None = None
    db_iam_user: str | None = None
    db_private_ip: bool = True
    db_pool_size: int = Field(default=2, ge=1, le=10)
    db_max_overflow: int = Field(default=2, ge=0, le=10)

    # Local development without the Pub/Sub emulator: the stack's push broker.
    local_pubsub_url: str | None = None
    # Media: a private bucket for uploads, a public one for processed variants.
    uploads_bucket: str | None = None
    media_bucket: str | None = None
    # Base URL clients load variants from (default: the public GCS URL of media_bucket).
    media_public_url: str | None = None
    # Where signed upload URLs point (default: GCS itself; locally the stack's storage front).
    signed_url_endpoint: str | None = None
    # Development only: a service-account key file to sign upload URLs with. In the cloud
    # the function's own service account signs through the IAM signBlob API.
    signing_key_file: str | None = None
    upload_max_bytes: int = Field(default=UPLOAD_MAX_BYTES, ge=1024, le=UPLOAD_MAX_BYTES)
    # Per account (decision 0024): what its media may hold in all, counting pending uploads at
    # their declared size, and how many uploads may be pending at once.
    storage_quota_bytes: int = Field(default=1024 * 1024 * 1024, ge=1024)
    max_pending_uploads: int = Field(default=10, ge=1)
    max_image_pixels: int = Field(default=50_000_000, ge=1_000_000)
    # Sign-In with Ethereum: what the signed message must name (EIP-4361).
    siwe_domain: str | None = None
    siwe_uri: str | None = None
    chain_id: int | None = Field(default=None, ge=1)
    # What the web app needs at run time (GET /api/config): the Firebase web app's public
    # config, the Auth emulator's URL (local development only) and the funding contract.
    firebase_web_api_key: str | None = None
    firebase_auth_domain: str | None = None
    auth_emulator_url: str | None = Field(default=None, pattern=r"^https?://")
    funding_contract: str | None = Field(default=None, pattern=ADDRESS_PATTERN)
    # ArtworkMarket on CHAIN_ID's chain: what the wallet calls to sell, buy and bid in ETH.
    market_contract: str | None = Field(default=None, pattern=ADDRESS_PATTERN)
    # The graph store (shared/graph/port.py): falkordb://host:port/graph or neo4j[+s]://host.
    graph_url: str | None = Field(default=None, pattern=r"^(falkordb|neo4j|neo4j\+s|neo4j\+ssc|bolt|bolt\+s)://")
    neo4j_user: str | None = None
    neo4j_password: str | None = Field(default=None, repr=False)
    graph_reconcile_budget_seconds: float = Field(default=50.0, gt=0)
    graph_full_reconcile_minutes: int = Field(default=60, ge=1)
    # The chain indexer: the chains it follows, and how long one tick may run.
    indexer_chains: Annotated[list[ChainConfig], BeforeValidator(_json)] = Field(default_factory=list)
    indexer_budget_seconds: float = Field(default=50.0, gt=0)
    # The campaign operator's key (shared/chain/signing.py): a Cloud KMS secp256k1 key version
    # in the cloud; locally the private key of the anvil account that deployed the contracts.
    operator_kms_key: str | None = Field(
        default=None, pattern=r"^projects/[^/]+/locations/[^/]+/keyRings/[^/]+/cryptoKeys/[^/]+/cryptoKeyVersions/[0-9]+$")
    operator_private_key: str | None = Field(default=None, repr=False, pattern=r"^(0x)?[0-9a-fA-F]{64}$")
    # Stripe (shared/payments/stripe_gateway.py): the secret key, the webhook endpoint's signing
    # secret, and locally the stand-in's address (localstripe); the platform's fee on each sale.
    stripe_secret_key: str | None = Field(default=None, repr=False, pattern=r"^(sk|rk)_(test|live)_\w+$")
    stripe_webhook_secret: str | None = Field(default=None, repr=False, pattern=r"^whsec_\w+$")
    stripe_api_base: str | None = Field(default=None, pattern=r"^https?://[^\s/]+$")
    # What the web app's card form needs (GET /api/config): public by design.
    stripe_publishable_key: str | None = Field(default=None, pattern=r"^pk_(test|live)_\w+$")
    stripe_js_url: str = Field(default="https://js.stripe.com/v3/", pattern=r"^https?://[^\s]+$")
    platform_fee_bps: int = Field(default=1000, ge=0, le=5000)
    # Notifications' email (shared/notifications/mail.py): an SMTP relay (a local sink in
    # development), the sender, and the web app's address the mails link to.
    smtp_host: str | None = Field(default=None, pattern=r"^[^\s/:]+$")
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_starttls: bool = True
    smtp_username: str | None = Field(default=None, repr=False)
    smtp_password: str | None = Field(default=None, repr=False)
    smtp_from: str | None = Field(default=None, pattern=r"^[^\s@<>]+@[^\s@<>]+$")
    app_url: str | None = Field(default=None, pattern=r"^https?://[^\s]+[^/\s]$")
    # Semantic search's model (shared/embeddings): Vertex AI's text embeddings in the cloud, the
    # packaged local model otherwise; Vertex's region and model (asked for DIMENSIONS dimensions).
    embedding_backend: Literal["local", "vertex"] = "local"
    embedding_model: str = Field(default="text-embedding-005", pattern=r"^[a-z0-9][a-z0-9.-]{0,62}$")
    vertex_location: str | None = Field(default=None, pattern=r"^[a-z]+-[a-z]+\d+$")
    # Development only: the Firestore emulator (host:port) the live documents go to (shared/live).
    firestore_emulator_host: str | None = Field(default=None, pattern=r"^[^\s/]+:\d{1,5}$")
    # Requests per second per client address and per user, and the burst allowed, for each
    # route class (shared/http/rate_limit.py, decision 0024): writes, expensive reads
    # (search, graph traversals; shared counters) and signed-in reads (per instance).
    rate_limit_per_second: float = Field(default=10.0, gt=0)
    rate_limit_burst: int = Field(default=10, ge=1)
    rate_limit_expensive_per_second: float = Field(default=3.0, gt=0)
    rate_limit_expensive_burst: int = Field(default=15, ge=1)
    rate_limit_reads_per_second: float = Field(default=20.0, gt=0)
    rate_limit_reads_burst: int = Field(default=40, ge=1)
    # The proxies whose X-Forwarded-For entries are believed (CIDR ranges: Cloud Run's front
    # end, the Hosting CDN's egress): the client is the first address from the right outside them.
    trusted_proxies: Annotated[list[str], BeforeValidator(_comma_list), AfterValidator(_networks)] = Field(
        default_factory=list)
    # How long the Hosting CDN may serve a public GET before asking again.
    public_cache_seconds: int = Field(default=30, ge=0, le=3600)
    auth_check_revoked: bool = True
    # How long an instance trusts its last look at an account (revoked? disabled?): the
    # window in which a token revoked elsewhere still works (decision 0024).
    auth_revocation_cache_seconds: float = Field(default=30.0, ge=0, le=300)
    # HTTP functions (shared/http/api.py): no statement of a request may run longer; 0 is none.
    db_statement_timeout_ms: int = Field(default=0, ge=0, le=600_000)
    # Development only: accept the Auth emulator's (unsigned) tokens. Never set in the cloud.
    firebase_auth_emulator_host: str | None = Field(default=None, pattern=r"^[^\s/]+:\d{1,5}$")
    cors_allowed_origins: Annotated[list[str], BeforeValidator(_comma_list)] = Field(default_factory=list)
    max_body_bytes: int = Field(default=64 * 1024, ge=1024, le=32 * 1024 * 1024)
    log_level: str = Field(default="INFO", pattern=r"^(DEBUG|INFO|WARNING|ERROR)$")

    @model_validator(mode="after")
    def _one_database(self) -> Self:
        # Neither is for functions without a database (media-cleanup): require_database().
        if self.database_url and self.cloud_sql_instance:
            raise ValueError("set exactly one of DATABASE_URL or CLOUD_SQL_INSTANCE")
        if self.cloud_sql_instance and not (self.db_name and self.db_iam_user):
            raise ValueError("CLOUD_SQL_INSTANCE needs DB_NAME and DB_IAM_USER")
        return self

    def require_database(self) -> None:
        if not (self.database_url or self.cloud_sql_instance):
            raise ConfigError("invalid configuration: set exactly one of DATABASE_URL or CLOUD_SQL_INSTANCE")

    def require(self, *names: str) -> None:
        """For settings only some functions need: fail clearly where they are used."""
        missing = [name.upper() for name in names if not getattr(self, name)]
        if missing:
            raise ConfigError(f"invalid configuration: {', '.join(missing)} must be set for this function")

    @classmethod
    def from_environ(cls, environ: dict[str, str] | os._Environ = os.environ) -> Settings:
        """Each field from the upper-case variable of the same name; empty means unset."""
        values = {name: environ[name.upper()] for name in cls.model_fields if environ.get(name.upper())}
        return cls.model_validate(values)


def _describe(error: ValidationError) -> str:
    problems = []
    for item in error.errors():
        name = "_".join(str(part) for part in item["loc"]).upper() or "configuration"
        problems.append(f"{name}: {item['msg']}")
    return "invalid configuration: " + "; ".join(problems)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    try:
        return Settings.from_environ()
    except ValidationError as error:
        raise ConfigError(_describe(error)) from None
