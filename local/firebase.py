"""The Firebase emulators (Auth, Hosting) from npm firebase-tools, and a small
client for the Auth emulator's REST API (sign-up, sign-in, reset)."""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import requests

from local.processes import Child, port_open, spawn

REPO = Path(__file__).resolve().parent.parent
FIREBASE_BIN = REPO / "node_modules" / ".bin" / "firebase"


@dataclass(frozen=True)
class EmulatorPorts:
    auth: int
    hosting: int | None
    hub: int
    logging: int


def emulator_config(ports: EmulatorPorts, workdir: Path) -> dict:
    """firebase.json with this run's ports, for a config file that lives in ``workdir``."""
    config = json.loads((REPO / "firebase.json").read_text())
    # The deploy names its site through a target (.firebaserc); the emulator serves one site.
    config["hosting"].pop("target", None)
    # Relative to the config's directory: the Hosting emulator joins, not resolves, it.
    config["hosting"]["public"] = os.path.relpath(REPO / "public", workdir)
    for rule in config["hosting"].get("headers", []):
        for header in rule["headers"]:
            if header["key"] == "Content-Security-Policy":
                header["value"] = local_csp(header["value"])
    emulators = config["emulators"]
    emulators["auth"]["port"] = ports.auth
    emulators["hosting"]["port"] = ports.hosting or 0
    emulators["hub"] = {"host": "127.0.0.1", "port": ports.hub}
    emulators["logging"] = {"host": "127.0.0.1", "port": ports.logging}
    return config


# Locally the page also talks to the Auth emulator, loads media from the storage emulator
# and runs localstripe's Stripe.js (a script that calls localstripe; it renders plain
# inputs, no frame), all on loopback; production's policy (firebase.json) names no loopback origin.
LOOPBACK = "http://127.0.0.1:* http://localhost:*"
LOOPBACK_DIRECTIVES = ("connect-src", "img-src", "script-src")


def local_csp(policy: str) -> str:
    directives = [part.strip() for part in policy.split(";") if part.strip()]
    return "; ".join(f"{d} {LOOPBACK}" if d.split()[0] in LOOPBACK_DIRECTIVES else d for d in directives)


def start_emulators(
    project: str, ports: EmulatorPorts, workdir: Path, *, router_url: str | None, persist_dir: Path | None = None
) -> Child:
    if not FIREBASE_BIN.exists():
        raise RuntimeError("firebase-tools is not installed: run `npm ci` (make install does)")
    only = "auth,hosting" if ports.hosting else "auth"
    workdir.mkdir(parents=True, exist_ok=True)
    config_path = workdir / "firebase.json"
    config_path.write_text(json.dumps(emulator_config(ports, workdir), indent=2))
    env = {**os.environ, "FIREBASE_CLI_DISABLE_UPDATE_CHECK": "true", "CI": os.environ.get("CI", "true")}
    env.pop("FIREBASE_AUTH_EMULATOR_HOST", None)
    if router_url:
        # Hosting resolves `run` rewrites through the Cloud Run API: the router answers it.
        env["CLOUD_RUN_API_URL"] = router_url
    argv = [str(FIREBASE_BIN), "emulators:start", "--only", only, "--project", project, "--config", str(config_path)]
    if persist_dir is not None:
        # Accounts survive restarts, so the demo users keep their uids and profiles.
        if persist_dir.exists():
            argv += ["--import", str(persist_dir)]
        argv += ["--export-on-exit", str(persist_dir)]
    child = spawn(
        "firebase-emulators",
        argv,
        env=env,
        log_dir=workdir,
        cwd=workdir,
    )
    expected = [ports.auth] + ([ports.hosting] if ports.hosting else [])
    child.wait_until(lambda: all(port_open(p) for p in expected) and "All emulators ready" in child.tail(200), 90)
    return child


class AuthEmulator:
    """REST client for the Auth emulator: accounts whose ID tokens firebase-admin accepts."""

    def __init__(self, host: str, project: str) -> None:
        self.base = f"http://{host}"
        self.project = project

    def _post(self, endpoint: str, body: dict) -> dict:
        response = requests.post(
            f"{self.base}/identitytoolkit.googleapis.com/v1/accounts:{endpoint}?key=demo-key", json=body, timeout=10
        )
        response.raise_for_status()
        return response.json()

    def sign_up(self, email: str, password: str = "password123", display_name: str | None = None) -> tuple[str, str]:
        """Create an account; returns (uid, ID token)."""
        data = self._post("signUp", {"email": email, "password": password, "returnSecureToken": True})
        if not display_name:
            return data["localId"], data["idToken"]
        self._post("update", {"idToken": data["idToken"], "displayName": display_name})
        return data["localId"], self.sign_in(email, password)  # a fresh token carries the name claim

    def sign_in(self, email: str, password: str = "password123") -> str:
        return self._post("signInWithPassword", {"email": email, "password": password, "returnSecureToken": True})["idToken"]

    def verify_email(self, uid: str) -> None:
        """Mark the account's email verified, as the provider does once its link is followed
        (the admin call; the emulator takes the token "owner")."""
        requests.post(f"{self.base}/identitytoolkit.googleapis.com/v1/projects/{self.project}/accounts:update",
                      json={"localId": uid, "emailVerified": True}, headers={"Authorization": "Bearer owner"},
                      timeout=10).raise_for_status()

    def clear(self) -> None:
        requests.delete(f"{self.base}/emulator/v1/projects/{self.project}/accounts", timeout=10).raise_for_status()
