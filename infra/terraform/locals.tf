# Every function's deployed configuration (trigger, resources, settings and their sources,
# secrets, roles) comes from functions.yaml through `python -m infra.deployed_config --write`,
# committed as infra/deployed/ENV.json (a test fails when it is stale). This file only turns
# those sources into values: it decides no setting, role or trigger of its own.
locals {
  deployed           = jsondecode(file("${path.module}/../deployed/${var.environment}.json"))
  functions          = local.deployed.functions
  http_functions     = { for name, f in local.functions : name => f if try(f.trigger.http, null) != null }
  database_functions = { for name, f in local.functions : name => f if f.database }
  event_functions    = { for name, f in local.functions : name => f if try(f.trigger.topic, null) != null }
  scheduled          = { for name, f in local.event_functions : name => f if try(f.trigger.schedule, null) != null }

  consumed_topics  = [for f in local.event_functions : f.trigger.topic]
  published_topics = flatten([for f in local.functions : f.publishes])
  topics           = toset(concat(local.consumed_topics, local.published_topics))
  secrets          = toset(flatten([for f in local.functions : f.secrets]))

  # The values Terraform makes, under the names functions.yaml's `resource:` sources use.
  resource_values = {
    project_id           = var.project_id
    region               = var.region
    sql_connection_name  = google_sql_database_instance.main.connection_name
    sql_database         = google_sql_database.app.name
    uploads_bucket       = google_storage_bucket.uploads.name
    media_bucket         = google_storage_bucket.media.name
    hosting_origins      = join(",", var.hosting_origins)
    db_app_users         = local.db_app_users
    firebase_web_api_key = data.google_firebase_web_app_config.web.api_key
    firebase_auth_domain = data.google_firebase_web_app_config.web.auth_domain
    operator_kms_key     = data.google_kms_crypto_key_version.operator.name
  }
  # A source names a missing value -> "Invalid index" at plan time, never an empty setting.
  source_values = merge(
    { for key, value in local.resource_values : "resource:${key}" => value },
    { for key, value in var.function_env : "tfvar:${key}" => value },
  )
  # IAM database authentication: the user is the service account without its domain.
  db_users = merge(
    { for name, sa in google_service_account.function : name => trimsuffix(sa.email, ".gserviceaccount.com") },
    { migrate = trimsuffix(google_service_account.migrator.email, ".gserviceaccount.com") },
  )
  # The migration job grants the tables to the database functions' users, and to no one else.
  db_app_users = join(",", [for name, f in local.database_functions : local.db_users[name]])

  function_env = { for name, f in merge(local.functions, local.deployed.jobs) : name => merge(
    { for setting, src in f.env : setting => src.ref if src.from == "value" },
    { for setting, src in f.env : setting => local.source_values["${src.from}:${src.ref}"]
    if contains(["resource", "tfvar"], src.from) && src.ref != "db_iam_user" },
    { for setting, src in f.env : setting => local.db_users[name] if src.ref == "db_iam_user" },
  ) }
  function_secrets = { for name, f in local.functions : name => { for setting, src in f.env : setting => src.ref if src.from == "secret" } }

  # Every role of every function's account, on the resource it concerns, by kind of resource.
  # Keyed as these bindings were keyed before functions.yaml listed roles (function, then
  # the role or resource), so an apply of this configuration over an older one keeps every
  # binding in place instead of deleting and re-creating it under a new key.
  grants = flatten([for name, f in local.functions : [for r in f.roles : merge(r, { function = name })]])
  grants_on = {
    sql_instance        = { for g in local.grants : "${g.function}/${g.role}" => g if g.on == "sql_instance" }
    topic               = { for g in local.grants : "${g.function}/${g.ref}" => g if g.on == "topic" }
    secret              = { for g in local.grants : "${g.function}/${g.ref}" => g if g.on == "secret" }
    own_service_account = { for g in local.grants : g.function => g if g.on == "own_service_account" }
    project             = { for g in local.grants : g.function => g if g.on == "project" }
    uploads_bucket      = { for g in local.grants : g.function => g if g.on == "bucket" && g.ref == "uploads" }
    media_bucket        = { for g in local.grants : g.function => g if g.on == "bucket" && g.ref == "media" }
    kms_key             = { for g in local.grants : "${g.function}/${g.role}" => g if g.on == "kms_key" }
    firestore           = { for g in local.grants : g.function => g if g.on == "firestore" }
    vertex              = { for g in local.grants : g.function => g if g.on == "vertex" }
  }

  name_prefix = "kalakrut-${var.environment}"
  labels      = { app = "kalakrut", environment = var.environment }
}

data "google_project" "this" {}
