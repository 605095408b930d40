"""notifications: a domain event -> the inbox of each person it concerns (once per event), the live
documents the web app listens to (the auction's state, their unread counts), then their emails."""
import shared.startup  # noqa: F401  (first, before anything heavy: see shared/startup.py)

import functools

import functions_framework

from shared.config import get_settings
from shared.events.consumer import apply_once, entry, run_all
from shared.events.envelope import envelope_from

CONSUMER = "notifications"


@functions_framework.cloud_event
@entry
def handle(cloud_event) -> None:
    from shared.live import documents
    from shared.notifications import mail, notices

    envelope = envelope_from(cloud_event)
    if envelope.type not in notices.EVENT_TYPES and envelope.type not in documents.EVENTS:
        return  # the cloud subscription's filter sends only these; locally every event arrives
    apply_once(CONSUMER, envelope.event_id, lambda unit: notices.record(unit.connection, envelope))
    # Also after a duplicate delivery: a Firestore or mail server that was down is what the
    # redelivery is for. Each step is idempotent; one failing does not keep the other from
    # running, and the first failure is raised afterwards, so the event comes again for both.
    settings = get_settings()
    mailer, accounts = _email()
    run_all(lambda: documents.refresh(envelope, _firestore()),
            lambda: mail.deliver(envelope.event_id, mailer, accounts.lookup, sender=settings.smtp_from,
                                 app_url=settings.app_url))


@functools.cache
def _firestore():
    from shared.live.firestore import Firestore

    settings = get_settings()
    return Firestore(settings.google_cloud_project, emulator_host=settings.firestore_emulator_host)


@functools.cache
def _email():
    from shared.identity.accounts import FirebaseAccounts
    from shared.notifications.mail import SmtpMailer

    settings = get_settings()
    settings.require("smtp_host", "smtp_from", "app_url")
    mailer = SmtpMailer(settings.smtp_host, settings.smtp_port, starttls=settings.smtp_starttls,
                        username=settings.smtp_username, password=settings.smtp_password)
    return mailer, FirebaseAccounts(settings.google_cloud_project, emulator_host=settings.firebase_auth_emulator_host)
