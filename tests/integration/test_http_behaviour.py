"""Cross-cutting HTTP behaviour of every function: CORS, errors, logging."""
import json

import pytest

from shared.http.api import Api, Call


def test_cors_allows_only_the_hosting_origin(function_clients):
    client = function_clients["proposals"]
    preflight = {"Origin": "http://127.0.0.1:5000", "Access-Control-Request-Method": "POST"}
    allowed = client.options("/api/proposals", headers=preflight)
    assert allowed.status_code == 204
    assert allowed.headers["Access-Control-Allow-Origin"] == "http://127.0.0.1:5000"
    assert "If-Match" in allowed.headers["Access-Control-Allow-Headers"]

    refused = client.options("/api/proposals", headers={**preflight, "Origin": "https://evil.example"})
    assert refused.status_code == 403 and "Access-Control-Allow-Origin" not in refused.headers

    simple = client.get("/api/proposals", headers={"Origin": "https://evil.example"})
    assert simple.status_code == 200 and "Access-Control-Allow-Origin" not in simple.headers
    assert "Origin" in simple.headers["Vary"]


def test_unexpected_errors_are_a_bare_500_and_logged_as_json(app_env, capsys):
    api = Api("broken")

    @api.route("GET", "/api/boom", summary="fails", auth="public")
    def boom(call: Call):
        raise RuntimeError("secret connection string postgres://user:pw@db")

    from flask import Flask

    app = Flask("t")
    with app.test_request_context("/api/boom", headers={"X-Cloud-Trace-Context": "abc123/1;o=1"}):
        from flask import request

        response = api(request)
    body = response.get_data(as_text=True)
    assert response.status_code == 500 and response.mimetype == "application/problem+json"
    assert json.loads(body)["code"] == "internal"
    assert "secret" not in body and "Traceback" not in body
    logged = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    error = next(entry for entry in logged if entry["severity"] == "ERROR")
    assert "secret connection string" in error["stack_trace"]
    assert error["logging.googleapis.com/trace"].endswith("/traces/abc123")


@pytest.mark.parametrize("path", ["/api/nowhere", "/api/proposals/x/y/z"])
def test_unknown_paths_are_problems(function_clients, path):
    response = function_clients["proposals"].get(path)
    assert response.status_code == 404 and response.get_json()["code"] == "not-found"


def test_a_statement_past_its_time_limit_is_a_503_not_a_500(app_env, monkeypatch, caplog):
    """DB_STATEMENT_TIMEOUT_MS (every HTTP function has 10 s, functions.yaml) reaches the
    server with each new connection; a cancelled statement is the caller's to retry."""
    from sqlalchemy import text

    from shared import db
    from tests.conftest import reset_caches

    api = Api("slow")

    @api.route("GET", "/api/slow", summary="sleeps", auth="public")
    def slow(call: Call):
        call.conn.execute(text("SELECT pg_sleep(2)"))

    from flask import Flask

    monkeypatch.setenv("DB_STATEMENT_TIMEOUT_MS", "200")
    reset_caches()
    try:
        with Flask("t").test_request_context("/api/slow"):
            from flask import request

            response = api(request)
    finally:
        monkeypatch.undo()
        reset_caches()
        db.limit_statements(0)  # what the next engine built outside a request would otherwise keep
    assert response.status_code == 503 and response.mimetype == "application/problem+json"
    assert json.loads(response.get_data())["code"] == "unavailable" and response.headers["Retry-After"] == "5"
    assert "statement timeout" not in response.get_data(as_text=True)
