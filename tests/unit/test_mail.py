"""The SMTP adapter against a real SMTP server (aiosmtpd): what is for good and what is for
later. A 5xx refusal of the recipient or the message is final (the mail is skipped); a 4xx
(greylisting, a full mailbox), a refused sender or no server at all is retried."""
from __future__ import annotations

import uuid

import pytest

from local.processes import free_port
from shared.notifications.mail import MailRefused, MailUnavailable, SmtpMailer, compose


class Picky:
    """Refuses recipients by their local part: gone@ for good (550), busy@ for now (450);
    refuses the sender spam@ (553); takes the rest."""

    def __init__(self) -> None:
        self.delivered: list[bytes] = []

    async def handle_MAIL(self, server, session, envelope, address, options):
        if address.startswith("spam@"):
            return "553 sender not allowed"
        envelope.mail_from = address
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, options):
        if address.startswith("gone@"):
            return "550 no such mailbox"
        if address.startswith("busy@"):
            return "450 mailbox busy, try later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.delivered.append(envelope.content)
        return "250 Message accepted"


@pytest.fixture(scope="module")
def server():
    from aiosmtpd.controller import Controller

    handler = Picky()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield controller.port, handler
    controller.stop()


def _mail(to: str, sender: str = "n@kalakrut.test", title: str = "You were outbid"):
    return compose(uuid.uuid4(), title, to, sender=sender, app_url="https://kalakrut.test")


def test_a_mail_taken_is_delivered_once_with_its_notice_as_message_id(server):
    port, handler = server
    notice = uuid.uuid4()
    SmtpMailer("127.0.0.1", port, starttls=False).send(
        compose(notice, "You won “Tide”", "ann@example.test", sender="n@kalakrut.test", app_url="https://k.test"))
    assert f"Message-ID: <{notice}@kalakrut.test>".encode() in handler.delivered[-1]


def test_only_a_5xx_refusal_of_the_recipient_is_for_good(server):
    port, _ = server
    mailer = SmtpMailer("127.0.0.1", port, starttls=False)
    with pytest.raises(MailRefused, match="550"):
        mailer.send(_mail("gone@example.test"))
    with pytest.raises(MailUnavailable, match="450"):
        mailer.send(_mail("busy@example.test"))
    # A refused sender is the platform's configuration: retried (and dead-lettered), never skipped.
    with pytest.raises(MailUnavailable, match="553"):
        mailer.send(_mail("ann@example.test", sender="spam@kalakrut.test"))
    with pytest.raises(MailUnavailable, match="could not be reached"):
        SmtpMailer("127.0.0.1", free_port(), starttls=False).send(_mail("ann@example.test"))


def test_a_title_with_line_separators_becomes_a_one_line_subject():
    message = _mail("ann@example.test", title="Bidding on “Tide\u2028Chart” ends soon")
    assert message["Subject"] == "Bidding on “Tide Chart” ends soon"
