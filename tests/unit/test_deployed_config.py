"""One source of each function's deployed configuration (functions.yaml, printed by
``python -m infra.deployed_config ENV``), and proof that it gives every function every
setting its code reads, in every environment (decision 0021)."""
from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
from functools import cache
from pathlib import Path

import hcl2
import pytest

from infra.bundle import library_modules
from infra.deployed_config import CLOUD, ENVIRONMENTS, OUTPUT, ConfigGap, deployed_config, render, terraform_input
from infra.manifest import REPO, Manifest, load
from shared.config import Settings

TERRAFORM = REPO / "infra" / "terraform"
# Client libraries read these from the environment themselves.
LIBRARY_READS = {"google.cloud.pubsub_v1": "PUBSUB_EMULATOR_HOST", "google.cloud.storage": "STORAGE_EMULATOR_HOST"}


def _is_settings(node: ast.expr) -> bool:
    return (isinstance(node, ast.Name) and node.id.endswith("settings")) or (
        isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "get_settings")


def _environ_key(node: ast.AST) -> str | None:
    """``os.environ.get("X")``, ``os.environ["X"]``, ``os.getenv("X")`` -> "X"."""
    if isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
        func = node.func
        if isinstance(func, ast.Attribute) and (
                (func.attr == "get" and isinstance(func.value, ast.Attribute) and func.value.attr == "environ")
                or func.attr == "getenv"):
            return node.args[0].value
    if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Attribute) and node.value.attr == "environ" \
            and isinstance(node.slice, ast.Constant):
        return node.slice.value
    return None


def reads(path: Path) -> set[str]:
    """The environment variables a module reads: Settings fields it touches (attributes of a
    settings object, names given to ``settings.require``), os.environ keys, and what the
    client libraries it imports read themselves."""
    fields = Settings.model_fields
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Attribute) and node.attr in fields and _is_settings(node.value):
            found.add(node.attr.upper())
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "require" \
                and _is_settings(node.func.value):
            found |= {arg.value.upper() for arg in node.args if isinstance(arg, ast.Constant)}
        elif (key := _environ_key(node)) is not None:
            found.add(key)
        elif isinstance(node, ast.ImportFrom | ast.Import):
            modules = [node.module or ""] if isinstance(node, ast.ImportFrom) else [a.name for a in node.names]
            modules += [f"{node.module}.{a.name}" for a in node.names] if isinstance(node, ast.ImportFrom) else []
            found |= {name for module, name in LIBRARY_READS.items() if module in modules}
    return found


@cache
def function_reads(name: str) -> dict[str, set[str]]:
    """Setting -> the modules of the function's bundle that read it (config.py defines them)."""
    function = load().by_name(name)
    # Settings without a default are read by every function: it cannot start without them.
    found = {field.upper(): {"shared/config.py"} for field, info in Settings.model_fields.items() if info.is_required()}
    for path in [function.main, *library_modules(function.main)]:
        if path.name == "config.py" and path.parent.name == "shared":
            continue
        for setting in reads(path):
            found.setdefault(setting, set()).add(path.relative_to(REPO).as_posix())
    return found


def test_discovery_finds_what_a_module_reads(tmp_path):
    module = tmp_path / "m.py"
    module.write_text("import os\nfrom google.cloud import storage\n"
                      "def f(settings):\n    settings.require('uploads_bucket')\n    return settings.graph_url\n"
                      "def g():\n    return get_settings().log_level, os.environ.get('K_SERVICE')\n")
    assert reads(module) == {"UPLOADS_BUCKET", "GRAPH_URL", "LOG_LEVEL", "K_SERVICE", "STORAGE_EMULATOR_HOST"}


@pytest.mark.parametrize("environment", ENVIRONMENTS)
@pytest.mark.parametrize("function", [f.name for f in load().functions])
def test_every_setting_a_function_reads_is_given_to_it(function, environment):
    """Given a value, or not given there with a reason, or defaulted everywhere with one."""
    manifest = load()
    config = deployed_config(environment)[function]
    defaulted = {name for name, entry in manifest.settings.items() if "default" in entry}
    accounted = set(config["env"]) | set(config["omitted"]) | defaulted
    missing = {name: sorted(where) for name, where in function_reads(function).items() if name not in accounted}
    assert missing == {}, f"{function} reads settings it is not given in {environment}"
    assert all(config["omitted"].values()), "every omitted setting says why"


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_no_function_is_given_what_its_code_never_reads(environment):
    for function in load().functions:
        given = set(deployed_config(environment)[function.name]["env"])
        unread = sorted(given - set(function_reads(function.name)))
        assert unread == [], f"{function.name} is given {unread} and never reads them"


@pytest.mark.parametrize("environment", CLOUD)
def test_the_cloud_gets_what_was_missing(environment):
    """The gaps of the first cloud configuration, each named (issue 20, rows 1-3)."""
    printed = json.loads(subprocess.run([sys.executable, "-m", "infra.deployed_config", environment], cwd=REPO,
                                        capture_output=True, text=True, check=True).stdout)
    for name, function in printed.items():
        assert {"env", "secrets", "roles", "trigger"} <= set(function)
        if function["database"]:
            assert function["env"]["DB_PRIVATE_IP"] == {"from": "value", "ref": "false"}, name
        if "http" in function["trigger"]:
            assert function["env"]["TRUSTED_PROXIES"] == {"from": "tfvar", "ref": "TRUSTED_PROXIES"}, name
            assert function["env"]["DB_STATEMENT_TIMEOUT_MS"]["from"] == "value", name
            assert {"RATE_LIMIT_PER_SECOND", "RATE_LIMIT_BURST"} <= set(function["env"]), name
    for name in ("network", "graph-etl", "graph-reconcile"):
        assert printed[name]["env"]["GRAPH_URL"] == {"from": "tfvar", "ref": "GRAPH_URL"}
    assert printed["registration"]["env"]["FUNDING_CONTRACT"] == {"from": "tfvar", "ref": "FUNDING_CONTRACT"}


def test_a_setting_without_a_source_is_refused():
    manifest = load()
    broken = Manifest(manifest.functions, manifest.static_rewrites, manifest.groups,
                      {**manifest.settings, "GRAPH_URL": {"local": {"stack": "graph_url"}}})
    with pytest.raises(ConfigGap, match="GRAPH_URL: no source for dev"):
        deployed_config("dev", broken)


@cache
def _tfvars(environment: str) -> dict:
    with (TERRAFORM / "environments" / f"{environment}.tfvars").open() as handle:
        return hcl2.load(handle)


@pytest.mark.parametrize("environment", CLOUD)
def test_every_cloud_source_exists(environment):
    """A tfvar source is set in the environment's tfvars; a resource source is a value
    Terraform makes (locals.tf resource_values, or the function's own database user)."""
    function_env = _tfvars(environment)["function_env"]
    text = (TERRAFORM / "locals.tf").read_text()
    made = set(re.findall(r"^\s+(\w+)\s+=", text[text.index("resource_values"):text.index("}", text.index("resource_values"))],
                          re.M))
    for name, function in deployed_config(environment).items():
        for setting, src in function["env"].items():
            if src["from"] == "tfvar":
                assert function_env.get(src["ref"]), f"{name}: {setting} needs function_env.{src['ref']} in {environment}.tfvars"
            elif src["from"] == "resource":
                assert src["ref"] in made | {"db_iam_user"}, f"{name}: {setting} from unknown resource {src['ref']}"


@pytest.mark.parametrize("environment", CLOUD)
def test_terraform_reads_the_committed_configuration(environment):
    """Terraform takes each function from infra/deployed/ENV.json, and that file is what
    functions.yaml says today (refresh: python -m infra.deployed_config --write)."""
    assert (OUTPUT / f"{environment}.json").read_text() == render(terraform_input(environment))
    locals_tf = (TERRAFORM / "locals.tf").read_text()
    assert 'jsondecode(file("${path.module}/../deployed/${var.environment}.json"))' in locals_tf
    # Terraform names no setting itself: every name and source comes from the file.
    settings = set(load().settings)
    for path in TERRAFORM.glob("*.tf"):
        named = sorted(name for name in settings if re.search(rf'\b{name}\b', path.read_text()))
        assert named == [], f"{path.name} names settings itself: {named}"
