resource "google_sql_database_instance" "main" {
  #checkov:skip=CKV_GCP_60:a public IP without authorized networks: only the Cloud SQL connector (IAM auth, mTLS) can connect; private IP needs a VPC the functions do not otherwise use
  name                = local.name_prefix
  database_version    = "POSTGRES_18"
  region              = var.region
  deletion_protection = true

  settings {
    tier              = var.db_tier
    edition           = "ENTERPRISE"
    availability_type = var.environment == "prod" ? "REGIONAL" : "ZONAL"
    disk_autoresize   = true
    user_labels       = local.labels

    backup_configuration {
      enabled                        = true
      start_time                     = "02:00"
      point_in_time_recovery_enabled = true
      transaction_log_retention_days = 7
      backup_retention_settings {
        retained_backups = var.environment == "prod" ? 30 : 7
      }
    }

    # The Cloud SQL connector authenticates with IAM and encrypts: no authorized networks.
    ip_configuration {
      ipv4_enabled = true
      ssl_mode     = "TRUSTED_CLIENT_CERTIFICATE_REQUIRED" # the connector presents client certificates
    }

    insights_config {
      query_insights_enabled  = true
      record_application_tags = true
    }

    database_flags {
      name  = "cloudsql.iam_authentication"
      value = "on"
    }
    # Sized for every function at its maximum instances with a full pool (a test adds them up).
    database_flags {
      name  = "max_connections"
      value = tostring(var.db_max_connections)
    }
    database_flags {
      name  = "log_checkpoints"
      value = "on"
    }
    database_flags {
      name  = "log_connections"
      value = "on"
    }
    database_flags {
      name  = "log_disconnections"
      value = "on"
    }
    database_flags {
      name  = "log_lock_waits"
      value = "on"
    }
    # Statement text can hold personal data: slow queries are found with Query Insights instead.
    database_flags {
      name  = "log_min_duration_statement"
      value = "-1"
    }
    database_flags {
      name  = "log_duration"
      value = "on"
    }
    database_flags {
      name  = "log_hostname"
      value = "on"
    }
    database_flags {
      name  = "log_min_error_statement"
      value = "error"
    }
    database_flags {
      name  = "log_min_messages"
      value = "error"
    }
    database_flags {
      name  = "log_temp_files"
      value = "0"
    }
    database_flags {
      name  = "cloudsql.enable_pgaudit"
      value = "on"
    }
    database_flags {
      name  = "log_statement"
      value = "ddl"
    }

    maintenance_window {
      day  = 7
      hour = 3
    }
  }

  depends_on = [google_project_service.api]
}

resource "google_sql_database" "app" {
  name     = "kalakrut"
  instance = google_sql_database_instance.main.name
}

# IAM database users: each function's account, and the migration job's.
resource "google_sql_user" "iam" {
  for_each = local.database_clients
  name     = trimsuffix(each.value, ".gserviceaccount.com")
  instance = google_sql_database_instance.main.name
  type     = "CLOUD_IAM_SERVICE_ACCOUNT"
}
