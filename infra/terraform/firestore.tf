# Cloud Firestore: the live documents the web app listens to with the Firebase SDK (an
# auction's state, each person's unread count; shared/live), written by the notifications
# function. firestore.rules (repository root, also named by firebase.json) decides who reads
# what: the functions write through IAM, no client writes at all.

resource "google_firestore_database" "default" {
  name        = "(default)"
  location_id = var.region
  type        = "FIRESTORE_NATIVE"
  depends_on  = [google_project_service.api]
}

resource "google_firebaserules_ruleset" "firestore" {
  source {
    files {
      name    = "firestore.rules"
      content = file("${path.module}/../../firestore.rules")
    }
  }
  depends_on = [google_firestore_database.default]
}

resource "google_firebaserules_release" "firestore" {
  name         = "cloud.firestore"
  ruleset_name = google_firebaserules_ruleset.firestore.name
  lifecycle {
    replace_triggered_by = [google_firebaserules_ruleset.firestore]
  }
}

# Firestore has no per-document IAM: the writers' role is bound on the project, limited by a
# condition to the one database.
resource "google_project_iam_member" "firestore" {
  for_each = local.grants_on["firestore"]
  project  = var.project_id
  role     = each.value.role
  member   = "serviceAccount:${google_service_account.function[each.value.function].email}"
  condition {
    title      = "the default Firestore database only"
    expression = "resource.name == \"projects/${var.project_id}/databases/(default)\""
  }
}
