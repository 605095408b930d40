"""Infrastructure as code, checked without a terraform binary: the HCL parses, follows
functions.yaml for every function, topic and schedule, grants nothing project-wide;
checkov passes (each skip with its reason); Cloud Build and firebase.json validate;
function bundles are byte-for-byte reproducible, carry only the library their function
imports, and import and run on their own."""
from __future__ import annotations

import json
import re
import subprocess
import zipfile
from functools import cache
from pathlib import Path

import hcl2
import pytest

from infra.manifest import REPO, glob_regex, load

TERRAFORM = REPO / "infra" / "terraform"
TOOLS = REPO / ".venv-tools" / "bin"


@cache
def terraform() -> dict[str, list[dict]]:
    """Every top-level block of every .tf file, by kind (resource, locals, variable, ...)."""
    merged: dict[str, list[dict]] = {}
    for path in sorted(TERRAFORM.glob("*.tf")):
        with path.open() as handle:
            for kind, blocks in hcl2.load(handle).items():
                merged.setdefault(kind, []).extend(blocks)
    return merged


def _unquote(label: str) -> str:
    return label.strip('"')


@cache
def resources() -> dict[tuple[str, str], dict]:
    found = {}
    for block in terraform().get("resource", []):
        for kind, named in block.items():
            for name, body in named.items():
                found[(_unquote(kind), _unquote(name))] = body
    return found


def _tool(name: str) -> Path:
    path = TOOLS / name
    assert path.exists(), f"{path} is missing: `make test` installs the infrastructure checkers (.venv-tools)"
    return path


def test_every_file_parses_and_holds_one_concern():
    names = {path.stem for path in TERRAFORM.glob("*.tf")}
    assert {"versions", "variables", "locals", "apis", "sql", "storage", "pubsub", "functions", "scheduler",
            "secrets", "hosting", "iam", "monitoring", "outputs", "migrations"} <= names
    assert resources()


def test_providers_are_pinned_and_state_is_remote():
    settings = terraform()["terraform"][0]
    providers = settings["required_providers"][0]
    for name in ("google", "google-beta"):
        assert re.fullmatch(r'"\d+\.\d+\.\d+"', providers[name]["version"]), name
    assert '"gcs"' in settings["backend"][0]
    for env in ("dev", "prod"):
        assert (TERRAFORM / "environments" / f"{env}.tfvars").exists()
        assert (TERRAFORM / "environments" / f"{env}.gcs.tfbackend").exists()


def test_the_topology_comes_from_functions_yaml():
    """Through its deployed configuration (infra/deployed/ENV.json, tests/unit/test_deployed_config.py)."""
    local_values = {k: v for block in terraform()["locals"] for k, v in block.items()}
    assert 'jsondecode(file("${path.module}/../deployed/${var.environment}.json"))' in local_values["deployed"]
    expect = {
        # resource -> the manifest set it must range over
        ("google_cloudfunctions2_function", "function"): "local.functions",
        ("google_service_account", "function"): "local.functions",
        ("google_storage_bucket_object", "bundle"): "local.functions",
        ("google_pubsub_subscription", "push"): "local.event_functions",
        ("google_pubsub_topic", "dead_letter"): "local.event_functions",
        ("google_pubsub_subscription", "dead_letter"): "local.event_functions",
        ("google_cloud_run_service_iam_member", "push_invoker"): "local.event_functions",
        ("google_cloud_run_service_iam_member", "public_invoker"): "local.http_functions",
        ("google_cloud_scheduler_job", "tick"): "local.scheduled",
        ("google_pubsub_topic", "topic"): "local.topics",
        ("google_secret_manager_secret", "secret"): "local.secrets",
        ("google_secret_manager_secret_iam_member", "accessor"): 'local.grants_on["secret"]',
        ("google_pubsub_topic_iam_member", "publisher"): 'local.grants_on["topic"]',
        ("google_storage_bucket_iam_member", "uploads_users"): 'local.grants_on["uploads_bucket"]',
        ("google_storage_bucket_iam_member", "media_writers"): 'local.grants_on["media_bucket"]',
        ("google_service_account_iam_member", "self_sign"): 'local.grants_on["own_service_account"]',
        ("google_project_iam_member", "firebase_auth"): 'local.grants_on["project"]',
        ("google_kms_crypto_key_iam_member", "operator"): 'local.grants_on["kms_key"]',
        ("google_project_iam_member", "firestore"): 'local.grants_on["firestore"]',
        ("google_project_iam_member", "sql"): "local.sql_grants",
    }
    for key, collection in expect.items():
        assert resources()[key]["for_each"] == f"${{{collection}}}", key
    # Nothing is written per function by hand: no resource names a manifest function.
    names = {f.name for f in load().functions}
    text = "\n".join(path.read_text() for path in TERRAFORM.glob("*.tf"))
    hand_written = [name for name in names if re.search(rf'"{re.escape(name)}"', text) and name != "media"]
    assert hand_written == [], hand_written


def test_event_functions_get_push_with_oidc_retries_and_a_dead_letter_topic():
    push = resources()[("google_pubsub_subscription", "push")]
    assert push["push_config"][0]["oidc_token"][0]["service_account_email"] == \
        "${google_service_account.push_invoker.email}"
    assert push["dead_letter_policy"][0]["dead_letter_topic"] == "${google_pubsub_topic.dead_letter[each.key].id}"
    assert push["retry_policy"]
    # The ack deadline outlives the function's timeout.
    assert "each.value.resources.timeout" in push["ack_deadline_seconds"]
    # Each function runs as its own account; the topics it may publish to are its manifest's.
    function = resources()[("google_cloudfunctions2_function", "function")]
    assert function["service_config"][0]["service_account_email"] == \
        "${google_service_account.function[each.key].email}"
    manifest = load()
    consumers = {f.topic for f in manifest.event_functions()}
    assert consumers <= set(manifest.topics())
    assert {f.dead_letter_topic for f in manifest.event_functions()} <= set(manifest.topics())


def test_no_function_account_holds_a_project_wide_role():
    """Except Firebase Auth's: its accounts are not IAM resources, so reading them (the
    revocation check) and deleting them (registration) can only be granted on the project; and
    Vertex AI's user role, for the same reason: Google's published models are no resource of
    the project to grant on (decision 0032)."""
    for (kind, name), body in resources().items():
        if kind in ("google_project_iam_member", "google_project_iam_binding", "google_project_iam_policy"):
            assert kind == "google_project_iam_member", f"{kind}.{name}: only conditional members"
            if name in ("firebase_auth", "vertex"):
                assert body["for_each"] == f'${{local.grants_on["{"project" if name == "firebase_auth" else name}"]}}'
                continue
            assert body.get("condition"), f"{kind}.{name} must be limited to one resource by a condition"
            assert "resource.name ==" in body["condition"][0]["expression"] or \
                "instance_condition" in body["condition"][0]["expression"], name


def test_project_wide_roles_are_only_firebase_auth_and_vertex_ai():
    from infra.deployed_config import CLOUD, deployed_config

    for environment in CLOUD:
        on_project = {r["role"] for f in deployed_config(environment).values() for r in f["roles"] if r["on"] == "project"}
        assert on_project == {"roles/firebaseauth.admin", "roles/firebaseauth.viewer"}
        vertex = {(name, r["role"]) for name, f in deployed_config(environment).items() for r in f["roles"]
                  if r["on"] == "vertex"}
        assert vertex == {("marketplace", "roles/aiplatform.user"), ("embeddings", "roles/aiplatform.user")}


def test_every_http_path_has_a_hosting_rewrite_and_back():
    rewrites = json.loads((REPO / "firebase.json").read_text())["hosting"]["rewrites"]
    routed = {(r["regex"], r["run"]["serviceId"]) for r in rewrites if "run" in r}
    assert routed == {(glob_regex(path), f.name) for f in load().http_functions() for path in f.http_paths}


def test_checkov_passes_and_every_skip_says_why():
    result = subprocess.run([str(_tool("checkov")), "--skip-download", "-d", str(TERRAFORM), "--framework", "terraform",
                             "--quiet", "--compact", "-o", "json"], capture_output=True, text=True, timeout=300)
    report = json.loads(result.stdout)
    summary = report["summary"]
    failures = [(c["check_id"], c["resource"]) for c in report["results"]["failed_checks"]]
    assert summary["failed"] == 0, failures
    assert summary["passed"] > 40
    skips = re.findall(r"#checkov:skip=(\w+):(.*)", "\n".join(p.read_text() for p in TERRAFORM.glob("*.tf")))
    assert skips and all(len(reason.strip()) >= 20 for _, reason in skips), skips


@pytest.mark.parametrize(("document", "schema"), [
    ("cloudbuild.yaml", ["--builtin-schema", "vendor.cloudbuild"]),
    ("firebase.json", ["--schemafile", str(REPO / "node_modules/firebase-tools/schema/firebase-config.json")]),
])
def test_delivery_documents_validate(document, schema):
    result = subprocess.run([str(_tool("check-jsonschema")), *schema, str(REPO / document)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


def test_hosting_sends_security_headers():
    headers = json.loads((REPO / "firebase.json").read_text())["hosting"]["headers"]
    everywhere = {h["key"] for rule in headers if rule["source"] == "**" for h in rule["headers"]}
    assert {"Content-Security-Policy", "Strict-Transport-Security", "X-Content-Type-Options",
            "Referrer-Policy"} <= everywhere
    # Caching of API answers is the functions' to decide, never forced for /api/**.
    assert not [rule for rule in headers if rule["source"].startswith("/api")]


def test_bundles_are_reproducible_and_complete(tmp_path):
    from infra.bundle import build

    function = load().by_name("marketplace")
    first, second = tmp_path / "a.zip", tmp_path / "b.zip"
    assert build(Path(function.source), first) == build(Path(function.source), second)
    assert first.read_bytes() == second.read_bytes()
    with zipfile.ZipFile(first) as archive:
        names = archive.namelist()
        assert names == sorted(names)
        assert {"main.py", "requirements.txt", "constraints.txt", "shared/__init__.py", "shared/market/__init__.py",
                "shared/market/search.py", "shared/errors.py"} <= set(names)
        assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc") or not n.startswith(("shared/", *n))]
        assert {info.date_time for info in archive.infolist()} == {(1980, 1, 1, 0, 0, 0)}
        # The function's own pins, then every transitive one from the repository's lock.
        requirements = archive.read("requirements.txt").decode().splitlines()
        own = (REPO / function.source / "requirements.txt").read_text().splitlines()
        assert requirements[:len(own)] == own
        assert [line for line in requirements[len(own):] if line and not line.startswith("#")] == ["-c constraints.txt"]
        assert archive.read("constraints.txt") == (REPO / "constraints.txt").read_bytes()


def _unpack(name: str, target: Path) -> Path:
    from infra.bundle import build

    archive = target / f"{name}.zip"
    build(Path(load().by_name(name).source), archive)
    with zipfile.ZipFile(archive) as bundle:
        bundle.extractall(target / name)
    return target / name


def test_a_bundle_carries_only_the_library_its_function_imports(tmp_path):
    """Computed from the imports: the media clean-up carries its storage and event modules,
    none of the graph, chain, market or HTTP ones, and no tool (decision 0020)."""
    library = _unpack("media-cleanup", tmp_path) / "shared"
    shipped = {p.relative_to(library).as_posix() for p in library.rglob("*.py")}
    assert {"media/cleanup.py", "media/storage.py", "events/consumer.py", "events/envelope.py"} <= shipped
    assert not {name for name in shipped if name.startswith(("graph/", "chain/", "market/", "http/", "identity/"))}
    assert not list((tmp_path / "media-cleanup").glob("infra*"))


def _import_alone(bundle: Path, python: str, then: str = "", **env: str) -> subprocess.CompletedProcess:
    """Import the bundle's main module with nothing of the repository on the path (-I:
    no PYTHONPATH, no current directory; only the bundle and the interpreter's packages)."""
    code = f"import sys; sys.path.insert(0, {str(bundle)!r}); import main\n{then}"
    return subprocess.run([python, "-I", "-c", code], cwd=bundle, capture_output=True, text=True, timeout=120,
                          env={"PATH": "/usr/bin:/bin", "HOME": str(bundle), **env})


@pytest.mark.parametrize("function", load().functions, ids=lambda f: f.name)
def test_each_bundle_imports_on_its_own(function, tmp_path):
    """Every library module a function reaches at import time is in its bundle."""
    import sys

    result = _import_alone(_unpack(function.name, tmp_path), sys.executable)
    assert result.returncode == 0, result.stderr


def test_a_bundle_installed_alone_runs(tmp_path):
    """The media clean-up's bundle in a venv of only its own requirements (at the bundle's
    constraints), as Cloud Build installs it: it imports, and a message that is no event
    envelope goes the poison path (logged as one, raised for the dead-letter topic) before
    any database or bucket is touched."""
    from infra.bundle import venv_for

    bundle = _unpack("media-cleanup", tmp_path)
    python = venv_for(bundle / "requirements.txt", bundle / "constraints.txt") / "python"
    event = ("from cloudevents.http import CloudEvent\n"
             "from shared.events.envelope import PoisonMessage\n"
             "data = {'message': {'data': 'bm90IGFuIGVudmVsb3Bl', 'messageId': '7'}}\n"
             "try:\n"
             "    main.handle(CloudEvent({'type': 'google.cloud.pubsub.topic.v1.messagePublished', 'source': 't'}, data))\n"
             "except PoisonMessage:\n"
             "    print('poison', 'sqlalchemy' in sys.modules)\n")
    result = _import_alone(bundle, str(python), event, GOOGLE_CLOUD_PROJECT="demo-kalakrut-test")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[-2:] == ["poison", "False"]
    assert '"poison"' in result.stdout and '"message_id": "7"' in result.stdout  # the structured log line
