"""Pub/Sub topic names the code publishes to (functions.yaml declares them all)."""

DOMAIN_EVENTS = "domain-events"
