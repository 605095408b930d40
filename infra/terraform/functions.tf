# Every function in functions.yaml, from its deterministic bundle (python -m infra.bundle):
# the object name carries the content hash, so an unchanged function is not redeployed.

resource "google_storage_bucket_object" "bundle" {
  for_each = local.functions
  name     = "functions/${each.key}-${filesha256("${var.bundle_dir}/${each.key}.zip")}.zip"
  bucket   = google_storage_bucket.sources.name
  source   = "${var.bundle_dir}/${each.key}.zip"
}

resource "google_cloudfunctions2_function" "function" {
  #checkov:skip=CKV_GCP_124:HTTP functions must accept Firebase Hosting's rewrites from the internet; event functions are internal-only (below)
  for_each = local.functions
  name     = each.key
  location = each.value.region
  labels   = local.labels

  build_config {
    runtime     = each.value.runtime
    entry_point = each.value.entry_point
    source {
      storage_source {
        bucket = google_storage_bucket.sources.name
        object = lookup(var.pinned_sources, each.key, google_storage_bucket_object.bundle[each.key].name)
      }
    }
  }

  service_config {
    available_memory                 = each.value.resources.memory
    available_cpu                    = each.value.resources.concurrency > 1 ? "1" : null
    timeout_seconds                  = tonumber(trimsuffix(each.value.resources.timeout, "s"))
    max_instance_count               = each.value.resources.max_instances
    min_instance_count               = each.value.resources.min_instances
    max_instance_request_concurrency = each.value.resources.concurrency
    service_account_email            = google_service_account.function[each.key].email
    ingress_settings                 = contains(keys(local.http_functions), each.key) ? "ALLOW_ALL" : "ALLOW_INTERNAL_ONLY"
    all_traffic_on_latest_revision   = true

    environment_variables = local.function_env[each.key]

    dynamic "secret_environment_variables" {
      for_each = local.function_secrets[each.key]
      content {
        key        = secret_environment_variables.key
        project_id = var.project_id
        secret     = google_secret_manager_secret.secret[secret_environment_variables.value].secret_id
        # The version current when Terraform applied: a rotation is a deliberate apply, and a
        # secret without a value fails the plan instead of every cold start.
        version = data.google_secret_manager_secret_version.current[secret_environment_variables.value].version
      }
    }
  }

  depends_on = [google_project_service.api, google_secret_manager_secret_iam_member.accessor]
}
