project_id      = "kalakrut-prod"
environment     = "prod"
region          = "europe-west1"
db_tier         = "db-custom-2-7680"
hosting_origins = ["https://kalakrut.art", "https://kalakrut-prod-prod.web.app"]
alert_email     = "oncall@kalakrut.example"
migration_image = "europe-west1-docker.pkg.dev/kalakrut-prod/kalakrut/migrate:latest"
function_env = {
  LOG_LEVEL             = "INFO"
  SIWE_DOMAIN           = "kalakrut.art"
  SIWE_URI              = "https://kalakrut.art"
  CHAIN_ID              = "1"
  RATE_LIMIT_PER_SECOND = "10"
  RATE_LIMIT_BURST      = "20"
  PUBLIC_CACHE_SECONDS  = "30"
}
