"""Shared fixtures: moto as AWS, the tables built from infra/template.json, a clock the test moves."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

# The process environment must be set before anything creates a botocore client or imports the app.
for _name in [n for n in os.environ if n.startswith("AWS_ENDPOINT_URL")]:
    del os.environ[_name]
os.environ.update(
    AWS_DEFAULT_REGION="us-east-1",
    AWS_ACCESS_KEY_ID="testing",
    AWS_SECRET_ACCESS_KEY="testing",
    AWS_SECURITY_TOKEN="testing",
    AWS_SESSION_TOKEN="testing",
    AWS_ACCOUNT_ID_ENDPOINT_MODE="disabled",
    HELPDESK_CORS_ORIGINS="https://www.example.org",
    HELPDESK_PUBLIC_URL="https://desk.example.org",
)
os.environ.pop("AWS_PROFILE", None)

from moto import mock_aws  # noqa: E402
from moto.dynamodb.models import DynamoDBBackend  # noqa: E402

from localdesk.motofix import install as install_moto_fix  # noqa: E402
from tests.clocks import ManualClock  # noqa: E402

install_moto_fix()  # transactions back up the items they name, not whole tables (see localdesk/motofix.py)

# The files that take longest (`--durations=30` of a CI run), handed to the workers first. `make test` runs
# `--dist loadfile`: a worker takes whole files in collection order, so a long file taken last keeps one worker busy
# while the other idles; taken first, the short files even the two out at the end. The rest keep their order.
LONGEST_FIRST = (
    "tests/api/test_fuzz.py",
    "tests/api/test_reports.py",
    "tests/api/test_mail_events.py",
    "tests/test_local_run.py",
    "tests/api/test_report_cost.py",
    "tests/api/test_pipeline_properties.py",
    "tests/services/test_inbound.py",
    "tests/api/test_stale_sweep.py",
    "tests/browser/test_console.py",
    "tests/test_package.py",
    "tests/mail/test_header_properties.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    rank = {name: place for place, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.nodeid.split("::", 1)[0], len(LONGEST_FIRST)))  # a stable sort


_scans: list[dict[str, Any]] = []
_real_scan = DynamoDBBackend.scan


def _recording_scan(self: DynamoDBBackend, table_name: str, *args: Any, **kwargs: Any) -> Any:
    _scans.append({"table": table_name})
    return _real_scan(self, table_name, *args, **kwargs)


DynamoDBBackend.scan = _recording_scan  # type: ignore[method-assign]


@pytest.fixture(autouse=True)
def no_scan() -> Iterator[None]:
    """Fail any test during which anything issued a DynamoDB Scan: every read must be a key or index lookup."""
    before = len(_scans)
    yield
    issued = _scans[before:]
    assert not issued, f"a DynamoDB Scan was issued: {issued}"


class ReadCounter:
    """Items DynamoDB (moto) examined to answer Query calls (what a read costs, filtered or not), and items
    fetched by key (GetItem, and each key of a BatchGetItem)."""

    def __init__(self) -> None:
        self.items = 0
        self.queries = 0
        self.fetched = 0

    @property
    def total(self) -> int:
        return self.items + self.fetched


@pytest.fixture
def dynamo_reads(monkeypatch: pytest.MonkeyPatch) -> ReadCounter:
    counter = ReadCounter()
    real_query = DynamoDBBackend.query

    def counting_query(self: DynamoDBBackend, *args: Any, **kwargs: Any) -> Any:
        results, scanned, last_key = real_query(self, *args, **kwargs)
        counter.items += scanned
        counter.queries += 1
        return results, scanned, last_key

    real_get = DynamoDBBackend.get_item

    def counting_get(self: DynamoDBBackend, *args: Any, **kwargs: Any) -> Any:
        item = real_get(self, *args, **kwargs)
        counter.fetched += 1 if item is not None else 0
        return item

    monkeypatch.setattr(DynamoDBBackend, "query", counting_query)
    monkeypatch.setattr(DynamoDBBackend, "get_item", counting_get)
    return counter


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def aws(clock: ManualClock) -> Iterator[dict[str, str]]:
    """moto with the desk's tables created from infra/template.json; the desk wired to them and to `clock`."""
    import boto3

    from chalicelib import wiring
    from infra.tables import create_stack

    with mock_aws():
        outputs = create_stack(boto3.client("cloudformation", region_name="us-east-1"))
        os.environ["HELPDESK_TICKETS_TABLE"] = outputs["TicketsTableName"]
        os.environ["HELPDESK_DESK_TABLE"] = outputs["DeskTableName"]
        os.environ["HELPDESK_EVENTS_TABLE"] = outputs["EventsTableName"]
        os.environ["HELPDESK_ATTACHMENTS_BUCKET"] = outputs["AttachmentsBucketName"]
        wiring.reset(clock=clock)
        yield outputs
        wiring.reset()
