"""Run the whole platform on loopback: `python -m local.stack` (what `make dev` runs).

Order: embedded PostgreSQL -> Alembic migrations -> Pub/Sub, anvil (+ contracts),
FalkorDB, Cloud Storage -> one functions-framework process per function -> Scheduler
and the campaign operator stand-ins -> the router (Cloud Run stand-in) -> Firebase
Auth + Hosting emulators -> demo data through the public API. Ctrl-C stops everything.
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
from dataclasses import asdict
from pathlib import Path

from infra.manifest import REPO, load
from local import postgres
from local.broker import PushBroker, Subscription
from local.chain import Deployment, Platform, Rpc, deploy_platform, start_anvil
from local.config import StackConfig
from local.firebase import AuthEmulator, EmulatorPorts, start_emulators
from local.graph import start_falkordb
from local.operator import CampaignOperator
from local.processes import Child, free_port, port_open, spawn
from local.pubsub import emulator_binary, emulator_publish, provision, start_emulator
from local.router import Router, ThreadedServer
from local.scheduler import Scheduler
from local.storage import StorageFront, create_buckets, write_signing_key
from local.storage import start_emulator as start_storage

VENV_BIN = Path(sys.executable).parent


class Stack:
    def __init__(self, config: StackConfig) -> None:
        self.config = config
        self.manifest = load()
        self.pg: postgres.EmbeddedPostgres | None = None
        self.children: list[Child] = []
        self._function_children: dict[str, Child] = {}
        self.router: ThreadedServer | None = None
        self.storage_front: ThreadedServer | None = None
        self.contracts: Deployment | None = None
        self.database_url = ""
        self.pubsub_host: str | None = None
        self.broker: PushBroker | None = None
        self.scheduler: Scheduler | None = None
        self.operator: CampaignOperator | None = None

    @property
    def router_url(self) -> str:
        return f"http://127.0.0.1:{self.config.router_port}"

    @property
    def chain_url(self) -> str:
        return f"http://127.0.0.1:{self.config.anvil_port}"

    @property
    def storage_front_url(self) -> str:
        return f"http://127.0.0.1:{self.config.storage_front_port}"

    @property
    def hosting_url(self) -> str:
        return f"http://127.0.0.1:{self.config.hosting_port}"

    @property
    def auth_host(self) -> str:
        return f"127.0.0.1:{self.config.auth_port}"

    def auth(self) -> AuthEmulator:
        return AuthEmulator(self.auth_host, self.config.project)

    @property
    def site_origins(self) -> list[str]:
        return [f"http://{host}:{self.config.hosting_port}" for host in ("127.0.0.1", "localhost")]

    def function_env(self, name: str) -> dict[str, str]:
        origins = self.site_origins
        env = {
            "PATH": os.environ.get("PATH", ""),
            "HOME": os.environ.get("HOME", "/tmp"),
            "PYTHONPATH": str(REPO),
            "K_SERVICE": name,
            "GOOGLE_CLOUD_PROJECT": self.config.project,
            "DATABASE_URL": self.database_url,
            "FIREBASE_AUTH_EMULATOR_HOST": self.auth_host,
            "CORS_ALLOWED_ORIGINS": ",".join(origins),
            "LOG_LEVEL": os.environ.get("LOG_LEVEL", "INFO"),
            "STORAGE_EMULATOR_HOST": f"http://127.0.0.1:{self.config.storage_port}",
            "UPLOADS_BUCKET": self.config.uploads_bucket,
            "MEDIA_BUCKET": self.config.media_bucket,
            "MEDIA_PUBLIC_URL": f"http://127.0.0.1:{self.config.storage_port}/{self.config.media_bucket}",
            "SIGNED_URL_ENDPOINT": self.storage_front_url,
            "SIGNING_KEY_FILE": str(self.config.state_dir / "signing-key.json"),
            "SIWE_DOMAIN": f"127.0.0.1:{self.config.hosting_port}",
            "SIWE_URI": f"http://127.0.0.1:{self.config.hosting_port}",
            "CHAIN_ID": "31337",
            "FIREBASE_WEB_API_KEY": "demo-api-key",
            "AUTH_EMULATOR_URL": f"http://{self.auth_host}",
            "FUNDING_CONTRACT": self.contracts.funding,
            "GRAPH_URL": f"falkordb://127.0.0.1:{self.config.graph_port}/kalakrut",
            "INDEXER_CHAINS": json.dumps([{
                "chain_id": 31337, "rpc_url": self.chain_url, "confirmations": 0,
                "funding_contract": self.contracts.funding, "artwork_contract": self.contracts.artwork,
            }]),
        }
        if self.pubsub_host:
            env["PUBSUB_EMULATOR_HOST"] = self.pubsub_host
        else:
            env["LOCAL_PUBSUB_URL"] = f"http://127.0.0.1:{self.config.pubsub_port}"
        return env

    def start(self) -> Stack:
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def _check_ports(self) -> None:
        c = self.config
        wanted = {"HOSTING_PORT": c.hosting_port, "AUTH_EMULATOR_PORT": c.auth_port, "ROUTER_PORT": c.router_port,
                  "EMULATOR_HUB_PORT": c.hub_port, "EMULATOR_LOGGING_PORT": c.logging_port,
            "PUBSUB_EMULATOR_PORT": c.pubsub_port, "STORAGE_EMULATOR_PORT": c.storage_port,
            "STORAGE_FRONT_PORT": c.storage_front_port, "ANVIL_PORT": c.anvil_port, "FALKORDB_PORT": c.graph_port}
        busy = [f"{name}={port}" for name, port in wanted.items() if port and port_open(port)]
        if busy:
            raise SystemExit(f"ports already in use: {', '.join(busy)} (is another stack running? set these variables to move)")

    def _start(self) -> None:
        self._check_ports()
        state = self.config.state_dir
        logs = state / "logs"
        self.pg = postgres.start(state / "pgdata")
        self.database_url = self.pg.ensure_database(self.config.database)
        postgres.migrate(self.database_url)

        if self.config.pubsub == "emulator" and emulator_binary() is not None:
            self.children.append(start_emulator(self.config.pubsub_port, logs))
            self.pubsub_host = f"127.0.0.1:{self.config.pubsub_port}"
        else:
            print("Pub/Sub: the local push broker delivers events (no Cloud SDK emulator, or LOCAL_PUBSUB=broker)",
                  flush=True)

        # A fresh chain each run: anvil keeps no state, so the contracts are deployed anew.
        self.children.append(start_anvil(self.config.anvil_port, logs))
        self.contracts = deploy_platform(Rpc(self.chain_url))
        (state / "chain.json").write_text(json.dumps({"url": self.chain_url, **asdict(self.contracts)}))

        # The graph starts empty each run: graph-reconcile fills it from PostgreSQL on its first tick.
        self.children.append(start_falkordb(self.config.graph_port, state / "graph"))

        self.children.append(start_storage(self.config.storage_port, state / "storage", logs))
        create_buckets(self.config.storage_port, self.config.project, [self.config.uploads_bucket, self.config.media_bucket])
        write_signing_key(state / "signing-key.json", self.config.project)

        for function in self.manifest.functions:
            port = self.config.function_ports.get(function.name) or free_port()
            self.config.function_ports[function.name] = port
            signature = "http" if function.http_paths else "cloudevent"
            child = spawn(
                function.name,
                [str(VENV_BIN / "functions-framework"), "--target", function.entry_point,
                 "--source", str(function.main), "--signature-type", signature,
                 "--host", "127.0.0.1", "--port", str(port)],
                env=self.function_env(function.name),
                log_dir=logs,
                cwd=REPO,
            )
            self.children.append(child)
            self._function_children[function.name] = child

        push_urls = {f.name: f"http://127.0.0.1:{self.config.function_ports[f.name]}/"
                     for f in self.manifest.event_functions()}
        if self.pubsub_host:
            provision(self.pubsub_host, self.config.project, self.manifest, push_urls)
            publish = emulator_publish(self.pubsub_host, self.config.project)
        else:
            subscriptions = [Subscription(f"{f.topic}-{f.name}", f.topic, push_urls[f.name], f.dead_letter_topic,
                                          f.max_delivery_attempts) for f in self.manifest.event_functions()]
            self.broker = PushBroker(self.config.project, subscriptions, state / "dead-letters.jsonl")
            self.broker.start(self.config.pubsub_port)
            publish = self.broker.publish
        self.scheduler = Scheduler(publish, self.manifest, self.config.schedule_interval)
        self.scheduler.start()
        # GCS would notify media-uploads of every finished upload; the emulator cannot.
        front = StorageFront(self.config.storage_port, {self.config.uploads_bucket: "media-uploads"}, publish,
                             cors_origins=tuple(self.site_origins))
        self.storage_front = ThreadedServer(front, self.config.storage_front_port, "storage-front")
        self.storage_front.start()

        http_ports = {f.name: self.config.function_ports[f.name] for f in self.manifest.http_functions()}
        self.router = ThreadedServer(Router(self.manifest, http_ports, self.router_url), self.config.router_port, "router")
        self.router.start()
        self.operator = CampaignOperator(self.database_url, Platform(Rpc(self.chain_url), self.contracts))
        self.operator.start()

        ports = EmulatorPorts(self.config.auth_port, self.config.hosting_port, self.config.hub_port, self.config.logging_port)
        self.children.append(start_emulators(
            self.config.project, ports, state / "firebase", router_url=self.router_url,
            persist_dir=state / "auth-data" if self.config.persist_auth else None,
        ))
        for name, child in self._function_children.items():
            port = self.config.function_ports[name]
            child.wait_until(lambda port=port: port_open(port), 30)

    def stop(self) -> None:
        if self.operator:
            self.operator.stop()
            self.operator = None
        if self.scheduler:
            self.scheduler.stop()
            self.scheduler = None
        if self.broker:
            self.broker.stop()
            self.broker = None
        for child in reversed(self.children):
            child.stop()
        self.children.clear()
        for server in (self.router, self.storage_front):
            if server:
                server.stop()
        self.router = self.storage_front = None
        if self.pg:
            self.pg.stop()
            self.pg = None

    def __enter__(self) -> Stack:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local.stack", description=__doc__.splitlines()[0])
    parser.add_argument("--no-seed", action="store_true", help="do not load the demo data")
    args = parser.parse_args(argv)

    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())

    stack = Stack(StackConfig.from_env())
    print("starting the local stack (PostgreSQL, functions, router, Firebase emulators)…", flush=True)
    with stack:
        if not args.no_seed:
            from local.seed import seed

            print(seed(stack.hosting_url, stack.auth(), Platform(Rpc(stack.chain_url), stack.contracts)), flush=True)
            if stack.scheduler:
                stack.scheduler.tick("indexer-tick")  # index the demo fundings now, not in a minute
        print(
            f"\nKalaKrut is running:\n"
            f"  site + API (Hosting)  {stack.hosting_url}\n"
            f"  OpenAPI               {stack.hosting_url}/api/openapi.json\n"
            f"  Auth emulator         http://{stack.auth_host}\n"
            f"  router (Cloud Run)    {stack.router_url}\n"
            f"  storage emulator      http://127.0.0.1:{stack.config.storage_port} (uploads via {stack.storage_front_url})\n"
            f"  chain (anvil)         {stack.chain_url}  funding {stack.contracts.funding}  artwork {stack.contracts.artwork}\n"
            f"  graph (FalkorDB)      redis://127.0.0.1:{stack.config.graph_port} graph 'kalakrut'\n"
            f"  database              {stack.database_url}\n"
            f"  logs                  {stack.config.state_dir / 'logs'}\n"
            f"Press Ctrl-C to stop.",
            flush=True,
        )
        stop.wait()
        print("stopping…", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
