"""Cloud Firestore's REST API, for the few documents the platform writes: one GET and one
conditional PATCH, over the standard library (the gRPC client would cost the function's cold
start seconds for two calls).

In the cloud the function's service account authorises (roles/datastore.user); locally the
Firestore emulator takes the token "owner", which passes its security rules as an admin's
would. Values are strings, integers and timestamps: all the live documents need.
"""
from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from shared.identity.gcp_metadata import AccessToken, MetadataUnavailable

CLOUD_BASE = "https://firestore.googleapis.com"
TIMEOUT_SECONDS = 10
EMULATOR_TOKEN = "owner"

Value = str | int | None


class FirestoreUnavailable(Exception):
    """Firestore could not be reached or refused the call: retry later."""


class PreconditionFailed(Exception):
    """The document changed since it was read (a concurrent writer): read again."""


@dataclass(frozen=True)
class Snapshot:
    fields: dict[str, Value]
    update_time: str


def _encode(value: Value) -> dict[str, Any]:
    if value is None:
        return {"nullValue": None}
    if isinstance(value, bool):
        return {"booleanValue": value}
    if isinstance(value, int):
        return {"integerValue": str(value)}
    return {"stringValue": value}


def _decode(value: dict[str, Any]) -> Value:
    if "integerValue" in value:
        return int(value["integerValue"])
    return value.get("stringValue", value.get("timestampValue"))


class Firestore:
    def __init__(self, project_id: str, *, emulator_host: str | None) -> None:
        base = f"http://{emulator_host}" if emulator_host else CLOUD_BASE
        self._name_root = f"projects/{project_id}/databases/(default)/documents"
        self._documents = f"{base}/v1/{self._name_root}"
        self._token: Callable[[], str] = (lambda: EMULATOR_TOKEN) if emulator_host else AccessToken()

    def get(self, path: str) -> Snapshot | None:
        found = self._call("GET", path)
        if found is None:
            return None
        return Snapshot({name: _decode(value) for name, value in found.get("fields", {}).items()},
                        found["updateTime"])

    def write(self, path: str, fields: dict[str, Value], *, after: Snapshot | None) -> None:
        """Write the whole document, only if it is still as ``after`` left it (absent if None).
        Through ``:commit``, whose precondition is a timestamp in the body: the emulator reads
        ``currentDocument.updateTime`` as a query parameter as no time at all."""
        condition = {"updateTime": after.update_time} if after else {"exists": False}
        write = {"update": {"name": f"{self._name_root}/{path}", "fields": {k: _encode(v) for k, v in fields.items()}},
                 "currentDocument": condition}
        self._call("POST", ":commit", body={"writes": [write]})

    def _call(self, method: str, path: str, *, body: dict | None = None) -> dict | None:
        url = self._documents + (path if path.startswith(":") else f"/{path}")
        try:
            request = urllib.request.Request(
                url, method=method, data=json.dumps(body).encode() if body is not None else None,
                headers={"Authorization": f"Bearer {self._token()}", "Content-Type": "application/json"})
            with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:
                return json.load(response)
        except urllib.error.HTTPError as error:
            if error.code == 404 and method == "GET":
                return None
            status = _status(error)
            if status in ("FAILED_PRECONDITION", "ALREADY_EXISTS", "NOT_FOUND"):
                raise PreconditionFailed(status) from None
            raise FirestoreUnavailable(f"Firestore answered {error.code} {status}") from None
        except (OSError, ValueError, MetadataUnavailable) as error:
            raise FirestoreUnavailable(f"Firestore could not be reached: {type(error).__name__}") from None


def _status(error: urllib.error.HTTPError) -> str:
    try:
        return str(json.loads(error.read()).get("error", {}).get("status", ""))
    except (ValueError, AttributeError, OSError):
        return ""
