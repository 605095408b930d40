"""Cloud behaviour the local stand-ins cannot show, checked against the provider's documented
rules: one test per rule, each naming the defect it keeps out (issue 20's table)."""
from __future__ import annotations

import re
from functools import cache

import hcl2
import pytest

from infra.deployed_config import CLOUD, deployed_config
from infra.manifest import REPO
from shared.config import Settings

TERRAFORM = REPO / "infra" / "terraform"


def _plain(value):
    """hcl2's parse with quotes dropped from strings and its block markers left out."""
    if isinstance(value, dict):
        return {_plain(key): _plain(item) for key, item in value.items() if key not in ("__is_block__", "__comments__")}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    if isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1]
    return value


@cache
def blocks() -> dict[tuple[str, str], dict]:
    found = {}
    for path in sorted(TERRAFORM.glob("*.tf")):
        with path.open() as handle:
            for kind, entries in hcl2.load(handle).items():
                if kind not in ("resource", "data"):
                    continue
                for entry in entries:
                    for type_, named in entry.items():
                        for name, body in named.items():
                            found[(type_.strip('"'), name.strip('"'))] = _plain(body)
    return found


@cache
def tfvars(environment: str) -> dict:
    with (TERRAFORM / "environments" / f"{environment}.tfvars").open() as handle:
        return _plain(hcl2.load(handle))


def test_subscriptions_never_expire():
    """Pub/Sub deletes a subscription idle for 31 days unless expiration_policy.ttl is "":
    a dead-letter subscription is idle by design, and its messages would go with it."""
    for name in ("push", "dead_letter"):
        policy = blocks()[("google_pubsub_subscription", name)].get("expiration_policy")
        assert policy and policy[0]["ttl"] == "", name


def test_the_5xx_alert_counts_per_minute():
    """run.googleapis.com/request_count is DELTA: ALIGN_RATE gives per second (threshold 1 would
    mean 60/min); ALIGN_DELTA over a 60 s period counts per minute, as the alert says."""
    condition = blocks()[("google_monitoring_alert_policy", "function_errors")]["conditions"][0]
    aggregation = condition["condition_threshold"][0]["aggregations"][0]
    assert (aggregation["per_series_aligner"], aggregation["alignment_period"]) == ("ALIGN_DELTA", "60s")
    assert "per minute" in condition["display_name"]


def test_aligners_fit_the_metric_they_align():
    """ALIGN_COUNT is valid for GAUGE and DELTA metrics with numeric or Boolean values, not a
    distribution (the indexer-lag log metric); ALIGN_RATE/ALIGN_DELTA need DELTA or CUMULATIVE."""
    metric = blocks()[("google_logging_metric", "indexer_lag")]["metric_descriptor"][0]
    assert metric["value_type"] == "DISTRIBUTION"
    for condition in blocks()[("google_monitoring_alert_policy", "indexer_lag")]["conditions"]:
        kind = "condition_threshold" if "condition_threshold" in condition else "condition_absent"
        aligner = condition[kind][0]["aggregations"][0]["per_series_aligner"]
        assert aligner in {"ALIGN_DELTA", "ALIGN_PERCENTILE_50", "ALIGN_PERCENTILE_95", "ALIGN_PERCENTILE_99"}, aligner


def test_the_public_media_bucket_cannot_be_listed():
    """roles/storage.objectViewer includes storage.objects.list: granted to allUsers, anyone
    enumerates every object. Public reads by name only (legacyObjectReader)."""
    public = [body for (kind, _), body in blocks().items()
              if kind == "google_storage_bucket_iam_member" and body["member"] == "allUsers"]
    assert public and {body["role"] for body in public} == {"roles/storage.legacyObjectReader"}


def test_deleted_media_does_not_stay_readable():
    """With versioning on, a deleted object stays readable by generation until its noncurrent
    version is deleted: a lifecycle rule must delete those soon (erasure must erase)."""
    media = blocks()[("google_storage_bucket", "media")]
    if media.get("versioning", [{}])[0].get("enabled"):
        rules = [rule["condition"][0] for rule in media.get("lifecycle_rule", [])
                 if rule["action"][0]["type"] == "Delete"]
        assert any(0 < rule.get("days_since_noncurrent_time", 0) <= 7 for rule in rules)


def test_signing_and_sign_in_are_enabled_on_a_fresh_project():
    """signBlob (signed URLs) is iamcredentials.googleapis.com; email/password sign-in is an
    Identity Platform setting that a fresh project lacks."""
    apis = (TERRAFORM / "apis.tf").read_text()
    assert '"iamcredentials.googleapis.com"' in apis and '"identitytoolkit.googleapis.com"' in apis
    config = blocks()[("google_identity_platform_config", "auth")]
    email = config["sign_in"][0]["email"][0]
    assert email["enabled"] is True and email["password_required"] is True


def test_secrets_are_pinned_to_a_version_that_exists():
    """Reading a secret at "latest" with no version fails every cold start; the function is
    pinned to the version current at apply, which fails the apply instead when none exists."""
    function = blocks()[("google_cloudfunctions2_function", "function")]
    secret = function["service_config"][0]["dynamic"][0]["secret_environment_variables"]["content"][0]
    assert "google_secret_manager_secret_version.current" in secret["version"]
    assert ("google_secret_manager_secret_version", "current") in blocks()


@pytest.mark.parametrize("environment", CLOUD)
def test_images_are_pinned_by_version(environment):
    """An image at :latest is whatever was pushed last, not what was tested."""
    text = (TERRAFORM / "environments" / f"{environment}.tfvars").read_text()
    assert ":latest" not in text
    variable = (TERRAFORM / "variables.tf").read_text()
    assert re.search(r'variable "migration_image" \{.*?validation \{.*?:latest', variable, re.S)


@pytest.mark.parametrize("environment", CLOUD)
def test_database_connections_fit_the_instance(environment):
    """Every database function at its maximum instances, each with a full pool, plus the
    migration job, plus PostgreSQL's reserved connections, within max_connections."""
    pool = Settings.model_fields["db_pool_size"].default + Settings.model_fields["db_max_overflow"].default
    functions = deployed_config(environment)
    jobs = deployed_config(environment, jobs=True)
    demand = sum(f["resources"]["max_instances"] * pool for f in functions.values() if f["database"])
    demand += pool * len([job for job in jobs.values() if job["database"]])
    reserved = 3 + 10  # superuser_reserved_connections, and Cloud SQL's own agents
    limit = tfvars(environment)["db_max_connections"]
    assert demand + reserved <= limit, f"{environment}: {demand} + {reserved} connections, max_connections {limit}"
    flags = blocks()[("google_sql_database_instance", "main")]["settings"][0]["database_flags"]
    assert {"name": "max_connections", "value": "${tostring(var.db_max_connections)}"} in flags


def test_the_migration_job_grants_only_to_users_that_exist():
    """A GRANT to a role that does not exist fails the migration job's transaction: the
    database users it grants to are exactly the database functions' (media-cleanup had none)."""
    locals_tf = (TERRAFORM / "locals.tf").read_text()
    assert re.search(r'db_app_users\s*=\s*join\(",", \[for name, f in local\.database_functions : local\.db_users\[name\]\]\)',
                     locals_tf)
    assert "local.function_env[\"migrate\"]" in (TERRAFORM / "migrations.tf").read_text()
    users = {name for (kind, name) in blocks() if kind == "google_sql_user"}
    assert users == {"iam"} and blocks()[("google_sql_user", "iam")]["for_each"] == "${local.database_clients}"


@pytest.mark.parametrize("environment", CLOUD)
def test_the_retry_window_rides_out_a_half_hour_outage(environment):
    """Pub/Sub waits min_backoff, doubling up to max_backoff, between the attempts of a push
    (at most 100); only after the last one is a message dead-lettered."""
    push = blocks()[("google_pubsub_subscription", "push")]
    assert push["retry_policy"][0] == {"minimum_backoff": "${each.value.trigger.min_backoff}",
                                       "maximum_backoff": "${each.value.trigger.max_backoff}"}
    for name, function in deployed_config(environment).items():
        trigger = function["trigger"]
        if "topic" not in trigger:
            continue
        low, high = (int(trigger[key].removesuffix("s")) for key in ("min_backoff", "max_backoff"))
        attempts = trigger["max_delivery_attempts"]
        assert 5 <= attempts <= 100 and 10 <= low <= high <= 600
        window = sum(min(high, low * 2 ** n) for n in range(attempts - 1))
        assert window >= 30 * 60, f"{name}: dead-lettered after {window} s"


def test_iam_bindings_keep_their_addresses():
    """A binding whose key changes is deleted and re-created by an apply, in no set order:
    running functions may lose a role meanwhile. The keys stay as they were first deployed:
    function/role on the instance, function/topic, function/secret, function elsewhere."""
    locals_tf = (TERRAFORM / "locals.tf").read_text()
    for kind, key in (("sql_instance", '"${g.function}/${g.role}"'), ("topic", '"${g.function}/${g.ref}"'),
                      ("secret", '"${g.function}/${g.ref}"'), ("own_service_account", "g.function"),
                      ("project", "g.function"), ("uploads_bucket", "g.function"), ("media_bucket", "g.function"),
                      ("kms_key", '"${g.function}/${g.role}"')):
        assert re.search(rf"{kind}\s*=\s*\{{ for g in local\.grants : {re.escape(key)} =>", locals_tf), kind
    assert '"migrator/${role}"' in (TERRAFORM / "iam.tf").read_text()


def test_the_journal_waits_longer_than_graph_etl_retries():
    """The incremental reconcile counts an event as lost only once graph-etl can no longer be
    retrying it (shared/graph/reconcile.py, JOURNAL_LAG)."""
    from infra.manifest import load
    from shared.graph.reconcile import JOURNAL_LAG

    etl = load().by_name("graph-etl")
    low, high = (int(etl.retry[key].removesuffix("s")) for key in ("min_backoff", "max_backoff"))
    window = sum(min(high, low * 2 ** n) for n in range(etl.max_delivery_attempts - 1))
    timeout = int(etl.timeout.removesuffix("s")) * etl.max_delivery_attempts
    assert JOURNAL_LAG.total_seconds() > window + timeout
