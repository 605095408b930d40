resource "google_monitoring_notification_channel" "email" {
  display_name = "KalaKrut ${var.environment} on-call"
  type         = "email"
  labels       = { email_address = var.alert_email }
}

locals {
  notify = [google_monitoring_notification_channel.email.id]
}

# Something gave up after every retry: a person must look (and replay it).
resource "google_monitoring_alert_policy" "dead_letters" {
  display_name          = "Dead-lettered events (${var.environment})"
  combiner              = "OR"
  notification_channels = local.notify
  conditions {
    display_name = "messages waiting in a dead-letter subscription"
    condition_threshold {
      filter          = "resource.type = \"pubsub_subscription\" AND metric.type = \"pubsub.googleapis.com/subscription/num_undelivered_messages\" AND resource.labels.subscription_id = ends_with(\"-dead-letter\")"
      comparison      = "COMPARISON_GT"
      threshold_value = 0
      duration        = "300s"
      aggregations {
        alignment_period   = "60s"
        per_series_aligner = "ALIGN_MAX"
      }
    }
  }
}

resource "google_monitoring_alert_policy" "function_errors" {
  display_name          = "Function 5xx rate (${var.environment})"
  combiner              = "OR"
  notification_channels = local.notify
  conditions {
    display_name = "more than 1 server error per minute on a function"
    condition_threshold {
      filter          = "resource.type = \"cloud_run_revision\" AND metric.type = \"run.googleapis.com/request_count\" AND metric.labels.response_code_class = \"5xx\""
      comparison      = "COMPARISON_GT"
      threshold_value = 1
      duration        = "300s"
      aggregations {
        # request_count is a DELTA count: ALIGN_DELTA over 60 s is errors per minute (ALIGN_RATE
        # would be errors per second, 60 times the threshold's meaning).
        alignment_period     = "60s"
        per_series_aligner   = "ALIGN_DELTA"
        cross_series_reducer = "REDUCE_SUM"
        group_by_fields      = ["resource.labels.service_name"]
      }
    }
  }
}

# The indexer logs each tick's lag (shared/chain/indexer.py: jsonPayload.lag_blocks).
resource "google_logging_metric" "indexer_lag" {
  name   = "indexer_lag_blocks"
  filter = "resource.type = \"cloud_run_revision\" AND resource.labels.service_name = \"chain-indexer\" AND jsonPayload.message = \"indexer tick\""
  metric_descriptor {
    metric_kind = "DELTA"
    value_type  = "DISTRIBUTION"
    unit        = "1"
    labels {
      key        = "chain_id"
      value_type = "STRING"
    }
  }
  value_extractor = "EXTRACT(jsonPayload.lag_blocks)"
  label_extractors = {
    chain_id = "EXTRACT(jsonPayload.chain_id)"
  }
  bucket_options {
    exponential_buckets {
      num_finite_buckets = 20
      growth_factor      = 2
      scale              = 1
    }
  }
}

resource "google_monitoring_alert_policy" "indexer_lag" {
  display_name          = "Chain indexer behind (${var.environment})"
  combiner              = "OR"
  notification_channels = local.notify
  conditions {
    display_name = "lag above ${var.indexer_lag_blocks} blocks"
    condition_threshold {
      filter          = "metric.type = \"logging.googleapis.com/user/${google_logging_metric.indexer_lag.name}\" AND resource.type = \"cloud_run_revision\""
      comparison      = "COMPARISON_GT"
      threshold_value = var.indexer_lag_blocks
      duration        = "600s"
      aggregations {
        alignment_period   = "300s"
        per_series_aligner = "ALIGN_PERCENTILE_50"
      }
    }
  }
  conditions {
    display_name = "no indexer tick for 15 minutes"
    condition_absent {
      filter   = "metric.type = \"logging.googleapis.com/user/${google_logging_metric.indexer_lag.name}\" AND resource.type = \"cloud_run_revision\""
      duration = "900s"
      # A DELTA distribution: ALIGN_COUNT is valid only for numeric or Boolean values;
      # ALIGN_DELTA keeps the distribution, and its absence is what this condition watches.
      aggregations {
        alignment_period   = "300s"
        per_series_aligner = "ALIGN_DELTA"
      }
    }
  }
}

resource "google_monitoring_alert_policy" "sql_load" {
  display_name          = "Cloud SQL load (${var.environment})"
  combiner              = "OR"
  notification_channels = local.notify
  conditions {
    display_name = "CPU above 80%"
    condition_threshold {
      filter          = "resource.type = \"cloudsql_database\" AND metric.type = \"cloudsql.googleapis.com/database/cpu/utilization\""
      comparison      = "COMPARISON_GT"
      threshold_value = 0.8
      duration        = "600s"
      aggregations {
        alignment_period   = "60s"
        per_series_aligner = "ALIGN_MEAN"
      }
    }
  }
  conditions {
    display_name = "connections above 80% of max (serverless pools add up)"
    condition_threshold {
      filter          = "resource.type = \"cloudsql_database\" AND metric.type = \"cloudsql.googleapis.com/database/postgresql/num_backends\""
      comparison      = "COMPARISON_GT"
      threshold_value = 80
      duration        = "300s"
      aggregations {
        alignment_period   = "60s"
        per_series_aligner = "ALIGN_MAX"
      }
    }
  }
}

# graph-reconcile logs one report per run (shared/graph/reconcile.py: jsonPayload.repaired).
resource "google_logging_metric" "graph_repairs" {
  name   = "graph_reconcile_repairs"
  filter = "resource.type = \"cloud_run_revision\" AND resource.labels.service_name = \"graph-reconcile\" AND jsonPayload.message = \"graph reconcile\""
  metric_descriptor {
    metric_kind = "DELTA"
    value_type  = "DISTRIBUTION"
    unit        = "1"
  }
  value_extractor = "EXTRACT(jsonPayload.repaired)"
  bucket_options {
    exponential_buckets {
      num_finite_buckets = 16
      growth_factor      = 4
      scale              = 1
    }
  }
}

# A repair now and then is what the reconcile is for; repairs in two runs in a row (it runs
# every 5 minutes) mean something upstream keeps losing events.
resource "google_monitoring_alert_policy" "graph_repairs" {
  display_name          = "Graph repaired twice in a row (${var.environment})"
  combiner              = "OR"
  notification_channels = local.notify
  conditions {
    display_name = "graph-reconcile repaired something in two consecutive runs"
    condition_threshold {
      filter          = "metric.type = \"logging.googleapis.com/user/${google_logging_metric.graph_repairs.name}\" AND resource.type = \"cloud_run_revision\""
      comparison      = "COMPARISON_GT"
      threshold_value = 0
      duration        = "600s"
      aggregations {
        alignment_period   = "300s"
        per_series_aligner = "ALIGN_PERCENTILE_05"
      }
    }
  }
}
