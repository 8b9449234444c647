"""The desk's mails as text and HTML, from the Jinja2 templates under chalicelib/templates/email/.

Each kind has `email/<kind>.txt` (its subject in `{% block subject %}`, its text/plain body) and `email/<kind>.html`
(extending `email/layout.html`). Jinja2 is imported on the first mail rendered, never when the app is imported.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from chalicelib.domain.attachments import size_text
from chalicelib.mail.mime import header_text

if TYPE_CHECKING:
    from jinja2 import Environment
    from markupsafe import Markup

KINDS = (
    "acknowledgement",
    "reply",
    "status",
    "assigned",
    "requester_comment",
    "reminder",
    "team_reminder",
    "sla",
    "sla_digest",
    "survey",
    "sign_in",
    "ack_ceiling",
    "too_large",
    "webhook_off",
)
# The kinds a person may answer by mail: about one ticket, to its requester or its agents. When the desk receives
# mail they start with the reply marker, above which an answer is read (chalicelib/mail/replies.py). Not the
# survey (answered by its links), nor the mails about no one ticket: the sign-in link, the SLA digest, the admins'
# ceiling notice, the notice that an inbound mail was too large.
ANSWERABLE = frozenset(
    {"acknowledgement", "reply", "status", "reminder", "assigned", "requester_comment", "sla", "team_reminder"}
)
SLA_LEVELS = ("at_risk", "breached")
SUBJECT_LIMIT = 150
_PARAGRAPH_STYLE = "margin:0 0 16px;"

_text_environment: Environment | None = None
_html_environment: Environment | None = None


@dataclass(frozen=True)
class RenderedMail:
    subject: str  # one line, already safe (no CR/LF/control chars), <= 200 chars
    text: str  # text/plain body
    html: str  # text/html body, every value autoescaped


def href(url: str) -> str:
    """A link target: only http(s) URLs are put in a mail (never javascript:, data: ...); escaping is the caller's."""
    text = str(url)
    if urlsplit(text.strip()).scheme.lower() not in ("http", "https"):
        raise ValueError(f"not an http(s) URL: {text!r}")
    return text


def paragraphs(value: str) -> Markup:
    """Plain text as HTML: escaped first, then blank lines -> paragraphs and line breaks -> <br>."""
    from markupsafe import Markup, escape

    blocks: list[list[str]] = [[]]
    for line in str(value).splitlines():
        if line.strip():
            blocks[-1].append(line)
        elif blocks[-1]:
            blocks.append([])
    html = Markup("")
    for lines in blocks:
        if lines:
            inner = Markup("<br>\n").join(escape(line) for line in lines)
            html += Markup('<p style="{}">{}</p>\n').format(_PARAGRAPH_STYLE, inner)
    return html


def _environments() -> tuple[Environment, Environment]:
    """(text, html): both strict about undefined values; only the HTML one escapes, and it escapes everything."""
    global _text_environment, _html_environment
    if _text_environment is None or _html_environment is None:
        from jinja2 import Environment, PackageLoader, StrictUndefined

        loader = PackageLoader("chalicelib", "templates")
        # text/plain bodies and subjects are not HTML: nothing in them is escaped.
        text = Environment(
            loader=loader,
            autoescape=False,  # noqa: S701
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=True,  # an included piece of text ends its last line
        )
        html = Environment(
            loader=loader,
            autoescape=True,
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        for environment in (text, html):
            environment.filters["href"] = href
            environment.filters["size"] = size_text
        html.filters["paragraphs"] = paragraphs
        _text_environment, _html_environment = text, html
    return _text_environment, _html_environment


def render_mail(kind: str, context: Mapping[str, Any], *, desk_reads_replies: bool = False) -> RenderedMail:
    """The subject, text and HTML of one mail of `kind` (one of KINDS) for the context SPEC.md lists; with
    `desk_reads_replies` (answers come back to the desk), a kind in ANSWERABLE starts with the reply marker.

    ValueError for an unknown kind, a context that lacks a key the templates use, an unknown SLA level
    or a link that is not http(s).
    """
    if kind not in KINDS:
        raise ValueError(f"unknown mail kind {kind!r}; expected one of {', '.join(KINDS)}")
    levels = [context.get("level")] if kind == "sla" else []
    if kind == "sla_digest":
        levels = [alert.get("level") for alert in context.get("alerts") or []]
    for level in levels:
        if level not in SLA_LEVELS:
            raise ValueError(f"unknown SLA level {level!r}; expected one of {', '.join(SLA_LEVELS)}")
    from jinja2 import UndefinedError

    from chalicelib.mail.replies import REPLY_MARKER

    text_environment, html_environment = _environments()
    values = {**context, "reply_marker": REPLY_MARKER if desk_reads_replies and kind in ANSWERABLE else ""}
    try:
        text_template = text_environment.get_template(f"email/{kind}.txt")
        subject_line = "".join(text_template.blocks["subject"](text_template.new_context(values)))
        subject = header_text(subject_line, SUBJECT_LIMIT)
        text = text_template.render(values).strip() + "\n"
        html = html_environment.get_template(f"email/{kind}.html").render({**values, "mail_subject": subject}) + "\n"
    except UndefinedError as exc:
        raise ValueError(f"the context of a {kind!r} mail is incomplete: {exc.message}") from exc
    return RenderedMail(subject=subject, text=text, html=html)
