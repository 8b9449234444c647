"""The console's sign-in mail, built by `sign_in_letter` and sent through the real outbox to moto's SES: one mail
per request, automated, about no ticket, in no thread."""

from __future__ import annotations

from chalicelib import wiring
from chalicelib.domain.config import default_config
from chalicelib.services.mailing import Letter, sign_in_letter
from tests.api.mail_fixtures import ADMIN, BASE, Mailbox, parsed

CONFIG = default_config()
LINK = f"{BASE}/console/sign-in/confirm?token=one-time"


def letter_for(nonce: str) -> Letter:
    admin = next(a for a in wiring.desk().list_agents() if a.email == ADMIN)
    return sign_in_letter(
        agent_email=admin.email,
        agent_name=admin.name,
        agent_id=admin.id,
        link=LINK,
        minutes=15,
        desk_name=CONFIG.desk.name,
        nonce=nonce,
    )


def test_a_sign_in_mail_is_sent_once_per_request_with_its_one_time_link(mailbox: Mailbox, admin_token: str) -> None:
    postman, _ = wiring.mail()

    tally = postman.post([letter_for("n1")], CONFIG)
    again = postman.post([letter_for("n1")], CONFIG)  # the same request, handled twice
    other = postman.post([letter_for("n2")], CONFIG)  # a new request

    assert (tally, again, other) == (
        {"recorded": 1, "already_recorded": 0, "sent": 1},
        {"recorded": 0, "already_recorded": 1},
        {"recorded": 1, "already_recorded": 0, "sent": 1},
    )
    assert [(m.kind, m.to, m.key) for m in mailbox.sent] == [
        ("sign_in", ADMIN, "signin#n1"),
        ("sign_in", ADMIN, "signin#n2"),
    ]
    mail = mailbox.sent[0]
    assert mail.ticket_id.startswith("agent#")
    assert mail.subject == "Sign in to Help desk"
    text = " ".join(mail.text.split())
    assert text.startswith("Hi Ada Admin, Someone (hopefully you) asked to sign in to the Help desk console.")
    assert f"Use this link within 15 minutes; it works once: {LINK}" in text
    assert "If you did not ask for this, ignore this mail; nobody can sign in without it." in text
    assert f'<a href="{LINK}"' in mail.html
    assert "Sign in to the console</a>" in mail.html
    message = parsed(mail)
    assert message["Auto-Submitted"] == "auto-generated"
    assert message["In-Reply-To"] is None  # each sign-in mail on its own, not threaded with the last
    assert message["References"] is None
    assert message.get_all("To") == [f"Ada Admin <{ADMIN}>"]
    assert parsed(mailbox.sent[1])["Message-ID"] != message["Message-ID"]
