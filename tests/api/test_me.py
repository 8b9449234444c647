"""`GET /me`: who a bearer token belongs to, and `assignee=me` in the queue meaning that caller."""

from __future__ import annotations

from tests.api.conftest import Api


def _new_agent(api: Api, name: str, email: str) -> tuple[str, str]:
    code, made = api.json("POST", "/admin/agents", {"name": name, "email": email})
    assert code == 201, made
    return made["agent"]["id"], made["token"]


def test_me_answers_who_the_token_belongs_to_without_its_hash(api: Api) -> None:
    agent_id, token = _new_agent(api, "Bo Agent", "bo@example.org")
    code, answer = api.json("GET", "/me", token=token)
    assert code == 200, answer
    shown = answer["agent"]
    assert {k: shown[k] for k in ("id", "name", "email", "role", "active")} == {
        "id": agent_id,
        "name": "Bo Agent",
        "email": "bo@example.org",
        "role": "agent",
        "active": True,
    }
    assert token not in str(answer)
    assert not any("hash" in key or "token" in key for key in shown)


def test_me_tells_an_admin_apart_and_refuses_no_or_a_revoked_token(api: Api) -> None:
    assert api.json("GET", "/me")[1]["agent"]["role"] == "admin"
    assert api.json("GET", "/me", token=None)[0] == 401
    agent_id, token = _new_agent(api, "Cy Agent", "cy@example.org")
    assert api.json("DELETE", f"/admin/agents/{agent_id}")[0] == 200
    assert api.json("GET", "/me", token=token)[0] == 401


def test_assignee_me_in_the_queue_lists_the_callers_tickets_only(api: Api) -> None:
    other_id, other_token = _new_agent(api, "Di Agent", "di@example.org")
    mine = api.open(subject="mine")
    theirs = api.open(subject="theirs")
    api.open(subject="nobody's")
    assert api.json("PATCH", f"/tickets/{mine['id']}", {"assignee": "me", "version": 1})[0] == 200
    assert api.json("PATCH", f"/tickets/{theirs['id']}", {"assignee": other_id, "version": 1})[0] == 200
    code, page = api.json("GET", "/tickets?assignee=me")
    assert code == 200, page
    assert [t["ref"] for t in page["tickets"]] == [mine["ref"]]
    code, page = api.json("GET", "/tickets?assignee=me", token=other_token)
    assert [t["ref"] for t in page["tickets"]] == [theirs["ref"]]
