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
import ssl
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
        """Hand the message to the server. Only the server's 5xx refusal of this recipient or
        this message is for good (MailRefused); a refused login or sender, a 4xx (greylisting,
        a full mailbox) or no answer is the platform's or the moment's (MailUnavailable)."""
        smtp = None
        try:
            smtp = smtplib.SMTP(self._host, self._port, timeout=TIMEOUT_SECONDS)
            if self._starttls:  # the relay's certificate checked against its name: the login goes over it
                smtp.starttls(context=ssl.create_default_context())
            if self._login:
                smtp.login(*self._login)
            smtp.send_message(message)
        except smtplib.SMTPRecipientsRefused as refused:
            codes = [code for code, _ in refused.recipients.values()]
            if all(500 <= code < 600 for code in codes):
                raise MailRefused(f"the mail server refused the recipient ({_codes(codes)})") from None
            raise MailUnavailable(f"the mail server put the recipient off ({_codes(codes)})") from None
        except smtplib.SMTPDataError as error:
            if 500 <= error.smtp_code < 600:
                raise MailRefused(f"the mail server refused the message ({error.smtp_code})") from None
            raise MailUnavailable(f"the mail server put the message off ({error.smtp_code})") from None
        except smtplib.SMTPResponseException as error:  # the greeting, STARTTLS, the login, the sender
            raise MailUnavailable(f"the mail server answered {error.smtp_code} before the message") from None
        except (OSError, smtplib.SMTPException) as error:
            raise MailUnavailable(f"the mail server could not be reached: {type(error).__name__}") from None
        finally:
            if smtp is not None:
                _quit(smtp)


def _quit(smtp: smtplib.SMTP) -> None:
    """Say goodbye; the message was handed over (or not) before this, whatever QUIT answers."""
    try:
        smtp.quit()
    except (OSError, smtplib.SMTPException):
        smtp.close()


def _codes(codes: list[int]) -> str:
    return ", ".join(str(code) for code in codes)


def compose(notification_id: uuid.UUID, title: str, to: str, *, sender: str, app_url: str) -> EmailMessage:
    """The notice as a plain-text mail. A title quotes people's own words (an item's title, a
    name), which may hold line separators a header cannot: the subject is made one line."""
    title = " ".join(title.splitlines())
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
            _settle(conn, row.id, "skipped", "no verified email address")  # the person's choice, not a fault
            return 0
        try:
            message = compose(row.id, row.title, account.email, sender=sender, app_url=app_url)
        except (ValueError, TypeError) as error:  # an address or header the mail format cannot carry
            return _skip(conn, row.id, f"the mail could not be written: {type(error).__name__}")
        try:
            mailer.send(message)
        except MailRefused as refused:
            return _skip(conn, row.id, str(refused))
        _settle(conn, row.id, "sent", None)
        return 1


def _skip(conn: Connection, notification_id: uuid.UUID, reason: str) -> int:
    logger.warning("notification email not sent", extra={"notification_id": str(notification_id), "reason": reason})
    _settle(conn, notification_id, "skipped", reason)
    return 0


def _settle(conn: Connection, notification_id: uuid.UUID, status: str, error: str | None) -> None:
    conn.execute(notifications.update().where(notifications.c.id == notification_id)
                 .values(email_status=status, email_error=error))
