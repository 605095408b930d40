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
  location = try(each.value.region, var.region)
  labels   = local.labels

  build_config {
    runtime     = each.value.runtime
    entry_point = each.value.entry_point
    source {
      storage_source {
        bucket = google_storage_bucket.sources.name
        object = google_storage_bucket_object.bundle[each.key].name
      }
    }
  }

  service_config {
    available_memory                 = each.value.memory
    available_cpu                    = each.value.concurrency > 1 ? "1" : null
    timeout_seconds                  = tonumber(trimsuffix(each.value.timeout, "s"))
    max_instance_count               = each.value.max_instances
    min_instance_count               = each.value.min_instances
    max_instance_request_concurrency = each.value.concurrency
    service_account_email            = google_service_account.function[each.key].email
    ingress_settings                 = contains(keys(local.http_functions), each.key) ? "ALLOW_ALL" : "ALLOW_INTERNAL_ONLY"
    all_traffic_on_latest_revision   = true

    environment_variables = merge(
      { for name in try(each.value.env, []) : name => lookup(local.derived_env, name, lookup(var.function_env, name, ""))
      if lookup(local.derived_env, name, lookup(var.function_env, name, "")) != "" },
      # IAM database authentication: the user is the service account, without its domain.
      contains(keys(local.database_functions), each.key)
      ? { DB_IAM_USER = trimsuffix(google_service_account.function[each.key].email, ".gserviceaccount.com") } : {},
    )

    dynamic "secret_environment_variables" {
      for_each = toset(try(each.value.secrets, []))
      content {
        key        = secret_environment_variables.value
        project_id = var.project_id
        secret     = google_secret_manager_secret.secret[secret_environment_variables.value].secret_id
        version    = "latest"
      }
    }
  }

  depends_on = [google_project_service.api, google_secret_manager_secret_iam_member.accessor]
}
