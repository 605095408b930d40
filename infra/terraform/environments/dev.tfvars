project_id      = "kalakrut-dev"
environment     = "dev"
region          = "europe-west1"
db_tier         = "db-custom-1-3840"
hosting_origins = ["https://kalakrut-dev-dev.web.app", "https://kalakrut-dev-dev.firebaseapp.com"]
alert_email     = "oncall-dev@kalakrut.example"
migration_image = "europe-west1-docker.pkg.dev/kalakrut-dev/kalakrut/migrate:latest"
function_env = {
  LOG_LEVEL             = "INFO"
  SIWE_DOMAIN           = "kalakrut-dev-dev.web.app"
  SIWE_URI              = "https://kalakrut-dev-dev.web.app"
  CHAIN_ID              = "11155111"
  RATE_LIMIT_PER_SECOND = "10"
  RATE_LIMIT_BURST      = "10"
  PUBLIC_CACHE_SECONDS  = "30"
}
