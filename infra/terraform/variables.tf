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
  description = "The Alembic migration job's image, pinned by version (infra/deploy.py and Cloud Build pass it; never :latest)."
  type        = string
  validation {
    condition     = can(regex("(:[A-Za-z0-9_.-]+|@sha256:[0-9a-f]{64})$", var.migration_image)) && !endswith(var.migration_image, ":latest")
    error_message = "migration_image names a version tag or a digest, never :latest."
  }
}

variable "db_tier" {
  description = "Cloud SQL machine tier. Search stays within its targets while its working set (at 1M items with their vectors, ~3 GB) fits in shared buffers, a third of the memory: db-custom-4-15360 from about a million items (bench/search.py, decision 0033)."
  type        = string
  default     = "db-custom-1-3840"
}

variable "db_max_connections" {
  description = "The instance's max_connections flag: at least every database function's max instances x (pool + overflow), the migration job's, and PostgreSQL's reserved ones (a test checks each environment)."
  type        = number
}

variable "hosting_origins" {
  description = "Origins the browser uploads from (CORS of the uploads bucket) and the API accepts."
  type        = list(string)
}

variable "function_env" {
  description = "Values of the settings that functions.yaml takes from `tfvar:` sources (a test checks each is set here)."
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

variable "pinned_sources" {
  description = "Function -> bundle object it keeps running. The deploy script's first apply pins every existing function to what it runs now (output function_sources), so new code never meets the old schema; the apply after the migration job passes none."
  type        = map(string)
  default     = {}
}
