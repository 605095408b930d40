output "function_urls" {
  description = "Each function's URL (HTTP functions are reached through Hosting's rewrites)."
  value       = { for name, f in google_cloudfunctions2_function.function : name => f.service_config[0].uri }
}

output "function_sources" {
  description = "The bundle object each function runs: the deploy script pins these while the schema migrates."
  value       = { for name, f in google_cloudfunctions2_function.function : name => f.build_config[0].source[0].storage_source[0].object }
}

output "sql_connection_name" {
  value = google_sql_database_instance.main.connection_name
}

output "buckets" {
  value = {
    uploads = google_storage_bucket.uploads.name
    media   = google_storage_bucket.media.name
    sources = google_storage_bucket.sources.name
  }
}

output "hosting_site" {
  value = google_firebase_hosting_site.site.site_id
}

output "web_app_id" {
  value = google_firebase_web_app.web.app_id
}

output "migration_job" {
  value = google_cloud_run_v2_job.migrate.name
}

# The campaign operator's key version: `python -m infra.operator_address` reads its address.
output "operator_kms_key" {
  value = data.google_kms_crypto_key_version.operator.name
}
