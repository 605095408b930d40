"""Real Chromium (Debian's `chromium` package) driven by Playwright, for the web app's
end-to-end tests: a watch that fails a test on any console error, page error, failed
request or error response it did not expect, screenshots, an EIP-1193 wallet the page
sees as window.ethereum, backed by an unlocked anvil account, and a Solana wallet it sees
as window.solana, backed by an ed25519 key of the test's."""
from __future__ import annotations

import os
import re
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from infra.manifest import REPO

SCREENSHOTS = Path(os.environ.get("E2E_SCREENSHOTS", REPO / "test-results" / "web"))
# The Firestore SDK's channel (a page watching a live document, web/src/lib/live.js): a long
# poll that is always open, renewed by the SDK and cut when the page goes. Never "in flight"
# for settle(), and its abort is no problem; any other failure of it still is.
STANDING = re.compile(r"/google\.firestore\.v1\.Firestore/\w+/channel")


def chromium_path() -> str:
    found = os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if not found:
        raise RuntimeError("the browser tests need Debian's chromium: apt-get install chromium (.ci/run does)")
    return found


@dataclass
class Watch:
    """Everything that went wrong in a page; a test declares the error responses it provokes."""

    problems: list[str] = field(default_factory=list)
    expected: list[tuple[int, str]] = field(default_factory=list)
    in_flight: set = field(default_factory=set)
    # Requests in flight when the test itself reloaded or navigated the page, or started while
    # it did (a poll whose timer fired in between): their abort is the test's doing.
    cut_by_test: set = field(default_factory=set)
    navigating: bool = False

    def attach(self, page) -> None:
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.problems.append(f"page error: {error}"))
        page.on("request", self._request)
        page.on("requestfinished", lambda request: self.in_flight.discard(request))
        page.on("requestfailed", self._failed)
        page.on("response", self._response)

    def settle(self, page, timeout: float = 30.0) -> None:
        """Wait until no request is in flight: a reload or close now aborts nothing."""
        deadline = time.monotonic() + timeout
        while self.in_flight and time.monotonic() < deadline:
            page.wait_for_timeout(50)

    def reload(self, page) -> None:
        """Reload as a person would, once the page is quiet. A page that polls may start a
        request between the quiet moment and the reload; the reload cuts it off
        (net::ERR_ABORTED), which is the test's doing, not the app's."""
        self._navigate(page, page.reload)

    def goto(self, page, url: str) -> None:
        """Open another address as a person typing it would, once the page is quiet (as reload)."""
        self._navigate(page, lambda: page.goto(url))

    def _navigate(self, page, go) -> None:
        self.settle(page)
        self.cut_by_test |= self.in_flight
        self.navigating = True
        try:
            go()
        finally:
            self.navigating = False

    def _request(self, request) -> None:
        if STANDING.search(request.url):
            return
        self.in_flight.add(request)
        if self.navigating:
            self.cut_by_test.add(request)

    def expect(self, status: int, url_part: str) -> None:
        """The next response with this status to a URL containing url_part is intended."""
        self.expected.append((status, url_part))

    def _allowed(self, status: int, url: str, consume: bool) -> bool:
        for index, (want, part) in enumerate(self.expected):
            if want == status and part in url:
                if consume:
                    del self.expected[index]
                return True
        return False

    def _console(self, message) -> None:
        if message.type != "error":
            return
        # Chromium reports every error response as a console error too: judged in _response.
        status = re.search(r"status of (\d{3})", message.text)
        if status and self._allowed(int(status.group(1)), message.location.get("url", ""), consume=False):
            return
        self.problems.append(f"console error: {message.text} ({message.location.get('url')})")

    def _failed(self, request) -> None:
        self.in_flight.discard(request)
        if (request in self.cut_by_test or STANDING.search(request.url)) and "ERR_ABORTED" in str(request.failure):
            return
        self.problems.append(f"request failed: {request.method} {request.url}: {request.failure}")

    def _response(self, response) -> None:
        if response.status >= 400 and not self._allowed(response.status, response.url, consume=False):
            self.problems.append(f"error response: {response.status} {response.request.method} {response.url}")

    def check(self) -> None:
        assert not self.problems, "the page reported problems:\n" + "\n".join(self.problems)


def screenshot(page, test: str, step: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{test}-{step}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


# The page's window.ethereum: every request goes to the test (expose_function), which
# answers the account questions itself and forwards the rest to anvil.
WALLET_SCRIPT = """
window.ethereum = {
  isKalaKrutTestWallet: true,
  async request({ method, params }) {
    const answer = await window.__walletRpc(method, params || []);
    if (answer.error) {
      const error = new Error(answer.error.message);
      error.code = answer.error.code;
      throw error;
    }
    return answer.result;
  },
  on() {}, removeListener() {},
};
"""


class AnvilWallet:
    """An EIP-1193 provider backed by one of anvil's unlocked accounts: personal_sign and
    eth_sendTransaction are signed by the node with that account's key."""

    def __init__(self, rpc_url: str, account: str) -> None:
        self.rpc_url = rpc_url
        self.account = account
        self.calls: list[str] = []

    def install(self, context) -> None:
        context.expose_function("__walletRpc", self.handle)
        context.add_init_script(WALLET_SCRIPT)

    def handle(self, method: str, params: list[Any]) -> dict[str, Any]:
        self.calls.append(method)
        if method in ("eth_requestAccounts", "eth_accounts"):
            return {"result": [self.account]}
        if method == "wallet_switchEthereumChain":
            return {"result": None}
        body = {"jsonrpc": "2.0", "id": 1, "method": method, "params": params}
        return requests.post(self.rpc_url, json=body, timeout=30).json()


# The page's window.solana, as Phantom's: connect() gives the public key, signMessage() the
# ed25519 signature of the bytes; the test holds the key (expose_function).
SOLANA_SCRIPT = """
window.solana = {
  isKalaKrutTestWallet: true,
  async connect() {
    const address = await window.__solanaWallet("connect", []);
    return { publicKey: { toString: () => address, toBase58: () => address } };
  },
  async signMessage(message, display) {
    return { signature: new Uint8Array(await window.__solanaWallet("signMessage", Array.from(message))) };
  },
};
"""


class SolanaWallet:
    """A Solana wallet the page sees as window.solana: a new ed25519 key that signs every
    message the page asks it to (kept in ``signed``)."""

    def __init__(self) -> None:
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
        from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

        from shared.people import base58

        self.key = Ed25519PrivateKey.generate()
        self.address = base58.encode(self.key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw))
        self.signed: list[str] = []

    def install(self, context) -> None:
        context.expose_function("__solanaWallet", self.handle)
        context.add_init_script(SOLANA_SCRIPT)

    def handle(self, method: str, payload: list[int]) -> Any:
        if method == "connect":
            return self.address
        message = bytes(payload)
        self.signed.append(message.decode())
        return list(self.key.sign(message))
