"""make fuzz's own logic (infra/fuzz.py): which rejections of schema-valid requests no schema can
rule out, the schemathesis configuration and command line, and the summary of a run's report."""
from __future__ import annotations

import json
import tomllib
from pathlib import Path

from infra import fuzz


def _validation(*errors: tuple[list, str], detail: str = "the request body is not valid") -> dict:
    problem = {"status": 422, "code": "validation-error", "detail": detail}
    if errors:
        problem["errors"] = [{"location": location, "message": message, "type": "value_error"}
                             for location, message in errors]
    return problem


def test_only_rejections_no_schema_can_rule_out_are_let_through():
    assert fuzz.unexpressible_rejection(412, {"code": "precondition-failed"})
    assert fuzz.unexpressible_rejection(400, {"code": "invalid-cursor"})
    assert fuzz.unexpressible_rejection(422, _validation((["body", "deadline"], "Value error, the deadline must be in the future")))
    assert fuzz.unexpressible_rejection(422, _validation((["query"], "Value error, min_price is above max_price")))
    assert fuzz.unexpressible_rejection(422, _validation(detail="you cannot follow yourself"))


def test_a_rule_a_schema_could_state_is_a_finding():
    # "0" matches the amount pattern, yet must be positive: the schema could say so.
    assert not fuzz.unexpressible_rejection(422, _validation((["body", "price"], "Value error, must be greater than zero")))
    # One expressible error among unexpressible ones is enough.
    assert not fuzz.unexpressible_rejection(422, _validation(
        (["body", "deadline"], "Value error, the deadline must be in the future"),
        (["body", "goal"], "Value error, must be greater than zero")))
    assert not fuzz.unexpressible_rejection(422, _validation(detail="display_name cannot be cleared"))
    # A known code with another status, an unknown code, or no problem at all.
    assert not fuzz.unexpressible_rejection(400, {"code": "precondition-failed"})
    assert not fuzz.unexpressible_rejection(400, {"code": "malformed-json"})
    assert not fuzz.unexpressible_rejection(422, None)
    # The rule's location matters: the deadline rule says nothing about a query parameter.
    assert not fuzz.unexpressible_rejection(422, _validation((["query", "deadline"], "the deadline must be in the future")))


def test_config_relaxes_exactly_the_statuses_the_kalakrut_check_takes_over(tmp_path: Path):
    anonymous = tomllib.loads(fuzz.config_toml(None, None, []))
    statuses = anonymous["checks"]["positive_data_acceptance"]["expected-statuses"]
    assert statuses == [*fuzz.POSITIVE_DATA_ACCEPTANCE, "400", "412", "422"]
    assert anonymous["checks"]["missing_required_header"]["expected-statuses"][-1] == "428"
    assert "auth" not in anonymous
    signed_in = tomllib.loads(fuzz.config_toml(tmp_path / "auth.json", "fuzzer", ["fuzzer", "peer"]))
    assert signed_in["auth"]["wfc"] == {"path": str(tmp_path / "auth.json"), "user": "fuzzer",
                                        "refresh_interval": 600, "peers": ["fuzzer", "peer"]}


def test_wfc_accounts_sign_in_at_the_auth_emulator_and_send_a_bearer_token():
    document = fuzz.wfc_document("http://127.0.0.1:9", [fuzz.Account("fuzzer", "f@example.test", "pw")])
    login = document["auth"][0]["loginEndpointAuth"]
    assert login["externalEndpointURL"].startswith("http://127.0.0.1:9/identitytoolkit.googleapis.com/")
    assert json.loads(login["payloadRaw"]) == {"email": "f@example.test", "password": "pw", "returnSecureToken": True}
    assert login["token"]["extractSelector"] == "/idToken" and login["token"]["sendTemplate"] == "Bearer {token}"


def test_the_command_runs_every_check_and_leaves_out_what_it_is_told(tmp_path: Path):
    argv = fuzz.schemathesis_argv("http://h/api/openapi.json", config=tmp_path / "c.toml", report_dir=tmp_path,
                                  max_examples=50, phases=fuzz.PHASES, workers=2,
                                  exclude_operation_ids=fuzz.SIGNED_IN_EXCLUDED, seed=7, extra=("--x",))
    assert argv[argv.index("--checks") + 1] == "all"
    assert argv[argv.index("--max-examples") + 1] == "50"
    assert argv[argv.index("--exclude-operation-id") + 1] == "registration.delete./api/me"
    assert argv[argv.index("--seed") + 1] == "7" and argv[-1] == "--x"


def test_summary_counts_failures_by_check():
    report = {
        "complete": True,
        "operations": {"tested": 53, "selected": 53},
        "test_cases": {"generated": 4000, "with_failures": 3, "errored": 0},
        "failures": [
            {"code": "ST202", "title": "Schema-valid request rejected", "count": 2, "operations": ["POST /api/items"]},
            {"code": "ST105", "title": "Undocumented Content-Type", "count": 1, "operations": ["GET /api/media/{id}"]},
        ],
        "errors": [],
    }
    run = fuzz.summarize("signed-in", report, 1, 60.0)
    assert not run.ok
    assert [(f.check, f.count) for f in run.failures] == [("positive_data_acceptance", 2), ("content_type_conformance", 1)]
    text = fuzz.format_summary([run], header="h")
    assert "signed-in        53/53        4000        3  1.0 min  FAILED" in text
    assert "positive_data_acceptance: 2" in text
    clean = fuzz.summarize("anonymous", {**report, "failures": [], "test_cases": {"generated": 10}}, 0, 1.0)
    assert clean.ok
    assert not fuzz.summarize("anonymous", None, 2, 0.0).ok  # no report: schemathesis never ran
