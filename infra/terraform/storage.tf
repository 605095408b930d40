# uploads: private originals, written only through signed PUT URLs from the Hosting
# origin; media: the processed variants, public; sources: function bundles; access-logs.

data "google_storage_project_service_account" "gcs" {}

resource "google_storage_bucket" "access_logs" {
  #checkov:skip=CKV_GCP_62:this is the access-log bucket itself; logging it into itself would loop
  name                        = "${var.project_id}-${var.environment}-access-logs"
  location                    = var.region
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  labels                      = local.labels
  versioning {
    enabled = true
  }
  lifecycle_rule {
    condition {
      age = 90
    }
    action {
      type = "Delete"
    }
  }
}

resource "google_storage_bucket" "uploads" {
  name                        = "${var.project_id}-${var.environment}-uploads"
  location                    = var.region
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  labels                      = local.labels

  cors {
    origin          = var.hosting_origins
    method          = ["PUT"]
    response_header = ["Content-Type", "x-goog-content-length-range", "x-goog-if-generation-match"]
    max_age_seconds = 3600
  }
  versioning {
    enabled = true
  }
  # Abandoned uploads: multipart uploads never completed, and replaced or deleted originals.
  lifecycle_rule {
    condition {
      age = 1
    }
    action {
      type = "AbortIncompleteMultipartUpload"
    }
  }
  lifecycle_rule {
    condition {
      days_since_noncurrent_time = 7
    }
    action {
      type = "Delete"
    }
  }
  logging {
    log_bucket = google_storage_bucket.access_logs.name
  }
}

resource "google_storage_bucket" "media" {
  #checkov:skip=CKV_GCP_114:processed image variants are served publicly by design (see media_public_read)
  name                        = "${var.project_id}-${var.environment}-media"
  location                    = var.region
  uniform_bucket_level_access = true
  labels                      = local.labels
  versioning {
    enabled = true
  }
  # A deleted variant (media deleted, account erased) stays readable by its generation while
  # a noncurrent version exists: keep those one day, for recovery from a mistake, no longer.
  lifecycle_rule {
    condition {
      days_since_noncurrent_time = 1
    }
    action {
      type = "Delete"
    }
  }
  logging {
    log_bucket = google_storage_bucket.access_logs.name
  }
}

# Only image-processing writes here, and only stripped variants: they are meant to be public.
# Reading an object by its name, not listing the bucket: objectViewer would let anyone
# enumerate every variant; legacyObjectReader is storage.objects.get alone.
resource "google_storage_bucket_iam_member" "media_public_read" {
  #checkov:skip=CKV_GCP_28:the media bucket serves processed, metadata-free image variants to everyone by design (read by name, no listing)
  bucket = google_storage_bucket.media.name
  role   = "roles/storage.legacyObjectReader"
  member = "allUsers"
}

resource "google_storage_bucket" "sources" {
  name                        = "${var.project_id}-${var.environment}-function-sources"
  location                    = var.region
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  labels                      = local.labels
  versioning {
    enabled = true
  }
  logging {
    log_bucket = google_storage_bucket.access_logs.name
  }
}

# Each function's account holds the role functions.yaml gives it (`buckets:`) on that bucket only.
resource "google_storage_bucket_iam_member" "uploads_users" {
  for_each = local.grants_on["uploads_bucket"]
  bucket   = google_storage_bucket.uploads.name
  role     = each.value.role
  member   = "serviceAccount:${google_service_account.function[each.value.function].email}"
}

resource "google_storage_bucket_iam_member" "media_writers" {
  for_each = local.grants_on["media_bucket"]
  bucket   = google_storage_bucket.media.name
  role     = each.value.role
  member   = "serviceAccount:${google_service_account.function[each.value.function].email}"
}

# A finished upload notifies image-processing (topic media-uploads).
resource "google_pubsub_topic_iam_member" "gcs_notifications" {
  topic  = google_pubsub_topic.topic["media-uploads"].id
  role   = "roles/pubsub.publisher"
  member = "serviceAccount:${data.google_storage_project_service_account.gcs.email_address}"
}

resource "google_storage_notification" "uploads_finalized" {
  bucket             = google_storage_bucket.uploads.name
  topic              = google_pubsub_topic.topic["media-uploads"].id
  payload_format     = "JSON_API_V1"
  event_types        = ["OBJECT_FINALIZE"]
  object_name_prefix = "uploads/"
  depends_on         = [google_pubsub_topic_iam_member.gcs_notifications]
}
