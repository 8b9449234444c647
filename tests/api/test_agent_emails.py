"""One active agent per email address: sign-in by email mails the link to the one agent who has it."""

from __future__ import annotations

import re
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest

from chalicelib.adapters.dynamo import DynamoDeskStore
from chalicelib.domain.agents import Agent
from chalicelib.domain.errors import ConflictError
from chalicelib.domain.tokens import hash_agent_token, new_agent_token
from tests.api.conftest import Api
from tests.api.console_client import Console
from tests.api.mail_fixtures import Mailbox


def _table(aws: dict[str, str]) -> Any:
    return boto3.resource("dynamodb", region_name="us-east-1").Table(aws["DeskTableName"])


def _create(api: Api, name: str, email: str) -> tuple[int, Any]:
    return api.json("POST", "/admin/agents", {"name": name, "email": email})


def _emails(api: Api) -> list[tuple[str, bool]]:
    _, listed = api.json("GET", "/admin/agents")
    return sorted((a["email"], a["active"]) for a in listed["agents"])


def test_a_second_agent_with_the_same_address_is_refused_with_409_naming_the_field(api: Api) -> None:
    assert _create(api, "Sam Agent", "sam@example.org")[0] == 201

    code, answer = _create(api, "Sam Again", "  SAM@Example.ORG ")

    assert code == 409
    assert answer["error"]["code"] == "conflict"
    assert "already" in answer["error"]["message"]
    assert set(answer["error"]["errors"]) == {"email"}
    assert _emails(api) == [("ada@example.org", True), ("sam@example.org", True)]


def test_the_first_admins_address_is_taken_too(api: Api) -> None:
    code, answer = _create(api, "Ada Twin", "ada@example.org")

    assert code == 409
    assert answer["error"]["errors"]["email"] == "belongs to an active agent already"


def test_the_address_is_claimed_in_the_desk_table_and_released_when_the_agent_is_revoked(
    api: Api, aws: dict[str, str]
) -> None:
    _, created = _create(api, "Sam Agent", "sam@example.org")
    claim_key = {"pk": "agent-email#sam@example.org", "sk": "claim"}
    assert _table(aws).get_item(Key=claim_key)["Item"]["agent_id"] == created["agent"]["id"]

    assert api.json("DELETE", f"/admin/agents/{created['agent']['id']}")[0] == 200

    assert "Item" not in _table(aws).get_item(Key=claim_key)


def test_a_revoked_agents_address_can_be_given_to_a_new_agent(api: Api) -> None:
    _, first = _create(api, "Sam Agent", "sam@example.org")
    api.json("DELETE", f"/admin/agents/{first['agent']['id']}")

    code, second = _create(api, "Sam Returns", "sam@example.org")

    assert code == 201, second
    assert _emails(api) == [("ada@example.org", True), ("sam@example.org", False), ("sam@example.org", True)]
    assert _create(api, "Sam Thrice", "sam@example.org")[0] == 409


def test_a_sign_in_link_goes_to_the_active_holder_of_the_address(api: Api, mailbox: Mailbox) -> None:
    _, first = _create(api, "Sam Agent", "sam@example.org")
    api.json("DELETE", f"/admin/agents/{first['agent']['id']}")
    assert _create(api, "Sam Returns", "sam@example.org")[0] == 201
    browser = Console(api.client)

    browser.post("/console/sign-in", {"email": "sam@example.org"}, csrf=False)
    mails = mailbox.to("sam@example.org", "sign_in")
    assert len(mails) == 1
    link = re.search(r"/console/sign-in/confirm\?token=([\w-]+)", mails[0].text)
    assert link
    assert browser.post("/console/sign-in/confirm", {"token": link.group(1)}, csrf=False).status_code == 303

    assert "Sam Returns" in browser.text(browser.get("/console"))


def test_an_address_claimed_by_a_create_the_agent_list_does_not_show_yet_is_still_refused(
    api: Api, aws: dict[str, str]
) -> None:
    # The agents' partition is read eventually consistently; the claim written with a concurrent create is what
    # stops the second one.
    _table(aws).put_item(
        Item={"pk": "agent-email#kim@example.org", "sk": "claim", "agent_id": "01IN0FL1GHT0000000000000AA"}
    )

    code, answer = _create(api, "Kim Agent", "kim@example.org")

    assert code == 409, answer
    assert set(answer["error"]["errors"]) == {"email"}
    assert _emails(api) == [("ada@example.org", True)]


def test_an_agent_stored_before_addresses_were_claimed_still_holds_its_address(api: Api, aws: dict[str, str]) -> None:
    _table(aws).put_item(
        Item={
            "pk": "agent",
            "sk": "01OLDAGENT0000000000000000",
            "name": "Old Agent",
            "email": "old@example.org",
            "role": "agent",
            "active": True,
            "created_at": "2025-01-01T00:00:00.000000+0000",
            "token_hash": hash_agent_token("hd_old"),
        }
    )

    code, answer = _create(api, "New Agent", "old@example.org")

    assert code == 409, answer
    assert api.json("DELETE", "/admin/agents/01OLDAGENT0000000000000000")[0] == 200
    assert _create(api, "New Agent", "old@example.org")[0] == 201


def test_two_creates_at_once_with_the_same_address_make_exactly_one_agent(api: Api) -> None:
    start = threading.Barrier(2, timeout=60)  # only so a broken create cannot hang the run

    def create(name: str) -> int:
        start.wait()
        return _create(api, name, "lee@example.org")[0]

    with ThreadPoolExecutor(max_workers=2) as pool:
        codes = sorted(pool.map(create, ["Lee One", "Lee Two"]))

    assert codes == [201, 409]
    assert _emails(api).count(("lee@example.org", True)) == 1


class _BothReadFirst(DynamoDeskStore):
    """A store whose creates both read the agents' partition before either writes: the race the claim is for."""

    def __init__(self, barrier: threading.Barrier) -> None:
        super().__init__()
        self.barrier = barrier

    def list_agents(self) -> list[Agent]:
        found = super().list_agents()
        self.barrier.wait()
        return found


def test_when_both_creates_pass_the_agent_list_the_claim_lets_only_one_through(api: Api) -> None:
    store = _BothReadFirst(threading.Barrier(2, timeout=60))  # a timeout only so a broken create cannot hang
    now = datetime(2026, 11, 23, tzinfo=UTC)
    agents = [
        Agent(
            id=f"01RACE{n}00000000000000000000"[:26],
            name=f"Lee {n}",
            email="lee@example.org",
            role="agent",
            created_at=now,
        )
        for n in (1, 2)
    ]

    def create(agent: Agent) -> str:
        try:
            store.create_agent(agent, hash_agent_token(new_agent_token()))
        except ConflictError as error:
            return str(error.details["errors"])
        return "created"

    with ThreadPoolExecutor(max_workers=2) as pool:
        outcomes = sorted(pool.map(create, agents))

    assert outcomes == ["created", "{'email': 'belongs to an active agent already'}"]
    assert [a.email for a in DynamoDeskStore().list_agents()].count("lee@example.org") == 1


@pytest.mark.parametrize("email", ["sam@example.org", "SAM@EXAMPLE.ORG"])
def test_the_console_add_agent_form_shows_a_taken_address_as_a_form_error(
    api: Api, mailbox: Mailbox, email: str
) -> None:
    assert _create(api, "Sam Agent", "sam@example.org")[0] == 201
    admin = Console(api.client)
    admin.sign_in_with_token(api.token)
    admin.get("/console/admin/agents")

    answer = admin.post("/console/admin/agents", {"action": "create", "name": "Sam Again", "email": email})

    assert answer.status_code == 422
    text = admin.text(answer)
    assert "There is a problem" in text
    assert "an active agent has this email address already" in text
    assert 'class="token"' not in text
