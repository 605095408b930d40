"""A loopback HTTP server that answers as a Google REST API would, for the edges that cannot run
offline (Vertex AI, Secret Manager): it records each request and answers ``answer(body)``."""
from __future__ import annotations

import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Answer = Callable[[Any], tuple[int, Any]]  # the request's JSON body (None for a GET) -> (status, JSON)


class LoopbackApi:
    def __init__(self, answer: Answer) -> None:
        self.requests: list[tuple[str, dict, Any]] = []  # (path, headers, body)
        self.answer = answer
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def _reply(self, body: Any) -> None:
                outer.requests.append((self.path, dict(self.headers), body))
                status, answer = outer.answer(body)
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                self._reply(None)

            def do_POST(self) -> None:
                self._reply(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
