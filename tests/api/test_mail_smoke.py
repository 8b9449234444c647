"""Smoke: a ticket's life through the real handlers sends the mail it should, once."""

from __future__ import annotations

from tests.api.conftest import Api
from tests.api.mail_fixtures import Mailbox, run_job
from tests.clocks import ManualClock
from tests.streams import Stream


def test_acknowledgement_reply_and_survey(api: Api, stream: Stream, mailbox: Mailbox, clock: ManualClock) -> None:
    opened = api.open()
    stream.drain()
    assert mailbox.kinds() == ["acknowledgement"]
    ack = mailbox.sent[0]
    assert ack.to == "rosa@example.org"
    assert opened["ref"] in ack.subject
    assert "/portal/tickets/" in ack.text
    status, _ = api.json("POST", f"/tickets/{opened['id']}/comments", {"body": "Try turning it off.", "public": True})
    assert status == 201
    stream.drain()
    assert mailbox.kinds() == ["acknowledgement", "reply"]
    assert api.move(opened["id"], "resolved")[0] == 200
    stream.drain()
    assert mailbox.kinds()[-1] == "status"
    assert run_job(api.client, "survey_sender")["sent"] == 0
    clock.advance(hours=2)
    assert run_job(api.client, "survey_sender")["sent"] == 1
    assert run_job(api.client, "survey_sender")["sent"] == 0
    assert mailbox.kinds()[-1] == "survey"
    stream.drain()
    history = api.json("GET", f"/tickets/{opened['id']}/history")[1]
    assert "survey_sent" in [e["kind"] for e in history["events"]]
