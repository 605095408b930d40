# functions.yaml is the single source of the topology: every function, trigger, topic,
# schedule, variable and secret below is derived from it.
locals {
  manifest = yamldecode(file("${path.module}/../../functions.yaml"))
  defaults = local.manifest.defaults

  functions          = { for f in local.manifest.functions : f.name => merge(local.defaults, f) }
  http_functions     = { for name, f in local.functions : name => f if try(f.trigger.http, null) != null }
  database_functions = { for name, f in local.functions : name => f if contains(try(f.env, []), "CLOUD_SQL_INSTANCE") }
  event_functions    = { for name, f in local.functions : name => f if try(f.trigger.topic, null) != null }
  scheduled          = { for name, f in local.event_functions : name => f if try(f.trigger.schedule, null) != null }

  consumed_topics  = [for f in local.event_functions : f.trigger.topic]
  published_topics = flatten([for f in local.functions : try(f.publishes, [])])
  topics           = toset(concat(local.consumed_topics, local.published_topics))

  # (function, topic) pairs a function may publish to.
  publishers = { for pair in flatten([
    for name, f in local.functions : [for topic in try(f.publishes, []) : { function = name, topic = topic }]
  ]) : "${pair.function}/${pair.topic}" => pair }

  secrets = toset(flatten([for f in local.functions : try(f.secrets, [])]))
  secret_accessors = { for pair in flatten([
    for name, f in local.functions : [for secret in try(f.secrets, []) : { function = name, secret = secret }]
  ]) : "${pair.function}/${pair.secret}" => pair }

  # Values of the manifest's variables that this configuration knows; a function gets
  # the ones its entry lists (DB_IAM_USER is its own service account, see functions.tf).
  derived_env = {
    GOOGLE_CLOUD_PROJECT = var.project_id
    CLOUD_SQL_INSTANCE   = google_sql_database_instance.main.connection_name
    DB_NAME              = google_sql_database.app.name
    DB_PRIVATE_IP        = "false"
    UPLOADS_BUCKET       = google_storage_bucket.uploads.name
    MEDIA_BUCKET         = google_storage_bucket.media.name
    CORS_ALLOWED_ORIGINS = join(",", var.hosting_origins)
    TRUSTED_PROXY_HOPS   = "2"
    FIREBASE_WEB_API_KEY = data.google_firebase_web_app_config.web.api_key
    FIREBASE_AUTH_DOMAIN = data.google_firebase_web_app_config.web.auth_domain
  }

  name_prefix = "kalakrut-${var.environment}"
  labels      = { app = "kalakrut", environment = var.environment }
}

data "google_project" "this" {}
