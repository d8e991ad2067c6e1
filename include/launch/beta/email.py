"""Pluggable email for the beta: invitations and the pause notice.

``outbox`` writes each message (RFC 5322 text) into the phase's evidence folder, which is both the
default and the audit trail; ``smtp`` sends through an Airflow connection (host, port, login,
password; extra ``from`` and ``starttls``) and keeps the same copy in the outbox.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from email.message import EmailMessage
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from include.launch.evidence.runtime import PhaseRun

DEFAULT_FROM = "launch@accubooks.example.com"


@dataclass(frozen=True)
class Mail:
    to: str
    subject: str
    body: str
    kind: str = "message"
    key: str = ""


class EmailSender(Protocol):
    def send(self, mail: Mail) -> str:
        """Deliver one message; return where it went (an evidence path or the SMTP server)."""


def render(mail: Mail, sender: str = DEFAULT_FROM) -> EmailMessage:
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = sender, mail.to, mail.subject
    message.set_content(mail.body)
    return message


def _slug(text: str) -> str:
    return re.sub(r"[^a-zA-Z0-9_.-]+", "_", text).strip("_") or "message"


class OutboxSender:
    """Writes each message to ``outbox/<kind>_<key>.eml`` in the run's evidence folder."""

    def __init__(self, run: PhaseRun) -> None:
        self.run = run

    def send(self, mail: Mail) -> str:
        name = f"outbox/{_slug(mail.kind)}_{_slug(mail.key or mail.to)}.eml"
        return self.run.evidence.write_text(name, render(mail).as_string(), replace=True).path


class SmtpSender:
    """Sends through the SMTP server of an Airflow connection; the outbox keeps a copy."""

    def __init__(self, run: PhaseRun, conn_id: str) -> None:
        self.run, self.conn_id = run, conn_id
        self.outbox = OutboxSender(run)

    def send(self, mail: Mail) -> str:
        import smtplib

        from include.launch.core.connections import get_connection

        conn = get_connection(self.conn_id)
        extra = conn.extra_dejson or {}
        message = render(mail, str(extra.get("from") or DEFAULT_FROM))
        with smtplib.SMTP(conn.host or "localhost", int(conn.port or 25), timeout=10) as smtp:
            if extra.get("starttls"):
                smtp.starttls()
            if conn.login:
                smtp.login(conn.login, conn.password or "")
            smtp.send_message(message)
        self.outbox.send(mail)
        return f"smtp://{conn.host}:{conn.port or 25}"


def email_sender(kind: str, run: PhaseRun, smtp_conn_id: str = "") -> EmailSender:
    if kind == "smtp":
        return SmtpSender(run, smtp_conn_id)
    return OutboxSender(run)
