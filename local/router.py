"""The local stand-in for Cloud Run's front door.

It answers the Cloud Run Admin API's service lookup that the Hosting emulator makes
for ``run`` rewrites (``GET /v1/projects/{p}/locations/{r}/services/{svc}``), and
proxies ``/{svc}/...`` (what Hosting then calls) and plain ``/api/...`` (direct
calls, routed by functions.yaml) to the process serving that function.
"""
from __future__ import annotations

import http.client
import json
import threading
from collections.abc import Iterable
from urllib.parse import quote

from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from infra.manifest import Manifest

_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "proxy-authorization", "proxy-authenticate", "host"}


# Headers this server writes itself.
_SET_HERE = {"content-length", "date", "server"}


class Router:
    def __init__(self, manifest: Manifest, ports: dict[str, int], public_url: str) -> None:
        self.manifest = manifest
        self.ports = ports  # function name -> local port
        self.public_url = public_url  # this router's own base URL

    def __call__(self, environ, start_response) -> Iterable[bytes]:
        request = Request(environ)
        response = self.handle(request)
        return response(environ, start_response)

    def handle(self, request: Request) -> Response:
        parts = request.path.strip("/").split("/")
        if len(parts) == 7 and parts[0] == "v1" and parts[1] == "projects" and parts[5] == "services":
            return self._service_lookup(parts[6])
        if parts[0] in self.ports:
            return self._proxy(request, parts[0], "/" + "/".join(parts[1:]))
        function = self.manifest.function_for(request.path)
        if function is None or function.name not in self.ports:
            return Response(json.dumps({"error": f"no function serves {request.path}"}), 404, mimetype="application/json")
        return self._proxy(request, function.name, request.path)

    def _service_lookup(self, service: str) -> Response:
        if service not in self.ports:
            return Response(json.dumps({"error": {"code": 404, "message": f"service {service} not found"}}), 404, mimetype="application/json")
        body = {"metadata": {"name": service}, "status": {"url": f"{self.public_url}/{service}"}}
        return Response(json.dumps(body), mimetype="application/json")

    def _proxy(self, request: Request, service: str, path: str) -> Response:
        return forward(request, self.ports[service], path)


# What stays as it is in a request target; everything else is percent-encoded again.
_PATH_SAFE, _QUERY_SAFE = "/%:@!$&'()*+,;=-._~", "/%:@!$&'()*+,;=-._~?"


def target(path: str, query: bytes) -> str:
    """The request target for ``path`` (as decoded) and the raw query: ASCII, as HTTP/1.1
    needs, so a path with any character reaches the function (which answers it) instead of
    failing here."""
    encoded = quote(path, safe=_PATH_SAFE)
    return encoded + (f"?{quote(query, safe=_QUERY_SAFE)}" if query else "")


def forward(request: Request, port: int, path: str) -> Response:
    """Send ``request`` on to 127.0.0.1:``port`` at ``path`` and relay the answer."""
    headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP_BY_HOP}
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        connection.request(request.method, target(path, request.query_string), body=request.get_data(),
                           headers=headers)
        upstream = connection.getresponse()
        body = upstream.read()
    except OSError as error:
        return Response(json.dumps({"error": f"127.0.0.1:{port} is unreachable: {error}"}), 502,
                        mimetype="application/json")
    finally:
        connection.close()
    kept = [(k, v) for k, v in upstream.getheaders() if k.lower() not in _HOP_BY_HOP | _SET_HERE]
    return Response(body, status=upstream.status, headers=kept)


class ThreadedServer:
    """A WSGI app served on a background thread of the stack's own process."""

    def __init__(self, app, port: int, name: str) -> None:
        self._server = make_server("127.0.0.1", port, app, threaded=True)
        self._thread = threading.Thread(target=self._server.serve_forever, name=name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._thread.join(5)
