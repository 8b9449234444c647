"""The local run's outbox: every mail SES (moto) accepted, kept in memory and written as an .eml file."""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chalicelib.services.ports import SentMail
from localdesk.environment import mail_directory

logger = logging.getLogger("localdesk.mail")
SLUG_LIMIT = 48
UNSAFE = re.compile(r"[^A-Za-z0-9]+")


@dataclass(frozen=True)
class LoggedMail:
    number: int
    mail: SentMail
    eml: Path | None  # None if the file could not be written

    def summary(self) -> dict[str, Any]:
        return {
            "id": self.number,
            "to": self.mail.to,
            "subject": self.mail.subject,
            "text": self.mail.text,
            "html": self.mail.html,
            "sent_at": self.mail.sent_at.isoformat(),
            "kind": self.mail.kind,
            "ticket_id": self.mail.ticket_id,
            "message_id": self.mail.message_id,
            "eml": str(self.eml) if self.eml is not None else None,
        }


def slug(text: str, limit: int = SLUG_LIMIT) -> str:
    """Letters and digits joined by single hyphens: safe in any file name, never a path or a hidden file."""
    return UNSAFE.sub("-", text)[:limit].strip("-")


def eml_name(number: int, mail: SentMail) -> str:
    """E.g. 0001-acknowledgement-HD-1001-We-received-your-request.eml: sorts in send order, says what it is."""
    parts = [f"{number:04d}", slug(mail.kind, 32) or "mail", slug(mail.subject)]
    return "-".join(part for part in parts if part) + ".eml"


class MailLog:
    """What the local run passes as `on_sent`: `record` is called after each mail SES accepted (from any thread).

    The files go to HELPDESK_MAIL_DIR, else <project>/.localdesk/mail; `start()` creates the folder and removes the
    .eml files an earlier run left there (nothing else).
    """

    def __init__(self, directory: Path | None = None, environ: Mapping[str, str] | None = None) -> None:
        self.directory = directory if directory is not None else mail_directory(environ)
        self._lock = threading.Lock()
        self._mails: list[LoggedMail] = []

    def start(self) -> MailLog:
        self.directory.mkdir(parents=True, exist_ok=True)
        for old in self.directory.glob("*.eml"):
            if old.is_symlink() or old.is_file():
                old.unlink()
        return self

    def record(self, mail: SentMail) -> None:
        """Never raises for want of a file: the mail was sent, and the in-memory outbox still shows it."""
        with self._lock:
            number = len(self._mails) + 1
            path = self.directory / eml_name(number, mail)
            written: Path | None = path
            try:
                path.write_bytes(mail.raw)
            except OSError as exc:
                logger.warning("could not write %s (%s); the mail is only in the outbox listing", path, exc)
                written = None
            self._mails.append(LoggedMail(number, mail, written))

    def listing(self) -> list[dict[str, Any]]:
        """Oldest first, newest last."""
        with self._lock:
            return [logged.summary() for logged in self._mails]

    def __len__(self) -> int:
        with self._lock:
            return len(self._mails)
