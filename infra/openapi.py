"""The OpenAPI 3.1 document, generated from the routes and their pydantic models.

``python -m infra.openapi`` writes public/openapi.json, which Hosting serves
at /api/openapi.json; a test fails when the committed file is stale.
"""
from __future__ import annotations

import importlib.util
import json
import re
import sys
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from infra.manifest import REPO, load
from shared.errors import PROBLEM_JSON, ProblemDetails
from shared.http.api import IDEMPOTENCY_KEY, IDEMPOTENCY_KEY_PATTERN, Api, Route
from shared.types import TextBody

OUTPUT = REPO / "public" / "openapi.json"
REF = "#/components/schemas/{model}"
_CONVERTER = re.compile(r"<(?:(\w+):)?(\w+)>")
_PARAM_SCHEMAS = {"uuid": {"type": "string", "format": "uuid"}, "int": {"type": "integer"}, None: {"type": "string"}}
_REASONS = {
    200: "OK", 201: "Created", 204: "No Content", 304: "Not Modified", 400: "Bad Request",
    401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 409: "Conflict", 412: "Precondition Failed",
    413: "Content Too Large", 415: "Unsupported Media Type", 422: "Unprocessable Content",
    428: "Precondition Required", 429: "Too Many Requests", 500: "Internal Server Error", 503: "Service Unavailable",
}


def load_apis() -> list[Api]:
    """Import every HTTP function's main module (each under its own name) and take its Api."""
    apis = []
    for function in load().http_functions():
        module_name = f"kalakrut_function_{function.name.replace('-', '_')}"
        module = sys.modules.get(module_name)
        if module is None:
            spec = importlib.util.spec_from_file_location(module_name, function.main)
            module = importlib.util.module_from_spec(spec)
            sys.modules[module_name] = module
            spec.loader.exec_module(module)
        apis.append(module.api)
    return apis


def openapi_path(rule: str) -> str:
    return _CONVERTER.sub(lambda m: "{" + m.group(2) + "}", rule)


def _models(apis: list[Api]) -> list[tuple[type[BaseModel], str]]:
    seen: dict[tuple[type[BaseModel], str], None] = {(ProblemDetails, "serialization"): None}
    for route in (r for api in apis for r in api.routes):
        if route.body:
            seen[(route.body, "validation")] = None
        for model in route.responses.values():
            if model and not issubclass(model, TextBody):
                seen[(model, "serialization")] = None
    return list(seen)


def _parameters(route: Route, schemas: dict) -> list[dict[str, Any]]:
    params = [
        {"name": name, "in": "path", "required": True, "schema": _PARAM_SCHEMAS.get(conv, {"type": "string"})}
        for conv, name in _CONVERTER.findall(route.rule)
    ]
    if route.query:
        schema = route.query.model_json_schema(ref_template=REF, mode="validation")
        required = set(schema.get("required", []))
        for name, prop in schema["properties"].items():
            params.append({"name": name, "in": "query", "required": name in required, "schema": prop})
        schemas.update(schema.get("$defs", {}))
    for header, statuses in (("If-Match", {412, 428}), ("If-None-Match", {304})):
        if statuses & (set(route.errors) | set(route.responses)):
            params.append({"name": header, "in": "header", "required": 428 in route.errors, "schema": {"type": "string"}})
    if route.keyed:
        params.append({"name": IDEMPOTENCY_KEY, "in": "header", "required": False,
                       "description": "your name for this request: sent again, it is answered as the first time "
                                      "and done once", "schema": {"type": "string", "pattern": IDEMPOTENCY_KEY_PATTERN}})
    return params


def _operation(route: Route, refs: dict, schemas: dict) -> dict[str, Any]:
    responses: dict[str, Any] = {}
    for status, model in route.responses.items():
        entry: dict[str, Any] = {"description": _REASONS.get(status, "")}
        if model is not None and issubclass(model, TextBody):  # a document: its text is the body
            entry["content"] = {model.media_type.split(";")[0]: {"schema": {"type": "string"}}}
        elif model is not None:
            entry["content"] = {"application/json": {"schema": refs[(model, "serialization")]}}
        responses[str(status)] = entry
    problem = {PROBLEM_JSON: {"schema": refs[(ProblemDetails, "serialization")]}}
    for status in route.problem_statuses:
        responses[str(status)] = {"description": _REASONS.get(status, ""), "content": problem}
    operation: dict[str, Any] = {
        "summary": route.summary,
        "parameters": _parameters(route, schemas),
        "responses": responses,
    }
    if route.auth != "public":
        operation["security"] = [{"firebase": []}]
    else:
        operation["security"] = [{}, {"firebase": []}]
    if route.body:
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": refs[(route.body, "validation")]}},
        }
    return operation


# The API refuses a NUL character in any text (shared/http/api.py, _screen): every string the
# document leaves unconstrained says so, so that what the schema allows the API accepts.
NO_NUL = "^[^\\u0000]*$"
_CONSTRAINED = ("pattern", "format", "enum", "const")


def _no_nul(node: Any, refs: set[str]) -> None:
    """Constrain the strings of ``node``, and collect the components it refers to."""
    if isinstance(node, dict):
        if node.get("type") == "string" and not any(key in node for key in _CONSTRAINED):
            node["pattern"] = NO_NUL
        if isinstance(node.get("$ref"), str):
            refs.add(node["$ref"].rsplit("/", 1)[-1])
        for value in node.values():
            _no_nul(value, refs)
    elif isinstance(node, list):
        for value in node:
            _no_nul(value, refs)


def _inputs_without_nul(paths: dict[str, Any], schemas: dict[str, Any]) -> None:
    """What clients send (parameters, bodies, the components they use) says: no NUL. Answers
    are left as they are (a problem's detail may quote the path it refuses)."""
    pending: set[str] = set()
    for operation in (op for item in paths.values() for op in item.values()):
        _no_nul(operation.get("parameters", []), pending)
        _no_nul(operation.get("requestBody", {}), pending)
    done: set[str] = set()
    while pending - done:
        name = (pending - done).pop()
        done.add(name)
        _no_nul(schemas.get(name, {}), pending)


def build(apis: list[Api] | None = None) -> dict[str, Any]:
    apis = load_apis() if apis is None else apis
    refs, defs = models_json_schema(_models(apis), ref_template=REF)
    schemas = dict(defs.get("$defs", {}))
    paths: dict[str, dict[str, Any]] = {}
    for api in apis:
        for route in api.routes:
            operation = _operation(route, refs, schemas)
            operation["operationId"] = f"{api.name}.{route.method.lower()}.{openapi_path(route.rule)}"
            operation["tags"] = [api.name]
            paths.setdefault(openapi_path(route.rule), {})[route.method.lower()] = operation
    _inputs_without_nul(paths, schemas)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "KalaKrut Creative API",
            "version": "1.0.0",
            "description": "Errors are RFC 9457 problem details (application/problem+json) with a stable `code`.",
        },
        "servers": [{"url": "/"}],
        "paths": dict(sorted(paths.items())),
        "components": {
            "schemas": dict(sorted(schemas.items())),
            "securitySchemes": {
                "firebase": {"type": "http", "scheme": "bearer", "bearerFormat": "Firebase ID token (JWT)"}
            },
        },
    }


def render(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, sort_keys=False) + "\n"


if __name__ == "__main__":
    OUTPUT.write_text(render(build()))
    print(f"wrote {OUTPUT.relative_to(REPO)}")
