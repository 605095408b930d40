"""Firebase Authentication accounts as the revocation check reads them: one Identity
Toolkit ``accounts:lookup`` call (what firebase-admin's ``get_user`` sends), over the
standard library so that checking a token costs no admin SDK import.

The Auth emulator answers the same call under its own host and takes the token "owner";
in the cloud the function's service account token comes from the metadata server.
"""
from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass

from shared.identity.gcp_metadata import AccessToken, MetadataUnavailable

CLOUD_BASE = "https://identitytoolkit.googleapis.com"
TIMEOUT_SECONDS = 10
EMULATOR_TOKEN = "owner"


@dataclass(frozen=True)
class Account:
    disabled: bool
    # Seconds since the epoch: tokens issued before it are revoked.
    valid_since: int
    # Where notifications may be emailed: only an address the provider verified (decision 0029).
    email: str | None = None
    email_verified: bool = False


class LookupFailed(Exception):
    """The lookup could not be made or was refused: nothing the caller did."""


class FirebaseAccounts:
    def __init__(self, project_id: str, *, emulator_host: str | None) -> None:
        base = f"http://{emulator_host}/identitytoolkit.googleapis.com" if emulator_host else CLOUD_BASE
        self._lookup_url = f"{base}/v1/projects/{project_id}/accounts:lookup"
        self._access_token: Callable[[], str] = (lambda: EMULATOR_TOKEN) if emulator_host else AccessToken()

    def lookup(self, uid: str) -> Account | None:
        """The account with this uid, or None when there is none (deleted)."""
        try:
            request = urllib.request.Request(
                self._lookup_url, data=json.dumps({"localId": [uid]}).encode(), method="POST",
                headers={"Authorization": f"Bearer {self._access_token()}", "Content-Type": "application/json"})
            with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:
                users = json.load(response).get("users") or []
            if not users:
                return None
            found = users[0]
            return Account(disabled=bool(found.get("disabled", False)), valid_since=int(found.get("validSince") or 0),
                           email=found.get("email") or None, email_verified=found.get("emailVerified") is True)
        except urllib.error.HTTPError as error:
            raise LookupFailed(f"accounts:lookup answered {error.code}: {error.read()[:500]!r}") from error
        except (OSError, ValueError, TypeError, AttributeError, MetadataUnavailable) as error:
            raise LookupFailed(f"accounts:lookup failed: {error}") from error
