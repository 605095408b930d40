"""Deploy one environment, first time or any later time, with one command and in the one
order that is safe:

  bootstrap  what Terraform itself needs (APIs, its state bucket, the image registry)
  build      the function bundles and the migration image, tagged with the commit
  infra      terraform plan -> show -> approval -> apply, every running function pinned to
             the code it runs now: everything changes except the functions' code
  secrets    values for the secret containers that apply created (never printed)
  migrate    the database owner role, then the migration job: the schema moves first...
  functions  ...then the functions' new code: new code never meets the old schema
  hosting    the web app, to the site Terraform made
  smoke      the site answers, and a throwaway account can read through it

    python -m infra.deploy --env dev|prod --project ID [--region R] [--version V]
        [--secrets-file F] [--dry-run] [--auto-approve [--allow-prod-auto-approve]] [--destroy]

Every step is a plain value (phase, argv) built by the functions below, so --dry-run prints
exactly what a real run executes and tests inspect it offline. docs/deploy.md explains it.
"""
from __future__ import annotations

import argparse
import getpass
import json
import re
import secrets
import shlex
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
TERRAFORM_DIR = REPO / "infra" / "terraform"
DEPLOYED = REPO / "infra" / "deployed"  # each function's deployed configuration, per environment
PLANS = "build/plans"  # gitignored with build/; also the Cloud Build artifacts
PLANS_FROM_TERRAFORM = f"../../{PLANS}"  # the same directory, seen from infra/terraform
REGISTRY = "kalakrut"  # Artifact Registry docker repository, created by bootstrap
HOSTING_TARGET = "app"  # firebase.json hosting "target"; .firebaserc maps it to the site
FIREBASE = "node_modules/.bin/firebase"  # the pinned firebase-tools of package-lock.json
IDENTITY_TOOLKIT = "https://identitytoolkit.googleapis.com/v1"

# What Terraform needs before it can run at all; it enables the rest itself (apis.tf).
BOOTSTRAP_APIS = (
    "cloudresourcemanager.googleapis.com",
    "serviceusage.googleapis.com",
    "cloudbuild.googleapis.com",
    "artifactregistry.googleapis.com",
    "secretmanager.googleapis.com",
    "iamcredentials.googleapis.com",
)

# When some functions must wait for the second apply (they run nothing yet to pin, or read a
# secret without a value), the first apply is limited to what the migration job needs and the
# secret containers, plus the running functions it pins. -target takes their dependencies along.
MIGRATION_TARGETS = (
    "google_secret_manager_secret.secret",
    "google_sql_user.iam",
    "google_project_iam_member.sql",
    "google_cloud_run_v2_job.migrate",
)

_DOCKER_TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")


class DeployError(RuntimeError):
    """A step failed: the deploy stops there (every step is safe to run again)."""


def output(name: str) -> str:
    """A Terraform output's value inside a command: read when the step before it ran,
    shown as this placeholder by --dry-run."""
    return f"<terraform output {name}>"


@dataclass(frozen=True)
class Deployment:
    env: str
    project: str
    region: str
    version: str

    @property
    def image(self) -> str:
        return f"{self.region}-docker.pkg.dev/{self.project}/{REGISTRY}/migrate:{self.version}"

    @property
    def state_bucket(self) -> str:
        return f"gs://{self.project}-tfstate"

    @property
    def site_url(self) -> str:
        return f"https://{output('hosting_site')}.web.app"


# -- steps -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Command:
    """One program run from the repository root."""

    phase: str
    argv: tuple[str, ...]
    unless: tuple[str, ...] = ()  # skip when this check succeeds: bootstrap is idempotent
    capture: str | None = None  # keep stdout as this output's value
    optional: bool = False  # a failing capture means "none yet" (a first deploy)
    secret: str | None = None  # stdin is this secret's value, which no argv ever holds
    save: str | None = None  # also keep stdout in this file (the plan's text)

    def describe(self) -> str:
        text = shlex.join(self.argv)
        if self.unless:
            text = f"{shlex.join(self.unless)} || {text}"
        if self.secret:
            text += f" < (value of {self.secret})"
        if self.save:
            text += f" | tee {self.save}"
        return text


@dataclass(frozen=True)
class Approval:
    """A person says yes to a saved plan they were just shown."""

    phase: str
    plan: str

    def describe(self) -> str:
        return f"approve {self.plan} (asks, unless --auto-approve)"


@dataclass(frozen=True)
class Smoke:
    """The deployed site answers, through Hosting's rewrites, with a signed-in caller."""

    phase: str
    site_url: str

    def describe(self) -> str:
        return (f"GET {self.site_url}/api/config (200, JSON) and /api/openapi.json (200, 'openapi'); "
                "accounts:signUp a throwaway account, GET /api/me with its ID token (200 or 403 "
                "registration-required), accounts:delete it")


@dataclass(frozen=True)
class Note:
    """Something a person must know at this point (printed, never run)."""

    phase: str
    text: str

    def describe(self) -> str:
        return f"# {self.text}"


Step = Command | Approval | Smoke | Note


def terraform(*args: str) -> tuple[str, ...]:
    return ("terraform", f"-chdir={TERRAFORM_DIR.relative_to(REPO)}", *args)


def gcloud(d: Deployment, *args: str) -> tuple[str, ...]:
    return ("gcloud", *args, f"--project={d.project}")


def plan_path(name: str) -> str:
    return f"{PLANS_FROM_TERRAFORM}/{name}.tfplan"


def bootstrap(d: Deployment) -> list[Step]:
    """Once per environment, harmless again: what must exist before `terraform init`."""
    bucket, repository = d.state_bucket, ("artifacts", "repositories")
    return [
        Command("bootstrap", gcloud(d, "services", "enable", *BOOTSTRAP_APIS)),
        Command("bootstrap", gcloud(d, "storage", "buckets", "create", bucket, f"--location={d.region}",
                                    "--uniform-bucket-level-access", "--public-access-prevention"),
                unless=gcloud(d, "storage", "buckets", "describe", bucket, "--format=value(name)")),
        # Versioned: a bad state write can be undone from a previous generation.
        Command("bootstrap", gcloud(d, "storage", "buckets", "update", bucket, "--versioning")),
        Command("bootstrap", gcloud(d, *repository, "create", REGISTRY, "--repository-format=docker",
                                    f"--location={d.region}"),
                unless=gcloud(d, *repository, "describe", REGISTRY, f"--location={d.region}", "--format=value(name)")),
    ]


def build(d: Deployment) -> list[Step]:
    """The artifacts of this commit: one bundle per function, the migration image."""
    registry = d.image.split("/", 1)[0]
    return [
        Command("build", (sys.executable, "-m", "infra.bundle", "--out", "build/bundles")),
        Command("build", ("gcloud", "auth", "configure-docker", registry, "--quiet")),
        # Cloud Run runs linux/amd64 whatever machine builds the image.
        Command("build", ("docker", "build", "--platform=linux/amd64", "-f", "infra/migrate.Dockerfile",
                          "-t", d.image, ".")),
        Command("build", ("docker", "push", d.image)),
    ]


def function_secrets(env: str) -> dict[str, tuple[str, ...]]:
    """Function -> the secrets it reads in ``env``: what Terraform reads too
    (infra/deployed/ENV.json, from functions.yaml by infra.deployed_config; locals.tf)."""
    deployed = json.loads((DEPLOYED / f"{env}.json").read_text())
    return {name: tuple(function.get("secrets", ())) for name, function in deployed["functions"].items()}


def secret_names(env: str) -> list[str]:
    """The secrets Terraform declares (secrets.tf): every one some function reads."""
    return sorted({name for needs in function_secrets(env).values() for name in needs})


def has_value(d: Deployment, name: str) -> tuple[str, ...]:
    """Succeeds when the secret exists and has a version functions can read."""
    return gcloud(d, "secrets", "versions", "describe", "latest", f"--secret={name}", "--format=value(name)")


def init(d: Deployment) -> list[Step]:
    """Terraform's backend, then what the first plan depends on: the bundle each running
    function runs (none on a first deploy) and which secrets have a value."""
    return [
        # -reconfigure: the other environment's backend must never be migrated into this one.
        Command("infra", terraform("init", "-input=false", "-reconfigure",
                                   f"-backend-config=environments/{d.env}.gcs.tfbackend")),
        Command("infra", terraform("output", "-json", "function_sources"), capture="function_sources", optional=True),
        *(Command("infra", has_value(d, name), capture=f"secret:{name}", optional=True) for name in secret_names(d.env)),
    ]


def held_back(functions: Mapping[str, Sequence[str]], running: Mapping[str, str], ready: Iterable[str]) -> list[str]:
    """Functions the first apply leaves to the second: nothing runs them yet, so there is no
    old code to pin (they would start on the old schema), or they read a secret that has no
    value yet (its version cannot be read, Cloud Run could not start them)."""
    ready = set(ready)
    return sorted(name for name, needs in functions.items() if name not in running or not set(needs) <= ready)


def targets(functions: Mapping[str, Sequence[str]], running: Mapping[str, str], ready: Iterable[str]) -> list[str]:
    """-target arguments of the first plan: none when every function can be pinned. Else what
    the migration job needs, the secret containers, and the running functions pinned, unless
    a secret still lacks its value: every function reads the secrets' current versions
    (secrets.tf), so then no function is part of the first apply."""
    waiting = held_back(functions, running, ready)
    if not waiting:
        return []
    all_set = {name for needs in functions.values() for name in needs} <= set(ready)
    pinned = [f'google_cloudfunctions2_function.function["{name}"]' for name in sorted(running)
              if all_set and name in functions and name not in waiting]
    return [f"-target={address}" for address in (*MIGRATION_TARGETS, *pinned)]


def variables(d: Deployment) -> list[str]:
    return ["-input=false", f"-var-file=environments/{d.env}.tfvars", f"-var=migration_image={d.image}"]


def plan_show_apply(phase: str, name: str, arguments: Sequence[str]) -> list[Step]:
    """A saved plan, its text shown and kept next to it, a yes, and the apply of exactly that plan."""
    plan = plan_path(name)
    return [
        Command(phase, terraform("plan", *arguments, f"-out={plan}")),
        Command(phase, terraform("show", "-no-color", plan), save=f"{PLANS}/{name}-plan.txt"),
        Approval(phase, plan),
        Command(phase, terraform("apply", "-input=false", plan)),
    ]


def infra(d: Deployment, running: Mapping[str, str] | None, ready: Iterable[str] | None) -> list[Step]:
    """Everything but the functions' new code. ``running`` None: not read yet (--dry-run)."""
    if running is None or ready is None:
        pins, limit = output("function_sources"), []
        note = [Note("infra", "functions not running yet (all, on a first deploy) or reading a secret without a "
                              "value wait for the second apply: then this plan adds -target=" +
                              " -target=".join(MIGRATION_TARGETS) + " (and, once every secret has a value, "
                              "one per running function)")]
    else:
        pins, note = json.dumps(dict(running), sort_keys=True), []
        limit = targets(function_secrets(d.env), running, ready)
    return [*note, *plan_show_apply("infra", "infra", [*variables(d), f"-var=pinned_sources={pins}", *limit])]


def secret_values(d: Deployment) -> list[Step]:
    """After the first apply, because the containers are Terraform's (secrets.tf: values stay
    out of its state): each one without a value gets one, on stdin."""
    return [Command("secrets", gcloud(d, "secrets", "versions", "add", name, "--data-file=-"),
                    unless=has_value(d, name), secret=name) for name in secret_names(d.env)]


def migrate(d: Deployment) -> list[Step]:
    """The schema moves while the old code still runs (migrations are backward compatible for a release)."""
    return [
        # The migration job's IAM database user creates tables: it needs the database owner's
        # role (cloudsqlsuperuser). Adding a role it holds changes nothing. Names: iam.tf
        # (account db-migrator) and sql.tf (instance kalakrut-ENV).
        Command("migrate", gcloud(d, "sql", "users", "assign-roles", f"db-migrator@{d.project}.iam",
                                  f"--instance=kalakrut-{d.env}", "--type=CLOUD_IAM_SERVICE_ACCOUNT",
                                  "--database-roles=cloudsqlsuperuser")),
        Command("migrate", terraform("output", "-raw", "migration_job"), capture="migration_job"),
        Command("migrate", gcloud(d, "run", "jobs", "execute", output("migration_job"), f"--region={d.region}",
                                  "--wait")),
    ]


def function_revisions(d: Deployment) -> list[Step]:
    """The functions' new code, and whatever the first apply held back: nothing pinned."""
    return plan_show_apply("functions", "functions", variables(d))


def hosting(d: Deployment) -> list[Step]:
    """The web app, to the site Terraform made (never the project's default site)."""
    firebase_project = f"--project={d.project}"
    return [
        Command("hosting", ("npm", "run", "build:web")),
        Command("hosting", terraform("output", "-raw", "hosting_site"), capture="hosting_site"),
        # Idempotent: .firebaserc already names the site of each committed environment.
        Command("hosting", (FIREBASE, "target:apply", "hosting", HOSTING_TARGET, output("hosting_site"),
                            firebase_project)),
        Command("hosting", (FIREBASE, "deploy", "--only", f"hosting:{HOSTING_TARGET}", firebase_project,
                            "--non-interactive")),
    ]


def head(d: Deployment) -> list[Step]:
    """Up to the readings the first plan depends on."""
    return [*bootstrap(d), *build(d), *init(d)]


def tail(d: Deployment, running: Mapping[str, str] | None, ready: Iterable[str] | None) -> list[Step]:
    return [*infra(d, running, ready), *secret_values(d), *migrate(d), *function_revisions(d), *hosting(d),
            Smoke("smoke", d.site_url)]


def deploy_steps(d: Deployment, running: Mapping[str, str] | None = None,
                 ready: Iterable[str] | None = None) -> list[Step]:
    """The whole deploy, in order (``running``/``ready`` None: as --dry-run shows it)."""
    return [*head(d), *tail(d, running, ready)]


def destroy_steps(d: Deployment, auto_approve: bool = False) -> list[Step]:
    """Everything Terraform made, after its guards are lifted by hand; bootstrap's part stays."""
    guards = "google_sql_database_instance.main (sql.tf)"
    if d.env == "prod":
        guards += " and google_cloud_run_v2_job.migrate (migrations.tf)"
    return [
        Note("destroy", f"first set deletion_protection = false on {guards} and run a deploy (or terraform apply): "
                        "Terraform refuses to delete them otherwise"),
        Note("destroy", f"buckets are not force_destroy: empty gs://{d.project}-{d.env}-uploads, -media, "
                        "-function-sources and -access-logs first (gcloud storage rm --recursive 'gs://BUCKET/**')"),
        Command("destroy", terraform("init", "-input=false", "-reconfigure",
                                     f"-backend-config=environments/{d.env}.gcs.tfbackend")),
        # terraform shows what it will delete and asks for "yes" itself (no -input=false here).
        Command("destroy", terraform("destroy", f"-var-file=environments/{d.env}.tfvars",
                                     f"-var=migration_image={d.image}", *(["-auto-approve"] if auto_approve else []))),
        Note("destroy", f"kept: the state bucket {d.state_bucket} and the registry {REGISTRY} (bootstrap's, not "
                        "Terraform's); delete them by hand to remove everything"),
    ]


# -- reading what a step printed ---------------------------------------------------------

def running_functions(raw: str | None) -> dict[str, str]:
    """`terraform output -json function_sources`; an error or no output means none runs yet."""
    if not raw:
        return {}
    try:
        value = json.loads(raw)
    except ValueError:
        return {}
    if not isinstance(value, dict):
        return {}
    return {str(k): str(v) for k, v in value.items() if isinstance(v, str)}


def readings(env: str, outputs: Mapping[str, str | None]) -> tuple[dict[str, str], set[str]] | tuple[None, None]:
    """What init's reads returned; (None, None) when they did not run (--dry-run)."""
    if "function_sources" not in outputs:
        return None, None
    ready = {name for name in secret_names(env) if outputs.get(f"secret:{name}") is not None}
    return running_functions(outputs["function_sources"]), ready


# -- the smoke check ---------------------------------------------------------------------

class SmokeFailed(DeployError):
    pass


def _request(url: str, *, body: dict | None = None, headers: Mapping[str, str] | None = None,
             attempts: int = 1, timeout: float = 30) -> tuple[int, bytes, str]:
    """(status, body, content type); retried on connection errors and 5xx (a cold start)."""
    data = json.dumps(body).encode() if body is not None else None
    request_headers = {"Accept": "application/json", **(headers or {})}
    if data is not None:
        request_headers["Content-Type"] = "application/json"
    for attempt in range(attempts):
        request = urllib.request.Request(url, data=data, headers=request_headers)
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return response.status, response.read(), response.headers.get("Content-Type", "")
        except urllib.error.HTTPError as error:
            if error.code < 500 or attempt == attempts - 1:
                return error.code, error.read(), error.headers.get("Content-Type", "")
        except OSError as error:  # refused, reset, timed out, name not resolved
            if attempt == attempts - 1:
                raise SmokeFailed(f"{url.split('?')[0]}: {error}") from None
        time.sleep(min(2 ** attempt, 10))
    raise AssertionError("unreachable")


def _json(url: str, status: int, raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        raise SmokeFailed(f"{url.split('?')[0]}: {status}, not JSON") from None


def smoke_check(site_url: str, identity_url: str = IDENTITY_TOOLKIT, attempts: int = 5) -> None:
    """GET /api/config and /api/openapi.json, then one signed-in read with a throwaway
    account (email/password, as the web app signs in), deleted whatever happens."""
    url = f"{site_url}/api/config"
    status, raw, _ = _request(url, attempts=attempts)
    config = _json(url, status, raw)
    if status != 200:
        raise SmokeFailed(f"{url}: {status}")
    api_key = config.get("firebase", {}).get("api_key")
    if not api_key:
        raise SmokeFailed(f"{url}: no firebase.api_key")
    url = f"{site_url}/api/openapi.json"
    status, raw, _ = _request(url, attempts=attempts)
    if status != 200 or "openapi" not in _json(url, status, raw):
        raise SmokeFailed(f"{url}: {status}, no 'openapi'")
    # The key is the web app's public one; Referer in case it is restricted to the site.
    key, referer = f"?key={api_key}", {"Referer": f"{site_url}/"}
    email = f"deploy-smoke-{secrets.token_hex(6)}@example.com"
    url = f"{identity_url}/accounts:signUp"
    status, raw, _ = _request(url + key, headers=referer, body={
        "email": email, "password": secrets.token_urlsafe(24), "returnSecureToken": True})
    account = _json(url, status, raw)
    if status != 200 or "idToken" not in account:
        raise SmokeFailed(f"{url}: {status} {account.get('error', {}).get('message', '')}")
    try:
        url = f"{site_url}/api/me"
        read, raw, _ = _request(url, headers={"Authorization": f"Bearer {account['idToken']}"}, attempts=attempts)
        me = _json(url, read, raw)
        # A new account has no profile yet: the API says so with 403 registration-required.
        if not (read == 200 or (read == 403 and me.get("code") == "registration-required")):
            raise SmokeFailed(f"{url}: {read} {me.get('code', '')}")
    finally:
        status, raw, _ = _request(f"{identity_url}/accounts:delete{key}", headers=referer,
                                  body={"idToken": account["idToken"]})
        if status != 200:
            raise SmokeFailed(f"accounts:delete of {email}: {status}; delete it by hand")
    print(f"smoke: {site_url} answers; a signed-in read works ({read})")


# -- running the steps -------------------------------------------------------------------

class Runner:
    """Prints each step as `phase: command`; unless dry, runs it, stopping at the first failure."""

    def __init__(self, *, dry_run: bool, auto_approve: bool, project: str, env: str,
                 secret_value: Callable[[str], str], run: Callable[..., subprocess.CompletedProcess] | None = None,
                 ask: Callable[[str], str] | None = None, smoke: Callable[[str], None] | None = None,
                 root: Path = REPO) -> None:
        self.dry_run, self.auto_approve, self.project, self.env = dry_run, auto_approve, project, env
        self.secret_value, self.root = secret_value, root
        self._run, self._ask, self._smoke = run or subprocess.run, ask or input, smoke or smoke_check
        self.outputs: dict[str, str | None] = {}

    def fill(self, text: str) -> str:
        for name, value in self.outputs.items():
            if value is not None:
                text = text.replace(output(name), value)
        if not self.dry_run and "<terraform output " in text:
            raise DeployError(f"not read yet: {text}")
        return text

    def run(self, steps: Iterable[Step]) -> None:
        for step in steps:
            match step:
                case Command():
                    step = replace(step, argv=tuple(map(self.fill, step.argv)))
                case Smoke():
                    step = replace(step, site_url=self.fill(step.site_url))
            print(f"{step.phase}: {step.describe()}", flush=True)
            if self.dry_run:
                continue
            match step:
                case Command():
                    self._command(step)
                case Approval():
                    self._approve(step)
                case Smoke():
                    self._smoke(step.site_url)

    def _command(self, step: Command) -> None:
        if step.unless and self._call(step.unless, quiet=True).returncode == 0:
            print("  (already there)", flush=True)
            return
        stdin = self.secret_value(step.secret) if step.secret else None
        keep = bool(step.capture or step.save)
        done = self._call(step.argv, stdin=stdin, keep=keep, quiet=step.optional)
        if done.returncode != 0:
            if step.optional and step.capture:
                self.outputs[step.capture] = None
                return
            raise DeployError(f"{step.phase}: `{shlex.join(step.argv[:3])} ...` failed (exit {done.returncode})")
        if step.capture:
            self.outputs[step.capture] = done.stdout.strip()
        if step.save:
            path = self.root / step.save
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(done.stdout)
            print(done.stdout, flush=True)

    def _call(self, argv: Sequence[str], *, stdin: str | None = None, keep: bool = False,
              quiet: bool = False) -> subprocess.CompletedProcess:
        try:
            return self._run(list(argv), cwd=self.root, input=stdin, text=True,
                             stdout=subprocess.PIPE if keep or quiet else None,
                             stderr=subprocess.DEVNULL if quiet else None)
        except FileNotFoundError:
            raise DeployError(f"{argv[0]} is not installed (docs/deploy.md, prerequisites)") from None

    def _approve(self, step: Approval) -> None:
        if self.auto_approve:
            print("  (auto-approved)", flush=True)
            return
        # prod asks for the project's name, not a reflexive "yes".
        expected = self.project if self.env == "prod" else "yes"
        try:
            answer = self._ask(f"Apply {step.plan} to {self.project}? Type {expected!r} to go on: ")
        except EOFError:
            answer = ""
        if answer.strip() != expected:
            raise DeployError(f"{step.phase}: not approved; nothing of {step.plan} was applied")


# -- the command line --------------------------------------------------------------------

def tfvars_value(path: Path, key: str) -> str | None:
    found = re.search(rf'^\s*{re.escape(key)}\s*=\s*"([^"]*)"', path.read_text(), re.MULTILINE)
    return found.group(1) if found else None


def check_environment(env: str, project: str, region: str | None) -> str:
    """--project must be the project the environment's files name (else Terraform would
    deploy elsewhere than bootstrap prepared); returns the region they name."""
    tfvars = TERRAFORM_DIR / "environments" / f"{env}.tfvars"
    backend = TERRAFORM_DIR / "environments" / f"{env}.gcs.tfbackend"
    named, bucket = tfvars_value(tfvars, "project_id"), tfvars_value(backend, "bucket")
    if named != project or bucket != f"{project}-tfstate":
        raise DeployError(f"{tfvars.relative_to(REPO)} names project {named!r} and {backend.relative_to(REPO)} bucket "
                          f"{bucket!r}: set them to {project!r} and {project + '-tfstate'!r} first")
    configured = tfvars_value(tfvars, "region") or "europe-west1"
    if region and region != configured:
        raise DeployError(f"--region {region} but {tfvars.relative_to(REPO)} says {configured}")
    return configured


def check_version(version: str) -> str:
    if version == "latest" or not _DOCKER_TAG.fullmatch(version):
        raise DeployError(f"--version {version!r}: a docker tag naming this build, never 'latest'")
    return version


def commit_version(destroy: bool) -> str:
    """The git short SHA: the image tag says which commit it was built from."""
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True, check=True).stdout.strip()

    try:
        sha = git("rev-parse", "--short", "HEAD")
        dirty = git("status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.CalledProcessError):
        raise DeployError("no git commit to tag the build with: pass --version") from None
    if dirty and not destroy:
        raise DeployError("uncommitted changes: the image tag would not say what it holds; commit, or pass --version")
    return sha


def read_secrets_file(path: Path | None, env: str) -> dict[str, str]:
    if path is None:
        return {}
    try:
        values = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise DeployError(f"{path}: {error}") from None
    if not isinstance(values, dict) or not all(isinstance(v, str) for v in values.values()):
        raise DeployError(f"{path}: a JSON object of secret name -> string value")
    unknown = sorted(set(values) - set(secret_names(env)))
    if unknown:
        raise DeployError(f"{path}: not secrets of the {env} functions: {', '.join(unknown)}")
    return values


def secret_source(values: Mapping[str, str]) -> Callable[[str], str]:
    def value(name: str) -> str:
        text = values.get(name) or getpass.getpass(f"Value of secret {name} (not shown): ")
        if not text:
            raise DeployError(f"secret {name}: no value given")
        return text
    return value


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m infra.deploy", description=__doc__.split("\n\n    python -m")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--env", choices=("dev", "prod"), required=True)
    p.add_argument("--project", required=True, help="must be the project environments/<env>.tfvars names")
    p.add_argument("--region", help="default: the environment's tfvars")
    p.add_argument("--version", help="migration image tag (default: the git short SHA; never 'latest')")
    p.add_argument("--secrets-file", type=Path, help="JSON object secret name -> value (else asked, hidden)")
    p.add_argument("--dry-run", action="store_true", help="print every command in order, run nothing")
    p.add_argument("--auto-approve", action="store_true", help="apply the saved plans without asking (dev)")
    p.add_argument("--allow-prod-auto-approve", action="store_true",
                   help="the explicit override that lets --auto-approve apply to prod")
    p.add_argument("--destroy", action="store_true", help="tear the environment down (terraform destroy)")
    ci = p.add_argument_group("Cloud Build (cloudbuild.yaml)")
    ci.add_argument("--plan-inputs", type=Path, metavar="DIR",
                    help="from DIR/function-sources.json write DIR/pins.json and DIR/targets.args, then stop")
    ci.add_argument("--smoke", metavar="SITE", help="only the smoke check against https://SITE.web.app")
    return p


def write_plan_inputs(env: str, directory: Path) -> None:
    """The first plan's pins and targets for Cloud Build, which cannot ask for secret values:
    secrets count as set there (a change adding one is deployed with this script)."""
    source = directory / "function-sources.json"
    running = running_functions(source.read_text() if source.exists() else None)
    (directory / "pins.json").write_text(json.dumps(running, sort_keys=True, separators=(",", ":")))
    limit = targets(function_secrets(env), running, secret_names(env))
    (directory / "targets.args").write_text("".join(f"{arg}\n" for arg in limit))
    print(f"pinned {len(running)} running functions; {'targets: ' + str(len(limit)) if limit else 'no targets'}")


def deploy(d: Deployment, runner: Runner) -> None:
    """Up to the readings, then the rest as they decide it (a dry run reads nothing)."""
    runner.run(head(d))
    running, ready = readings(d.env, runner.outputs)
    runner.run(tail(d, running, ready))


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        if args.plan_inputs:
            write_plan_inputs(args.env, args.plan_inputs)
            return 0
        if args.smoke:
            smoke_check(f"https://{args.smoke}.web.app")
            return 0
        if args.allow_prod_auto_approve and not args.auto_approve:
            raise DeployError("--allow-prod-auto-approve only goes with --auto-approve")
        if args.env == "prod" and args.auto_approve and not args.allow_prod_auto_approve:
            raise DeployError("prod applies only what a person approved: drop --auto-approve, "
                              "or add --allow-prod-auto-approve if that person is you, now")
        region = check_environment(args.env, args.project, args.region)
        if args.version:
            version = check_version(args.version)
        else:
            version = "<git short sha>" if args.dry_run else commit_version(args.destroy)
        d = Deployment(args.env, args.project, region, version)
        values = read_secrets_file(args.secrets_file, args.env)
        runner = Runner(dry_run=args.dry_run, auto_approve=args.auto_approve, project=args.project, env=args.env,
                        secret_value=secret_source(values))
        if not args.dry_run:
            tools = ("terraform",) if args.destroy else ("gcloud", "terraform", "docker", "npm")
            missing = [tool for tool in tools if shutil.which(tool) is None]
            if not args.destroy and not (REPO / FIREBASE).exists():
                missing.append(f"{FIREBASE} (make install)")
            if missing:
                raise DeployError(f"missing {', '.join(missing)}: see docs/deploy.md, prerequisites")
            (REPO / PLANS).mkdir(parents=True, exist_ok=True)
        if args.destroy:
            runner.run(destroy_steps(d, args.auto_approve))
            return 0
        deploy(d, runner)
    except DeployError as error:
        print(f"deploy: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("deploy: interrupted; every step is safe to run again", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
