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
        env {
          name  = "GOOGLE_CLOUD_PROJECT"
          value = var.project_id
        }
        env {
          name  = "CLOUD_SQL_INSTANCE"
          value = google_sql_database_instance.main.connection_name
        }
        env {
          name  = "DB_NAME"
          value = google_sql_database.app.name
        }
        env {
          name  = "DB_IAM_USER"
          value = trimsuffix(google_service_account.migrator.email, ".gserviceaccount.com")
        }
        env {
          name  = "DB_PRIVATE_IP"
          value = "false"
        }
        # Users granted read/write on the application's tables after each migration.
        env {
          name  = "DB_APP_USERS"
          value = join(",", [for name, sa in google_service_account.function : trimsuffix(sa.email, ".gserviceaccount.com")])
        }
      }
    }
  }
}
