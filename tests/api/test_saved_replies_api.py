"""Saved replies, agents' roles and the configuration's past versions, end to end over moto."""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib.domain.config import shipped_document
from tests.api.conftest import Api
from tests.clocks import ManualClock
from tests.conftest import ReadCounter

GREETING = {"title": "Printer fixed", "body": "Hi {{ requester_name }}, {{ticket_ref}} is fixed.\n-- {{agent_name}}"}


def _agent(api: Api, name: str = "Sam Agent", email: str = "sam@example.org", role: str = "agent") -> dict[str, Any]:
    code, created = api.json("POST", "/admin/agents", {"name": name, "email": email, "role": role})
    assert code == 201, created
    return dict(created)


def _create(api: Api, **reply: Any) -> dict[str, Any]:
    code, answer = api.json("POST", "/saved-replies", {**GREETING, **reply})
    assert code == 201, answer
    return dict(answer["saved_reply"])


def _admin_id(api: Api) -> str:
    _, listed = api.json("GET", "/admin/agents")
    return str(next(a["id"] for a in listed["agents"] if a["email"] == "ada@example.org"))


# saved replies ------------------------------------------------------------------------------------------------


def test_an_admin_saves_a_reply_and_every_agent_reads_it(api: Api, clock: ManualClock) -> None:
    response = api.request("POST", "/saved-replies", {**GREETING, "status": "resolved", "public": False})
    assert response.status_code == 201
    created = api.json("GET", response.headers["Location"])[1]["saved_reply"]

    assert created == {
        "id": created["id"],
        "title": "Printer fixed",
        "body": GREETING["body"],
        "status": "resolved",
        "priority": None,
        "public": False,
        "version": 1,
        "updated_at": "2026-11-23T09:00:00.000000Z",
        "updated_by": f"agent:{_admin_id(api)}",
    }
    assert len(created["id"]) == 26  # a ULID
    token = _agent(api)["token"]
    assert api.json("GET", "/saved-replies", token=token) == (200, {"saved_replies": [created]})
    assert api.json("GET", f"/saved-replies/{created['id']}", token=token) == (200, {"saved_reply": created})


def test_the_list_is_sorted_by_title_and_searched_by_title_or_body(api: Api) -> None:
    _create(api, title="Welcome", body="Thanks for writing to us.")
    _create(api, title="about invoices", body="Invoices go out on the 1st.")
    _create(api, title="Password reset", body="Choose a new PASSWORD with the link.")

    def titles(path: str) -> list[str]:
        code, answer = api.json("GET", path)
        assert code == 200, answer
        return [r["title"] for r in answer["saved_replies"]]

    assert titles("/saved-replies") == ["about invoices", "Password reset", "Welcome"]
    assert titles("/saved-replies?q=password") == ["Password reset"]
    assert titles("/saved-replies?q=INVOICE") == ["about invoices"]
    assert titles("/saved-replies?q=writing%20to") == ["Welcome"]
    assert titles("/saved-replies?q=") == ["about invoices", "Password reset", "Welcome"]
    assert titles("/saved-replies?q=scanner") == []


def test_listing_is_one_query_of_one_partition(api: Api, dynamo_reads: ReadCounter) -> None:
    for n in range(3):
        _create(api, title=f"Reply {n}")
    _agent(api)  # other items of the desk table are not read
    before = dynamo_reads.queries

    assert len(api.json("GET", "/saved-replies")[1]["saved_replies"]) == 3
    assert dynamo_reads.queries - before == 1


def test_an_update_with_the_version_read_is_applied_and_a_stale_one_never_is(api: Api, clock: ManualClock) -> None:
    reply = _create(api)
    clock.advance(minutes=5)

    code, answer = api.json(
        "PUT", f"/saved-replies/{reply['id']}", {"title": "Printer mended", "body": "Fixed.", "version": 1}
    )
    assert code == 200, answer
    assert answer["saved_reply"] | {"version": 2, "title": "Printer mended"} == answer["saved_reply"]
    assert answer["saved_reply"]["updated_at"] == "2026-11-23T09:05:00.000000Z"

    code, answer = api.json(
        "PUT", f"/saved-replies/{reply['id']}", {"title": "Lost update", "body": "Never.", "version": 1}
    )
    assert code == 409
    assert answer["error"]["code"] == "stale_version"
    assert answer["error"]["current_version"] == 2
    stored = api.json("GET", f"/saved-replies/{reply['id']}")[1]["saved_reply"]
    assert (stored["title"], stored["version"]) == ("Printer mended", 2)


def test_what_get_answers_can_be_put_back_changed(api: Api) -> None:
    reply = _create(api, status="resolved", priority="low")

    code, answer = api.json("PUT", f"/saved-replies/{reply['id']}", {**reply, "priority": None})

    assert code == 200, answer
    assert (answer["saved_reply"]["priority"], answer["saved_reply"]["status"]) == (None, "resolved")
    assert answer["saved_reply"]["version"] == 2


def test_a_deleted_reply_is_answered_once_and_then_gone(api: Api) -> None:
    reply = _create(api)

    assert api.json("DELETE", f"/saved-replies/{reply['id']}") == (200, {"saved_reply": reply})
    assert api.json("DELETE", f"/saved-replies/{reply['id']}")[0] == 404
    assert api.json("GET", f"/saved-replies/{reply['id']}")[0] == 404
    assert api.json("GET", "/saved-replies")[1] == {"saved_replies": []}
    assert api.json("PUT", f"/saved-replies/{reply['id']}", {**GREETING, "version": 1})[0] == 404


def test_without_a_token_nothing_is_answered(api: Api) -> None:
    reply = _create(api)
    path = f"/saved-replies/{reply['id']}"

    for method, route, body in [
        ("GET", "/saved-replies", None),
        ("POST", "/saved-replies", GREETING),
        ("GET", path, None),
        ("PUT", path, {**GREETING, "version": 1}),
        ("DELETE", path, None),
    ]:
        code, answer = api.json(method, route, body, token=None)
        assert (method, route, code, answer["error"]["code"]) == (method, route, 401, "unauthenticated")
    assert api.json("GET", "/saved-replies", token="hd_not-a-token")[0] == 401


def test_an_agent_reads_but_may_not_write(api: Api) -> None:
    reply = _create(api)
    token = _agent(api)["token"]
    path = f"/saved-replies/{reply['id']}"

    assert api.json("POST", "/saved-replies", GREETING, token=token)[0] == 403
    assert api.json("PUT", path, {**GREETING, "version": 1}, token=token)[0] == 403
    assert api.json("DELETE", path, token=token)[0] == 403
    assert api.json("GET", path, token=token)[1]["saved_reply"] == reply


@pytest.mark.parametrize(
    ("sent", "named"),
    [
        ({"body": "x"}, {"title"}),
        ({"title": "x"}, {"body"}),
        ({**GREETING, "title": "a" * 121}, {"title"}),
        ({**GREETING, "title": "Two\nlines"}, {"title"}),
        ({**GREETING, "body": "b" * 20001}, {"body"}),
        ({**GREETING, "public": "no"}, {"public"}),
        ({**GREETING, "priority": "urgent"}, {"priority"}),
        ({**GREETING, "shortcut": "/p", "id": "mine"}, {"shortcut", "id"}),
        ({"title": 5, "body": ["x"], "status": {"key": "resolved"}}, {"title", "body", "status"}),
    ],
)
def test_a_reply_that_does_not_check_out_is_refused_naming_each_field(
    api: Api, sent: dict[str, Any], named: set[str]
) -> None:
    code, answer = api.json("POST", "/saved-replies", sent)

    assert code == 422, answer
    assert set(answer["error"]["errors"]) == named
    assert api.json("GET", "/saved-replies")[1] == {"saved_replies": []}


def test_an_unknown_placeholder_is_refused_naming_the_body_and_the_placeholder(api: Api) -> None:
    code, answer = api.json("POST", "/saved-replies", {"title": "Typo", "body": "Dear {{ requestor_name }},"})

    assert code == 422
    assert set(answer["error"]["errors"]) == {"body"}
    assert "{{requestor_name}}" in answer["error"]["errors"]["body"]
    assert "{{requester_name}}" in answer["error"]["errors"]["body"]


def test_a_macros_status_must_be_one_of_the_configuration(api: Api) -> None:
    code, answer = api.json("POST", "/saved-replies", {**GREETING, "status": "closed"})
    assert code == 422
    assert set(answer["error"]["errors"]) == {"status"}
    assert "resolved" in answer["error"]["errors"]["status"]

    _, current = api.json("GET", "/admin/config")
    document = shipped_document()
    document["statuses"].append({"key": "closed", "label": "Closed", "category": "done"})
    question = next(w for w in document["workflows"] if w["key"] == "question")
    question["statuses"].append("closed")
    question["transitions"].append({"from": "resolved", "to": "closed", "by": ["agent"]})
    code, answer = api.json("PUT", "/admin/config", {"config": document, "version": current["version"]})
    assert code == 200, answer

    assert _create(api, status="closed")["status"] == "closed"


def test_an_update_is_checked_like_a_new_reply(api: Api) -> None:
    reply = _create(api)

    code, answer = api.json("PUT", f"/saved-replies/{reply['id']}", {**GREETING, "status": "nowhere", "version": 1})
    assert code == 422
    assert set(answer["error"]["errors"]) == {"status"}
    code, answer = api.json("PUT", f"/saved-replies/{reply['id']}", GREETING)
    assert code == 422
    assert set(answer["error"]["errors"]) == {"version"}
    assert api.json("GET", f"/saved-replies/{reply['id']}")[1]["saved_reply"] == reply


@pytest.mark.parametrize("body", ["{not json", "", "[1, 2]", '"text"', "null", '{"title": NaN}'])
def test_a_body_that_is_not_a_json_object_is_a_400(api: Api, body: str) -> None:
    reply = _create(api)

    assert api.json("POST", "/saved-replies", body)[0] == 400
    assert api.json("PUT", f"/saved-replies/{reply['id']}", body)[0] == 400


@pytest.mark.parametrize("reply_id", ["nope", "x" * 3000, "%F0%9F%98%80", "a%00b", "..", "01J" + "Z" * 23])
def test_an_unknown_too_long_or_odd_id_is_a_404(api: Api, reply_id: str) -> None:
    for method, body in [("GET", None), ("PUT", {**GREETING, "version": 1}), ("DELETE", None)]:
        code, answer = api.json(method, f"/saved-replies/{reply_id}", body)
        assert (method, code) == (method, 404), answer


def test_an_overlong_search_or_an_unknown_parameter_is_a_422(api: Api) -> None:
    code, answer = api.json("GET", f"/saved-replies?q={'x' * 201}")
    assert (code, set(answer["error"]["errors"])) == (422, {"q"})
    code, answer = api.json("GET", "/saved-replies?query=x")
    assert (code, set(answer["error"]["errors"])) == (422, {"query"})


# agents' roles -------------------------------------------------------------------------------------------------


def test_an_admin_promotes_an_agent_who_can_then_write_saved_replies(api: Api) -> None:
    created = _agent(api)
    token = created["token"]
    assert api.json("POST", "/saved-replies", GREETING, token=token)[0] == 403

    code, answer = api.json("PATCH", f"/admin/agents/{created['agent']['id']}", {"role": "admin"})

    assert code == 200, answer
    assert answer["agent"] == {**created["agent"], "role": "admin"}
    assert api.json("POST", "/saved-replies", GREETING, token=token)[0] == 201


def test_a_demoted_admin_loses_admin_rights_at_once(api: Api) -> None:
    created = _agent(api, role="admin")

    code, answer = api.json("PATCH", f"/admin/agents/{created['agent']['id']}", {"role": "agent"})

    assert (code, answer["agent"]["role"]) == (200, "agent")
    assert api.json("GET", "/admin/agents", token=created["token"])[0] == 403


def test_an_admin_may_step_down_only_while_another_active_admin_remains(api: Api) -> None:
    me = _admin_id(api)

    code, answer = api.json("PATCH", f"/admin/agents/{me}", {"role": "agent"})
    assert code == 409
    assert "last active admin" in answer["error"]["message"]
    assert api.json("GET", "/admin/config")[0] == 200  # still an admin

    other = _agent(api, "Terry Admin", "terry@example.org", role="admin")
    assert api.json("DELETE", f"/admin/agents/{other['agent']['id']}")[0] == 200  # revoked: does not count
    assert api.json("PATCH", f"/admin/agents/{me}", {"role": "agent"})[0] == 409

    _agent(api, "Gina Admin", "gina@example.org", role="admin")
    code, answer = api.json("PATCH", f"/admin/agents/{me}", {"role": "agent"})
    assert (code, answer["agent"]["role"]) == (200, "agent")
    assert api.json("GET", "/admin/config")[0] == 403


@pytest.mark.parametrize("agent_id", ["nope", "x" * 3000, "%F0%9F%98%80"])
def test_changing_an_unknown_agent_is_a_404(api: Api, agent_id: str) -> None:
    assert api.json("PATCH", f"/admin/agents/{agent_id}", {"role": "admin"})[0] == 404


def test_a_bad_role_change_is_refused_and_only_admins_change_roles(api: Api) -> None:
    created = _agent(api)
    path = f"/admin/agents/{created['agent']['id']}"

    code, answer = api.json("PATCH", path, {"role": "owner", "name": "Sam"})
    assert (code, set(answer["error"]["errors"])) == (422, {"role", "name"})
    assert api.json("PATCH", path, "{oops")[0] == 400
    assert api.json("PATCH", path, {"role": "admin"}, token=created["token"])[0] == 403
    assert api.json("PATCH", path, {"role": "admin"}, token=None)[0] == 401
    listed = api.json("GET", "/admin/agents")[1]["agents"]
    assert next(a["role"] for a in listed if a["id"] == created["agent"]["id"]) == "agent"


# configuration versions ----------------------------------------------------------------------------------------


def _store_versions(api: Api, clock: ManualClock, count: int) -> None:
    document = shipped_document()
    for n in range(count):
        document["desk"]["name"] = f"Desk {n + 1}"
        code, answer = api.json("PUT", "/admin/config", {"config": document, "version": n})
        assert code == 200, answer
        clock.advance(minutes=1)


def test_config_versions_are_listed_newest_first_without_their_documents(api: Api, clock: ManualClock) -> None:
    _store_versions(api, clock, 3)
    label = f"agent:{_admin_id(api)}"

    code, answer = api.json("GET", "/admin/config/versions")

    assert code == 200
    assert answer == {
        "versions": [
            {"version": 3, "updated_at": "2026-11-23T09:02:00.000000Z", "updated_by": label},
            {"version": 2, "updated_at": "2026-11-23T09:01:00.000000Z", "updated_by": label},
            {"version": 1, "updated_at": "2026-11-23T09:00:00.000000Z", "updated_by": label},
        ]
    }
    assert [v["version"] for v in api.json("GET", "/admin/config/versions?limit=2")[1]["versions"]] == [3, 2]


def test_one_config_version_is_answered_with_its_document(api: Api, clock: ManualClock) -> None:
    _store_versions(api, clock, 3)

    code, answer = api.json("GET", "/admin/config/versions?version=2")

    assert code == 200
    (version,) = answer["versions"]
    assert version["version"] == 2
    assert version["config"]["desk"]["name"] == "Desk 2"
    assert api.json("GET", "/admin/config/versions?version=4")[0] == 404
    assert api.json("GET", "/admin/config/versions?version=0")[0] == 404


def test_a_desk_never_configured_has_no_versions(api: Api) -> None:
    assert api.json("GET", "/admin/config/versions") == (200, {"versions": []})
    assert api.json("GET", "/admin/config/versions?version=1")[0] == 404


@pytest.mark.parametrize(
    ("params", "named"),
    [
        ("limit=0", "limit"),
        ("limit=101", "limit"),
        ("limit=ten", "limit"),
        ("version=v2", "version"),
        ("page=2", "page"),
    ],
)
def test_bad_config_version_parameters_are_a_422(api: Api, params: str, named: str) -> None:
    code, answer = api.json("GET", f"/admin/config/versions?{params}")

    assert (code, set(answer["error"]["errors"])) == (422, {named})


def test_only_admins_read_config_versions(api: Api) -> None:
    token = _agent(api)["token"]

    assert api.json("GET", "/admin/config/versions", token=token)[0] == 403
    assert api.json("GET", "/admin/config/versions", token=None)[0] == 401
