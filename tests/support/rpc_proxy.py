"""A loopback JSON-RPC proxy in front of anvil that behaves like a difficult provider:
range-limit and too-many-results errors in the wording of real providers, slow
answers, and a lagging node whose head is behind the real one."""
from __future__ import annotations

import itertools
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import requests

from local.processes import free_port

# (template, what it limits): real providers' wording, see shared/chain/ranges.py.
SPAN_ERRORS = (
    "Log response size exceeded. You can make eth_getLogs requests with up to a {limit} block range and no "
    "limit on the response size",
    "eth_getLogs is limited to a {limit:,} range",
    "exceed maximum block range: {limit}",
    "block range is too wide",  # no number: the indexer halves
)
RESULTS_ERROR = "query returned more than {limit} results. Try with this block range [{low:#x}, {high:#x}]."


class RpcProxy:
    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.max_span: int | None = None
        self.max_results: int | None = None
        self.logs_delay = 0.0
        self.slow_above: int | None = None  # delay only getLogs spans wider than this
        self.lag = 0  # blocks the proxied node is behind
        # Garbage from a broken or hostile node: (method, field) -> what to put there.
        self.corrupt: dict[tuple[str, str], Any] = {}
        self.repeat_logs = False  # every log of an eth_getLogs answer twice, as providers do
        self.calls: list[str] = []
        self.rejected = 0
        self._messages = itertools.cycle(SPAN_ERRORS)
        self._session = requests.Session()
        self._lock = threading.Lock()
        self.port = free_port()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                answer = [proxy.handle(item) for item in body] if isinstance(body, list) else proxy.handle(body)
                data = json.dumps(answer).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def forward(self, request: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            return self._session.post(self.upstream, json=request, timeout=60).json()

    def handle(self, request: dict[str, Any]) -> dict[str, Any]:
        method, params = request["method"], request.get("params", [])
        self.calls.append(method)
        if method == "eth_blockNumber" and self.lag:
            real = int(self.forward(request)["result"], 16)
            return {**_reply(request), "result": hex(max(0, real - self.lag))}
        if method == "eth_getBlockByNumber" and self.lag:
            real = int(self.forward({**request, "method": "eth_blockNumber", "params": []})["result"], 16)
            if int(params[0], 16) > real - self.lag:
                return {**_reply(request), "result": None}
        if method == "eth_getLogs":
            low, high = int(params[0]["fromBlock"], 16), int(params[0]["toBlock"], 16)
            if self.max_span is not None and high - low + 1 > self.max_span:
                self.rejected += 1
                message = next(self._messages).format(limit=self.max_span)
                return {**_reply(request), "error": {"code": -32005, "message": message}}
            if self.slow_above is None or high - low + 1 > self.slow_above:
                time.sleep(self.logs_delay)
            answer = self.forward(request)
            if self.max_results is not None and len(answer.get("result") or []) > self.max_results:
                self.rejected += 1
                fitting = max(1, (high - low + 1) // 4)
                message = RESULTS_ERROR.format(limit=self.max_results, low=low, high=low + fitting - 1)
                return {**_reply(request), "error": {"code": -32005, "message": message}}
            if self.repeat_logs and isinstance(answer.get("result"), list):
                answer["result"] = answer["result"] + list(reversed(answer["result"]))
            return self._corrupted(method, answer)
        return self._corrupted(method, self.forward(request))

    def _corrupted(self, method: str, answer: dict[str, Any]) -> dict[str, Any]:
        result = answer.get("result")
        for (target, field), value in self.corrupt.items():
            if target != method:
                continue
            for item in result if isinstance(result, list) else [result]:
                if isinstance(item, dict):
                    item[field] = value
        return answer

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _reply(request: dict[str, Any]) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": request.get("id")}
