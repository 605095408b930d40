"""Cloud Firestore locally: the Cloud SDK's Firestore emulator (firebase-tools would download
its own jar, which fails offline: ../shared/STANDINS.md), started from its launcher script,
with the repository's security rules loaded (firestore.rules) so that clients are held to
them as in the cloud. Functions reach it through FIRESTORE_EMULATOR_HOST; the web app's
Firebase SDK through the host GET /api/config names."""
from __future__ import annotations

import os
from pathlib import Path

import requests

from infra.manifest import REPO
from local.processes import Child, port_open, spawn
from local.pubsub import sdk_file

_SDK_EMULATOR = "platform/cloud-firestore-emulator/cloud_firestore_emulator"
RULES = REPO / "firestore.rules"


def start_firestore(port: int, workdir: Path, project: str) -> Child:
    binary = sdk_file(_SDK_EMULATOR)
    if binary is None:
        raise RuntimeError("the Cloud SDK Firestore emulator is not installed")
    # The launcher directly: the jar has no Main-Class, and a gcloud wrapper would orphan the JVM.
    child = spawn("firestore-emulator", [str(binary), "start", "--host=127.0.0.1", f"--port={port}"],
                  env={**os.environ}, log_dir=workdir)
    child.wait_until(lambda: port_open(port), 60)
    load_rules(f"127.0.0.1:{port}", project)
    return child


def load_rules(host: str, project: str, rules: str | None = None) -> None:
    """Hold the emulator's clients to these rules (the repository's by default)."""
    body = {"rules": {"files": [{"name": "firestore.rules", "content": rules or RULES.read_text()}]}}
    requests.put(f"http://{host}/emulator/v1/projects/{project}:securityRules", json=body,
                 timeout=30).raise_for_status()
