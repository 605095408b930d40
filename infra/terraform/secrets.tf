# The secrets functions.yaml names as sources (RPC URLs with provider keys, Neo4j
# credentials). Terraform manages the containers; the values are added out of band by the
# deploy script's bootstrap (infra/deploy.py, from a file or a prompt), so they never
# enter the Terraform state.

resource "google_secret_manager_secret" "secret" {
  for_each  = local.secrets
  secret_id = each.key
  labels    = local.labels
  replication {
    auto {}
  }
  depends_on = [google_project_service.api]
}

# The version each function is pinned to: the one current at apply time. A container
# without a value fails the apply here, not every cold start of the function afterwards.
data "google_secret_manager_secret_version" "current" {
  for_each = local.secrets
  secret   = google_secret_manager_secret.secret[each.key].id
}

resource "google_secret_manager_secret_iam_member" "accessor" {
  for_each  = local.grants_on["secret"]
  secret_id = google_secret_manager_secret.secret[each.value.ref].id
  role      = each.value.role
  member    = "serviceAccount:${google_service_account.function[each.value.function].email}"
}
