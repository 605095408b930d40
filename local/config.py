"""Where the local stack listens and keeps its state: `make dev` reads it from the
environment (README: ports are overridable), tests and benches take free ports."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from infra.manifest import REPO
from local.processes import free_port


def _env_int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


@dataclass
class StackConfig:
    project: str = "demo-kalakrut"
    state_dir: Path = REPO / ".local"
    database: str = "kalakrut"
    hosting_port: int | None = 5000
    auth_port: int = 9099
    router_port: int = 8080
    hub_port: int = 4400
    logging_port: int = 4500
    pubsub_port: int = 8085
    # "emulator" (the Cloud SDK's, when installed) or "broker" (the local push broker).
    pubsub: str = "broker"
    storage_port: int = 9023
    storage_front_port: int = 9024
    anvil_port: int = 8545
    graph_port: int = 6379
    stripe_port: int = 8420
    smtp_port: int = 2525
    firestore_port: int = 8086
    uploads_bucket: str = "kalakrut-uploads"
    media_bucket: str = "kalakrut-media"
    schedule_interval: float = 60.0
    function_ports: dict[str, int] = field(default_factory=dict)
    persist_auth: bool = True

    @classmethod
    def from_env(cls) -> StackConfig:
        return cls(
            hosting_port=_env_int("HOSTING_PORT", 5000),
            auth_port=_env_int("AUTH_EMULATOR_PORT", 9099),
            router_port=_env_int("ROUTER_PORT", 8080),
            hub_port=_env_int("EMULATOR_HUB_PORT", 4400),
            logging_port=_env_int("EMULATOR_LOGGING_PORT", 4500),
            pubsub_port=_env_int("PUBSUB_EMULATOR_PORT", 8085),
            pubsub=os.environ.get("LOCAL_PUBSUB", "broker"),
            storage_port=_env_int("STORAGE_EMULATOR_PORT", 9023),
            storage_front_port=_env_int("STORAGE_FRONT_PORT", 9024),
            anvil_port=_env_int("ANVIL_PORT", 8545),
            graph_port=_env_int("FALKORDB_PORT", 6379),
            stripe_port=_env_int("LOCALSTRIPE_PORT", 8420),
            smtp_port=_env_int("SMTP_SINK_PORT", 2525),
            firestore_port=_env_int("FIRESTORE_EMULATOR_PORT", 8086),
        )

    @classmethod
    def ephemeral(cls, state_dir: Path, *, hosting: bool = True, pubsub: str = "broker",
                  schedule_interval: float = 60.0) -> StackConfig:
        """Free ports and a throwaway state dir: for tests and benchmarks."""
        return cls(
            pubsub=pubsub,
            schedule_interval=schedule_interval,
            state_dir=state_dir,
            hosting_port=free_port() if hosting else None,
            auth_port=free_port(),
            router_port=free_port(),
            hub_port=free_port(),
            logging_port=free_port(),
            pubsub_port=free_port(),
            storage_port=free_port(),
            storage_front_port=free_port(),
            anvil_port=free_port(),
            graph_port=free_port(),
            stripe_port=free_port(),
            smtp_port=free_port(),
            firestore_port=free_port(),
            persist_auth=False,
        )
