"""Notifications: what a domain event means to each person it concerns (an in-app inbox,
per-kind preferences, an email channel behind a port). Decision 0029."""
