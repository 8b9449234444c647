"""Schemathesis against a running local desk (`python -m localdesk`), driven by GET /openapi.json.

Every documented operation is called with generated input (valid and invalid): the JSON API, the public pages, the
portal, the agents' console and /static, plus stateful sequences along the document's links (open -> get ->
change/transition/comment). A run fails on any 5xx, any answer whose status, content type, headers or body the
document does not declare.

The console is fuzzed signed in, as a browser is: the test signs an admin of its own in with the token form
(POST /console/sign-in) and sends that session's cookie, its CSRF token (`X-CSRF-Token`, which the console takes
when a form has no `csrf` field) and the desk's Origin with every console request, so the pages and form posts run
for real instead of bouncing to the sign-in page. The sign-in pages get no cookie (signed in, they only redirect).
POST /console/sign-out gets a second session of its own, so the run cannot end the session every other console
operation uses. The console's admin is not the desk's fuzz admin (whose token the JSON API's admin operations use),
and the operations that revoke or demote an agent by id never get ids from other answers (TARGETS_AN_AGENT), so the
run cannot revoke or demote the agents it signs in with. After the run, the test checks that the agent's token and
the console session still work and that the sign-out's own session was really ended.

The budget is small here, for `make test` (FUZZ_EXAMPLES examples per operation, a fixed seed); `make fuzz` runs the
same test with a bigger one (FUZZ_EXAMPLES=100 FUZZ_STEPS=...).
"""

from __future__ import annotations

import html
import http.client
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest

from tests.localrun import LocalDesk, LocalRun

FUZZ_ADMIN_TOKEN = "fuzz-admin-token"
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "3"))
STATEFUL_STEPS = int(os.environ.get("FUZZ_STEPS", "6"))
SEED = int(os.environ.get("FUZZ_SEED", "20240601"))
CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "response_schema_conformance",
)
CONSOLE = r"^/console(/|$)"
# Signed out pages: with a live session they only redirect to the queue, so they are fuzzed without one.
SIGNED_OUT = ("console_sign_in_page", "console_sign_in", "console_confirm_page", "console_confirm")
SIGN_OUT = "console_sign_out"  # ends the session it is sent with: it has one of its own
# The operations that revoke or demote an agent named by id. Schemathesis reuses values from earlier answers (GET
# /admin/agents lists every agent's id) and infers links between operations from them: so it revoked the agents whose
# token and session the run uses (and could demote an admin). These operations get generated ids and the ids of the
# agents the run creates itself (the document's links from POST /admin/agents), never those seen in other answers.
TARGETS_AN_AGENT = ("revoke_agent", "change_agent", "console_agents_post")
ADMIN_ONLY = r"^/(admin/|saved-replies)"
AGENT_PATHS = r"^/(tickets/|reports/|me$|queues$)"
LIMITS = {"posts_per_ip_per_hour": 100000, "portal_comments_per_hour": 10000, "new_tickets_per_hour": 10000}
RUN_TIMEOUT = 1800
Session = tuple[str, str]  # a console session: the cookie's value and the session's CSRF token


@pytest.fixture(scope="module")
def desk() -> Iterator[LocalDesk]:
    run = LocalRun(admin_token=FUZZ_ADMIN_TOKEN)
    try:
        yield LocalDesk(run)
    finally:
        run.close(graceful=False)


def raise_the_limits(desk: LocalDesk) -> None:
    """Every fuzzed post comes from 127.0.0.1: lift the per-source limits so the success paths stay reachable."""
    status, stored = desk.api("GET", "/admin/config")
    assert status == 200, stored
    config = stored["config"]
    config.setdefault("desk", {}).update(LIMITS)
    status, answer = desk.api("PUT", "/admin/config", {"config": config, "version": stored["version"]})
    assert status == 200, answer


def portal_access(desk: LocalDesk) -> tuple[str, str]:
    """A ticket's id and the requester's link token, from the answer of POST /tickets."""
    opened = desk.open_ticket(subject="Fuzzing the portal")
    token = parse_qs(urlsplit(opened["portal_url"]).query)["token"][0]
    return opened["id"], token


def console_session(desk: LocalDesk, token: str) -> Session:
    """Sign in with the token form as a browser does; the session cookie's value and the session's CSRF token."""
    where = urlsplit(desk.url)
    connection = http.client.HTTPConnection(where.netloc, timeout=30)
    try:
        form = urlencode({"token": token})
        sent = {"Content-Type": "application/x-www-form-urlencoded", "Origin": desk.url}
        connection.request("POST", "/console/sign-in", body=form, headers=sent)
        signed_in = connection.getresponse()
        signed_in.read()
        assert signed_in.status == 303, f"signing in answered {signed_in.status}"
        cookie = re.match(r"hd_session=([^;]+);", signed_in.getheader("Set-Cookie") or "")
        assert cookie, "signing in set no session cookie"
        connection.request("GET", "/console", headers={"Cookie": f"hd_session={cookie.group(1)}"})
        queue = connection.getresponse()
        page = queue.read().decode()
    finally:
        connection.close()
    assert queue.status == 200, f"the queue answered {queue.status} to the new session"
    found = re.search(r'name="csrf-token" content="([^"]+)"', page)
    assert found, "the signed-in queue page carries no CSRF token"
    return cookie.group(1), html.unescape(found.group(1))


def browser_headers(desk: LocalDesk, session: Session) -> str:
    """The headers a browser's console script sends, as a TOML inline table."""
    cookie, csrf = session
    sent = {"Cookie": f"hd_session={cookie}", "X-CSRF-Token": csrf, "Origin": desk.url}
    return "{ " + ", ".join(f"{name} = {toml_string(value)}" for name, value in sent.items()) + " }"


def toml_string(value: str) -> str:
    return json.dumps(value)  # a JSON string is a TOML basic string for the characters used here


def config_file(desk: LocalDesk, folder: Path, agent_token: str, everyday: Session, leaving: Session) -> Path:
    """`everyday`: the console session of every console operation; `leaving`: the one POST /console/sign-out ends."""
    ticket_id, token = portal_access(desk)
    lines = [
        f"base-url = {toml_string(desk.url)}",
        f"seed = {SEED}",
        "workers = 1",  # the local desk serves one request at a time
        'suppress-health-check = ["too_slow", "filter_too_much", "data_too_large", "large_base_example"]',
        "[cache]",
        "enabled = false",  # nothing is written outside the test's folder
        "[generation]",
        f"max-examples = {EXAMPLES}",
        "deterministic = true",
        "no-shrink = true",
        "[phases.coverage]",
        # TRACE is left out: the local run's HTTP server (not the desk) answers it 501; API Gateway refuses it itself.
        'unexpected-methods = ["GET", "PUT", "POST", "DELETE", "PATCH", "OPTIONS"]',
        "[phases.stateful]",
        f"max-steps = {max(STATEFUL_STEPS, 2)}",
        'inference.algorithms = ["location-headers"]',  # no links inferred from ids in answers (TARGETS_AN_AGENT)
        "[checks]",
        "enabled = false",
        *[f"{check}.enabled = true" for check in CHECKS],
        "[auth.openapi.agentBearer]",
        f"bearer = {toml_string(agent_token)}",
        "[auth.openapi.portalToken]",
        f"api_key = {toml_string(token)}",
        "[[operations]]",
        f"include-operation-id = {json.dumps(list(TARGETS_AN_AGENT))}",
        *[f"phases.{phase}.extra-data-sources.responses = false" for phase in ("examples", "coverage", "fuzzing")],
        "[[operations]]",
        f"include-path-regex = {toml_string(CONSOLE)}",
        f"exclude-operation-id = {json.dumps([*SIGNED_OUT, SIGN_OUT])}",
        f"headers = {browser_headers(desk, everyday)}",
        "[[operations]]",
        f"include-operation-id = {toml_string(SIGN_OUT)}",
        f"headers = {browser_headers(desk, leaving)}",
        "[[operations]]",
        f"include-operation-id = {json.dumps(list(SIGNED_OUT))}",
        f"headers = {{ Origin = {toml_string(desk.url)} }}",
        "[[operations]]",
        f"include-path-regex = {toml_string(ADMIN_ONLY)}",
        f"headers = {{ Authorization = {toml_string(f'Bearer {desk.admin_token}')} }}",
        "[[operations]]",
        'include-path-regex = "^/portal/"',
        f"parameters = {{ ticket_id = {toml_string(ticket_id)} }}",
    ]
    path = folder / "schemathesis.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def schemathesis(desk: LocalDesk, config: Path, folder: Path) -> subprocess.CompletedProcess[str]:
    command = [
        str(Path(sys.executable).with_name("schemathesis")),
        "--config-file",
        str(config),
        "run",
        f"{desk.url}/openapi.json",
        "--report",
        "junit",
        "--report-dir",
        str(folder),
    ]
    return subprocess.run(command, cwd=folder, capture_output=True, text=True, timeout=RUN_TIMEOUT, check=False)


# First: the fuzz run below may change the admin's own role (PATCH /admin/agents/{id} is fuzzed too).
def test_the_fuzzer_fails_on_an_answer_the_document_does_not_declare(desk: LocalDesk, tmp_path: Path) -> None:
    """The run above can fail: on a document without GET /me's 200, and with a wrong type for the agent's name,
    the same checks report an undocumented status and a body that violates its schema."""
    from chalicelib.web.openapi import document

    shrunk: dict[str, Any] = document()
    del shrunk["paths"]["/me"]["get"]["responses"]["200"]
    shrunk["paths"] = {"/me": shrunk["paths"]["/me"], "/admin/agents": {"get": shrunk["paths"]["/admin/agents"]["get"]}}
    shrunk["components"]["schemas"]["Agent"]["properties"]["name"] = {"type": "integer"}
    schema = tmp_path / "openapi.json"
    schema.write_text(json.dumps(shrunk), encoding="utf-8")
    _, agent_token = desk.create_agent("Fuzz Probe", "fuzz.probe@example.org")
    session = console_session(desk, agent_token)
    config = config_file(desk, tmp_path, agent_token, session, session)
    command = [
        str(Path(sys.executable).with_name("schemathesis")),
        "--config-file",
        str(config),
        "run",
        str(schema),
        "--url",
        desk.url,
        "--max-examples",
        "2",
        "--phases",
        "examples,fuzzing",
    ]
    finished = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=300, check=False)

    assert finished.returncode != 0, finished.stdout
    assert "Undocumented status code" in finished.stdout, finished.stdout[-5000:]
    assert "Response violates schema" in finished.stdout, finished.stdout[-5000:]


def test_every_operation_answers_what_the_document_says(desk: LocalDesk, tmp_path: Path) -> None:
    raise_the_limits(desk)
    _, agent_token = desk.create_agent("Fuzz Agent", "fuzz.agent@example.org")
    _, console_token = desk.create_agent("Fuzz Console", "fuzz.console@example.org", role="admin")
    everyday, leaving = console_session(desk, console_token), console_session(desk, console_token)

    finished = schemathesis(desk, config_file(desk, tmp_path, agent_token, everyday, leaving), tmp_path)

    print(finished.stdout[-20000:])  # the summary: operations, examples, failures (pytest -s shows it)
    assert "Traceback" not in desk.run.output, desk.run.output[-5000:]
    assert finished.returncode == 0, f"{finished.stdout[-15000:]}\n{finished.stderr[-3000:]}"
    assert " passed" in finished.stdout
    # The run's own credentials were never revoked (TARGETS_AN_AGENT): the agent's token still works, and the console
    # was fuzzed signed in all along: its session (an admin's) still opens an admin page afterwards.
    assert desk.api("GET", "/me", token=agent_token)[0] == 200
    assert console_page(desk, everyday, "/console/admin/agents") == 200
    # And POST /console/sign-out really ran signed in: it ended the session of its own.
    assert console_page(desk, leaving, "/console") == 303


def console_page(desk: LocalDesk, session: Session, path: str) -> int:
    """The status of a console page opened with this session (200 signed in, 303 to the sign-in page if not)."""
    connection = http.client.HTTPConnection(urlsplit(desk.url).netloc, timeout=30)
    try:
        connection.request("GET", path, headers={"Cookie": f"hd_session={session[0]}", "Accept": "text/html"})
        answer = connection.getresponse()
        answer.read()
        return answer.status
    finally:
        connection.close()
