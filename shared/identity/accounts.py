"""Firebase Authentication accounts as the revocation check reads them: one Identity
Toolkit ``accounts:lookup`` call (what firebase-admin's ``get_user`` sends), over the
standard library so that checking a token costs no admin SDK import.

The Auth emulator answers the same call under its own host and takes the token "owner";
in the cloud the function's service account token comes from the metadata server.
"""
from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from collections import OrderedDict
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
            return Account(disabled=bool(users[0].get("disabled", False)),
                           valid_since=int(users[0].get("validSince") or 0))
        except urllib.error.HTTPError as error:
            raise LookupFailed(f"accounts:lookup answered {error.code}: {error.read()[:500]!r}") from error
        except (OSError, ValueError, TypeError, AttributeError, MetadataUnavailable) as error:
            raise LookupFailed(f"accounts:lookup failed: {error}") from error


class RecentAccounts:
    """Lookups remembered per uid for ``seconds``: a signed-in request costs an Identity
    Toolkit round trip (and a quota unit) once per window, not every time. The price is the
    window itself: a token revoked elsewhere still works for up to ``seconds`` on an
    instance that looked its account up just before (decision 0024); this instance's own
    revocations and deletions ``forget`` at once."""

    def __init__(self, accounts: FirebaseAccounts, seconds: float, *, capacity: int = 10_000,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._accounts = accounts
        self._seconds = seconds
        self._capacity = capacity
        self._clock = clock
        self._lock = threading.Lock()
        self._seen: OrderedDict[str, tuple[float, Account | None]] = OrderedDict()

    def lookup(self, uid: str) -> Account | None:
        now = self._clock()
        with self._lock:
            remembered = self._seen.get(uid)
            if remembered is not None and now - remembered[0] < self._seconds:
                return remembered[1]
        account = self._accounts.lookup(uid)  # outside the lock: other uids need not wait
        if self._seconds > 0:
            with self._lock:
                self._seen[uid] = (now, account)
                self._seen.move_to_end(uid)
                while len(self._seen) > self._capacity:
                    self._seen.popitem(last=False)
        return account

    def forget(self, uid: str) -> None:
        with self._lock:
            self._seen.pop(uid, None)
