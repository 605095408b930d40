"""Each function's deployed configuration, per environment, from functions.yaml alone.

For every function and environment (``local``, ``dev``, ``prod``): the settings it is given
and where each value comes from, the settings deliberately not given there (with why), its
secrets, its service account's roles, its trigger and its resources. Terraform reads the
cloud environments from ``infra/deployed/ENV.json`` (written by ``--write``; a test fails
when they are stale); the local stack resolves ``local`` with its own values.

    python -m infra.deployed_config ENV            # one JSON object keyed by function name
    python -m infra.deployed_config --write        # refresh infra/deployed/{dev,prod}.json
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from infra.manifest import Function, Manifest, load  # noqa: E402

ENVIRONMENTS = ("local", "dev", "prod")
CLOUD = ("dev", "prod")
KINDS = ("resource", "tfvar", "secret", "value", "stack", "omit")
OUTPUT = REPO / "infra" / "deployed"


class ConfigGap(ValueError):
    """functions.yaml names a setting without saying where its value comes from."""


def groups_of(function: Function) -> list[str]:
    """The setting groups a function gets by its shape, then those it asks for."""
    shape = ["base"]
    shape += ["database"] if function.database else []
    shape += ["http"] if function.http_paths else []
    shape += ["publishes"] if function.publishes else []
    shape += ["storage"] if function.buckets else []
    return shape + [name for name in function.uses if name not in shape]


def setting_names(manifest: Manifest, function: Function) -> list[str]:
    names: dict[str, None] = {}
    for group in groups_of(function):
        if group not in manifest.groups:
            raise ConfigGap(f"{function.name}: no setting group {group!r} in functions.yaml")
        names.update(dict.fromkeys(manifest.groups[group]))
    names.update(dict.fromkeys(f"{bucket.upper()}_BUCKET" for bucket in sorted(function.buckets)))
    names.update(dict.fromkeys(function.env))
    return list(names)


def source(manifest: Manifest, name: str, environment: str) -> dict[str, str] | None:
    """Where ``name`` comes from in ``environment`` ({"from": kind, "ref": ...}); None when
    the setting is defaulted everywhere (its ``default:`` says why)."""
    entry = manifest.settings.get(name)
    if entry is None:
        raise ConfigGap(f"{name}: not in functions.yaml's settings")
    if "default" in entry:
        if set(entry) != {"default"} or not entry["default"]:
            raise ConfigGap(f"{name}: a defaulted setting has its reason and no source")
        return None
    per_env = entry.get(environment) or (entry.get("cloud") if environment in CLOUD else None)
    if not per_env:
        raise ConfigGap(f"{name}: no source for {environment}")
    [(kind, ref)] = per_env.items()
    if kind not in KINDS or not isinstance(ref, str) or not ref:
        raise ConfigGap(f"{name}: {environment} source {per_env!r} is not one of {', '.join(KINDS)}")
    return {"from": kind, "ref": ref}


def roles(function: Function, env: dict[str, dict[str, str]]) -> list[dict[str, str]]:
    """The service account's roles, each on the resource it concerns."""
    granted = []
    if function.database:
        granted += [{"role": role, "on": "sql_instance", "ref": "main"}
                    for role in ("roles/cloudsql.client", "roles/cloudsql.instanceUser")]
    granted += [{"role": "roles/pubsub.publisher", "on": "topic", "ref": topic} for topic in function.publishes]
    granted += [{"role": f"roles/storage.{role}", "on": "bucket", "ref": bucket}
                for bucket, role in sorted(function.buckets.items())]
    if "chain_signing" in function.uses:  # signs transactions with the operator key; never reads it
        granted += [{"role": role, "on": "kms_key", "ref": "operator"}
                    for role in ("roles/cloudkms.signer", "roles/cloudkms.publicKeyViewer")]
    if "firestore" in function.uses:  # writes the live documents (Firestore has no per-document IAM)
        granted.append({"role": "roles/datastore.user", "on": "firestore", "ref": "default"})
    if "embeddings" in function.uses:  # Vertex AI's text embeddings (no per-model IAM: project-wide)
        granted.append({"role": "roles/aiplatform.user", "on": "vertex", "ref": "project"})
    if "signing" in function.uses:  # V4 signed URLs, signed by its own account through signBlob
        granted.append({"role": "roles/iam.serviceAccountTokenCreator", "on": "own_service_account", "ref": "self"})
    granted += [{"role": "roles/secretmanager.secretAccessor", "on": "secret", "ref": src["ref"]}
                for src in env.values() if src["from"] == "secret"]
    # Every HTTP function checks revocation; an admin also deletes accounts; an event function
    # that names firebase_auth reads accounts (notifications: the verified email).
    if function.http_paths or function.firebase_auth:
        role = "roles/firebaseauth.admin" if function.firebase_auth == "admin" else "roles/firebaseauth.viewer"
        granted.append({"role": role, "on": "project", "ref": "firebase_auth"})
    return granted


def trigger(function: Function) -> dict[str, Any]:
    if function.http_paths:
        return {"http": list(function.http_paths)}
    if not function.topic:
        return {}
    found = {"topic": function.topic, "max_delivery_attempts": function.max_delivery_attempts,
             "min_backoff": function.retry["min_backoff"], "max_backoff": function.retry["max_backoff"]}
    found.update({key: value for key, value in (("schedule", function.schedule), ("filter", function.filter))
                  if value})
    return found


def resources(function: Function, environment: str) -> dict[str, Any]:
    cap = function.environments.get(environment, {}).get("max_instances", function.max_instances)
    return {"memory": function.memory, "timeout": function.timeout, "max_instances": min(function.max_instances, cap),
            "min_instances": function.min_instances, "concurrency": function.concurrency}


def function_config(manifest: Manifest, function: Function, environment: str) -> dict[str, Any]:
    env: dict[str, dict[str, str]] = {}
    omitted: dict[str, str] = {}
    for name in setting_names(manifest, function):
        found = source(manifest, name, environment)
        if found is None:
            continue
        if found["from"] == "omit":
            omitted[name] = found["ref"]
        else:
            env[name] = found
    return {
        "source": function.source,
        "entry_point": function.entry_point,
        "runtime": function.runtime,
        "region": function.region,
        "trigger": trigger(function),
        "publishes": list(function.publishes),
        "database": function.database,
        "resources": resources(function, environment),
        "env": env,
        "omitted": omitted,
        "secrets": sorted(src["ref"] for src in env.values() if src["from"] == "secret"),
        # Locally there is no IAM: the function connects as its own database role instead.
        "roles": roles(function, env) if environment in CLOUD else [],
        "database_user": (("fn-" + function.name) if environment == "local" else {"from": "resource", "ref": "db_iam_user"})
        if function.database else None,
    }


def deployed_config(environment: str, manifest: Manifest | None = None, *, jobs: bool = False
                    ) -> dict[str, dict[str, Any]]:
    """Each function's configuration in ``environment`` (with ``jobs``: each job's instead)."""
    if environment not in ENVIRONMENTS:
        raise ValueError(f"environment is one of {', '.join(ENVIRONMENTS)}, not {environment!r}")
    manifest = manifest or load()
    return {f.name: function_config(manifest, f, environment) for f in (manifest.jobs if jobs else manifest.functions)}


def terraform_input(environment: str) -> dict[str, Any]:
    """What Terraform reads (infra/deployed/ENV.json): the functions and the jobs."""
    return {"functions": deployed_config(environment), "jobs": deployed_config(environment, jobs=True)}


def render(config: dict[str, Any]) -> str:
    return json.dumps(config, indent=2, sort_keys=True) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.deployed_config", description=__doc__.splitlines()[0])
    parser.add_argument("environment", nargs="?", choices=ENVIRONMENTS)
    parser.add_argument("--write", action="store_true", help="write infra/deployed/ENV.json for dev and prod")
    args = parser.parse_args(argv)
    if args.write:
        OUTPUT.mkdir(exist_ok=True)
        for environment in CLOUD:
            (OUTPUT / f"{environment}.json").write_text(render(terraform_input(environment)))
            print(f"wrote infra/deployed/{environment}.json")
        return 0
    if not args.environment:
        parser.error("name an environment, or --write")
    sys.stdout.write(render(deployed_config(args.environment)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
