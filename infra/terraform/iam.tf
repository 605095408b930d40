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
  # Only the functions with a database in their manifest entry (media-cleanup has none).
  database_clients = merge(
    { for name, sa in google_service_account.function : name => sa.email if contains(keys(local.database_functions), name) },
    { migrator = google_service_account.migrator.email },
  )
  instance_condition = "resource.name == \"projects/${var.project_id}/instances/${google_sql_database_instance.main.name}\""
}

resource "google_project_iam_member" "sql" {
  for_each = {
    for pair in setproduct(["roles/cloudsql.client", "roles/cloudsql.instanceUser"], keys(local.database_clients)) :
    "${pair[1]}/${pair[0]}" => { role = pair[0], email = local.database_clients[pair[1]] }
  }
  project = var.project_id
  role    = each.value.role
  member  = "serviceAccount:${each.value.email}"
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

# The media function signs upload URLs with its own account (IAM signBlob on itself).
resource "google_service_account_iam_member" "self_sign" {
  for_each           = { for name, f in local.functions : name => f if contains(try(f.env, []), "UPLOADS_BUCKET") }
  service_account_id = google_service_account.function[each.key].name
  role               = "roles/iam.serviceAccountTokenCreator"
  member             = "serviceAccount:${google_service_account.function[each.key].email}"
}

# Firebase Auth accounts have no resource-level IAM, so these two roles are project-wide:
# every HTTP function looks the caller's account up to refuse revoked tokens (viewer);
# a function whose manifest entry says firebase_auth: admin also deletes accounts.
resource "google_project_iam_member" "firebase_auth" {
  for_each = local.http_functions
  project  = var.project_id
  role     = try(each.value.firebase_auth, null) == "admin" ? "roles/firebaseauth.admin" : "roles/firebaseauth.viewer"
  member   = "serviceAccount:${google_service_account.function[each.key].email}"
}
