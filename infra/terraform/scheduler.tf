# Each scheduled function in functions.yaml gets a job that publishes an empty tick on
# its topic, authenticated as the scheduler's own account (publisher on that topic only).

resource "google_pubsub_topic_iam_member" "scheduler_publisher" {
  for_each = local.scheduled
  topic    = google_pubsub_topic.topic[each.value.trigger.topic].id
  role     = "roles/pubsub.publisher"
  member   = "serviceAccount:${google_service_account.scheduler.email}"
}

resource "google_cloud_scheduler_job" "tick" {
  for_each         = local.scheduled
  name             = "${each.value.trigger.topic}-tick"
  region           = var.region
  schedule         = each.value.trigger.schedule
  time_zone        = "Etc/UTC"
  attempt_deadline = "60s"

  http_target {
    http_method = "POST"
    uri         = "https://pubsub.googleapis.com/v1/${google_pubsub_topic.topic[each.value.trigger.topic].id}:publish"
    headers     = { "Content-Type" = "application/json" }
    body        = base64encode(jsonencode({ messages = [{ data = base64encode("{}"), attributes = { source = "scheduler" } }] }))
    oauth_token {
      service_account_email = google_service_account.scheduler.email
      scope                 = "https://www.googleapis.com/auth/pubsub"
    }
  }

  depends_on = [google_pubsub_topic_iam_member.scheduler_publisher]
}
