"""Cloud Storage locally: gcp-storage-emulator, plus the finalize notifications it lacks.

Signed upload URLs point at the storage front (SIGNED_URL_ENDPOINT), which forwards
every request to the emulator and, when an upload into a notifying bucket succeeds,
publishes the OBJECT_FINALIZE notification GCS would send (JSON_API_V1 payload and
attributes) to the bucket's notification topic.
"""
from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from pathlib import Path

import requests
from werkzeug.wrappers import Request, Response

from local.processes import Child, port_open, spawn
from local.router import forward

Publish = Callable[[str, bytes, dict[str, str]], None]


def start_emulator(port: int, data_dir: Path, log_dir: Path) -> Child:
    binary = Path(sys.executable).parent / "gcp-storage-emulator"
    data_dir.mkdir(parents=True, exist_ok=True)
    child = spawn("storage-emulator", [str(binary), "-d", str(data_dir), "start", "--host", "127.0.0.1",
                                       "--port", str(port), "--quiet"], env={**os.environ}, log_dir=log_dir)
    child.wait_until(lambda: port_open(port), 30)
    return child


def create_buckets(port: int, project: str, names: list[str]) -> None:
    for name in names:
        response = requests.post(f"http://127.0.0.1:{port}/storage/v1/b", params={"project": project},
                                 json={"name": name}, timeout=10)
        if response.status_code not in (200, 409):
            response.raise_for_status()


def write_signing_key(path: Path, project: str) -> Path:
    """A throwaway service-account key to sign upload URLs with (the emulator does not check)."""
    if path.exists():
        return path
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({
        "type": "service_account", "project_id": project, "private_key_id": "local", "private_key": pem,
        "client_email": f"local-signer@{project}.iam.gserviceaccount.com", "client_id": "0",
        "token_uri": "http://127.0.0.1:9/token",
    }))
    path.chmod(0o600)
    return path


# The uploads bucket's CORS rule (infra/terraform/storage.tf): browsers PUT to signed URLs.
CORS_METHODS = "PUT"
CORS_HEADERS = "Content-Type, x-goog-content-length-range, x-goog-if-generation-match"


class StorageFront:
    """WSGI: forward to the emulator; announce finished uploads like a GCS notification;
    answer CORS for the site's origins as the uploads bucket's CORS configuration does."""

    def __init__(self, emulator_port: int, notifications: dict[str, str], publish: Publish,
                 cors_origins: tuple[str, ...] = ()) -> None:
        self.port = emulator_port
        self.notifications = notifications  # bucket -> topic
        self.publish = publish
        self.cors_origins = cors_origins

    def __call__(self, environ, start_response):
        request = Request(environ)
        origin = request.headers.get("Origin")
        allowed = origin in self.cors_origins
        if request.method == "OPTIONS" and request.headers.get("Access-Control-Request-Method"):
            response = Response(status=200 if allowed else 403)
        elif self._exists_against_precondition(request):
            response = Response("<Error><Code>PreconditionFailed</Code></Error>", status=412,
                                mimetype="application/xml")
        else:
            response = forward(request, self.port, request.path)
            if response.status_code < 300 and request.method in ("PUT", "POST"):
                self._announce(request, response)
        if allowed:
            response.headers.update({"Access-Control-Allow-Origin": origin, "Vary": "Origin",
                                     "Access-Control-Allow-Methods": CORS_METHODS,
                                     "Access-Control-Allow-Headers": CORS_HEADERS, "Access-Control-Max-Age": "3600"})
        return response(environ, start_response)

    def _exists_against_precondition(self, request: Request) -> bool:
        """GCS's x-goog-if-generation-match: 0 on a PUT (the emulator ignores it): the write
        happens only if the object does not exist yet."""
        if request.method != "PUT" or request.headers.get("x-goog-if-generation-match") != "0":
            return False
        bucket, _, name = request.path.lstrip("/").partition("/")
        found = requests.get(f"http://127.0.0.1:{self.port}/storage/v1/b/{bucket}/o/{requests.utils.quote(name, safe='')}",
                             timeout=10)
        return found.status_code == 200

    def _uploaded_object(self, request: Request, response: Response) -> tuple[str, str] | None:
        parts = request.path.lstrip("/").split("/", 1)
        if request.method == "PUT" and len(parts) == 2 and parts[0] in self.notifications:
            return parts[0], parts[1]  # XML API / signed URL: PUT /{bucket}/{object}
        # JSON API: an upload, or a copy (copyTo, rewriteTo: a migration's copy --media from a bucket).
        if request.path.startswith("/upload/storage/v1/b/") or (
                request.method == "POST" and ("/copyTo/" in request.path or "/rewriteTo/" in request.path)):
            body = json.loads(response.get_data() or b"{}")
            body = body.get("resource", body) if body.get("done", True) else {}
            if body.get("bucket") in self.notifications and body.get("name"):
                return body["bucket"], body["name"]
        return None

    def _announce(self, request: Request, response: Response) -> None:
        uploaded = self._uploaded_object(request, response)
        if uploaded is None:
            return
        bucket, name = uploaded
        resource = requests.get(f"http://127.0.0.1:{self.port}/storage/v1/b/{bucket}/o/{requests.utils.quote(name, safe='')}",
                                timeout=10).json()
        attributes = {"eventType": "OBJECT_FINALIZE", "payloadFormat": "JSON_API_V1", "bucketId": bucket,
                      "objectId": name, "objectGeneration": str(resource.get("generation", "1"))}
        self.publish(self.notifications[bucket], json.dumps(resource).encode(), attributes)
