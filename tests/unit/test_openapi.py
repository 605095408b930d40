"""The OpenAPI document is generated from the routes, and the committed copy is current."""
from infra.openapi import OUTPUT, build, load_apis, openapi_path, render


def test_committed_document_is_current():
    assert OUTPUT.read_text() == render(build()), "run `make openapi` and commit public/openapi.json"


def test_every_route_is_documented_and_nothing_else():
    document = build()
    routes = {(openapi_path(r.rule), r.method.lower()) for api in load_apis() for r in api.routes}
    documented = {(path, method) for path, ops in document["paths"].items() for method in ops}
    assert routes == documented


# Anonymous visitors' views count too (rate-limited per address like every write).
# Writes without a sign-in: view counting, and Stripe's deliveries (signed by Stripe instead).
PUBLIC_WRITES = {("/api/analytics/track", "post"), ("/api/payments/stripe", "post")}


def test_errors_are_problem_json_and_writes_need_a_token():
    for path, operations in build()["paths"].items():
        for method, operation in operations.items():
            for status, response in operation["responses"].items():
                if int(status) >= 400:
                    assert list(response["content"]) == ["application/problem+json"], (path, method, status)
            if method != "get" and (path, method) not in PUBLIC_WRITES:
                assert operation["security"] == [{"firebase": []}], (path, method)
            if method != "get":
                assert "429" in operation["responses"], (path, method)


def test_every_request_body_names_all_it_takes():
    """A body model that admitted unknown fields would document garbage as valid (the fuzzer
    sends it, with NUL characters the API refuses): every object a body holds is closed."""
    from shared.http.api import Api

    open_models = []
    for api in load_apis():
        assert isinstance(api, Api)
        for route in api.routes:
            if route.body is None:
                continue
            schema = route.body.model_json_schema()
            for name, model in [(route.body.__name__, schema), *schema.get("$defs", {}).items()]:
                if model.get("type") == "object" and model.get("additionalProperties") is not False:
                    open_models.append(f"{route.method} {route.rule}: {name}")
    assert open_models == []
