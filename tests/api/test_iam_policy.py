"""The written IAM policy grants every DynamoDB operation the desk actually makes, and nothing it does not need."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from moto.core.responses import BaseResponse

from tests.api.conftest import DEFECT_FIELDS, Api
from tests.clocks import ManualClock
from tests.streams import Stream

ROOT = Path(__file__).resolve().parents[2]
# IAM has no action of its own for a transaction: each part needs PutItem, UpdateItem or ConditionCheckItem.
NO_IAM_ACTION = {"TransactWriteItems"}


@pytest.fixture
def operations(monkeypatch: pytest.MonkeyPatch) -> set[str]:
    seen: set[str] = set()
    real = BaseResponse.call_action

    def recording(self: BaseResponse) -> Any:
        if self.service_name == "dynamodb":
            seen.add(self._get_action())
        return real(self)

    monkeypatch.setattr(BaseResponse, "call_action", recording)
    return seen


def granted(stage: str) -> set[str]:
    policy = json.loads((ROOT / ".chalice" / f"policy-{stage}.json").read_text())
    actions: set[str] = set()
    for statement in policy["Statement"]:
        listed = statement["Action"]
        actions.update([listed] if isinstance(listed, str) else listed)
    return {a.split(":", 1)[1] for a in actions if a.startswith("dynamodb:")}


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_every_dynamodb_operation_of_a_working_day_is_granted(
    stage: str, api: Api, stream: Stream, clock: ManualClock, operations: set[str]
) -> None:
    ticket = api.open(type="defect", fields=DEFECT_FIELDS)
    api.json(
        "POST",
        "/tickets",
        {**_question(), "requester_email": "x@example.org"},
        token=None,
        headers={"Idempotency-Key": "k-1"},
    )
    api.move(ticket["id"], "in_review", comment="Reproducing", public=True)
    api.json("PATCH", f"/tickets/{ticket['id']}", {"assignee": "me", "version": 2})
    api.json("POST", f"/tickets/{ticket['id']}/comments", {"body": "note", "public": False})
    api.json("GET", "/tickets?status=in_review")
    api.json("GET", "/queues")
    portal = ticket["portal_url"].split("desk.example.org", 1)[1]
    api.json("GET", portal, token=None)
    clock.advance(hours=1)
    stream.drain()
    api.json("GET", f"/tickets/{ticket['id']}/history")
    api.json("GET", f"/tickets/{ticket['ref']}")
    for report in ("sla?group_by=assignee", "time-in-status", "workload", "satisfaction"):
        assert api.json("GET", f"/reports/{report}")[0] == 200
    _, document = api.json("GET", "/admin/config")
    api.json("PUT", "/admin/config", {"config": document["config"], "version": document["version"]})
    _, created = api.json("POST", "/admin/agents", {"name": "Bo", "email": "bo@example.org", "role": "agent"})
    api.json("DELETE", f"/admin/agents/{created['agent']['id']}")

    missing = operations - NO_IAM_ACTION - granted(stage)

    assert "Scan" not in granted(stage)
    assert missing == set(), f"the {stage} policy lacks dynamodb:{sorted(missing)}"


def _question() -> dict[str, str]:
    return {
        "subject": "Printer",
        "description": "Offline",
        "requester_name": "Ann",
        "requester_email": "ann@example.org",
    }
