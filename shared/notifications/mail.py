"""The email channel: a notification's email, sent once its inbox entry is committed.

The port is ``Mailer`` (one message at a time); ``SmtpMailer`` speaks SMTP to a relay (a
local sink in development and tests, a mail provider's submission port in the cloud).

The address is the sign-in account's, read from Firebase Authentication when the mail is
sent, and only if the provider verified it: the database keeps no copy to go stale, and an
account cannot have mail sent to an address it has not proven it holds.

At least once: the pending rows of an event are locked while their mail is sent and marked
``sent`` in the same transaction. A mail server that cannot be reached raises, so Pub/Sub
delivers the event again (the inbox entries are there already; only the mail is retried) and
finally dead-letters it; a crash between the server's answer and the commit sends again,
with the same Message-ID, which mail clients use to fold duplicates.
"""
from __future__ import annotations

import logging
import smtplib
import uuid
from collections.abc import Callable
from email.message import EmailMessage
from email.utils import formatdate
from typing import TYPE_CHECKING, Protocol

from sqlalchemy import select

from shared.notifications.tables import notifications
from shared.tables import users

if TYPE_CHECKING:
    from sqlalchemy import Connection

    from shared.identity.accounts import Account

logger = logging.getLogger(__name__)
TIMEOUT_SECONDS = 10


class MailUnavailable(Exception):
    """The mail server could not take the message now: retry later."""


class MailRefused(Exception):
    """The mail server refused the message for good (a bad address): retrying will not help."""


class Mailer(Protocol):
    def send(self, message: EmailMessage) -> None: ...


class SmtpMailer:
    def __init__(self, host: str, port: int, *, starttls: bool, username: str | None = None,
                 password: str | None = None) -> None:
        self._host, self._port, self._starttls = host, port, starttls
        self._login = (username, password) if username and password else None

    def send(self, message: EmailMessage) -> None:
        try:
            with smtplib.SMTP(self._host, self._port, timeout=TIMEOUT_SECONDS) as smtp:
                if self._starttls:
                    smtp.starttls()
                if self._login:
                    smtp.login(*self._login)
                smtp.send_message(message)
        except smtplib.SMTPRecipientsRefused as refused:
            raise MailRefused(f"the mail server refused the recipient ({_codes(refused.recipients)})") from None
        except smtplib.SMTPResponseException as error:
            if 500 <= error.smtp_code < 600:
                raise MailRefused(f"the mail server refused the message ({error.smtp_code})") from None
            raise MailUnavailable(f"the mail server answered {error.smtp_code}") from None
        except (OSError, smtplib.SMTPException) as error:
            raise MailUnavailable(f"the mail server could not be reached: {type(error).__name__}") from None


def _codes(recipients: dict) -> str:
    return ", ".join(str(code) for code, _ in recipients.values())


def compose(notification_id: uuid.UUID, title: str, to: str, *, sender: str, app_url: str) -> EmailMessage:
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = sender, to, title
    message["Date"] = formatdate(usegmt=True)
    message["Message-ID"] = f"<{notification_id}@{sender.rpartition('@')[2].strip('> ') or 'kalakrut'}>"
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(f"{title}\n\nSee it in KalaKrut: {app_url}/#/notifications\n\n"
                        f"You receive this because email is on for this kind of notification. "
                        f"Choose what you hear of at {app_url}/#/notifications.\n")
    return message


def deliver(event_id: uuid.UUID, mailer: Mailer, lookup: Callable[[str], Account | None], *, sender: str,
            app_url: str) -> int:
    """Send the pending emails of one event's notifications, each in its own transaction (a
    server lost halfway leaves those sent marked sent); how many were sent."""
    sent = 0
    while (outcome := _deliver_one(event_id, mailer, lookup, sender=sender, app_url=app_url)) is not None:
        sent += outcome
    return sent


def _deliver_one(event_id: uuid.UUID, mailer: Mailer, lookup: Callable[[str], Account | None], *, sender: str,
                 app_url: str) -> int | None:
    """One pending email of the event: 1 sent, 0 settled without sending, None if none is left."""
    from shared.db import work

    with work() as unit:
        conn = unit.connection
        row = conn.execute(
            select(notifications.c.id, notifications.c.title, users.c.firebase_uid)
            .join(users, users.c.id == notifications.c.user_id)
            .where(notifications.c.event_id == event_id, notifications.c.email_status == "pending")
            .order_by(notifications.c.id).limit(1)
            .with_for_update(of=notifications, skip_locked=True)).first()
        if row is None:
            return None
        account = lookup(row.firebase_uid) if row.firebase_uid else None
        if account is None or not account.email or not account.email_verified:
            _settle(conn, row.id, "skipped", "no verified email address")
            return 0
        try:
            mailer.send(compose(row.id, row.title, account.email, sender=sender, app_url=app_url))
        except MailRefused as refused:
            _settle(conn, row.id, "skipped", str(refused))
            return 0
        _settle(conn, row.id, "sent", None)
        return 1


def _settle(conn: Connection, notification_id: uuid.UUID, status: str, error: str | None) -> None:
    conn.execute(notifications.update().where(notifications.c.id == notification_id)
                 .values(email_status=status, email_error=error))
