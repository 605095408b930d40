"""Live documents: small Cloud Firestore documents the web app listens to with the Firebase SDK
(an auction's state for everyone, a person's unread count for them alone). PostgreSQL stays
the source of truth; these are its latest readings, written by the notifications function."""
