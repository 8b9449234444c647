"""The desk's mails: rendering (Jinja2, imported lazily) and raw MIME messages (standard library `email`)."""

from chalicelib.mail.mime import Envelope, build_message, header_text
from chalicelib.mail.render import KINDS, RenderedMail, render_mail

__all__ = ["KINDS", "Envelope", "RenderedMail", "build_message", "header_text", "render_mail"]
