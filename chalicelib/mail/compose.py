"""The Composer the services use: a letter rendered from the shipped templates and built into MIME bytes."""

from __future__ import annotations

from datetime import datetime

from chalicelib.mail.mime import Envelope, build_message
from chalicelib.mail.render import render_mail
from chalicelib.services.mailing import ACKNOWLEDGEMENT, Composed, Letter, Sender

TOO_LARGE = "too_large"


class TemplateComposer:
    def compose(self, letter: Letter, sender: Sender, date: datetime) -> Composed:
        """ValueError when the letter cannot become a mail (an address SES cannot take)."""
        mail = render_mail(letter.kind, letter.context, desk_reads_replies=sender.reads_replies)
        envelope = Envelope(
            sender=sender.address,
            sender_name=sender.name,
            to=letter.to,
            to_name=letter.to_name,
            reply_to=sender.reply_to,
            message_key=f"{letter.ticket_id}/{letter.key}",
            thread_key=letter.ticket_id if letter.threaded else None,
            automated=letter.automated,
            list_unsubscribe=letter.unsubscribe_url,
            reply_to_name=sender.name if sender.reads_replies else "",
            thread_tag=sender.thread_tag if letter.threaded else None,
            # The acknowledgement answers what the requester sent (RFC 3834 5.2); the others are generated.
            # The acknowledgement and the answer to a message too large to read answer what someone sent
            # (RFC 3834 5.2); the others are generated.
            auto_replied=letter.kind in (ACKNOWLEDGEMENT, TOO_LARGE),
        )
        return Composed(mail.subject, mail.text, mail.html, build_message(envelope, mail, date))
