"""A test client that sends each request to the function functions.yaml routes it to,
and checks every response against the OpenAPI document: the status must be
documented for that operation and the body must match the documented schema."""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker

from infra.manifest import Manifest


@dataclass
class OpenApiChecker:
    spec: dict[str, Any]
    seen: set[tuple[str, str, int]] = field(default_factory=set)

    def __post_init__(self) -> None:
        self._paths = [
            (re.compile("^" + re.sub(r"\{[^}]+\}", "[^/]+", template) + "$"), template)
            for template in self.spec["paths"]
        ]

    def operation(self, method: str, path: str) -> tuple[str, dict[str, Any]]:
        for pattern, template in self._paths:
            if pattern.match(path) and method.lower() in self.spec["paths"][template]:
                return template, self.spec["paths"][template][method.lower()]
        raise AssertionError(f"{method} {path} is not in the OpenAPI document")

    def check(self, method: str, path: str, status: int, content_type: str | None, body: bytes) -> None:
        template, operation = self.operation(method, path)
        documented = operation["responses"].get(str(status))
        assert documented is not None, f"{method} {template} answered {status}, which is not documented"
        self.seen.add((method.upper(), template, status))
        content = documented.get("content")
        if not content:
            assert not body, f"{method} {template} {status} documents no body but sent {body[:100]!r}"
            return
        media = (content_type or "").split(";")[0]
        assert media in content, f"{method} {template} {status}: content type {media} not in {list(content)}"
        if "$ref" not in content[media]["schema"]:  # a document (text/csv): a string is all it promises
            assert content[media]["schema"] == {"type": "string"} and body.decode("utf-8") is not None
            return
        schema = {"$ref": content[media]["schema"]["$ref"], "components": self.spec["components"]}
        errors = list(Draft202012Validator(schema, format_checker=FormatChecker()).iter_errors(json.loads(body)))
        assert not errors, f"{method} {template} {status} body does not match its schema: {errors[0].message}"


class ApiClient:
    """Routes like Hosting does (by functions.yaml) and validates like a client would."""

    def __init__(self, manifest: Manifest, clients: dict[str, Any], checker: OpenApiChecker) -> None:
        self.manifest = manifest
        self.clients = clients
        self.checker = checker

    def request(self, method: str, path: str, *, token: str | None = None, headers: dict | None = None, **kwargs):
        function = self.manifest.function_for(path.split("?")[0])
        assert function is not None, f"no function serves {path}"
        all_headers = dict(headers or {})
        if token:
            all_headers["Authorization"] = f"Bearer {token}"
        response = self.clients[function.name].open(path, method=method, headers=all_headers, **kwargs)
        self.checker.check(method, path.split("?")[0], response.status_code, response.content_type, response.get_data())
        return response

    def get(self, path: str, **kwargs):
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs):
        return self.request("POST", path, **kwargs)

    def put(self, path: str, **kwargs):
        return self.request("PUT", path, **kwargs)

    def patch(self, path: str, **kwargs):
        return self.request("PATCH", path, **kwargs)

    def delete(self, path: str, **kwargs):
        return self.request("DELETE", path, **kwargs)
