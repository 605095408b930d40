# Topics, and for every event-driven function an explicit push subscription (OIDC,
# retries, a dead-letter topic of its own): Eventarc triggers cannot carry a
# dead-letter policy.

locals {
  pubsub_agent = "serviceAccount:service-${data.google_project.this.number}@gcp-sa-pubsub.iam.gserviceaccount.com"
}

resource "google_pubsub_topic" "topic" {
  #checkov:skip=CKV_GCP_83:messages are event envelopes without secrets or personal data beyond ids; Google-managed encryption at rest
  for_each                   = local.topics
  name                       = each.key
  labels                     = local.labels
  message_retention_duration = "86400s"
}

resource "google_pubsub_topic" "dead_letter" {
  #checkov:skip=CKV_GCP_83:the same envelopes as the topics they come from; Google-managed encryption at rest
  for_each                   = local.event_functions
  name                       = "${each.key}-dead-letter"
  labels                     = local.labels
  message_retention_duration = "604800s"
}

resource "google_pubsub_subscription" "push" {
  for_each = local.event_functions
  name     = "${each.value.trigger.topic}-${each.key}"
  topic    = google_pubsub_topic.topic[each.value.trigger.topic].id
  labels   = local.labels

  # Only the messages the function is for (functions.yaml trigger.filter), where it says.
  filter = try(each.value.trigger.filter, null)

  # Never deleted for being idle (Pub/Sub's default is 31 days without activity).
  expiration_policy {
    ttl = ""
  }

  # Longer than the function may run, so a slow success is not redelivered meanwhile.
  ack_deadline_seconds       = min(600, tonumber(trimsuffix(each.value.resources.timeout, "s")) + 30)
  message_retention_duration = "604800s"

  push_config {
    push_endpoint = google_cloudfunctions2_function.function[each.key].service_config[0].uri
    oidc_token {
      service_account_email = google_service_account.push_invoker.email
      audience              = google_cloudfunctions2_function.function[each.key].service_config[0].uri
    }
  }

  retry_policy {
    minimum_backoff = each.value.trigger.min_backoff
    maximum_backoff = each.value.trigger.max_backoff
  }

  dead_letter_policy {
    dead_letter_topic     = google_pubsub_topic.dead_letter[each.key].id
    max_delivery_attempts = each.value.trigger.max_delivery_attempts
  }
}

# What ends in a dead-letter topic stays readable (and alerted on) for a week.
resource "google_pubsub_subscription" "dead_letter" {
  for_each                   = local.event_functions
  name                       = "${each.key}-dead-letter"
  topic                      = google_pubsub_topic.dead_letter[each.key].id
  labels                     = local.labels
  message_retention_duration = "604800s"
  ack_deadline_seconds       = 60
  # A dead-letter subscription is idle by design until something fails: it must never expire.
  expiration_policy {
    ttl = ""
  }
}

# Pub/Sub itself moves poison messages: publish on the dead-letter topic, acknowledge the source.
resource "google_pubsub_topic_iam_member" "dead_letter_publisher" {
  for_each = local.event_functions
  topic    = google_pubsub_topic.dead_letter[each.key].id
  role     = "roles/pubsub.publisher"
  member   = local.pubsub_agent
}

resource "google_pubsub_subscription_iam_member" "dead_letter_subscriber" {
  for_each     = local.event_functions
  subscription = google_pubsub_subscription.push[each.key].id
  role         = "roles/pubsub.subscriber"
  member       = local.pubsub_agent
}

# Push subscriptions mint OIDC tokens as the invoker account.
resource "google_service_account_iam_member" "pubsub_token_creator" {
  service_account_id = google_service_account.push_invoker.name
  role               = "roles/iam.serviceAccountTokenCreator"
  member             = local.pubsub_agent
}

resource "google_pubsub_topic_iam_member" "publisher" {
  for_each = local.grants_on["topic"]
  topic    = google_pubsub_topic.topic[each.value.ref].id
  role     = each.value.role
  member   = "serviceAccount:${google_service_account.function[each.value.function].email}"
}
