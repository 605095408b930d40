# Firebase on the same project: the web app (its config goes to the frontend) and the
# Hosting site whose rewrites (firebase.json) reach the HTTP functions.

resource "google_firebase_project" "this" {
  provider   = google-beta
  project    = var.project_id
  depends_on = [google_project_service.api]
}

resource "google_firebase_web_app" "web" {
  provider     = google-beta
  project      = var.project_id
  display_name = "KalaKrut Creative (${var.environment})"
  depends_on   = [google_firebase_project.this]
}

resource "google_firebase_hosting_site" "site" {
  provider = google-beta
  project  = var.project_id
  site_id  = "${var.project_id}-${var.environment}"
  app_id   = google_firebase_web_app.web.app_id
}

# The web app's public config, handed to the site at run time by GET /api/config.
data "google_firebase_web_app_config" "web" {
  provider   = google-beta
  project    = var.project_id
  web_app_id = google_firebase_web_app.web.app_id
}

# Identity Platform: the email/password sign-in the web app uses, on this project's domains.
resource "google_identity_platform_config" "auth" {
  provider                   = google-beta
  project                    = var.project_id
  autodelete_anonymous_users = true
  sign_in {
    allow_duplicate_emails = false
    email {
      enabled           = true
      password_required = true
    }
  }
  authorized_domains = distinct(concat(
    ["${google_firebase_hosting_site.site.site_id}.web.app", "${google_firebase_hosting_site.site.site_id}.firebaseapp.com"],
    [for origin in var.hosting_origins : trimprefix(origin, "https://")],
  ))
  depends_on = [google_project_service.api]
}
