# ruff: noqa: F811 - the fixtures are imported into this module, and tests name them as parameters
"""An erasure while the stream still has changes of the ticket to handle: those changes' history, mail and
deliveries are written after the erasure's first pass, and its second pass (when the stream brings the erasure's
own write) leaves nothing of the person anywhere, as tests/api/test_requesters_api.py searches for it."""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib import wiring
from tests.api.conftest import Api, admin_token, api, stream  # noqa: F401 - the API fixtures
from tests.api.mail_fixtures import Mailbox, mailbox  # noqa: F401
from tests.api.test_requesters_api import where
from tests.streams import Stream

NAME = "Grace Hopper"
EMAIL = "grace@hopper.example"
SUBJECT = "cobalt moth in the relay"
SAID = "nanosecond wire lengths"
SECRETS = (EMAIL, NAME, SUBJECT, SAID)


def erased_while_in_flight(api: Api, stream: Stream) -> dict[str, Any]:
    """Grace's ticket and an agent's reply to her, still in the stream when an admin erases her; then the stream
    catches up."""
    opened = api.open(subject=SUBJECT, description=f"It fails: {SAID}.", requester_name=NAME, requester_email=EMAIL)
    stream.drain()
    code, answer = api.json(
        "POST",
        f"/tickets/{opened['id']}/comments",
        {"body": f"Hello {NAME}, about {SUBJECT}: checking.", "public": True},
    )
    assert code == 201, answer
    code, erased = api.json("POST", "/admin/requesters/erase", {"email": EMAIL, "confirm": True})
    assert code == 200, erased
    assert erased["complete"] is True
    stream.drain()  # the reply (mailed to Grace), then the erasure's own write
    return opened


def test_what_the_stream_wrote_after_an_erasure_is_scrubbed_by_its_second_pass(
    api: Api, stream: Stream, mailbox: Mailbox, aws: dict[str, str]
) -> None:
    opened = erased_while_in_flight(api, stream)

    assert {m.kind for m in mailbox.sent if m.ticket_id == opened["id"]} >= {"reply"}  # the late changes did run
    assert {secret: where(aws, secret) for secret in SECRETS} == {secret: [] for secret in SECRETS}
    code, history = api.json("GET", f"/tickets/{opened['id']}/history")
    assert code == 200, history
    assert {"created", "reply", "erased"} <= {e["kind"] for e in history["events"]}


def test_without_the_second_pass_the_late_changes_would_keep_her_words(
    api: Api, stream: Stream, mailbox: Mailbox, aws: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The control: the same story with the second pass switched off leaves her in what the stream wrote late."""
    monkeypatch.setattr(wiring.pipeline(), "erased", None)

    erased_while_in_flight(api, stream)

    found = {secret: where(aws, secret) for secret in SECRETS}
    assert found[NAME] != []  # the reply's history excerpt, made from the stream's image of the reply
