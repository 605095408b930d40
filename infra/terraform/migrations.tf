# Alembic runs as a Cloud Run job (Cloud Build executes it after apply), never at function start.

resource "google_cloud_run_v2_job" "migrate" {
  name                = "${local.name_prefix}-migrate"
  location            = var.region
  deletion_protection = var.environment == "prod"
  labels              = local.labels

  template {
    task_count = 1
    template {
      service_account = google_service_account.migrator.email
      max_retries     = 0
      timeout         = "900s"
      containers {
        image = var.migration_image
        # Its settings come from functions.yaml (jobs: migrate), like every function's.
        dynamic "env" {
          for_each = local.function_env["migrate"]
          content {
            name  = env.key
            value = env.value
          }
        }
      }
    }
  }
}
