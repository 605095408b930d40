"""The deploy, checked offline: `python -m infra.deploy --dry-run` prints every command in
the one safe order (bootstrap, build, plan with the running functions pinned, show, approval,
apply, migration job, the functions' new code, Hosting to Terraform's site, smoke), a real run
executes exactly those with Terraform's outputs filled in (nothing reaches a cloud: the
programs are stand-ins), secret values never reach a command line, and prod applies only what
a person approved. Cloud Build follows the same order on a Node the lock accepts, with every
image pinned; the production CSP trusts no loopback origin."""
from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import hcl2
import pytest
import yaml

from infra import deploy
from infra.manifest import REPO

TERRAFORM = REPO / "infra" / "terraform"
SECRET_VALUES = {"INDEXER_CHAINS": '[{"rpc": "https://rpc.example/k3y-INDEXER"}]',
                 "NEO4J_USER": "neo4j-user-value-7f3a", "NEO4J_PASSWORD": "pa55-NEO4J-value-c0ffee",
                 "STRIPE_SECRET_KEY": "sk_live_STRIPE-value-5ec7", "STRIPE_WEBHOOK_SECRET": "whsec_HOOK-value-d00d",
                 "SMTP_USERNAME": "smtp-user-value-a11ce", "SMTP_PASSWORD": "smtp-PASSWORD-value-b0b"}

# What must happen before what, the same in the script and in Cloud Build.
MILESTONES = [
    ("bundles", r"-m infra\.bundle\b"),
    ("image pushed", r"\bdocker push "),
    ("init", r"\bterraform\b.*\binit\b"),
    ("plan with pins", r"\bterraform\b.*\bplan\b.*pinned_sources"),
    ("plan shown", r"\bterraform\b.*\bshow\b.*infra\.tfplan"),
    ("apply infra", r"\bterraform\b.*\bapply\b.*infra\.tfplan"),
    ("migration job", r"\bgcloud run jobs execute\b"),
    ("plan functions", r"\bterraform\b.*\bplan\b.*functions\.tfplan"),
    ("apply functions", r"\bterraform\b.*\bapply\b.*functions\.tfplan"),
    ("hosting", r"\bfirebase deploy --only hosting:app\b"),
    ("smoke", r"^smoke:|--smoke\b"),
]


def first_index(lines: list[str], pattern: str) -> int:
    found = [i for i, line in enumerate(lines) if re.search(pattern, line)]
    assert found, f"nothing matches {pattern!r}"
    return found[0]


def assert_in_order(lines: list[str]) -> None:
    missing = [name for name, pattern in MILESTONES if not any(re.search(pattern, line) for line in lines)]
    assert not missing, f"missing: {', '.join(missing)}"
    positions = [(name, first_index(lines, pattern)) for name, pattern in MILESTONES]
    assert [name for name, _ in sorted(positions, key=lambda p: p[1])] == [name for name, _ in MILESTONES], positions


def dry_run(*extra: str, env: str = "dev", path: str | None = None) -> subprocess.CompletedProcess:
    project = f"kalakrut-{env}"
    environ = {"PATH": path} if path is not None else None
    return subprocess.run([sys.executable, "-m", "infra.deploy", "--env", env, "--project", project, "--dry-run",
                           *extra], cwd=REPO, capture_output=True, text=True, timeout=60, env=environ)


@pytest.fixture
def secrets_file(tmp_path: Path) -> Path:
    path = tmp_path / "secrets.json"
    path.write_text(json.dumps(SECRET_VALUES))
    return path


def dev(version: str = "abc1234") -> deploy.Deployment:
    return deploy.Deployment("dev", "kalakrut-dev", "europe-west1", version)


def commands(steps: list) -> list[tuple[str, ...]]:
    return [step.argv for step in steps if isinstance(step, deploy.Command)]


# -- the script --------------------------------------------------------------------------

def test_dry_run_needs_no_cloud_tools_and_prints_the_deploy_in_order(tmp_path, secrets_file):
    empty = tmp_path / "bin"
    empty.mkdir()
    result = dry_run("--secrets-file", str(secrets_file), path=str(empty))  # no gcloud, terraform, docker, git
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    phases = {"bootstrap", "build", "infra", "secrets", "migrate", "functions", "hosting", "smoke"}
    assert all(line.split(": ", 1)[0] in phases for line in lines), lines
    assert lines[0].startswith("bootstrap: gcloud services enable")
    assert max(i for i, line in enumerate(lines) if line.startswith("bootstrap:")) < first_index(lines, "infra.bundle")
    assert_in_order(lines)
    # The secret values come right after the first apply (Terraform makes their containers)
    # and before anything that reads them.
    adds = [i for i, line in enumerate(lines) if "gcloud secrets versions add" in line]
    assert set(re.findall(r"gcloud secrets versions add (\S+)", result.stdout)) == set(SECRET_VALUES)
    assert first_index(lines, r"apply .*infra\.tfplan") < min(adds) and max(adds) < first_index(lines, "jobs execute")


def test_the_migration_image_is_tagged_with_the_build_never_latest():
    result = dry_run("--version", "abc1234")
    images = re.findall(r"[\w.-]+-docker\.pkg\.dev/[\w.-]+/kalakrut/migrate:[^\s']+", result.stdout)
    assert images and set(images) == {"europe-west1-docker.pkg.dev/kalakrut-dev/kalakrut/migrate:abc1234"}
    assert ":latest" not in result.stdout
    # Without --version a real run tags with the commit; the dry run says so.
    assert "migrate:<git short sha>" in dry_run().stdout
    refused = dry_run("--version", "latest")
    assert refused.returncode == 1 and "never 'latest'" in refused.stderr
    with pytest.raises(deploy.DeployError):
        deploy.check_version("a b")


def test_the_first_plan_pins_the_running_functions_and_the_second_does_not():
    functions = deploy.function_secrets("dev")
    running = {name: f"functions/{name}-0ld.zip" for name in functions}
    steps = deploy.deploy_steps(dev(), running, deploy.secret_names("dev"))
    plans = [argv for argv in commands(steps) if "plan" in argv]
    assert [argv[-1] for argv in plans] == ["-out=../../build/plans/infra.tfplan",
                                            "-out=../../build/plans/functions.tfplan"]
    first, second = plans
    pins = [arg for arg in first if arg.startswith("-var=pinned_sources=")]
    assert len(pins) == 1 and json.loads(pins[0].split("=", 2)[2]) == running
    assert not any("pinned_sources" in arg or arg.startswith("-target") for arg in second)
    # Nothing new and every secret set: the whole configuration, functions pinned, no -target.
    assert not any(arg.startswith("-target") for arg in first)
    # The dry run shows where the pins come from.
    assert "'-var=pinned_sources=<terraform output function_sources>'" in dry_run().stdout


def test_a_function_without_code_to_pin_or_a_set_secret_waits_for_the_second_apply():
    functions = deploy.function_secrets("dev")
    every_secret = deploy.secret_names("dev")
    base = [f"-target={address}" for address in deploy.MIGRATION_TARGETS]
    # First deploy: nothing runs, nothing has a value: only what the migration job needs.
    assert deploy.targets(functions, {}, set()) == base
    assert deploy.held_back(functions, {}, set()) == sorted(functions)
    # A new function: the others are pinned and applied, the new one waits.
    running = {name: f"functions/{name}-0ld.zip" for name in functions if name != "network"}
    limited = deploy.targets(functions, running, every_secret)
    assert limited[:len(base)] == base
    assert '-target=google_cloudfunctions2_function.function["registration"]' in limited
    assert not [arg for arg in limited if '"network"' in arg]
    # A secret without a value: every function reads the secrets' current versions, so none
    # is part of the first apply.
    running = {name: f"functions/{name}-0ld.zip" for name in functions}
    assert deploy.targets(functions, running, set(every_secret) - {"NEO4J_USER"}) == base
    assert deploy.targets(functions, running, every_secret) == []


def test_the_targets_name_resources_terraform_declares():
    declared = set()
    for path in TERRAFORM.glob("*.tf"):
        with path.open() as handle:
            for block in hcl2.load(handle).get("resource", []):
                declared |= {f"{kind.strip(chr(34))}.{name.strip(chr(34))}"
                             for kind, named in block.items() for name in named}
    assert set(deploy.MIGRATION_TARGETS) <= declared
    assert "google_cloudfunctions2_function.function" in declared


def test_secrets_are_the_ones_terraform_declares():
    assert {"INDEXER_CHAINS", "NEO4J_USER", "NEO4J_PASSWORD"} <= set(deploy.secret_names("dev"))
    assert deploy.secret_names("prod") == deploy.secret_names("dev")


def test_secret_values_never_reach_a_printed_command(secrets_file):
    result = dry_run("--secrets-file", str(secrets_file))
    assert result.returncode == 0, result.stderr
    for value in SECRET_VALUES.values():
        assert value not in result.stdout and value not in result.stderr
    assert "gcloud secrets versions add NEO4J_PASSWORD --data-file=-" in result.stdout


def test_hosting_deploys_to_the_site_terraform_made_not_the_default_site():
    lines = dry_run().stdout.splitlines()
    hosting = [line for line in lines if line.startswith("hosting:")]
    assert any("terraform -chdir=infra/terraform output -raw hosting_site" in line for line in hosting)
    assert any("firebase target:apply hosting app '<terraform output hosting_site>'" in line for line in hosting)
    deploys = [line for line in lines if "firebase deploy" in line]
    assert deploys and all("--only hosting:app " in line for line in deploys)
    assert "https://<terraform output hosting_site>.web.app" in lines[-1]
    # firebase.json deploys to the target, which .firebaserc maps to each environment's site:
    # hosting.tf names it PROJECT-ENVIRONMENT.
    hosting_config = json.loads((REPO / "firebase.json").read_text())["hosting"]
    assert hosting_config.get("target") == "app" and "site" not in hosting_config
    assert 'site_id  = "${var.project_id}-${var.environment}"' in (TERRAFORM / "hosting.tf").read_text()
    rc = json.loads((REPO / ".firebaserc").read_text())
    for env in ("dev", "prod"):
        project = deploy.tfvars_value(TERRAFORM / "environments" / f"{env}.tfvars", "project_id")
        assert rc["targets"][project]["hosting"]["app"] == [f"{project}-{env}"]


def test_prod_never_auto_approves_without_the_explicit_override():
    refused = dry_run("--auto-approve", env="prod")
    assert refused.returncode == 1 and "--allow-prod-auto-approve" in refused.stderr and not refused.stdout
    assert dry_run("--auto-approve", "--allow-prod-auto-approve", env="prod").returncode == 0
    assert dry_run("--auto-approve").returncode == 0
    assert dry_run("--allow-prod-auto-approve", env="prod").returncode == 1  # not without --auto-approve
    # Without it, prod asks for the project's name: a reflexive "yes" applies nothing.
    runner = deploy.Runner(dry_run=False, auto_approve=False, project="kalakrut-prod", env="prod",
                           secret_value=str, ask=lambda prompt: "yes")
    with pytest.raises(deploy.DeployError, match="not approved"):
        runner.run([deploy.Approval("infra", "infra.tfplan")])


def test_the_environment_files_must_name_the_project():
    result = dry_run("--project", "someone-else")  # argparse: the last --project wins
    assert result.returncode == 1 and "kalakrut-dev" in result.stderr and not result.stdout


def test_destroy_tears_down_terraforms_part_and_says_what_stays():
    lines = dry_run("--destroy").stdout.splitlines()
    assert all(line.startswith("destroy: ") for line in lines)
    text = "\n".join(lines)
    assert "terraform -chdir=infra/terraform destroy -var-file=environments/dev.tfvars" in text
    assert "deletion_protection = false" in text and "gs://kalakrut-dev-tfstate" in text
    ran = "\n".join(line for line in lines if not line.startswith("destroy: # "))
    assert not re.search(r"\b(plan|apply|jobs execute|firebase)\b", ran)
    assert "google_cloud_run_v2_job.migrate" in dry_run("--destroy", env="prod").stdout


class FakePrograms:
    """Stands in for gcloud, terraform, docker, npm and firebase: records each call."""

    def __init__(self, *, first_deploy: bool) -> None:
        self.first_deploy = first_deploy
        self.calls: list[tuple[list[str], str | None]] = []

    def __call__(self, argv, *, cwd, input, text, stdout, stderr):
        self.calls.append((argv, input))
        line = " ".join(argv)
        out, code = "", 0
        if "output -json function_sources" in line:
            functions = deploy.function_secrets("dev")
            out, code = (("", 1) if self.first_deploy else
                         (json.dumps({name: f"functions/{name}-0ld.zip" for name in functions}), 0))
        elif "secrets versions describe" in line:
            code = 1 if self.first_deploy else 0
        elif "output -raw migration_job" in line:
            out = "kalakrut-dev-migrate\n"
        elif "output -raw hosting_site" in line:
            out = "kalakrut-dev-dev\n"
        elif " show " in f" {line} ":
            out = "Plan: 1 to add, 0 to change, 0 to destroy.\n"
        return subprocess.CompletedProcess(argv, code, out if stdout is not None else None, None)


def run_deploy(tmp_path: Path, *, first_deploy: bool) -> tuple[FakePrograms, list[str]]:
    programs, smoked = FakePrograms(first_deploy=first_deploy), []
    runner = deploy.Runner(dry_run=False, auto_approve=True, project="kalakrut-dev", env="dev",
                           secret_value=SECRET_VALUES.__getitem__, run=programs, smoke=smoked.append, root=tmp_path)
    deploy.deploy(dev(), runner)
    return programs, smoked


def test_a_real_run_executes_the_printed_order_with_terraforms_outputs_filled_in(tmp_path, capsys):
    programs, smoked = run_deploy(tmp_path, first_deploy=False)
    lines = [" ".join(argv) for argv, _ in programs.calls]
    assert_in_order([*lines, "smoke:"])
    assert "gcloud run jobs execute kalakrut-dev-migrate --region=europe-west1 --wait --project=kalakrut-dev" in lines
    assert any(line.endswith("target:apply hosting app kalakrut-dev-dev --project=kalakrut-dev") for line in lines)
    assert smoked == ["https://kalakrut-dev-dev.web.app"]
    assert not any("<terraform output" in line for line in lines)
    # Bootstrap and the secret values find everything there: checked, not redone.
    assert not any("secrets versions add" in line or "buckets create" in line for line in lines)
    # The plans' text is shown and kept beside them.
    assert (tmp_path / "build/plans/infra-plan.txt").read_text().startswith("Plan: 1 to add")
    assert "Plan: 1 to add" in capsys.readouterr().out


def test_a_first_deploy_adds_the_secret_values_on_stdin_between_the_applies(tmp_path, capsys):
    programs, _ = run_deploy(tmp_path, first_deploy=True)
    lines = [" ".join(argv) for argv, _ in programs.calls]
    plan = next(argv for argv, _ in programs.calls if "plan" in argv and "-out=../../build/plans/infra.tfplan" in argv)
    assert [arg for arg in plan if arg.startswith("-target")] == [
        f"-target={address}" for address in deploy.MIGRATION_TARGETS]
    assert "-var=pinned_sources={}" in plan
    added = [(argv[4], stdin) for argv, stdin in programs.calls if argv[:4] == ["gcloud", "secrets", "versions", "add"]]
    assert dict(added) == SECRET_VALUES
    first_add = first_index(lines, "secrets versions add")
    assert first_index(lines, r"apply .*infra\.tfplan") < first_add < first_index(lines, "jobs execute")
    printed = capsys.readouterr()
    for value in SECRET_VALUES.values():
        assert not any(value in arg for argv, _ in programs.calls for arg in argv)
        assert value not in printed.out and value not in printed.err


def test_cloud_build_gets_its_pins_and_targets_from_the_same_rules(tmp_path):
    deploy.write_plan_inputs("dev", tmp_path)  # no function-sources.json: a first deploy
    assert json.loads((tmp_path / "pins.json").read_text()) == {}
    assert (tmp_path / "targets.args").read_text().split() == [f"-target={a}" for a in deploy.MIGRATION_TARGETS]
    running = {name: f"functions/{name}-0ld.zip" for name in deploy.function_secrets("dev")}
    (tmp_path / "function-sources.json").write_text(json.dumps(running))
    deploy.write_plan_inputs("dev", tmp_path)
    assert json.loads((tmp_path / "pins.json").read_text()) == running
    assert (tmp_path / "targets.args").read_text() == ""


# -- the smoke check, against a stand-in site on loopback ----------------------------------

class StubSite(BaseHTTPRequestHandler):
    me_status = 403
    deleted: list[str] = []

    def log_message(self, *args) -> None:
        pass

    def _send(self, status: int, body: dict, kind: str = "application/json") -> None:
        raw = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def do_GET(self) -> None:
        if self.path == "/api/config":
            self._send(200, {"firebase": {"api_key": "public-web-key", "auth_domain": "x", "project_id": "p"}})
        elif self.path == "/api/openapi.json":
            self._send(200, {"openapi": "3.1.0", "paths": {}})
        elif self.path == "/api/me" and self.headers["Authorization"] == "Bearer id-token-1":
            self._send(self.me_status, {"code": "registration-required"}, "application/problem+json")
        else:
            self._send(401, {"code": "unauthenticated"})

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if self.path == "/v1/accounts:signUp?key=public-web-key":
            assert body["returnSecureToken"] and body["email"].endswith("@example.com")
            self._send(200, {"idToken": "id-token-1", "localId": "u1"})
        elif self.path == "/v1/accounts:delete?key=public-web-key":
            type(self).deleted.append(body["idToken"])
            self._send(200, {})
        else:
            self._send(404, {})


@pytest.fixture
def stub_site():
    StubSite.deleted, StubSite.me_status = [], 403
    server = ThreadingHTTPServer(("127.0.0.1", 0), StubSite)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_smoke_reads_config_openapi_and_me_with_a_throwaway_account_it_deletes(stub_site):
    deploy.smoke_check(stub_site, identity_url=f"{stub_site}/v1", attempts=1)
    assert StubSite.deleted == ["id-token-1"]


def test_a_failing_smoke_check_still_deletes_its_account(stub_site):
    StubSite.me_status = 500
    with pytest.raises(deploy.SmokeFailed, match="/api/me: 500"):
        deploy.smoke_check(stub_site, identity_url=f"{stub_site}/v1", attempts=1)
    assert StubSite.deleted == ["id-token-1"]


# -- Cloud Build -------------------------------------------------------------------------

def cloudbuild(path: Path = REPO / "cloudbuild.yaml") -> dict:
    return yaml.safe_load(path.read_text())


def step_lines(step: dict) -> list[str]:
    """A step's commands, one per line (continuations joined), prefixed with its image.
    Without an entrypoint a builder runs its own program (gcr.io/cloud-builders/docker: docker)."""
    program = step.get("entrypoint") or step["name"].rsplit("/", 1)[-1].split(":")[0]
    text = " ".join([program, *(str(arg) for arg in step.get("args", []))])
    return [f"{step['name']}: {line.strip()}" for line in text.replace("\\\n", " ").splitlines() if line.strip()]


def node_version(image: str) -> tuple[int, int, int]:
    found = re.fullmatch(r"node:(\d+)\.(\d+)\.(\d+)(-[a-z]+)?", image)
    assert found, f"{image}: a node image pinned to major.minor.patch"
    return int(found[1]), int(found[2]), int(found[3])


def satisfies(version: tuple[int, int, int], spec: str) -> bool:
    """npm engines ranges of the forms the lock uses: `^a.b.c`, `>=a.b.c`, `a`, joined by ||."""
    for alternative in spec.split("||"):
        found = re.fullmatch(r"\s*(\^|>=)?\s*(\d+)(?:\.(\d+))?(?:\.(\d+))?\s*", alternative)
        assert found, spec
        low = (int(found[2]), int(found[3] or 0), int(found[4] or 0))
        if (found[1] == ">=" and version >= low) or (found[1] == "^" and version[0] == low[0] and version >= low) \
                or (found[1] is None and version[0] == low[0]):
            return True
    return False


def test_cloud_build_tests_on_a_node_the_lock_accepts():
    steps = {step["id"]: step for step in cloudbuild()["steps"]}
    lock = json.loads((REPO / "package-lock.json").read_text())["packages"]
    for step_id in ("test", "hosting"):
        version = node_version(steps[step_id]["name"])
        for package in ("vite", "rolldown"):  # npm run build:web
            spec = lock[f"node_modules/{package}"]["engines"]["node"]
            assert satisfies(version, spec), (step_id, version, package, spec)
    assert satisfies((20, 19, 0), "^20.19.0 || >=22.12.0") and not satisfies((18, 19, 0), "^20.19.0 || >=22.12.0")
    test = " ".join(step_lines(steps["test"]))
    assert "python3" in test and "make test" in test
    # Debian's nodejs package is Node 18: no step may install it over the image's.
    assert not any(re.search(r"apt-get install[^\n]*\bnodejs\b", line)
                   for step in cloudbuild()["steps"] for line in step_lines(step))


def test_cloud_build_images_are_pinned_by_version():
    for step in cloudbuild()["steps"]:
        image = step["name"]
        repository, _, tag = image.rpartition(":")
        assert repository and "/" not in tag, f"{step['id']}: {image} has no tag"
        assert tag != "latest" and re.match(r"\d+\.\d+", tag), f"{step['id']}: {image} is not pinned by a version"


def test_cloud_build_follows_the_deploy_order():
    document = cloudbuild()
    lines = [line for step in document["steps"] for line in step_lines(step)]
    assert_in_order(lines)
    first_plan = next(line for line in lines if re.search(MILESTONES[3][1], line))
    assert "targets.args" in first_plan and "pins.json" in first_plan
    second_plan = next(line for line in lines if re.search(MILESTONES[7][1], line))
    assert "pinned_sources" not in second_plan and "-target" not in second_plan
    assert any("target:apply hosting app" in line and "hosting-site" in line for line in lines)
    # Nothing changes unless the trigger says _APPLY=true.
    assert document["substitutions"]["_APPLY"] == "false"
    for step in document["steps"]:
        text = " ".join(step_lines(step))
        if re.search(r"terraform apply|jobs execute|firebase deploy|--smoke", text):
            assert re.search(r'if \[ "\$\{_APPLY\}" != true \]; then [^;]*;? *exit 0', text), step["id"]


def test_the_prod_plan_is_kept_for_its_approvers_and_applied_as_saved():
    document = cloudbuild()
    steps = {step["id"]: " ".join(step_lines(step)) for step in document["steps"]}
    assert "terraform show -no-color ../../build/plans/infra.tfplan | tee ../../build/plans/infra-plan.txt" \
        in steps["terraform-plan"]
    artifacts = document["artifacts"]["objects"]
    assert {"build/plans/*.tfplan", "build/plans/*-plan.txt"} <= set(artifacts["paths"])
    assert artifacts["location"].startswith("${_PLANS}") and "${SHORT_SHA}" in document["substitutions"]["_PLANS"]
    # The approval-gated trigger (_SAVED_PLAN=true) applies the plan its approvers read.
    assert document["substitutions"]["_SAVED_PLAN"] == "false"
    assert "gcloud storage cp ${_PLANS}/infra.tfplan build/plans/infra.tfplan" in steps["saved-plan"]
    plan_script = next(step for step in document["steps"] if step["id"] == "terraform-plan")["args"][-1]
    assert re.search(r'if \[ "\$\{_SAVED_PLAN\}" != true \]; then\s+terraform plan ', plan_script)
    assert "terraform apply -input=false ../../build/plans/infra.tfplan" in steps["terraform-apply"]
    assert ":latest" not in yaml.safe_dump(document)


# -- Hosting -----------------------------------------------------------------------------

def test_the_production_csp_trusts_no_loopback_origin():
    headers = json.loads((REPO / "firebase.json").read_text())["hosting"]["headers"]
    csp = [h["value"] for rule in headers for h in rule["headers"] if h["key"] == "Content-Security-Policy"]
    assert csp
    for value in csp:
        assert not re.search(r"127\.\d+\.\d+\.\d+|localhost|\[::1\]|0\.0\.0\.0", value), value
