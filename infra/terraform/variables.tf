variable "project_id" {
  description = "The GCP (and Firebase) project."
  type        = string
}

variable "environment" {
  description = "dev or prod: names, availability and protection follow it."
  type        = string
  validation {
    condition     = contains(["dev", "prod"], var.environment)
    error_message = "environment is dev or prod."
  }
}

variable "region" {
  description = "Region of the functions, the database and the buckets (functions.yaml's default)."
  type        = string
  default     = "europe-west1"
}

variable "bundle_dir" {
  description = "Where `python -m infra.bundle` wrote one zip per function."
  type        = string
  default     = "../../build/bundles"
}

variable "migration_image" {
  description = "The Alembic migration job's image (built by Cloud Build from infra/migrate.Dockerfile)."
  type        = string
}

variable "db_tier" {
  description = "Cloud SQL machine tier."
  type        = string
  default     = "db-custom-1-3840"
}

variable "hosting_origins" {
  description = "Origins the browser uploads from (CORS of the uploads bucket) and the API accepts."
  type        = list(string)
}

variable "function_env" {
  description = "Values of the manifest's environment variables that are neither secrets nor derived here (SIWE_DOMAIN, CHAIN_ID, LOG_LEVEL, RATE_LIMIT_PER_SECOND, ...)."
  type        = map(string)
  default     = {}
}

variable "alert_email" {
  description = "Where alerts go."
  type        = string
}

variable "indexer_lag_blocks" {
  description = "Alert when the chain indexer is this many blocks behind the head."
  type        = number
  default     = 200
}
