"""What the web app needs to start, read from the function's environment at run time so
one build serves every environment: the Firebase web app's public config (these values
are public by design: they name the project, they grant nothing), the Auth and Firestore
emulators in local development, the chain and contract that proposals are funded on, and Stripe's
publishable key with where Stripe.js comes from."""
from __future__ import annotations

from pydantic import Field

from shared.config import get_settings
from shared.types import ApiModel


class FirebaseWebConfig(ApiModel):
    api_key: str
    auth_domain: str
    project_id: str


class ChainWebConfig(ApiModel):
    chain_id: int
    funding_contract: str | None = Field(description="ProposalFunding's address; fund(uint256 proposalId) payable")
    market_contract: str | None = Field(default=None, description="ArtworkMarket's address: credits(address) is what "
                                        "an account may withdraw(), its proceeds and outbid bids")


class PaymentsWebConfig(ApiModel):
    publishable_key: str = Field(description="Stripe's publishable key (pk_...)")
    js_url: str = Field(description="where to load Stripe.js from (the local stand-in's copy in development)")


class SiteConfig(ApiModel):
    firebase: FirebaseWebConfig
    auth_emulator_url: str | None = Field(description="set only in local development")
    firestore_emulator_host: str | None = Field(default=None, description="host:port of the Firestore emulator the "
                                                "live documents are read from; set only in local development")
    chain: ChainWebConfig | None
    payments: PaymentsWebConfig | None = Field(description="card payments; null where none are configured")


def site_config() -> SiteConfig:
    settings = get_settings()
    settings.require("firebase_web_api_key")
    project = settings.google_cloud_project
    chain = ChainWebConfig(chain_id=settings.chain_id, funding_contract=settings.funding_contract,
                           market_contract=settings.market_contract) \
        if settings.chain_id else None
    payments = PaymentsWebConfig(publishable_key=settings.stripe_publishable_key, js_url=settings.stripe_js_url) \
        if settings.stripe_publishable_key else None
    return SiteConfig(
        firebase=FirebaseWebConfig(api_key=settings.firebase_web_api_key,
                                   auth_domain=settings.firebase_auth_domain or f"{project}.firebaseapp.com",
                                   project_id=project),
        auth_emulator_url=settings.auth_emulator_url, firestore_emulator_host=settings.firestore_emulator_host,
        chain=chain, payments=payments)
