"""Changing an agent's role (never leaving the desk without an admin) and reading past configuration versions."""

from __future__ import annotations

import pytest

from chalicelib.domain.agents import Agent
from chalicelib.domain.config import shipped_document
from chalicelib.domain.errors import ConflictError, MalformedRequestError, NotFoundError, ValidationError
from chalicelib.services.agents import AgentAdmin, ConfigHistory
from chalicelib.services.desk import Desk
from tests.clocks import ManualClock

from .fakes import FakeDeskStore


@pytest.fixture
def admin(desk: Desk) -> Agent:
    return desk.create_agent({"name": "Ray Holt", "email": "holt@desk.example.org", "role": "admin"})[0]


@pytest.fixture
def agent(desk: Desk) -> Agent:
    return desk.create_agent({"name": "Amy Santiago", "email": "amy@desk.example.org"})[0]


@pytest.fixture
def agents(store: FakeDeskStore) -> AgentAdmin:
    return AgentAdmin(store)


def test_an_admin_promotes_an_agent_and_demotes_them_again(agents: AgentAdmin, admin: Agent, agent: Agent) -> None:
    promoted = agents.change_role(agent.id, {"role": "admin"}, admin)
    assert promoted.is_admin
    assert agents.store.get_agent(agent.id) == promoted

    assert agents.change_role(agent.id, {"role": "agent"}, admin).role == "agent"


def test_an_admin_may_step_down_while_another_admin_remains(agents: AgentAdmin, admin: Agent, agent: Agent) -> None:
    agents.change_role(agent.id, {"role": "admin"}, admin)

    assert agents.change_role(admin.id, {"role": "agent"}, admin).role == "agent"


def test_the_last_active_admin_cannot_step_down(agents: AgentAdmin, admin: Agent, agent: Agent) -> None:
    with pytest.raises(ConflictError) as caught:
        agents.change_role(admin.id, {"role": "agent"}, admin)

    assert "last active admin" in caught.value.message
    assert agents.store.get_agent(admin.id) == admin


def test_a_revoked_admin_does_not_count_as_the_one_that_remains(
    agents: AgentAdmin, desk: Desk, admin: Agent, agent: Agent
) -> None:
    other = desk.create_agent({"name": "Terry Jeffords", "email": "terry@desk.example.org", "role": "admin"})[0]
    desk.revoke_agent(other.id, admin)

    with pytest.raises(ConflictError):
        agents.change_role(admin.id, {"role": "agent"}, admin)


def test_asking_for_the_role_an_agent_has_changes_nothing(agents: AgentAdmin, admin: Agent) -> None:
    assert agents.change_role(admin.id, {"role": "admin"}, admin) == admin


@pytest.mark.parametrize("agent_id", ["nope", "", "x" * 3000])
def test_an_unknown_agent_is_not_found(agents: AgentAdmin, admin: Agent, agent_id: str) -> None:
    with pytest.raises(NotFoundError):
        agents.change_role(agent_id, {"role": "admin"}, admin)


def test_a_revoked_agent_is_not_found(agents: AgentAdmin, desk: Desk, admin: Agent, agent: Agent) -> None:
    desk.revoke_agent(agent.id, admin)

    with pytest.raises(NotFoundError):
        agents.change_role(agent.id, {"role": "admin"}, admin)


@pytest.mark.parametrize(
    ("raw", "named"),
    [
        ({}, {"role"}),
        ({"role": "owner"}, {"role"}),
        ({"role": ["admin"]}, {"role"}),
        ({"role": "admin", "x": 1}, {"x"}),
    ],
)
def test_a_bad_role_change_names_the_field(
    agents: AgentAdmin, admin: Agent, agent: Agent, raw: dict[str, object], named: set[str]
) -> None:
    with pytest.raises(ValidationError) as caught:
        agents.change_role(agent.id, raw, admin)

    assert set(caught.value.errors) == named


def test_a_role_change_that_is_not_an_object_is_malformed(agents: AgentAdmin, admin: Agent, agent: Agent) -> None:
    with pytest.raises(MalformedRequestError):
        agents.change_role(agent.id, ["admin"], admin)


# configuration versions --------------------------------------------------------------------------------------


def _store_versions(desk: Desk, admin: Agent, clock: ManualClock, count: int) -> None:
    document = shipped_document()
    for n in range(count):
        document["desk"]["name"] = f"Desk {n + 1}"
        desk.replace_config({"config": document, "version": n}, admin)
        clock.advance(minutes=1)


def test_versions_are_listed_newest_first(store: FakeDeskStore, desk: Desk, admin: Agent, clock: ManualClock) -> None:
    _store_versions(desk, admin, clock, 3)

    versions = ConfigHistory(store).versions()

    assert [v.version for v in versions] == [3, 2, 1]
    assert {v.updated_by for v in versions} == {f"agent:{admin.id}"}


def test_the_limit_bounds_the_list(store: FakeDeskStore, desk: Desk, admin: Agent, clock: ManualClock) -> None:
    _store_versions(desk, admin, clock, 3)

    assert [v.version for v in ConfigHistory(store).versions("2")] == [3, 2]


def test_one_version_can_be_read_with_its_document(
    store: FakeDeskStore, desk: Desk, admin: Agent, clock: ManualClock
) -> None:
    _store_versions(desk, admin, clock, 3)

    (found,) = ConfigHistory(store).versions(version="2")

    assert found.version == 2
    assert found.document["desk"]["name"] == "Desk 2"


@pytest.mark.parametrize("version", ["4", "0"])
def test_a_version_never_stored_is_not_found(
    store: FakeDeskStore, desk: Desk, admin: Agent, clock: ManualClock, version: str
) -> None:
    _store_versions(desk, admin, clock, 3)

    with pytest.raises(NotFoundError):
        ConfigHistory(store).versions(version=version)


def test_a_desk_with_no_stored_version_has_none_to_list_or_read(store: FakeDeskStore) -> None:
    assert ConfigHistory(store).versions() == []
    with pytest.raises(NotFoundError):
        ConfigHistory(store).versions(version="1")


@pytest.mark.parametrize(("limit", "version"), [("0", None), ("101", None), ("x", None), ("²", None), (None, "v1")])
def test_a_bad_limit_or_version_is_refused_by_name(
    store: FakeDeskStore, limit: str | None, version: str | None
) -> None:
    with pytest.raises(ValidationError) as caught:
        ConfigHistory(store).versions(limit, version)

    assert set(caught.value.errors) == ({"limit"} if limit else {"version"})
