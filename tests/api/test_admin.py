"""Administration: the desk configuration (validated, versioned) and agents' tokens."""

from __future__ import annotations

import copy
from typing import Any

import boto3
import pytest
from boto3.dynamodb.conditions import Key

from chalicelib.domain.config import shipped_document
from tests.api.conftest import Api


def _config(api: Api) -> tuple[int, dict[str, Any]]:
    code, answer = api.json("GET", "/admin/config")
    assert code == 200
    return answer["version"], answer["config"]


def test_the_default_configuration_is_served_until_an_admin_changes_it(api: Api) -> None:
    version, config = _config(api)
    assert version == 0
    assert config == shipped_document()


def test_an_accepted_change_is_stored_as_a_new_version(api: Api) -> None:
    version, config = _config(api)
    config["desk"]["name"] = "Acme support"
    code, answer = api.json("PUT", "/admin/config", {"config": config, "version": version})
    assert code == 200
    assert answer["version"] == 1
    assert _config(api) == (1, config)
    config["desk"]["name"] = "Acme help"
    assert api.json("PUT", "/admin/config", {"config": config, "version": 1})[1]["version"] == 2


def test_a_change_based_on_an_old_version_is_refused(api: Api) -> None:
    version, config = _config(api)
    assert api.json("PUT", "/admin/config", {"config": config, "version": version})[0] == 200
    code, answer = api.json("PUT", "/admin/config", {"config": config, "version": version})
    assert code == 409
    assert answer["error"]["code"] == "stale_version"


def test_an_invalid_configuration_is_refused_naming_each_offending_path(api: Api) -> None:
    version, config = _config(api)
    broken = copy.deepcopy(config)
    broken["workflows"][0]["transitions"][0]["to"] = "nowhere"
    del broken["sla"]["targets"]["low"]
    broken["priorities"].append({"key": "high", "label": "Again", "rank": 5})
    code, answer = api.json("PUT", "/admin/config", {"config": broken, "version": version})
    assert code == 422
    errors = answer["error"]["errors"]
    assert errors["workflows[0].transitions[0].to"] == "unknown status 'nowhere' in this workflow"
    assert errors["sla.targets.low"] == "priority 'low' has no SLA targets"
    assert errors["priorities[4].key"] == "duplicate priority key 'high'"
    assert _config(api)[0] == 0


def test_renaming_a_status_changes_its_label_only(api: Api) -> None:
    ticket = api.open()
    api.move(ticket["id"], "in_progress")
    version, config = _config(api)
    for status in config["statuses"]:
        if status["key"] == "in_progress":
            status["label"] = "Being worked on"
    assert api.json("PUT", "/admin/config", {"config": config, "version": version})[0] == 200
    assert api.ticket(ticket["id"])["status"] == {
        "key": "in_progress",
        "label": "Being worked on",
        "category": "active",
    }


def _without_waiting_on_requester(config: dict[str, Any]) -> dict[str, Any]:
    changed = copy.deepcopy(config)
    question = next(w for w in changed["workflows"] if w["key"] == "question")
    question["statuses"].remove("waiting_on_requester")
    question["transitions"] = [t for t in question["transitions"] if "waiting_on_requester" not in (t["from"], t["to"])]
    return changed


def test_removing_a_status_that_tickets_sit_in_is_refused_without_a_mapping(api: Api) -> None:
    ticket = api.open()
    api.move(ticket["id"], "in_progress")
    api.move(ticket["id"], "waiting_on_requester")
    version, config = _config(api)
    code, answer = api.json(
        "PUT", "/admin/config", {"config": _without_waiting_on_requester(config), "version": version}
    )
    assert code == 409
    assert answer["error"]["code"] == "status_in_use"
    assert "status_mapping.waiting_on_requester" in answer["error"]["errors"]
    assert _config(api)[0] == 0


def test_removing_a_status_with_a_mapping_moves_its_tickets(api: Api) -> None:
    ticket = api.open()
    api.move(ticket["id"], "in_progress")
    api.move(ticket["id"], "waiting_on_requester")
    version, config = _config(api)
    body = {
        "config": _without_waiting_on_requester(config),
        "version": version,
        "status_mapping": {"waiting_on_requester": "in_progress"},
    }
    code, answer = api.json("PUT", "/admin/config", body)
    assert code == 200, answer
    assert answer["moved"] == {"waiting_on_requester": 1}
    assert api.ticket(ticket["id"])["status"]["key"] == "in_progress"


def test_a_mapping_must_lead_into_the_new_workflow(api: Api) -> None:
    ticket = api.open()
    api.move(ticket["id"], "in_progress")
    api.move(ticket["id"], "waiting_on_requester")
    version, config = _config(api)
    body = {
        "config": _without_waiting_on_requester(config),
        "version": version,
        "status_mapping": {"waiting_on_requester": "client_testing"},
    }
    code, _answer = api.json("PUT", "/admin/config", body)
    assert code == 409
    assert api.ticket(ticket["id"])["status"]["key"] == "waiting_on_requester"


def test_a_desk_can_switch_to_urgent_and_normal_priorities(api: Api) -> None:
    version, _ = _config(api)
    example = shipped_document("urgent_normal")
    assert api.json("PUT", "/admin/config", {"config": example, "version": version})[0] == 200
    opened = api.open()
    assert api.ticket(opened["id"])["priority"]["key"] == "normal"


def test_only_admins_manage_the_desk(api: Api) -> None:
    code, created = api.json("POST", "/admin/agents", {"name": "Sam Agent", "email": "sam@example.org"})
    assert code == 201
    assert created["agent"]["role"] == "agent"
    agent_token = created["token"]
    assert api.json("GET", "/tickets", token=agent_token)[0] == 200
    assert api.json("GET", "/admin/config", token=agent_token)[0] == 403
    assert api.json("POST", "/admin/agents", {"name": "x", "email": "x@example.org"}, token=agent_token)[0] == 403
    assert api.json("GET", "/admin/config", token=None)[0] == 401


def test_an_agent_token_is_shown_once_and_stored_only_as_a_hash(api: Api, aws: dict[str, str]) -> None:
    _code, created = api.json("POST", "/admin/agents", {"name": "Sam", "email": "sam@example.org"})
    token = created["token"]
    table = boto3.resource("dynamodb", region_name="us-east-1").Table(aws["DeskTableName"])
    items = table.query(KeyConditionExpression=Key("pk").eq("agent"))["Items"]
    assert items
    assert token not in repr(items)
    _, listed = api.json("GET", "/admin/agents")
    assert "token" not in repr(listed)
    assert {a["email"] for a in listed["agents"]} == {"ada@example.org", "sam@example.org"}


def test_a_revoked_token_stops_working_at_once(api: Api) -> None:
    _, created = api.json("POST", "/admin/agents", {"name": "Sam", "email": "sam@example.org"})
    assert api.json("GET", "/tickets", token=created["token"])[0] == 200
    code, revoked = api.json("DELETE", f"/admin/agents/{created['agent']['id']}")
    assert code == 200
    assert revoked["agent"]["active"] is False
    assert api.json("GET", "/tickets", token=created["token"])[0] == 401
    assert api.json("DELETE", f"/admin/agents/{created['agent']['id']}")[0] == 404


def test_bad_agent_requests_are_refused_clearly(api: Api) -> None:
    code, answer = api.json("POST", "/admin/agents", {"name": "", "email": "nope", "role": "boss"})
    assert code == 422
    assert set(answer["error"]["errors"]) == {"name", "email", "role"}


@pytest.mark.parametrize(
    ("name", "named"),
    [("Sam\tAgent", "U+0009"), ("Sam\x00", "U+0000"), ("\x1b[31mSam", "U+001B"), ("Sam \u202egnp.exe", "U+202E")],
)
def test_an_agent_name_with_a_control_or_bidi_character_is_refused_with_422(api: Api, name: str, named: str) -> None:
    code, answer = api.json("POST", "/admin/agents", {"name": name, "email": "sam@example.org"})

    assert code == 422, answer
    assert set(answer["error"]["errors"]) == {"name"}
    assert named in answer["error"]["errors"]["name"]
    assert "sam@example.org" not in {a["email"] for a in api.json("GET", "/admin/agents")[1]["agents"]}


@pytest.mark.parametrize("name", ["Zoë Ångström", "李雷", "محمد"])
def test_agent_names_in_any_script_are_accepted(api: Api, name: str) -> None:
    code, created = api.json("POST", "/admin/agents", {"name": name, "email": "sam@example.org"})

    assert code == 201, created
    assert created["agent"]["name"] == name


def test_assigning_to_an_unknown_or_revoked_agent_is_refused(api: Api) -> None:
    opened = api.open()
    code, answer = api.json("PATCH", f"/tickets/{opened['id']}", {"assignee": "NOBODY", "version": 1})
    assert code == 422
    assert "assignee" in answer["error"]["errors"]


def test_patch_changes_priority_team_subject_and_fields_with_the_version(api: Api) -> None:
    opened = api.open(type="consultation", fields={"topic": "Migration"})
    body = {
        "priority": "high",
        "team": "support",
        "subject": "Migration help",
        "fields": {"hours_expected": 6},
        "version": 1,
    }
    code, answer = api.json("PATCH", f"/tickets/{opened['id']}", body)
    assert code == 200, answer
    assert answer["priority"] == {"key": "high", "label": "High", "rank": 1}
    assert answer["team"] == "support"
    assert answer["subject"] == "Migration help"
    assert answer["fields"] == {"topic": "Migration", "hours_expected": 6}
    assert answer["version"] == 2
    code, answer = api.json("PATCH", f"/tickets/{opened['id']}", {"status": "completed", "version": 2})
    assert code == 422


def test_changing_priority_ranks_reorders_the_queues(api: Api, clock) -> None:
    low = api.open(requester_email="low@example.org")
    api.json("PATCH", f"/tickets/{low['id']}", {"priority": "low", "version": 1})
    clock.advance(minutes=1)
    high = api.open(requester_email="high@example.org")
    api.json("PATCH", f"/tickets/{high['id']}", {"priority": "high", "version": 1})
    assert [t["ref"] for t in api.json("GET", "/tickets")[1]["tickets"]] == [high["ref"], low["ref"]]
    version, config = _config(api)
    ranks = {"critical": 0, "low": 1, "high": 2, "medium": 3}
    for priority in config["priorities"]:
        priority["rank"] = ranks[priority["key"]]
    assert api.json("PUT", "/admin/config", {"config": config, "version": version})[0] == 200
    assert [t["ref"] for t in api.json("GET", "/tickets")[1]["tickets"]] == [low["ref"], high["ref"]]
    assert [t["ref"] for t in api.json("GET", "/tickets?priority=low")[1]["tickets"]] == [low["ref"]]


def test_removing_a_priority_open_tickets_have_needs_a_priority_mapping(api: Api) -> None:
    opened = api.open()
    version, config = _config(api)
    config["priorities"] = [p for p in config["priorities"] if p["key"] != "medium"]
    del config["sla"]["targets"]["medium"]
    config["desk"]["default_priority"] = "low"
    code, answer = api.json("PUT", "/admin/config", {"config": config, "version": version})
    assert code == 409
    assert "priority_mapping.medium" in answer["error"]["errors"]
    code, _ = api.json(
        "PUT", "/admin/config", {"config": config, "version": version, "priority_mapping": {"medium": "low"}}
    )
    assert code == 200
    assert api.ticket(opened["id"])["priority"] == {"key": "low", "label": "Low", "rank": 3}


def test_making_a_status_a_done_status_takes_its_tickets_out_of_the_open_queue(api: Api) -> None:
    opened = api.open()
    api.move(opened["id"], "in_progress")
    api.move(opened["id"], "waiting_on_requester")
    version, config = _config(api)
    for status in config["statuses"]:
        if status["key"] == "waiting_on_requester":
            status["category"] = "done"
    assert api.json("PUT", "/admin/config", {"config": config, "version": version})[0] == 200
    assert api.json("GET", "/tickets")[1]["tickets"] == []
    assert [t["ref"] for t in api.json("GET", "/tickets?state=done")[1]["tickets"]] == [opened["ref"]]


def test_what_get_answers_can_be_put_back_as_it_is(api: Api) -> None:
    code, answer = api.json("GET", "/admin/config")
    answer["config"]["desk"]["name"] = "Acme support"
    assert api.json("PUT", "/admin/config", answer)[0] == 200
    code, again = api.json("GET", "/admin/config")
    again["config"]["desk"]["name"] = "Acme help"
    code, stored = api.json("PUT", "/admin/config", again)
    assert code == 200
    assert stored["config"]["desk"]["name"] == "Acme help"


def test_an_empty_or_overlong_assignee_or_id_is_a_4xx(api: Api) -> None:
    opened = api.open()
    assert api.json("PATCH", f"/tickets/{opened['id']}", {"assignee": "", "version": 1})[0] == 422
    assert api.json("PATCH", f"/tickets/{opened['id']}", {"assignee": "x" * 3000, "version": 1})[0] == 422
    assert api.json("GET", f"/tickets/{'x' * 3000}")[0] == 404
    assert api.json("DELETE", f"/admin/agents/{'x' * 3000}")[0] == 404


def test_a_configuration_change_cut_short_is_finished_by_sending_it_again(api: Api, clock) -> None:
    """The config was stored but the process died before moving the tickets: they are not stranded."""
    from chalicelib import wiring

    ticket = api.open()
    api.move(ticket["id"], "in_progress")
    api.move(ticket["id"], "waiting_on_requester")
    version, config = _config(api)
    changed = _without_waiting_on_requester(config)
    wiring.desk().store.store_config(changed, version, "agent:crashed", clock.now())
    assert api.ticket(ticket["id"])["status"]["key"] == "waiting_on_requester"
    again = {"config": changed, "version": version + 1, "status_mapping": {"waiting_on_requester": "in_progress"}}
    code, answer = api.json("PUT", "/admin/config", again)
    assert code == 200, answer
    assert answer["moved"] == {"waiting_on_requester": 1}
    assert api.ticket(ticket["id"])["status"]["key"] == "in_progress"


def test_a_mapping_keeps_closed_tickets_closed(api: Api) -> None:
    ticket = api.open()
    api.move(ticket["id"], "resolved")
    version, config = _config(api)
    changed = copy.deepcopy(config)
    question = next(w for w in changed["workflows"] if w["key"] == "question")
    question["statuses"].append("completed")
    question["transitions"] = [
        {**t, "to": "completed"}
        if t["to"] == "resolved"
        else {**t, "from": "completed"}
        if t["from"] == "resolved"
        else t
        for t in question["transitions"]
    ]
    question["statuses"].remove("resolved")
    reopen = {"config": changed, "version": version, "status_mapping": {"resolved": "in_progress"}}
    code, answer = api.json("PUT", "/admin/config", reopen)
    assert code == 409
    assert "done status to a done status" in answer["error"]["errors"]["status_mapping.resolved"]
    close = {"config": changed, "version": version, "status_mapping": {"resolved": "completed"}}
    assert api.json("PUT", "/admin/config", close)[0] == 200
    assert api.ticket(ticket["id"])["status"] == {"key": "completed", "label": "Completed", "category": "done"}
