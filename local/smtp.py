"""The local mail server: aiosmtpd (PyPI), a real SMTP server, keeping every message it is
given in a Maildir instead of passing it on. Notifications' mail (shared/notifications/mail.py)
reaches it over SMTP exactly as it reaches a provider's relay in the cloud, less STARTTLS
and the login. `make dev` keeps it in .local/mail; read it with any Maildir reader, or
`python -m local.smtp .local/mail` for the newest messages."""
from __future__ import annotations

import email
import email.policy
import mailbox
import sys
from email.message import EmailMessage
from pathlib import Path


class SmtpSink:
    """An SMTP server on loopback writing to ``maildir``; ``stop()`` ends it."""

    def __init__(self, port: int, maildir: Path) -> None:
        from aiosmtpd.controller import Controller
        from aiosmtpd.handlers import Mailbox

        maildir.parent.mkdir(parents=True, exist_ok=True)
        self.maildir, self.port = maildir, port
        self._controller = Controller(Mailbox(str(maildir)), hostname="127.0.0.1", port=port)

    def start(self) -> SmtpSink:
        self._controller.start()
        return self

    def stop(self) -> None:
        self._controller.stop()

    def messages(self) -> list[EmailMessage]:
        return received(self.maildir)


def received(maildir: Path) -> list[EmailMessage]:
    """Every message the sink kept, oldest first, with its headers decoded."""
    if not maildir.exists():
        return []
    box = mailbox.Maildir(str(maildir), create=False)
    keys = sorted(box.iterkeys(), key=lambda key: box.get_message(key).get_date())
    return [email.message_from_bytes(box.get_bytes(key), policy=email.policy.default) for key in keys]


def main(argv: list[str]) -> int:
    maildir = Path(argv[0] if argv else ".local/mail")
    for message in received(maildir)[-20:]:
        print(f"{message['Date']}  to {message['To']}: {message['Subject']}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
