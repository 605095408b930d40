# One service account per function, holding only what its manifest entry needs, each
# role granted on the resource (topic, bucket, secret, service). Cloud SQL has no
# resource-level IAM: its two roles are bound on the project *with a condition* naming
# the instance.

resource "google_service_account" "function" {
  for_each     = local.functions
  account_id   = "fn-${each.key}"
  display_name = "Function ${each.key}"
}

# Push subscriptions present this account's OIDC token to the event functions.
resource "google_service_account" "push_invoker" {
  account_id   = "pubsub-push-invoker"
  display_name = "Pub/Sub push to functions"
}

# Cloud Scheduler publishes the ticks with this account's OAuth token.
resource "google_service_account" "scheduler" {
  account_id   = "scheduler-ticks"
  display_name = "Cloud Scheduler ticks"
}

resource "google_service_account" "migrator" {
  account_id   = "db-migrator"
  display_name = "Alembic migration job"
}

locals {
  # The accounts that connect to Cloud SQL: each database function's, and the migration job's.
  database_clients = merge(
    { for name, f in local.database_functions : name => google_service_account.function[name].email },
    { migrator = google_service_account.migrator.email },
  )
  sql_grants = merge(
    { for key, g in local.grants_on["sql_instance"] : key => { role = g.role, email = google_service_account.function[g.function].email } },
    { for role in ["roles/cloudsql.client", "roles/cloudsql.instanceUser"] :
    "migrator/${role}" => { role = role, email = google_service_account.migrator.email } },
  )
  instance_condition = "resource.name == \"projects/${var.project_id}/instances/${google_sql_database_instance.main.name}\""
}

resource "google_project_iam_member" "sql" {
  for_each = local.sql_grants
  project  = var.project_id
  role     = each.value.role
  member   = "serviceAccount:${each.value.email}"
  condition {
    title      = "only-${google_sql_database_instance.main.name}"
    expression = local.instance_condition
  }
}

# Hosting's rewrites reach the HTTP functions as anonymous callers; the functions
# verify Firebase ID tokens themselves.
resource "google_cloud_run_service_iam_member" "public_invoker" {
  #checkov:skip=CKV_GCP_102:Firebase Hosting rewrites call the HTTP functions anonymously; each request's Firebase ID token is verified in the function
  for_each = local.http_functions
  location = var.region
  service  = google_cloudfunctions2_function.function[each.key].name
  role     = "roles/run.invoker"
  member   = "allUsers"
}

resource "google_cloud_run_service_iam_member" "push_invoker" {
  for_each = local.event_functions
  location = var.region
  service  = google_cloudfunctions2_function.function[each.key].name
  role     = "roles/run.invoker"
  member   = "serviceAccount:${google_service_account.push_invoker.email}"
}

# Functions that sign URLs (functions.yaml `uses: [signing]`) do so with their own account
# (IAM signBlob on itself).
resource "google_service_account_iam_member" "self_sign" {
  for_each           = local.grants_on["own_service_account"]
  service_account_id = google_service_account.function[each.value.function].name
  role               = each.value.role
  member             = "serviceAccount:${google_service_account.function[each.value.function].email}"
}

# Vertex AI's models have no resource-level IAM either: the embedding functions call them as
# the project's (decision 0032).
resource "google_project_iam_member" "vertex" {
  for_each = local.grants_on["vertex"]
  project  = var.project_id
  role     = each.value.role
  member   = "serviceAccount:${google_service_account.function[each.value.function].email}"
}

# Firebase Auth accounts have no resource-level IAM, so these roles are project-wide:
# every HTTP function looks the caller's account up to refuse revoked tokens (viewer);
# a function whose manifest entry says firebase_auth: admin also deletes accounts.
resource "google_project_iam_member" "firebase_auth" {
  for_each = local.grants_on["project"]
  project  = var.project_id
  role     = each.value.role
  member   = "serviceAccount:${google_service_account.function[each.value.function].email}"
}
