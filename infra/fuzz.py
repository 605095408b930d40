"""Fuzz the published API through Hosting with schemathesis: `python -m infra.fuzz` (what
`make fuzz` runs; never part of `make test`).

It starts a stack of its own (free ports, throwaway state: it never meets a running `make
dev` or the tests), loads the demo data, signs two accounts up in the Auth emulator and
registers them (artists: ``fuzzer``, whose requests these are, and ``peer``, whom the
object-level authorization check replays the fuzzer's reads as), then runs schemathesis
(pinned in .venv-tools) against Hosting's own /api/openapi.json twice: signed in, and
anonymous. Every check, the coverage, fuzzing and stateful phases, 50 examples per operation
unless told; DELETE /api/me is left out of the signed-in run, so the account survives it.
Then it stops the stack, prints a summary (per run: operations, test cases, failures by
check) and exits 1 on any failure or error.

Requests are rate limited (writes 10/s, search and graph reads 3/s, signed-in reads 20/s per
address and account by default; 429 is documented on every operation), which would starve the
fuzzer. The fuzz stack gives its HTTP functions limits it cannot reach, through their own
RATE_LIMIT_* settings (shared/config.py), unless ``--production-rate-limits``; the limiter has
tests of its own. Schema-valid requests the API may refuse for a reason no schema can state
(a stale If-Match, a cursor it never issued, a deadline in the past...) are listed below and
checked by a check of our own, which this module registers when schemathesis loads it as its
hooks module. Reports, schemathesis's output and the stack's logs land in build/fuzz/.
Arguments it does not know go to schemathesis (e.g. ``--include-path-regex items``).
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from infra.manifest import REPO

if TYPE_CHECKING:
    from local.stack import Stack

SCHEMATHESIS = REPO / ".venv-tools" / "bin" / "schemathesis"
REPORTS = REPO / "build" / "fuzz"
PHASES = "coverage,fuzzing,stateful"
MAX_EXAMPLES = 50
PASSWORD = "fuzz-password-123"
# The signed-in run leaves these out: erasing the account would end the run's identity.
SIGNED_IN_EXCLUDED = ("registration.delete./api/me",)
# The fuzz stack's request limits (every RATE_LIMIT_* setting): far past what one fuzzer sends.
FUZZ_RATE_LIMIT = "100000"

# schemathesis's failure codes (`schemathesis explain --list`) and the check that raises each.
CHECK_OF_CODE = {
    "ST101": "not_a_server_error", "ST102": "not_a_server_error",
    "ST103": "status_code_conformance",
    "ST104": "content_type_conformance", "ST105": "content_type_conformance", "ST106": "content_type_conformance",
    "ST107": "response_headers_conformance",
    "ST108": "response_schema_conformance", "ST109": "response_schema_conformance",
    "ST110": "response_schema_conformance", "ST111": "response_schema_conformance",
    "ST112": "max_response_time",
    "ST201": "negative_data_rejection",
    "ST202": "positive_data_acceptance",
    "ST203": "missing_required_header",
    "ST204": "unsupported_method",
    "ST205": "allow_header_conformance",
    "ST301": "use_after_free",
    "ST302": "ensure_resource_availability",
    "ST401": "ignored_auth",
    "ST402": "object_level_authorization",
}

# -- schema-valid requests the API may reject -------------------------------------
# positive_data_acceptance fails a schema-valid request answered 400, 412 or 422. Some such
# rejections no OpenAPI document can rule out; the fuzzer is told of exactly these, by the
# problem's stable `code` and, for validation errors, the rule (its location and message).
# Anything else a schema could have said is still a failure (ST202), through
# `positive_data_acceptance_kalakrut`, which runs inside schemathesis (SCHEMATHESIS_HOOKS).
POSITIVE_DATA_ACCEPTANCE = ["2xx", "3xx", "401", "403", "404", "409", "429", "5xx"]  # schemathesis's default
# A request without its required If-Match is refused as RFC 6585 says: 428 Precondition
# Required (documented where If-Match is required), besides schemathesis's default statuses.
MISSING_REQUIRED_HEADER = ["400", "401", "403", "406", "415", "422", "428"]
RELAXED_STATUSES = (400, 412, 422)
UNEXPRESSIBLE_PROBLEMS = {
    # If-Match names a version: only a read tells which one is current.
    (412, "precondition-failed"),
    # A cursor is opaque: only a page the API served hands one out.
    (400, "invalid-cursor"),
    # A wallet link is a signature over a challenge the API issued; a Stripe event, an HMAC
    # with the endpoint's secret.
    (400, "signature-rejected"),
    # Whether a card pays is its bank's word (and a PaymentMethod id one Stripe issued).
    (402, "payment-declined"),
}
# (location prefix, message fragment) of validation errors about the present moment, another
# field or parameter, or the caller: JSON Schema compares a value with constants only.
UNEXPRESSIBLE_RULES = (
    (("body", "deadline"), "the deadline must be in the future"),
    (("body",), "an auction cannot start in the past"),
    (("body",), "the auction must end after it starts"),
    (("body",), "an auction runs at most"),
    (("body",), "the reserve price cannot be below the starting price"),
    (("query",), "min_price is above max_price"),
    (("query",), "price ranges and price sorting need a currency"),
    ((), "price filters and the popular and price orders apply to items only"),
    ((), "you cannot follow yourself"),
    # A reference to a row that must exist (categories are an admin's to make): data, not shape.
    (("body", "category"), "unknown category"),
    # What an item may carry depends on its kind (another field, or the item as it is).
    (("body",), "a digital item has no"),
    (("body",), "a physical item has no"),
    (("body",), "a physical item needs an inventory count"),
    ((), "a physical item's inventory cannot be cleared"),
    # A catalog import is a CSV document inside a string: its grammar and header are no JSON Schema's.
    ((), "is not valid CSV"),
    ((), "the CSV needs a header row"),
    ((), "the first row must be a header"),
    ((), "a column is named twice in the header"),
    ((), "the header lacks"),
    # What an order needs depends on the item bought (its kind, its regions, its price times the
    # quantity against the card limit): data, not shape.
    ((), "a physical item needs a shipping address"),
    ((), "a digital item is sold one at a time"),
    ((), "a digital item is not shipped"),
    ((), "this item ships to"),
    ((), "a card payment is at most"),
    ((), "a payout is at most"),
    # Which countries Stripe opens accounts in is Stripe's list (locally: no Connect at all).
    ((), "Stripe did not open a payout account"),
)


@dataclass(frozen=True)
class Account:
    name: str
    email: str
    password: str = PASSWORD


@dataclass
class Failure:
    check: str
    code: str
    title: str
    count: int
    operations: list[str]


@dataclass
class RunSummary:
    """One schemathesis run, from its JSON report (``--report json``)."""

    name: str
    exit_code: int
    operations_tested: int = 0
    operations_selected: int = 0
    test_cases: int = 0
    cases_with_failures: int = 0
    failures: list[Failure] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    seconds: float = 0.0
    complete: bool = False

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and self.complete and not self.failures and not self.errors


def check_of(code: str) -> str:
    return CHECK_OF_CODE.get(code, "custom")


def summarize(name: str, report: dict[str, Any] | None, exit_code: int, seconds: float) -> RunSummary:
    """What a run found, from schemathesis's JSON report (None: it wrote none)."""
    summary = RunSummary(name, exit_code, seconds=seconds)
    if report is None:
        summary.errors.append(f"schemathesis exited with {exit_code} and wrote no report")
        return summary
    operations = report.get("operations") or {}
    cases = report.get("test_cases") or {}
    summary.operations_tested = operations.get("tested", 0)
    summary.operations_selected = operations.get("selected", 0)
    summary.test_cases = cases.get("generated", 0)
    summary.cases_with_failures = cases.get("with_failures", 0)
    summary.complete = bool(report.get("complete"))
    summary.failures = [
        Failure(check_of(group["code"]), group["code"], group["title"], group["count"], list(group["operations"]))
        for group in report.get("failures", [])
    ]
    summary.errors = [f"{error['title']} ({error['count']})" for error in report.get("errors", [])]
    if cases.get("errored"):
        summary.errors.append(f"{cases['errored']} test cases errored")
    return summary


def format_summary(runs: list[RunSummary], *, header: str) -> str:
    lines = [header, ""]
    lines.append(f"{'run':<11} {'operations':>10} {'test cases':>11} {'failing':>8} {'time':>8}  result")
    for run in runs:
        operations = f"{run.operations_tested}/{run.operations_selected}"
        minutes = f"{run.seconds / 60:.1f} min"
        result = "ok" if run.ok else "FAILED"
        lines.append(f"{run.name:<11} {operations:>10} {run.test_cases:>11} {run.cases_with_failures:>8} "
                     f"{minutes:>8}  {result}")
    for run in runs:
        if run.failures or run.errors:
            lines += ["", f"{run.name}: failures by check"]
            by_check: dict[str, list[Failure]] = {}
            for failure in run.failures:
                by_check.setdefault(failure.check, []).append(failure)
            for check in sorted(by_check):
                total = sum(f.count for f in by_check[check])
                lines.append(f"  {check}: {total}")
                for failure in by_check[check]:
                    lines.append(f"    {failure.code} {failure.title} ({failure.count}): {', '.join(failure.operations)}")
            for error in run.errors:
                lines.append(f"  error: {error}")
    return "\n".join(lines)


def _unexpressible_error(location: tuple, message: str) -> bool:
    return any(location[:len(prefix)] == prefix and fragment in message for prefix, fragment in UNEXPRESSIBLE_RULES)


def unexpressible_rejection(status: int, problem: Any) -> bool:
    """Whether the API's rejection of a schema-valid request (a problem details body) is one
    that no OpenAPI document could have ruled out (UNEXPRESSIBLE_PROBLEMS, _RULES)."""
    if not isinstance(problem, dict):
        return False
    code = problem.get("code")
    if (status, code) in UNEXPRESSIBLE_PROBLEMS:
        return True
    if status != 422 or code != "validation-error":
        return False
    errors = problem.get("errors")
    if not errors:  # a rule the handler checked: the detail names it
        return _unexpressible_error((), str(problem.get("detail", "")))
    return all(isinstance(error, dict) and _unexpressible_error(tuple(error.get("location") or ()),
                                                                 str(error.get("message", "")))
               for error in errors)


def wfc_document(auth_url: str, accounts: list[Account]) -> dict[str, Any]:
    """A Web Fuzzing Commons auth file: each account signs in with its password at the Auth
    emulator (as the web app does at Firebase Auth) and sends the ID token as a bearer token;
    schemathesis signs in again when a token ages or a request meets a 401 (a revoked session)."""
    login = f"{auth_url}/identitytoolkit.googleapis.com/v1/accounts:signInWithPassword?key=demo-key"
    return {"schemaVersion": "0.2.0", "auth": [
        {"name": account.name, "loginEndpointAuth": {
            "verb": "POST",
            "externalEndpointURL": login,
            "contentType": "application/json",
            "payloadRaw": json.dumps({"email": account.email, "password": account.password,
                                      "returnSecureToken": True}),
            "token": {"extractFrom": "body", "extractSelector": "/idToken", "sendIn": "header",
                      "sendName": "Authorization", "sendTemplate": "Bearer {token}"},
        }} for account in accounts
    ]}


def config_toml(wfc_path: Path | None, user: str | None, peers: list[str]) -> str:
    """schemathesis.toml for one run: which rejections of schema-valid requests are left to
    `positive_data_acceptance_kalakrut`, 428 for a missing If-Match, and the signed-in run's WFC auth (ID tokens live an
    hour: a sign-in every ten minutes keeps them fresh)."""
    statuses = [*POSITIVE_DATA_ACCEPTANCE, *map(str, RELAXED_STATUSES)]
    lines = ["[checks.positive_data_acceptance]", f"expected-statuses = {json.dumps(statuses)}", "",
             "[checks.missing_required_header]", f"expected-statuses = {json.dumps(MISSING_REQUIRED_HEADER)}"]
    if wfc_path is not None:
        lines += ["", "[auth.wfc]", f"path = {json.dumps(str(wfc_path))}", f"user = {json.dumps(user)}",
                  "refresh_interval = 600"]
        if len(peers) > 1:
            lines.append(f"peers = {json.dumps(peers)}")
    return "\n".join(lines) + "\n"


def schemathesis_argv(schema_url: str, *, config: Path, report_dir: Path, max_examples: int, phases: str,
                      workers: int, exclude_operation_ids: tuple[str, ...] = (), seed: int | None = None,
                      request_timeout: float = 30.0, extra: tuple[str, ...] = ()) -> list[str]:
    argv = [str(SCHEMATHESIS), "--config-file", str(config), "run", schema_url,
            "--checks", "all",
            "--phases", phases,
            "--max-examples", str(max_examples),
            "--workers", str(workers),
            "--request-timeout", str(request_timeout),
            "--generation-database", "none",
            "--report", "json,junit,ndjson",
            "--report-dir", str(report_dir),
            "--report-json-path", str(report_dir / "report.json"),
            "--no-color"]
    for operation_id in exclude_operation_ids:
        argv += ["--exclude-operation-id", operation_id]
    if seed is not None:
        argv += ["--seed", str(seed)]
    return argv + list(extra)


# -- the stack -----------------------------------------------------------------


def rate_limit_settings() -> list[str]:
    """Every limit an HTTP function reads (shared/config.py): writes, expensive reads, signed-in reads."""
    from shared.config import Settings

    return sorted(name.upper() for name in Settings.model_fields if name.startswith("rate_limit_"))


def _fuzz_stack(state_dir: Path, *, raise_rate_limits: bool) -> Stack:
    from local.config import StackConfig
    from local.stack import Stack

    limits = rate_limit_settings() if raise_rate_limits else []

    class FuzzStack(Stack):
        """The local stack, but each HTTP function (those given the write limit's setting) is
        given limits the fuzzer cannot reach, through the settings it reads; otherwise they
        are the defaults (10 writes/s, 3 searches/s, 20 signed-in reads/s per address and account)."""

        def function_env(self, name: str) -> dict[str, str]:
            env = super().function_env(name)
            declared = {**self.deployed[name]["env"], **self.deployed[name].get("omitted", {})}
            if "RATE_LIMIT_PER_SECOND" in declared:
                env.update({setting: FUZZ_RATE_LIMIT for setting in limits})
            return env

    return FuzzStack(StackConfig.ephemeral(state_dir))


def _sign_up(stack: Stack, accounts: list[Account]) -> None:
    """Each account in the Auth emulator, registered as an artist through Hosting."""
    import requests

    auth = stack.auth()
    for account in accounts:
        _, token = auth.sign_up(account.email, account.password, display_name=f"Fuzz {account.name}")
        response = requests.post(f"{stack.hosting_url}/api/register", json={"role": "artist"},
                                 headers={"Authorization": f"Bearer {token}"}, timeout=30)
        if response.status_code not in (200, 201):
            raise RuntimeError(f"registering {account.email}: {response.status_code} {response.text}")


def _quiet_stand_ins(path: Path) -> None:
    """The router's and broker's request lines (werkzeug's log) go to a file, not between schemathesis's."""
    import logging

    handler = logging.FileHandler(path)
    handler.setFormatter(logging.Formatter("%(message)s"))
    werkzeug = logging.getLogger("werkzeug")
    werkzeug.addHandler(handler)
    werkzeug.setLevel(logging.INFO)
    werkzeug.propagate = False


def _run(name: str, argv: list[str], directory: Path) -> RunSummary:
    print(f"\n== {name} run: {' '.join(argv[1:])}", flush=True)
    started = time.monotonic()
    with (directory / "schemathesis.log").open("w") as log:
        env = {**os.environ, "SCHEMATHESIS_HOOKS": "infra.fuzz", "PYTHONPATH": str(REPO)}
        process = subprocess.Popen(argv, cwd=directory, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                   text=True)
        assert process.stdout is not None
        for line in process.stdout:
            sys.stdout.write(line)
            log.write(line)
        exit_code = process.wait()
    report_path = directory / "report" / "report.json"
    report = json.loads(report_path.read_text()) if report_path.exists() else None
    return summarize(name, report, exit_code, time.monotonic() - started)


def fuzz(args: argparse.Namespace, extra: list[str]) -> list[RunSummary]:
    from local.chain import Platform, Rpc
    from local.seed import seed

    reports = Path(args.report_dir).resolve()
    shutil.rmtree(reports, ignore_errors=True)
    reports.mkdir(parents=True)
    _quiet_stand_ins(reports / "stand-in-requests.log")
    accounts = [Account("fuzzer", "fuzzer@fuzz.kalakrut.test"), Account("peer", "peer@fuzz.kalakrut.test")]
    runs: list[RunSummary] = []
    with tempfile.TemporaryDirectory(prefix="kalakrut-fuzz-") as scratch:
        stack = _fuzz_stack(Path(scratch) / "stack", raise_rate_limits=not args.production_rate_limits)
        print("starting a fuzz stack of its own (free ports, throwaway state)…", flush=True)
        try:
            with stack:
                if not args.no_seed:
                    print(seed(stack.hosting_url, stack.auth(), Platform(Rpc(stack.chain_url), stack.contracts)),
                          flush=True)
                _sign_up(stack, accounts)
                schema_url = f"{stack.hosting_url}/api/openapi.json"
                for name in args.runs.split(","):
                    directory = reports / name
                    directory.mkdir()
                    signed_in = name == "signed-in"
                    wfc = None
                    if signed_in:
                        wfc = directory / "auth.json"
                        wfc.write_text(json.dumps(wfc_document(f"http://{stack.auth_host}", accounts), indent=2))
                    config = directory / "schemathesis.toml"
                    config.write_text(config_toml(wfc, "fuzzer", [a.name for a in accounts]))
                    argv = schemathesis_argv(
                        schema_url, config=config, report_dir=directory / "report", max_examples=args.max_examples,
                        phases=args.phases, workers=args.workers, seed=args.seed,
                        exclude_operation_ids=SIGNED_IN_EXCLUDED if signed_in else (),
                        request_timeout=args.request_timeout, extra=tuple(extra))
                    runs.append(_run(name, argv, directory))
        finally:
            logs = Path(scratch) / "stack" / "logs"
            if logs.exists():
                shutil.copytree(logs, reports / "stack-logs", dirs_exist_ok=True)
    return runs


# -- inside schemathesis ----------------------------------------------------------


def _register_check() -> None:
    """This module is also schemathesis's hooks module (SCHEMATHESIS_HOOKS=infra.fuzz, run by
    .venv-tools' Python, which has schemathesis): it adds one check."""
    import schemathesis
    from schemathesis.openapi.checks import RejectedPositiveData
    from schemathesis.specs.openapi.checks import is_unexpected_http_status_case

    @schemathesis.check
    def positive_data_acceptance_kalakrut(ctx: Any, response: Any, case: Any) -> None:
        """positive_data_acceptance for the statuses the configuration leaves to it
        (RELAXED_STATUSES): a schema-valid request may be refused so only for a reason no
        schema can state (unexpressible_rejection); it fails as ST202, as the built-in check does."""
        meta = case.meta
        if meta is None or not meta.generation.mode.is_positive or is_unexpected_http_status_case(case):
            return
        if response.status_code not in RELAXED_STATUSES:
            return
        try:
            problem = json.loads(response.content)
        except ValueError:
            problem = None
        if not unexpressible_rejection(response.status_code, problem):
            raise RejectedPositiveData(
                operation=case.operation.label, status_code=response.status_code,
                allowed_statuses=POSITIVE_DATA_ACCEPTANCE,
                message=("Valid data should have been accepted\n"
                         f"Expected: {', '.join(POSITIVE_DATA_ACCEPTANCE)}, or a rejection no schema can rule out "
                         "(infra/fuzz.py: UNEXPRESSIBLE_PROBLEMS, UNEXPRESSIBLE_RULES)"))


if os.environ.get("SCHEMATHESIS_HOOKS") == __name__:
    _register_check()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.fuzz", description=__doc__.splitlines()[0],
                                     epilog="Other arguments go to `schemathesis run`.")
    parser.add_argument("--max-examples", type=int, default=MAX_EXAMPLES, help="test cases per operation and phase")
    parser.add_argument("--phases", default=PHASES, help=f"schemathesis phases (default {PHASES})")
    parser.add_argument("--runs", default="signed-in,anonymous", help="which runs, in order")
    # One: hypothesis parses lambdas' source with `ast` while it generates, and two threads doing so
    # at once can fail on Python 3.11 ("AST constructor recursion depth mismatch", CPython gh-106905).
    parser.add_argument("--workers", type=int, default=1, help="schemathesis's worker threads (default 1)")
    parser.add_argument("--seed", type=int, default=None, help="schemathesis's random seed, to repeat a run")
    parser.add_argument("--request-timeout", type=float, default=30.0)
    parser.add_argument("--production-rate-limits", action="store_true",
                        help="keep the functions' default request limits (the fuzzer then meets many 429s)")
    parser.add_argument("--no-seed", action="store_true", help="fuzz an empty platform (no demo data)")
    parser.add_argument("--report-dir", default=str(REPORTS))
    args, extra = parser.parse_known_args(argv)
    unknown = set(args.runs.split(",")) - {"signed-in", "anonymous"}
    if unknown:
        parser.error(f"unknown runs: {', '.join(sorted(unknown))} (signed-in, anonymous)")
    if not SCHEMATHESIS.exists():
        parser.error(f"{SCHEMATHESIS} is missing: `make install` builds .venv-tools")
    version = subprocess.run([str(SCHEMATHESIS), "--version"], capture_output=True, text=True).stdout.strip()

    started = time.monotonic()
    runs = fuzz(args, extra)
    limits = ("the defaults" if args.production_rate_limits
              else f"raised to {FUZZ_RATE_LIMIT}/s for the fuzz stack ({', '.join(rate_limit_settings())})")
    header = (f"make fuzz: {version}; checks all; phases {args.phases}; {args.max_examples} examples per "
              f"operation; rate limits {limits}; {(time.monotonic() - started) / 60:.1f} min in all; "
              f"reports in {args.report_dir}")
    print("\n" + format_summary(runs, header=header), flush=True)
    return 0 if runs and all(run.ok for run in runs) else 1


if __name__ == "__main__":
    sys.exit(main())
