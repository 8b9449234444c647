"""GET /openapi.json: a valid OpenAPI 3.1 document that documents exactly the routes of app.py, as they are declared.

The drift checks compare the document with Chalice's route table (`app.routes`): every (path, method) both ways,
the path parameters' names, the request content types, and the operation ids with the views' names.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from chalice.app import Chalice, Response
from chalice.test import Client
from openapi_spec_validator import validate

import app as desk_app
from chalicelib.web import openapi

ROOT = Path(__file__).resolve().parents[2]
LOCAL_ONLY = "/_local/"  # localdesk/routes.py adds these to the local run's app only, never in app.py
METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
SHARED_VIEWS = {"portal_comment_preflight": "portal_preflight", "portal_transition_preflight": "portal_preflight"}
DEFAULT_CONTENT_TYPES = ["application/json"]  # Chalice's, for a route that names none


def operations(document: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {
        (path, method.upper()): operation
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method in METHODS
    }


def routes(app: Chalice) -> dict[tuple[str, str], Any]:
    return {
        (path, method): entry
        for path, by_method in app.routes.items()
        if not path.startswith(LOCAL_ONLY)
        for method, entry in by_method.items()
    }


def drift(app: Chalice, document: dict[str, Any]) -> list[str]:
    """Every difference between the app's routes and the document, as readable lines (none when they agree)."""
    problems: list[str] = []
    documented, declared = operations(document), routes(app)
    problems += [f"{m} {p} is a route but not documented" for p, m in sorted(set(declared) - set(documented))]
    problems += [f"{m} {p} is documented but no route" for p, m in sorted(set(documented) - set(declared))]
    for key in sorted(set(declared) & set(documented)):
        path, method = key
        entry, operation = declared[key], documented[key]
        parameters = [*document["paths"][path].get("parameters", []), *operation.get("parameters", [])]
        in_path = sorted(p["name"] for p in parameters if p["in"] == "path")
        if in_path != sorted(entry.view_args):
            problems.append(f"{method} {path}: path parameters {in_path} != the route's {sorted(entry.view_args)}")
        body = operation.get("requestBody")
        if body is not None and sorted(body["content"]) != sorted(entry.content_types):
            problems.append(
                f"{method} {path}: request content types {sorted(body['content'])} != {sorted(entry.content_types)}"
            )
        if body is None and entry.content_types != DEFAULT_CONTENT_TYPES and method not in ("GET", "OPTIONS"):
            problems.append(f"{method} {path}: the route takes {entry.content_types} but no body is documented")
        view = SHARED_VIEWS.get(operation.get("operationId", ""), operation.get("operationId"))
        if view != entry.view_name:
            problems.append(f"{method} {path}: operationId {operation.get('operationId')} is not {entry.view_name}")
    return problems


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return openapi.document()


def test_the_document_is_valid_openapi_3_1(document: dict[str, Any]) -> None:
    validate(document)  # raises on any error, unresolved $ref included
    assert document["openapi"].startswith("3.1.")


def test_every_route_of_the_app_is_documented_and_nothing_else(document: dict[str, Any]) -> None:
    assert drift(desk_app.app, document) == []
    assert len(operations(document)) == len(routes(desk_app.app)) > 60


def test_the_drift_check_sees_an_undocumented_route_and_a_wrong_parameter(document: dict[str, Any]) -> None:
    """The check above can fail: a route added without its documentation, and a renamed path parameter."""
    grown = Chalice(app_name="grown")
    grown.routes.update({path: dict(by_method) for path, by_method in desk_app.app.routes.items()})

    @grown.route("/tickets/{ticket_id}/watchers", methods=["POST"])
    def watch(ticket_id: str) -> Response:
        return Response(body="")

    renamed = json.loads(json.dumps(document))
    renamed["paths"]["/tickets/{ticket_id}"]["get"]["parameters"][0]["name"] = "id"
    form_only = json.loads(json.dumps(document))
    del form_only["paths"]["/tickets"]["post"]["requestBody"]["content"]["application/x-www-form-urlencoded"]

    assert drift(grown, document) == ["POST /tickets/{ticket_id}/watchers is a route but not documented"]
    assert drift(desk_app.app, renamed) == [
        "GET /tickets/{ticket_id}: path parameters ['id'] != the route's ['ticket_id']"
    ]
    assert [line.split(":")[0] for line in drift(desk_app.app, form_only)] == ["POST /tickets"]


def test_operation_ids_are_unique_and_links_name_real_operations(document: dict[str, Any]) -> None:
    ids = [operation["operationId"] for operation in operations(document).values()]
    assert len(ids) == len(set(ids))
    by_id = {operation["operationId"]: operation for operation in operations(document).values()}
    linked = 0
    for operation in by_id.values():
        for answer in operation["responses"].values():
            for link in answer.get("links", {}).values():
                target = by_id[link["operationId"]]
                names = {p["name"] for p in target.get("parameters", [])}
                assert set(link["parameters"]) <= names, link
                linked += 1
    assert linked >= 10


def test_every_operation_documents_a_success_and_its_security(document: dict[str, Any]) -> None:
    schemes = set(document["components"]["securitySchemes"])
    for (path, method), operation in operations(document).items():
        assert any(s.startswith(("2", "3")) for s in operation["responses"]), f"{method} {path}"
        for requirement in operation["security"]:
            assert set(requirement) <= schemes
        if path.startswith(("/admin/", "/tickets/", "/reports/", "/saved-replies")) or path in ("/me", "/queues"):
            assert operation["security"] == [{"agentBearer": []}], f"{method} {path}"
        if path.startswith("/portal/") and method != "OPTIONS":
            assert {"portalToken": []} in operation["security"], f"{method} {path}"


def test_the_schemes_are_the_bearer_token_the_link_token_and_the_console_cookie(document: dict[str, Any]) -> None:
    schemes = document["components"]["securitySchemes"]

    assert schemes["agentBearer"] == {**schemes["agentBearer"], "type": "http", "scheme": "bearer"}
    assert (schemes["portalToken"]["in"], schemes["portalToken"]["name"]) == ("query", "token")
    assert (schemes["consoleSession"]["in"], schemes["consoleSession"]["name"]) == ("cookie", "hd_session")


def test_errors_answer_the_error_body_and_429_its_retry_after(document: dict[str, Any]) -> None:
    answers = document["components"]["responses"]
    error = document["components"]["schemas"]["Error"]

    assert error["required"] == ["error"]
    assert error["properties"]["error"]["required"] == ["code", "message"]
    assert answers["Api429"]["headers"]["Retry-After"]["schema"] == {"type": "integer"}
    assert answers["Api422"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}
    responses = document["paths"]["/admin/agents"]["post"]["responses"]
    assert "409" in responses
    assert "409" in document["paths"]["/admin/agents/{agent_id}"]["patch"]["responses"]


def test_the_duration_seconds_fields_have_their_optional_text(document: dict[str, Any]) -> None:
    timer = document["components"]["schemas"]["Timer"]["properties"]
    seconds = [name for name in timer if name.endswith("_seconds")]

    assert seconds
    assert all(f"{name.removesuffix('_seconds')}_text" in timer for name in seconds)
    assert not set(document["components"]["schemas"]["Timer"]["required"]) & {n for n in timer if n.endswith("_text")}


def test_the_route_answers_the_document() -> None:
    with Client(desk_app.app) as client:
        answer = client.http.get("/openapi.json")

    assert answer.status_code == 200
    assert answer.headers["Content-Type"].startswith("application/json")
    assert json.loads(answer.body) == json.loads(json.dumps(openapi.document()))


def test_no_other_cold_start_imports_the_document_module() -> None:
    probe = "import sys, app; print('chalicelib.web.openapi' in sys.modules)"
    loaded = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True)
    assert loaded.stdout.strip() == "False"


def test_the_app_declares_the_route_with_a_one_line_body() -> None:
    source = (ROOT / "app.py").read_text()
    assert re.search(
        r'@app\.route\("/openapi\.json", methods=\["GET"\]\)\ndef \w+\(\) -> Response:\n    return openapi\.', source
    )


def test_the_console_form_posts_document_chalices_415_for_a_body_that_is_not_a_form(document: dict[str, Any]) -> None:
    """Found by fuzzing the console: a post without a Content-Type (Chalice reads it as JSON) or with a JSON body
    is refused by Chalice itself, before the view, with its own body."""
    posts = {
        path: item["post"] for path, item in document["paths"].items() if path.startswith("/console") and "post" in item
    }
    with Client(desk_app.app) as client:
        answer = client.http.post("/console/settings", headers={"Content-Type": "application/json"}, body="{}")

    assert answer.status_code == 415
    assert json.loads(answer.body)["Code"] == "UnsupportedMediaType"
    assert len(posts) == 16
    for operation in posts.values():
        declared = operation["responses"]["415"]["content"]["application/json"]["schema"]
        assert declared["properties"]["Code"]["enum"] == ["UnsupportedMediaType"]


def test_the_original_message_is_documented_as_a_download_for_agents(document: dict[str, Any]) -> None:
    operation = document["paths"]["/console/tickets/{ticket_id}/messages/{message_id}"]["get"]
    answer = operation["responses"]["200"]

    assert list(answer["content"]) == ["message/rfc822"]
    assert "attachment" in answer["headers"]["Content-Disposition"]["description"]
    assert operation["security"] == [{"agentBearer": []}, {"consoleSession": []}]
    assert {"401", "404"} <= set(operation["responses"])


def test_the_static_route_lists_every_real_asset_as_an_example_and_the_route_serves_them(
    document: dict[str, Any],
) -> None:
    """The fuzzer's examples phase fetches these, so GET /static/{name} is checked on a 200 as well as on 404s."""
    (name,) = document["paths"]["/static/{name}"]["get"]["parameters"]
    examples = name["examples"]

    assert {"console.css", "console.js", "desk.css"} <= set(examples)
    with Client(desk_app.app) as client:
        for example in examples.values():
            answer = client.http.get(f"/static/{example['value']}")
            assert answer.status_code == 200, example
            assert answer.headers["Content-Type"].startswith(("text/css", "text/javascript"))
        assert client.http.get("/static/console.css").status_code == 404
