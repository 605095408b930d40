"""A small JSON-RPC client for EVM nodes: single calls and batches over a pool of
keep-alive connections. No web3: its import alone costs about a second of cold
start, and its result formatting is what makes it slow on the indexer's hot path.
urllib3 rather than requests: the same connection pool underneath, at half the import.
"""
from __future__ import annotations

import itertools
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from shared.redact import origin, redact

Call = tuple[str, Sequence[Any]]
# Transport failures worth another try: the provider is busy or briefly unreachable.
RETRY_STATUSES = frozenset({429, 502, 503, 504})


class RpcError(RuntimeError):
    """The node answered with a JSON-RPC error object."""

    def __init__(self, error: dict[str, Any], method: str = "") -> None:
        self.code = error.get("code")
        self.message = str(error.get("message", error))
        self.data = error.get("data")
        self.method = method
        super().__init__(f"{method}: {self.message}" if method else self.message)


class RpcUnavailable(RuntimeError):
    """No usable answer: timeout, connection failure, HTTP error, or not JSON-RPC."""

    def __init__(self, message: str, *, timeout: bool = False) -> None:
        super().__init__(message)
        self.timeout = timeout


@dataclass
class JsonRpc:
    url: str = field(repr=False)  # it carries the provider's key: never in a repr, a log or an error
    timeout: float = 20.0
    attempts: int = 3

    @property
    def endpoint(self) -> str:
        """What messages name: the origin only (the URL's path and query carry the provider's key)."""
        return origin(self.url)

    def __post_init__(self) -> None:
        import urllib3

        # Keeps the connection alive between calls; retries are ours (_post), not urllib3's.
        self._pool = urllib3.PoolManager(retries=False)
        self._ids = itertools.count(1)

    def call(self, method: str, *params: Any) -> Any:
        (result,) = self.batch([(method, params)], raise_errors=True)
        return result

    def batch(self, calls: Sequence[Call], *, raise_errors: bool = True) -> list[Any]:
        """Results in call order; an error entry raises, or is returned as RpcError."""
        if not calls:
            return []
        requests_ = [{"jsonrpc": "2.0", "id": next(self._ids), "method": m, "params": list(p)} for m, p in calls]
        body = requests_[0] if len(requests_) == 1 else requests_
        answer = self._post(body)
        replies = answer if isinstance(answer, list) else [answer]
        by_id = {reply.get("id"): reply for reply in replies if isinstance(reply, dict)}
        results = []
        for request in requests_:
            reply = by_id.get(request["id"])
            if reply is None:
                # Some providers answer a whole failed batch with one id-less error.
                lone = replies[0] if len(replies) == 1 and isinstance(replies[0], dict) else {}
                if "error" not in lone:
                    raise RpcUnavailable(f"no reply to {request['method']} in the batch")
                reply = lone
            if "error" in reply:
                error = RpcError(reply["error"], request["method"])
                if raise_errors:
                    raise error
                results.append(error)
            else:
                results.append(reply.get("result"))
        return results

    def _post(self, body: Any) -> Any:
        from urllib3.exceptions import HTTPError

        for attempt in range(1, self.attempts + 1):
            try:
                response = self._pool.request("POST", self.url, json=body, timeout=self.timeout)
            except HTTPError as error:  # urllib3's every failure: refused, dropped, timed out, garbled
                if _timed_out(error):
                    # A slow answer is usually a query too large: the caller decides, not a retry.
                    raise RpcUnavailable(f"{self.endpoint} did not answer in {self.timeout:g}s", timeout=True) from None
                if attempt == self.attempts:
                    # The library's text names the URL with its key: never kept (from None), only redacted.
                    raise RpcUnavailable(f"cannot reach {self.endpoint}: {redact(str(error), self.url)}") from None
            else:
                if response.status in RETRY_STATUSES and attempt < self.attempts:
                    pass
                else:
                    try:
                        return response.json()
                    except ValueError:
                        raise RpcUnavailable(
                            f"{self.endpoint} answered HTTP {response.status} without JSON-RPC") from None
            time.sleep(0.2 * 2 ** (attempt - 1))
        raise RpcUnavailable(f"{self.endpoint} kept failing")  # pragma: no cover - loop always returns or raises


def _timed_out(error: Exception) -> bool:
    from urllib3.exceptions import NewConnectionError, TimeoutError

    # urllib3 files a refused connection (NewConnectionError) under its timeouts: not one.
    return isinstance(error, TimeoutError) and not isinstance(error, NewConnectionError)


def hex_int(value: str) -> int:
    return int(value, 16)


# What a node's answers must look like before any of it reaches a COPY row or a decision.
_HASH = re.compile(r"0x[0-9a-fA-F]{64}")
_ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}")
QUANTITY = re.compile(r"0x[0-9a-fA-F]{1,64}")
_DATA = re.compile(r"0x(?:[0-9a-fA-F]{2})*")
_HEADER = {"number": QUANTITY, "hash": _HASH, "parentHash": _HASH, "timestamp": QUANTITY}
_LOG = {"address": _ADDRESS, "data": _DATA, "blockNumber": QUANTITY, "logIndex": QUANTITY,
        "blockHash": _HASH, "transactionHash": _HASH}


class MalformedAnswer(RpcUnavailable):
    """The node answered something that is not what JSON-RPC promises: an RPC failure."""


def _check(answer: Any, shape: dict[str, re.Pattern[str]], what: str) -> None:
    if not isinstance(answer, dict):
        raise MalformedAnswer(f"the node answered a {what} that is not an object")
    for field_name, pattern in shape.items():
        value = answer.get(field_name)
        if not isinstance(value, str) or not pattern.fullmatch(value):
            raise MalformedAnswer(f"the node answered a {what} with a malformed {field_name}")


def well_formed_header(header: Any) -> dict[str, Any]:
    _check(header, _HEADER, "block header")
    return header


def well_formed_logs(logs: Any) -> list[dict[str, Any]]:
    if not isinstance(logs, list):
        raise MalformedAnswer("the node answered eth_getLogs with something that is not a list")
    for log in logs:
        _check(log, _LOG, "log")
        topics = log.get("topics")
        if not isinstance(topics, list) or len(topics) > 4 or not all(
                isinstance(topic, str) and _HASH.fullmatch(topic) for topic in topics):
            raise MalformedAnswer("the node answered a log with malformed topics")
    return logs
