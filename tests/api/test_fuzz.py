"""Schemathesis against a running local desk (`python -m localdesk`), driven by GET /openapi.json.

Every documented operation of the JSON API, the public pages and the portal is called with generated input (valid
and invalid), plus stateful sequences along the document's links (open -> get -> change/transition/comment). A run
fails on any 5xx, any answer whose status, content type, headers or body the document does not declare.

The budget is small here, for `make test` (FUZZ_EXAMPLES examples per operation, a fixed seed); `make fuzz` runs the
same test with a bigger one (FUZZ_EXAMPLES=100 FUZZ_STEPS=...). The console's HTML routes and /static are documented
but not fuzzed: without a session they answer the sign-in redirect whatever is sent.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.localrun import LocalDesk, LocalRun

FUZZ_ADMIN_TOKEN = "fuzz-admin-token"
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "5"))
STATEFUL_STEPS = int(os.environ.get("FUZZ_STEPS", "6"))
SEED = int(os.environ.get("FUZZ_SEED", "20240601"))
CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "response_schema_conformance",
)
NOT_FUZZED = r"^/(console|static)(/|$)"
ADMIN_ONLY = r"^/(admin/|saved-replies)"
AGENT_PATHS = r"^/(tickets/|reports/|me$|queues$)"
LIMITS = {"posts_per_ip_per_hour": 100000, "portal_comments_per_hour": 10000, "new_tickets_per_hour": 10000}
RUN_TIMEOUT = 1800


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


def toml_string(value: str) -> str:
    return json.dumps(value)  # a JSON string is a TOML basic string for the characters used here


def config_file(desk: LocalDesk, folder: Path, agent_token: str) -> Path:
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
        "[checks]",
        "enabled = false",
        *[f"{check}.enabled = true" for check in CHECKS],
        "[auth.openapi.agentBearer]",
        f"bearer = {toml_string(agent_token)}",
        "[auth.openapi.portalToken]",
        f"api_key = {toml_string(token)}",
        "[[operations]]",
        f"include-path-regex = {toml_string(NOT_FUZZED)}",
        "enabled = false",
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
    config = config_file(desk, tmp_path, agent_token)
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

    finished = schemathesis(desk, config_file(desk, tmp_path, agent_token), tmp_path)

    print(finished.stdout[-20000:])  # the summary: operations, examples, failures (pytest -s shows it)
    assert "Traceback" not in desk.run.output, desk.run.output[-5000:]
    assert finished.returncode == 0, f"{finished.stdout[-15000:]}\n{finished.stderr[-3000:]}"
    assert " passed" in finished.stdout
