"""Events out, the pure rules: the event's schema, webhook checks, the signature, back-off."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
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


PUBLIC_ONLY = "must be a public address: {} is private, loopback, link-local, multicast or reserved"
INTERNAL_NAME = "must be a public host name: localhost and names ending in .localhost, .internal or .local are internal"
ODD_NUMBER = "must write an IP address as four decimal numbers with dots (a.b.c.d)"
SINGLE_NAME = "must be a full host name, with its domain: a single name is looked up in the desk's own network"
CREDENTIALS = "must not carry a user name or password"


@pytest.mark.parametrize(
    ("host", "shown"),
    [
        ("127.0.0.1", "127.0.0.1"),  # loopback
        ("127.8.9.10", "127.8.9.10"),
        ("[::1]", "::1"),
        ("10.0.0.5", "10.0.0.5"),  # private (RFC 1918), the VPC
        ("172.16.0.1", "172.16.0.1"),
        ("192.168.1.1", "192.168.1.1"),
        ("169.254.169.254", "169.254.169.254"),  # link-local: the instance metadata service
        ("[fe80::1]", "fe80::1"),
        ("[fd00:ec2::254]", "fd00:ec2::254"),  # unique local: the metadata service over IPv6
        ("100.64.0.1", "100.64.0.1"),  # shared address space (carrier-grade NAT)
        ("0.0.0.0", "0.0.0.0"),  # noqa: S104 - unspecified: the machine itself on most systems
        ("[::]", "::"),
        ("224.0.0.1", "224.0.0.1"),  # multicast, which Python counts as global
        ("[ff02::1]", "ff02::1"),
        ("240.0.0.1", "240.0.0.1"),  # reserved
        ("255.255.255.255", "255.255.255.255"),
        ("192.0.2.1", "192.0.2.1"),  # documentation
        ("[::ffff:127.0.0.1]", "::ffff:7f00:1"),  # IPv4-mapped
        ("[::ffff:169.254.169.254]", "::ffff:a9fe:a9fe"),
        ("[64:ff9b::a9fe:a9fe]", "64:ff9b::a9fe:a9fe"),  # NAT64 of 169.254.169.254, which Python counts as global
        ("[64:ff9b:1::a00:5]", "64:ff9b:1::a00:5"),  # local-use NAT64
        ("[2002:a9fe:a9fe::]", "2002:a9fe:a9fe::"),  # 6to4 of 169.254.169.254
        ("[fe80::1%25eth0]", "fe80::1%25eth0"),  # with a zone
    ],
)
def test_deployed_an_ip_literal_that_is_not_public_is_refused_and_the_local_run_takes_it(host: str, shown: str) -> None:
    url = f"https://{host}/hook"
    with pytest.raises(ValidationError) as refused:
        rules.webhook_request({"url": url}, local=False)

    assert refused.value.errors == {"url": PUBLIC_ONLY.format(shown)}
    assert rules.webhook_request({"url": url}, local=True).url == url


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("https://2130706433/", ODD_NUMBER),  # 127.0.0.1 to a resolver (inet_aton), which ipaddress does not parse
        ("https://0x7f000001/", ODD_NUMBER),
        ("https://0x7F.1/", ODD_NUMBER),
        ("https://0177.0.0.1/", ODD_NUMBER),
        ("https://127.1/", ODD_NUMBER),
        ("https://134744072/", ODD_NUMBER),  # 8.8.8.8, but no certificate names a host that way
        ("https://localhost/", INTERNAL_NAME),
        ("https://LOCALHOST./", INTERNAL_NAME),
        ("https://desk.localhost:8000/", INTERNAL_NAME),
        ("https://metadata.google.internal/", INTERNAL_NAME),
        ("https://ip-10-0-0-5.ec2.internal/", INTERNAL_NAME),
        ("https://printer.local/", INTERNAL_NAME),
        ("https://intranet/hook", SINGLE_NAME),
        ("https://user:pass@hooks.example.org/", CREDENTIALS),
        ("https://user@hooks.example.org/", CREDENTIALS),
        ("https://@hooks.example.org/", CREDENTIALS),
        ("https://hooks.example.org\\@169.254.169.254/", CREDENTIALS),
    ],
)
def test_deployed_internal_names_odd_numbers_and_credentials_are_refused(url: str, problem: str) -> None:
    with pytest.raises(ValidationError) as refused:
        rules.webhook_request({"url": url}, local=False)

    assert refused.value.errors == {"url": problem}


@pytest.mark.parametrize(
    "url",
    [
        "https://hooks.example.org/desk?x=1",
        "https://hooks.example.org./desk",
        "https://0xdeadbeef.example.org/",
        "https://10-0-0-5.example.org/",
        "https://8.8.8.8/hook",
        "https://[2606:4700:4700::1111]:8443/hook",
    ],
)
def test_deployed_public_names_and_addresses_are_taken(url: str) -> None:
    assert rules.url_problem(url, local=False) is None


def test_the_local_run_takes_internal_names_but_never_credentials() -> None:
    assert rules.url_problem("https://localhost:8443/x", local=True) is None
    assert rules.url_problem("https://2130706433/", local=True) is None
    assert rules.url_problem("http://user:pw@127.0.0.1:8080/x", local=True) == CREDENTIALS
    assert rules.url_problem("http://@localhost/x", local=True) == CREDENTIALS


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("8.8.8.8", True),
        ("2606:4700:4700::1111", True),
        ("::ffff:8.8.8.8", True),
        ("64:ff9b::808:808", True),
        ("2002:808:808::", True),
        ("10.0.0.5", False),
        ("224.0.0.251", False),
        ("ff0e::1", False),
        ("::ffff:10.0.0.5", False),
        ("64:ff9b::a00:5", False),
        ("2002:a00:5::", False),
    ],
)
def test_a_public_address_is_global_unicast_and_so_is_any_ipv4_it_carries(address: str, public: bool) -> None:
    assert rules.public_address(ipaddress.ip_address(address)) is public
