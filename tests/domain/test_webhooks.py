"""Events out, the pure rules: the event's schema, webhook checks, the signature, back-off."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.domain import webhooks as rules
from chalicelib.domain.errors import ValidationError
from chalicelib.domain.history import HistoryEvent

AT = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def test_the_signature_is_the_hex_hmac_sha256_of_timestamp_dot_body() -> None:
    body = b'{"kind":"created"}'
    expected = hmac.new(b"whsec_x", b"1795424400." + body, hashlib.sha256).hexdigest()

    assert rules.signature("whsec_x", 1795424400, body) == f"v1={expected}"
    assert rules.signature("whsec_y", 1795424400, body) != f"v1={expected}"


def test_an_events_id_is_stable_and_differs_between_events() -> None:
    assert rules.event_id("T1", "k1") == rules.event_id("T1", "k1")
    assert len({rules.event_id("T1", "k1"), rules.event_id("T1", "k2"), rules.event_id("T2", "k1")}) == 3


def test_the_event_without_its_ticket_still_names_the_ticket_id() -> None:
    event = HistoryEvent("T1", "k", "sla_breached", AT, "system:sla_sweep", {"timer": "resolution"})

    assert rules.outgoing(event, None) == {
        "version": 1,
        "id": rules.event_id("T1", "k"),
        "kind": "sla_breached",
        "at": "2026-11-23T09:00:00.000000Z",
        "ticket": {"id": "T1"},
        "actor": "system:sla_sweep",
        "data": {"timer": "resolution"},
    }


def test_waits_double_from_thirty_seconds_to_at_most_an_hour() -> None:
    waits = [rules.retry_wait(n).total_seconds() for n in range(1, 10)]

    assert waits == [30, 60, 120, 240, 480, 960, 1920, 3600, 3600]
    assert rules.retry_wait(10_000) == timedelta(hours=1)


@pytest.mark.parametrize(
    ("url", "local", "problem"),
    [
        ("https://hooks.example.org/x", False, None),
        ("http://hooks.example.org/x", False, "must be https"),
        ("http://127.0.0.1:8080/x", False, "must be https"),
        ("http://127.0.0.1:8080/x", True, None),
        ("http://localhost/x", True, None),
        ("http://hooks.example.org/x", True, "must be https, or http to localhost or 127.0.0.1 in the local run"),
        ("https://hooks.example.org:port/x", False, "is not a valid URL"),
        ("https:///x", False, "must name a host"),
        ("https://a b/", False, "must be one address of at most 2000 characters, without spaces"),
    ],
)
def test_targets_are_https_except_the_machine_itself_in_the_local_run(url: str, local: bool, problem: str) -> None:
    assert rules.url_problem(url, local=local) == problem


def test_kinds_are_checked_against_the_history_kinds_and_star_means_all() -> None:
    assert rules.webhook_request({"url": "https://h.example.org", "kinds": "*"}, local=False).kinds == ()
    assert rules.webhook_request({"url": "https://h.example.org", "kinds": ["*"]}, local=False).kinds == ()
    chosen = rules.webhook_request({"url": "https://h.example.org", "kinds": ["reply", "created"]}, local=False)
    assert chosen.kinds == ("created", "reply")
    with pytest.raises(ValidationError) as refused:
        rules.webhook_request({"url": "https://h.example.org", "kinds": ["opened"]}, local=False)
    assert "unknown kind 'opened'" in refused.value.errors["kinds"]


def test_a_chat_message_escapes_the_markup_and_is_one_short_line() -> None:
    event = {"kind": "status_changed", "ticket": {"ref": "HD-7", "subject": "<b>" + "x" * 400}, "data": {}}
    text = rules.chat_message({**event, "data": {"from": "new", "to": "done"}})["text"]

    assert text.startswith("[HD-7] &lt;b&gt;x")
    assert "<" not in text
    assert len(text) < 340
