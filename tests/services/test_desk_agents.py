"""Creating, authenticating and revoking agents; tokens are stored only as their hash."""

from __future__ import annotations

import pytest

from chalicelib.domain.agents import Agent
from chalicelib.domain.errors import AuthenticationError, ConflictError, NotFoundError, ValidationError
from chalicelib.domain.tokens import hash_agent_token
from chalicelib.services.desk import Desk
from tests.clocks import ManualClock

from .fakes import FakeDeskStore, FakeTicketStore


@pytest.fixture
def admin(desk: Desk) -> Agent:
    return desk.create_agent({"name": "Ray Holt", "email": "holt@desk.example.org", "role": "admin"})[0]


def test_a_new_agent_gets_a_token_that_signs_them_in(desk: Desk, clock: ManualClock) -> None:
    agent, token = desk.create_agent({"name": "Amy Santiago", "email": "Amy@Desk.Example.org"})

    assert token.startswith("hd_")
    assert desk.authenticate(token) == agent
    assert (agent.name, agent.email, agent.role) == ("Amy Santiago", "amy@desk.example.org", "agent")
    assert agent.active
    assert agent.created_at == clock.now()


def test_each_agent_gets_a_different_token(desk: Desk) -> None:
    first, first_token = desk.create_agent({"name": "Amy Santiago", "email": "amy@desk.example.org"})
    second, second_token = desk.create_agent({"name": "Jake Peralta", "email": "jake@desk.example.org"})

    assert first_token != second_token
    assert desk.authenticate(first_token) == first
    assert desk.authenticate(second_token) == second


def test_an_admin_can_be_created_with_a_token_chosen_by_the_installer(desk: Desk) -> None:
    admin, token = desk.create_agent(
        {"name": "Ray Holt", "email": "holt@desk.example.org", "role": "admin"}, token="hd_bootstrap-secret"
    )

    assert token == "hd_bootstrap-secret"
    assert desk.authenticate("hd_bootstrap-secret").is_admin
    assert desk.authenticate(token) == admin


def test_the_store_only_ever_receives_the_hash_of_a_token(
    desk: Desk, store: FakeDeskStore, tickets: FakeTicketStore
) -> None:
    _, token = desk.create_agent({"name": "Amy Santiago", "email": "amy@desk.example.org"})

    stored = repr(store.items) + repr(tickets.tickets) + repr(tickets.comments)
    assert token not in stored
    assert token.removeprefix("hd_") not in stored
    assert hash_agent_token(token) in stored


def test_a_revoked_agents_token_no_longer_signs_them_in(desk: Desk, admin: Agent) -> None:
    agent, token = desk.create_agent({"name": "Gina Linetti", "email": "gina@desk.example.org"})

    revoked = desk.revoke_agent(agent.id, admin)

    assert not revoked.active
    with pytest.raises(AuthenticationError):
        desk.authenticate(token)
    assert [a.active for a in desk.list_agents() if a.id == agent.id] == [False]


def test_an_admin_cannot_revoke_their_own_token(desk: Desk) -> None:
    admin, token = desk.create_agent({"name": "Ray Holt", "email": "holt@desk.example.org", "role": "admin"})

    with pytest.raises(ConflictError):
        desk.revoke_agent(admin.id, admin)

    assert desk.authenticate(token) == admin


def test_revoking_an_unknown_or_already_revoked_agent_is_not_found(desk: Desk, admin: Agent) -> None:
    agent, _ = desk.create_agent({"name": "Gina Linetti", "email": "gina@desk.example.org"})
    desk.revoke_agent(agent.id, admin)

    for agent_id in (agent.id, "nobody"):
        with pytest.raises(NotFoundError):
            desk.revoke_agent(agent_id, admin)


def test_the_agent_list_shows_everyone_created(desk: Desk, admin: Agent) -> None:
    agent, _ = desk.create_agent({"name": "Amy Santiago", "email": "amy@desk.example.org"})

    assert {(a.id, a.role) for a in desk.list_agents()} == {(admin.id, "admin"), (agent.id, "agent")}


@pytest.mark.parametrize(
    ("raw", "path"),
    [
        ({"name": "Amy Santiago", "email": "amy@desk.example.org", "role": "owner"}, "role"),
        ({"name": "", "email": "amy@desk.example.org"}, "name"),
        ({"name": "Amy\nSantiago", "email": "amy@desk.example.org"}, "name"),
        ({"name": "Amy Santiago", "email": "not an address"}, "email"),
        ({"name": "Amy Santiago", "email": "amy@desk.example.org", "token": "hd_x"}, "token"),
    ],
)
def test_an_agent_sent_with_a_bad_field_is_refused_naming_it(
    desk: Desk, store: FakeDeskStore, raw: dict[str, str], path: str
) -> None:
    with pytest.raises(ValidationError) as refused:
        desk.create_agent(raw)

    assert path in refused.value.errors
    assert desk.list_agents() == []


@pytest.mark.parametrize("token", [None, ""])
def test_signing_in_without_a_token_is_refused(desk: Desk, token: str | None) -> None:
    with pytest.raises(AuthenticationError, match="required"):
        desk.authenticate(token)


@pytest.mark.usefixtures("admin")
def test_signing_in_with_a_token_the_desk_never_issued_is_refused(desk: Desk) -> None:
    with pytest.raises(AuthenticationError, match="not valid"):
        desk.authenticate("hd_made-up")
