"""functions.yaml, firebase.json, the functions' own routes and requirements agree."""
import json
import re

import pytest

from infra.manifest import REPO, glob_matches, glob_regex, load
from infra.openapi import load_apis

MANIFEST = load()
FIREBASE = json.loads((REPO / "firebase.json").read_text())


@pytest.mark.parametrize(
    ("pattern", "path", "expected"),
    [
        ("/api/proposals", "/api/proposals", True),
        ("/api/proposals", "/api/proposals/1", False),
        ("/api/proposals/**", "/api/proposals/1/publish", True),
        ("/api/users/*", "/api/users/1", True),
        ("/api/users/*", "/api/users/1/follow", False),
        ("/api/me/**", "/api/meet", False),
    ],
)
def test_glob_semantics(pattern, path, expected):
    assert glob_matches(pattern, path) is expected


def test_firebase_rewrites_match_the_manifest():
    rewrites = FIREBASE["hosting"]["rewrites"]
    # By regex, not glob: the Hosting emulator's globs skip segments that begin with a dot
    # (/api/media/.x never reached the function); a regex matches what the API routes.
    run = {(r["regex"], r["run"]["serviceId"], r["run"]["region"]) for r in rewrites if "run" in r}
    expected = {(glob_regex(p), f.name, f.region) for f in MANIFEST.http_functions() for p in f.http_paths}
    assert run == expected
    static = {r["source"]: r["destination"] for r in rewrites if "destination" in r}
    assert static == MANIFEST.static_rewrites
    # Hosting takes the first match: static files must come before the function globs.
    sources = [r.get("source") or r["regex"] for r in rewrites]
    assert all(sources.index(s) < sources.index(r) for s in static for r in (x[0] for x in run))


def test_emulators_run_offline():
    assert FIREBASE["emulators"]["ui"] == {"enabled": False}


def test_every_route_is_served_by_its_own_function_only():
    for function, api in zip(MANIFEST.http_functions(), load_apis(), strict=True):
        assert api.name == function.name
        for route in api.routes:
            sample = re.sub(r"<[^>]+>", "00000000-0000-0000-0000-000000000000", route.rule)
            owners = [f.name for f in MANIFEST.http_functions() if f.serves(sample)]
            assert owners == [function.name], f"{route.rule} is served by {owners}"


def test_function_requirements_are_pinned_like_the_root():
    root = dict(
        line.split("==") for line in (REPO / "requirements.txt").read_text().splitlines()
        if "==" in line and not line.startswith("#")
    )
    root = {name.split("[")[0].lower(): version for name, version in root.items()}
    # The cold-start bench's references deploy like functions (bench/cold_start.py --deployed).
    sources = {f.name: REPO / f.source for f in MANIFEST.functions}
    sources |= {f"bench {p.parent.name}": p.parent for p in (REPO / "bench" / "reference").glob("*/main.py")}
    for subject, source in sources.items():
        lines = [line for line in (source / "requirements.txt").read_text().splitlines()
                 if line and not line.startswith("#")]
        assert lines, f"{subject} has an empty requirements.txt"
        for line in lines:
            name, _, version = line.partition("==")
            assert version, f"{subject}: {line} is not pinned"
            assert root.get(name.split("[")[0].lower()) == version, f"{subject}: {line} differs from the root pin"


def test_function_names_are_cloud_run_ids():
    for function in MANIFEST.functions:
        assert re.fullmatch(r"[a-z][a-z0-9-]{0,48}[a-z0-9]", function.name)
        assert function.main.exists()


def test_event_functions_are_cloudevent_targets_with_dead_letters(monkeypatch):
    import importlib.util

    from functions_framework import _function_registry

    # Loading a decorated module registers its target globally: keep that inside this test,
    # or a later create_app("handle") of an HTTP function would take the CloudEvent signature.
    monkeypatch.setattr(_function_registry, "REGISTRY_MAP", dict(_function_registry.REGISTRY_MAP))
    for function in MANIFEST.event_functions():
        assert not function.http_paths and function.max_delivery_attempts >= 5
        assert function.dead_letter_topic in MANIFEST.topics()
        spec = importlib.util.spec_from_file_location(f"check_{function.name.replace('-', '_')}", function.main)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        entry = getattr(module, function.entry_point)
        assert _function_registry.REGISTRY_MAP[entry.__name__] == "cloudevent"


def test_topics_include_everything_published_and_consumed():
    published = {t for f in MANIFEST.functions for t in f.publishes}
    consumed = {f.topic for f in MANIFEST.event_functions()}
    assert published | consumed <= set(MANIFEST.topics())


def test_every_event_function_enters_through_the_one_wrapper():
    """Logging, the envelope, the duplicate check and the poison path are the wrapper's
    (shared/events/consumer.py): an event function that skipped it would log no JSON fields."""
    import ast

    for function in load().event_functions():
        tree = ast.parse(function.main.read_text())
        handle = next(node for node in tree.body if isinstance(node, ast.FunctionDef) and node.name == "handle")
        names = {(d.func if isinstance(d, ast.Call) else d) for d in handle.decorator_list}
        wrappers = {n.id for n in names if isinstance(n, ast.Name)}
        assert wrappers & {"entry", "on_event", "on_tick"}, function.name


def test_every_entry_module_imports_the_start_up_pause_first():
    """shared.startup pauses the garbage collector for the cold start: it must be the first
    import of every function, before anything heavy (decision 0015)."""
    import ast

    for function in load().functions:
        tree = ast.parse(function.main.read_text())
        first = next(node for node in tree.body if isinstance(node, ast.Import | ast.ImportFrom)
                     and not (isinstance(node, ast.ImportFrom) and node.module == "__future__"))
        assert isinstance(first, ast.Import) and first.names[0].name == "shared.startup", function.name


def test_an_entry_overrides_a_default_mapping_key_by_key(tmp_path):
    """A function that sets one backoff keeps the other, and the dev cap on its instances."""
    manifest = tmp_path / "functions.yaml"
    manifest.write_text(
        "defaults: {region: r, memory: 1Gi, timeout: 60s, max_instances: 10, concurrency: 1,\n"
        "           retry: {min_backoff: 10s, max_backoff: 600s}, environments: {dev: {max_instances: 3}}}\n"
        "functions:\n"
        "  - {name: one, source: s, entry_point: handle, trigger: {topic: t}, retry: {max_backoff: 300s},\n"
        "     environments: {prod: {max_instances: 5}}}\n")
    [function] = load(manifest).functions
    assert function.retry == {"min_backoff": "10s", "max_backoff": "300s"}
    assert function.environments == {"dev": {"max_instances": 3}, "prod": {"max_instances": 5}}


def _installed_by(requirements) -> set[str]:
    """The distributions a function's requirements install, with everything they require."""
    from importlib import metadata

    from packaging.requirements import Requirement

    names = [Requirement(line).name for line in requirements.read_text().splitlines()
             if line.strip() and not line.startswith(("#", "-"))]
    seen: set[str] = set()
    while names:
        name = names.pop().lower().replace("_", "-")
        if name in seen:
            continue
        seen.add(name)
        try:
            requires = metadata.requires(name) or []
        except metadata.PackageNotFoundError:
            continue
        for text in requires:
            requirement = Requirement(text)
            extras = requirement.marker is None or requirement.marker.evaluate({"extra": ""})
            if extras:
                names.append(requirement.name)
    return seen


# Modules a bundle reaches whose importing code runs in one function only: (module, why).
ONE_CALLER = {
    "firebase_admin": "shared/identity/auth.py imports it inside Auth._admin: account deletion and revoking "
                      "sessions, routes of the registration function only",
}


@pytest.mark.parametrize("function", [f.name for f in load().functions])
def test_every_module_a_function_can_import_is_installed_by_its_own_requirements(function):
    """What is deployed is what is tested: the function's bundle (main.py and the shared/
    modules it reaches, lazy imports included) imports only what its requirements.txt installs.
    (A lazy `eth_hash` import in a route of the proposals function was a 500 in the deployed
    shape only: the test suite's venv had it.)"""
    import ast
    import sys
    from importlib import metadata

    from infra.bundle import _imported, library_modules

    spec = load().by_name(function)
    installed = _installed_by(REPO / spec.source / "requirements.txt")
    providers = metadata.packages_distributions()
    missing = set()
    for source in [spec.main, *library_modules(spec.main)]:
        for name in _imported(ast.parse(source.read_text())):
            top = name.split(".")[0]
            if top in ("shared", "__future__") or top in sys.stdlib_module_names or top in ONE_CALLER:
                continue
            distributions = {d.lower().replace("_", "-") for d in providers.get(top, [])}
            if distributions and not distributions & installed:
                missing.add(f"{top} ({source.relative_to(REPO)})")
    assert not missing, f"{function}: imported but not installed by its requirements: {sorted(missing)}"
