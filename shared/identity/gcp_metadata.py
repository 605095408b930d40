"""The function's own OAuth access token, from the Cloud Run metadata server.

google-auth's Compute Engine credentials do the same, but import requests (~40 ms of
cold start) for one GET; this is that GET over the standard library, cached until a
minute before the token expires. ``GCE_METADATA_HOST`` moves the server, as it does for
google-auth.
"""
from __future__ import annotations

import json
import os
import threading
import time
import urllib.request

TOKEN_PATH = "/computeMetadata/v1/instance/service-accounts/default/token"
TIMEOUT_SECONDS = 5
REFRESH_MARGIN_SECONDS = 60


class MetadataUnavailable(Exception):
    """No token: not on Google Cloud, or the metadata server failed."""


class AccessToken:
    """Callable returning a current access token of the default service account."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._token: str | None = None
        self._refresh_at = 0.0

    def __call__(self) -> str:
        with self._lock:
            if self._token is None or time.monotonic() >= self._refresh_at:
                self._token, lifetime = _fetch()
                self._refresh_at = time.monotonic() + max(lifetime - REFRESH_MARGIN_SECONDS, 0)
            return self._token


def _fetch() -> tuple[str, int]:
    host = os.environ.get("GCE_METADATA_HOST", "metadata.google.internal")
    request = urllib.request.Request(f"http://{host}{TOKEN_PATH}", headers={"Metadata-Flavor": "Google"})
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:
            body = json.load(response)
        return str(body["access_token"]), int(body["expires_in"])
    except (OSError, ValueError, KeyError, TypeError) as error:  # URLError and HTTPError are OSErrors
        raise MetadataUnavailable(f"no access token from the metadata server at {host}: {error}") from error
