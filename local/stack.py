"""Run the whole platform on loopback: `python -m local.stack` (what `make dev` runs).

Order: embedded PostgreSQL -> Alembic migrations -> Pub/Sub, anvil (+ contracts),
FalkorDB, localstripe (Stripe), Cloud Storage -> one functions-framework process per function (the campaign
operator among them, signing with anvil's key) -> the Scheduler stand-in -> the router (Cloud Run stand-in),
and Stripe's webhook to it -> Firebase Auth + Hosting emulators -> demo data through the public API.
Ctrl-C stops everything.
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

from infra.bundle import unpack, venv_for
from infra.deployed_config import deployed_config
from infra.manifest import Function, load
from local import postgres
from local.broker import PushBroker, Subscription, seconds
from local.chain import ANVIL_OPERATOR_KEY, Deployment, Platform, Rpc, deploy_platform, start_anvil
from local.config import StackConfig
from local.firebase import AuthEmulator, EmulatorPorts, start_emulators
from local.firestore import start_firestore
from local.graph import start_falkordb
from local.processes import Child, free_port, port_open, spawn
from local.pubsub import emulator_binary, emulator_publish, provision, start_emulator
from local.router import Router, ThreadedServer
from local.scheduler import Scheduler
from local.smtp import SmtpSink
from local.storage import StorageFront, create_buckets, write_signing_key
from local.storage import start_emulator as start_storage
from local.stripe import PUBLISHABLE_KEY as STRIPE_PUBLISHABLE_KEY
from local.stripe import SECRET_KEY as STRIPE_SECRET_KEY
from local.stripe import WEBHOOK_SECRET as STRIPE_WEBHOOK_SECRET
from local.stripe import register_webhook, start_localstripe
from local.supervisor import Supervisor


class Stack:
    def __init__(self, config: StackConfig) -> None:
        self.config = config
        self.manifest = load()
        self.deployed = deployed_config("local", self.manifest)
        self.pg: postgres.EmbeddedPostgres | None = None
        self.children: list[Child] = []
        self.supervisor: Supervisor | None = None
        self.router: ThreadedServer | None = None
        self.storage_front: ThreadedServer | None = None
        self.contracts: Deployment | None = None
        self.database_url = ""
        self.pubsub_host: str | None = None
        self.broker: PushBroker | None = None
        self.scheduler: Scheduler | None = None
        self.mail: SmtpSink | None = None

    @property
    def router_url(self) -> str:
        return f"http://127.0.0.1:{self.config.router_port}"

    @property
    def chain_url(self) -> str:
        return f"http://127.0.0.1:{self.config.anvil_port}"

    @property
    def stripe_url(self) -> str:
        return f"http://127.0.0.1:{self.config.stripe_port}"

    @property
    def stripe_webhook_url(self) -> str:
        """Where Stripe posts its events: Hosting in the cloud; here the router, by path."""
        return f"{self.router_url}/api/payments/stripe"

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

    def values(self, function: str) -> dict[str, str]:
        """The stack's side of functions.yaml's ``stack:`` sources, for one function; an empty
        value leaves the setting unset (one Pub/Sub transport of the two is running)."""
        config = self.deployed[function]
        values = {
            "project": self.config.project,
            "log_level": os.environ.get("LOG_LEVEL", "INFO"),
            "database_url": self.pg.url(self.config.database, config["database_user"]) if config["database_user"] else "",
            "database_function_roles": ",".join(self.database_roles()),
            "site_origins": ",".join(self.site_origins),
            "auth_emulator_host": self.auth_host,
            "auth_emulator_url": f"http://{self.auth_host}",
            "pubsub_emulator_host": self.pubsub_host or "",
            "pubsub_broker_url": "" if self.pubsub_host else f"http://127.0.0.1:{self.config.pubsub_port}",
            "storage_emulator_url": f"http://127.0.0.1:{self.config.storage_port}",
            "uploads_bucket": self.config.uploads_bucket,
            "media_bucket": self.config.media_bucket,
            "media_public_url": f"http://127.0.0.1:{self.config.storage_port}/{self.config.media_bucket}",
            "storage_front_url": self.storage_front_url,
            "signing_key_file": str(self.config.state_dir / "signing-key.json"),
            "siwe_domain": f"127.0.0.1:{self.config.hosting_port}",
            "siwe_uri": f"http://127.0.0.1:{self.config.hosting_port}",
            "chain_id": "31337",
            "funding_contract": self.contracts.funding,
            "market_contract": self.contracts.market,
            # anvil's first account deployed the contracts, so it is their operator (local/chain.py).
            "operator_private_key": ANVIL_OPERATOR_KEY,
            "stripe_api_base": self.stripe_url,
            "stripe_secret_key": STRIPE_SECRET_KEY,
            "stripe_webhook_secret": STRIPE_WEBHOOK_SECRET,
            "stripe_publishable_key": STRIPE_PUBLISHABLE_KEY,
            "smtp_host": "127.0.0.1",
            "smtp_port": str(self.config.smtp_port),
            "firestore_emulator_host": f"127.0.0.1:{self.config.firestore_port}",
            # localstripe serves its own Stripe.js, which talks to it rather than to Stripe.
            "stripe_js_url": f"{self.stripe_url}/js.stripe.com/v3/",
            "graph_url": f"falkordb://127.0.0.1:{self.config.graph_port}/kalakrut",
            "indexer_chains": json.dumps([{
                "chain_id": 31337, "rpc_url": self.chain_url, "confirmations": 0,
                "funding_contract": self.contracts.funding, "artwork_contract": self.contracts.artwork,
                "market_contract": self.contracts.market,
            }]),
        }
        return values

    def database_roles(self) -> list[str]:
        return sorted(f["database_user"] for f in self.deployed.values() if f["database_user"])

    def function_env(self, name: str) -> dict[str, str]:
        """Exactly what functions.yaml gives the function locally, and what Cloud Run's
        platform gives every instance; nothing from the developer's shell."""
        values = self.values(name)
        env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(self.config.state_dir), "K_SERVICE": name}
        for setting, source in self.deployed[name]["env"].items():
            if source["from"] not in ("stack", "value"):
                raise ValueError(f"{name}: {setting} comes from {source['from']}, which the local stack cannot give")
            value = values[source["ref"]] if source["from"] == "stack" else source["ref"]
            if value:
                env[setting] = value
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
            "STORAGE_FRONT_PORT": c.storage_front_port, "ANVIL_PORT": c.anvil_port, "FALKORDB_PORT": c.graph_port,
            "LOCALSTRIPE_PORT": c.stripe_port, "SMTP_SINK_PORT": c.smtp_port,
            "FIRESTORE_EMULATOR_PORT": c.firestore_port}
        busy = [f"{name}={port}" for name, port in wanted.items() if port and port_open(port)]
        if busy:
            raise SystemExit(f"ports already in use: {', '.join(busy)} (is another stack running? set these variables to move)")

    def _start(self) -> None:
        self._check_ports()
        state = self.config.state_dir
        logs = state / "logs"
        self.pg = postgres.start(state / "pgdata")
        self.database_url = self.pg.ensure_database(self.config.database)
        # As in the cloud: a role per function, and the migration job (as the migrator) grants them.
        self.pg.provision(self.config.database, self.database_roles())
        self.pg.run_migration_job(self.config.database, self.database_roles(), self.config.project)

        if self.config.pubsub == "emulator" and emulator_binary() is not None:
            self.children.append(start_emulator(self.config.pubsub_port, logs))
            self.pubsub_host = f"127.0.0.1:{self.config.pubsub_port}"
        else:
            print("Pub/Sub: the local push broker delivers events (LOCAL_PUBSUB=emulator: the Cloud SDK emulator, "
                  "which drops pushes to a consumer that is down: docs/decisions/0022)", flush=True)

        # A fresh chain each run: anvil keeps no state, so the contracts are deployed anew.
        self.children.append(start_anvil(self.config.anvil_port, logs))
        self.contracts = deploy_platform(Rpc(self.chain_url))
        (state / "chain.json").write_text(json.dumps({"url": self.chain_url, **asdict(self.contracts)}))

        # The graph starts empty each run: graph-reconcile fills it from PostgreSQL on its first tick.
        self.children.append(start_falkordb(self.config.graph_port, state / "graph"))

        # Starts empty each run too (local/stripe.py: it cannot keep its state in .local).
        self.children.append(start_localstripe(self.config.stripe_port, logs))

        # The live documents (shared/live): empty each run, the repository's rules loaded.
        self.children.append(start_firestore(self.config.firestore_port, logs, self.config.project))

        # Notifications' mail lands in a Maildir (local/smtp.py), kept across runs like the database.
        self.mail = SmtpSink(self.config.smtp_port, state / "mail").start()

        self.children.append(start_storage(self.config.storage_port, state / "storage", logs))
        create_buckets(self.config.storage_port, self.config.project, [self.config.uploads_bucket, self.config.media_bucket])
        write_signing_key(state / "signing-key.json", self.config.project)

        self.supervisor = Supervisor(state / "status.json", report=lambda line: print(f"stack: {line}", flush=True))
        for function in self.manifest.functions:
            port = self.config.function_ports.get(function.name) or free_port()
            self.config.function_ports[function.name] = port
            self.supervisor.add(function.name, port, self._function_starter(function, port, logs))
        self.supervisor.start()

        push_urls = {f.name: f"http://127.0.0.1:{self.config.function_ports[f.name]}/"
                     for f in self.manifest.event_functions()}
        if self.pubsub_host:
            provision(self.pubsub_host, self.config.project, self.manifest, push_urls)
            publish = emulator_publish(self.pubsub_host, self.config.project)
        else:
            self.broker = PushBroker(self.config.project, self.subscriptions(push_urls), state / "dead-letters.jsonl")
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
        register_webhook(self.stripe_url, "kalakrut", self.stripe_webhook_url, STRIPE_WEBHOOK_SECRET)

        ports = EmulatorPorts(self.config.auth_port, self.config.hosting_port, self.config.hub_port, self.config.logging_port)
        self.children.append(start_emulators(
            self.config.project, ports, state / "firebase", router_url=self.router_url,
            persist_dir=state / "auth-data" if self.config.persist_auth else None,
        ))
        for name, child in self.supervisor.children().items():
            port = self.config.function_ports[name]
            child.wait_until(lambda port=port: port_open(port), 30)

    def subscriptions(self, push_urls: dict[str, str]) -> list[Subscription]:
        """The broker's push subscriptions, each with the cloud's retry policy (functions.yaml):
        a consumer's outage is ridden out locally as long as in the cloud before anything is parked."""
        return [Subscription(f"{f.topic}-{f.name}", f.topic, push_urls[f.name], f.dead_letter_topic,
                             f.max_delivery_attempts, seconds(f.retry["min_backoff"]), seconds(f.retry["max_backoff"]))
                for f in self.manifest.event_functions()]

    def _function_starter(self, function: Function, port: int, logs: Path) -> Callable[[], Child]:
        """How the function's process starts, as deployed: its own bundle, in a venv of only
        its own requirements, with only its own settings (the supervisor restarts it so)."""
        bundle = unpack(Path(function.source), self.config.state_dir / "bundles" / function.name)
        bin_dir = venv_for(bundle / "requirements.txt", bundle / "constraints.txt")
        argv = [str(bin_dir / "functions-framework"), "--target", function.entry_point, "--source", "main.py",
                "--signature-type", "http" if function.http_paths else "cloudevent",
                "--host", "127.0.0.1", "--port", str(port)]
        env = self.function_env(function.name)
        return lambda: spawn(function.name, argv, env=env, log_dir=logs, cwd=bundle)

    def stop(self) -> None:
        if self.scheduler:
            self.scheduler.stop()
            self.scheduler = None
        if self.broker:
            self.broker.stop()
            self.broker = None
        if self.supervisor:
            self.supervisor.stop()
            self.supervisor = None
        for child in reversed(self.children):
            child.stop()
        self.children.clear()
        for server in (self.router, self.storage_front):
            if server:
                server.stop()
        self.router = self.storage_front = None
        if self.mail:
            self.mail.stop()
            self.mail = None
        if self.pg:
            self.pg.stop()
            self.pg = None

    def __enter__(self) -> Stack:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def owner_engine(self):
        """The database as its owner sees it: the set-up's access, never a function's."""
        from sqlalchemy import create_engine

        return create_engine(self.database_url)


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
            from infra.admins import set_admin
            from local.seed import MODERATOR, seed

            print(seed(stack.hosting_url, stack.auth(), Platform(Rpc(stack.chain_url), stack.contracts)), flush=True)
            with stack.owner_engine().begin() as conn:
                set_admin(conn, MODERATOR[0], True)
            print(f"the administrator: {MODERATOR[0]} (the admin pages: #/admin)", flush=True)
            if stack.scheduler:
                stack.scheduler.tick("indexer-tick")  # index the demo fundings now, not in a minute
        print(
            f"\nKalaKrut is running:\n"
            f"  site + API (Hosting)  {stack.hosting_url}\n"
            f"  OpenAPI               {stack.hosting_url}/api/openapi.json\n"
            f"  Auth emulator         http://{stack.auth_host}\n"
            f"  router (Cloud Run)    {stack.router_url}\n"
            f"  storage emulator      http://127.0.0.1:{stack.config.storage_port} (uploads via {stack.storage_front_url})\n"
            f"  chain (anvil)         {stack.chain_url}  funding {stack.contracts.funding}  artwork {stack.contracts.artwork}  "
            f"market {stack.contracts.market}\n"
            f"  graph (FalkorDB)      redis://127.0.0.1:{stack.config.graph_port} graph 'kalakrut'\n"
            f"  Stripe (localstripe)  {stack.stripe_url}  webhooks -> {stack.stripe_webhook_url}\n"
            f"  Firestore emulator    http://127.0.0.1:{stack.config.firestore_port} (live documents)\n"
            f"  mail (SMTP sink)      smtp://127.0.0.1:{stack.config.smtp_port} -> {stack.mail.maildir} "
            f"(python -m local.smtp {stack.mail.maildir})\n"
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
