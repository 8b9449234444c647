# ruff: noqa: F811 - the API fixtures are imported into this module, and tests name them as parameters
"""The desk's meter under moto: the hooks add what AWS answers, one write per invocation, a redelivery counted once."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from chalice.utils import to_cfn_resource_name
from moto.core.responses import BaseResponse

from chalicelib.adapters import meter
from chalicelib.domain import cost
from tests.api.conftest import Api, admin_token, api, stream  # noqa: F401 - the API's fixtures
from tests.api.mail_fixtures import mailbox, run_job  # noqa: F401 - mailbox: a fixture the API's need
from tests.streams import Stream

ROOT = Path(__file__).resolve().parents[2]
DAY = "2026-11-23"  # tests/clocks.py's START, a UTC day
MONTH = "meter#2026-11"


@pytest.fixture(autouse=True)
def fresh_meter() -> Iterator[None]:
    meter.reset()
    yield
    meter.reset()


class Calls:
    """DynamoDB actions moto answered, with their bodies."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, dict[str, Any]]] = []

    def meter_writes(self) -> list[str]:
        return [
            a for a, body in self.seen if a in ("UpdateItem", "TransactWriteItems") and "meter#" in json.dumps(body)
        ]


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> Calls:
    recorded = Calls()
    real = BaseResponse.call_action

    def recording(self: BaseResponse) -> Any:
        if self.service_name == "dynamodb":
            body = self.body if isinstance(self.body, dict) else json.loads(self.body or "{}")
            recorded.seen.append((self._get_action(), body))
        return real(self)

    monkeypatch.setattr(BaseResponse, "call_action", recording)
    return recorded


def day_item(aws: dict[str, str], function: str, day: str = DAY) -> dict[str, Decimal]:
    import boto3

    client = boto3.client("dynamodb", region_name="us-east-1")
    key = {"pk": {"S": MONTH}, "sk": {"S": f"{day}#{function}"}}
    found = client.get_item(TableName=aws["EventsTableName"], Key=key).get("Item") or {}
    return {name: Decimal(value["N"]) for name, value in found.items() if "N" in value}


class Event:
    """An event that is neither a request nor one of Lambda's (the meter counts it as an invocation of its own)."""

    context = None


def test_the_hooks_ask_for_every_index_and_add_the_units_dynamodb_answers(aws: dict[str, str], calls: Calls) -> None:
    import boto3

    from chalicelib import wiring

    wiring.desk()  # binds the tables: the meter can write
    client = meter.watch(boto3.client("dynamodb", region_name="us-east-1"))
    table = aws["EventsTableName"]

    def work(event: Any) -> None:
        client.put_item(TableName=table, Item={"pk": {"S": "x"}, "sk": {"S": "1"}})
        client.get_item(TableName=table, Key={"pk": {"S": "x"}, "sk": {"S": "1"}})

    meter.measure(Event(), work)

    put = next(body for action, body in calls.seen if action == "PutItem")
    counted = day_item(aws, "api_handler")
    assert put["ReturnConsumedCapacity"] == "INDEXES"
    # moto answers 1 unit for a put and 0.5 for a get; the flush adds its own write
    assert counted["wru"] == 1 + meter.FLUSH_WRITE_UNITS
    assert counted["rru"] == Decimal("0.5")
    assert counted["invocations"] == 1


def test_capacity_units_take_totals_lists_and_the_index_breakdown() -> None:
    transaction = [
        {"TableName": "a", "CapacityUnits": 4.0, "WriteCapacityUnits": 4.0},
        {"TableName": "b", "CapacityUnits": 2.0, "WriteCapacityUnits": 2.0},
    ]
    indexes = {"TableName": "t", "Table": {"CapacityUnits": 1.0}, "GlobalSecondaryIndexes": {"g": {"CapacityUnits": 2}}}

    assert meter.capacity_units(transaction, "TransactWriteItems") == (0, 6)
    assert meter.capacity_units(indexes, "PutItem") == (0, 3)
    assert meter.capacity_units({"CapacityUnits": 1.5}, "Query") == (Decimal("1.5"), 0)
    assert meter.capacity_units(None, "GetItem") == (0, 0)


def test_an_invocation_costs_one_meter_write_and_a_redelivered_batch_is_counted_once(
    api: Api, stream: Stream, calls: Calls, aws: dict[str, str]
) -> None:
    api.open()
    assert calls.meter_writes() == ["UpdateItem"]  # the request's one write
    records = stream.records()

    assert stream.deliver(records) == []
    assert stream.deliver(records) == []  # Lambda delivers the same batch again

    assert calls.meter_writes() == ["UpdateItem", "TransactWriteItems", "TransactWriteItems"]
    counted = day_item(aws, "ticket_changes")
    assert counted["invocations"] == 1
    api.open()
    assert stream.deliver(stream.records()) == []  # another batch: counted
    assert day_item(aws, "ticket_changes")["invocations"] == 2


def test_an_sns_message_delivered_twice_is_counted_once(api: Api, aws: dict[str, str]) -> None:
    event = api.client.events.generate_sns_event(message="not a notification", subject="SES")

    api.client.lambda_.invoke("inbound_mail", event)
    api.client.lambda_.invoke("inbound_mail", event)

    counted = day_item(aws, "inbound_mail")
    assert (counted["invocations"], counted["inbound_mails"], counted["sns_publishes"]) == (1, 1, 1)


def test_a_failing_flush_never_fails_the_request_and_its_counts_wait_for_the_next(
    api: Api, aws: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from chalicelib.adapters.records import transaction_connection

    client = transaction_connection().client
    real = client.update_item

    def failing(**kwargs: Any) -> Any:
        if kwargs["Key"]["pk"]["S"].startswith("meter#"):
            raise ClientError({"Error": {"Code": "InternalServerError", "Message": "down"}}, "UpdateItem")
        return real(**kwargs)

    monkeypatch.setattr(client, "update_item", failing)
    status, _ = api.json("GET", "/me")
    assert status == 200
    assert day_item(aws, "api_handler") == {}
    monkeypatch.setattr(client, "update_item", real)

    api.json("GET", "/me")

    counted = day_item(aws, "api_handler")
    assert (counted["invocations"], counted["api_requests"]) == (2, 2)


def test_the_storage_is_recorded_once_a_day_by_the_stale_sweep(api: Api, aws: dict[str, str], calls: Calls) -> None:
    api.open()
    run_job(api.client, "stale_sweep")
    run_job(api.client, "stale_sweep")

    import boto3

    key = {"pk": {"S": MONTH}, "sk": {"S": f"{DAY}#storage"}}
    stored = boto3.client("dynamodb", region_name="us-east-1").get_item(TableName=aws["EventsTableName"], Key=key)
    item = stored["Item"]
    assert [a for a, _ in calls.seen].count("DescribeTable") == 3  # the three tables, on the first run only
    assert int(item["tickets_items"]["N"]) >= 1  # moto counts items; its TableSizeBytes is always 0
    assert item["tickets_bytes"]["N"] == "0"
    assert item["attachment_bytes"]["N"] == "0"


def test_a_file_kept_moves_the_desk_wide_total(api: Api, aws: dict[str, str]) -> None:
    import boto3

    ticket = api.open()
    body = (
        b'--b\r\nContent-Disposition: form-data; name="file"; filename="notes.txt"\r\n'
        b"Content-Type: text/plain\r\n\r\nhello world\r\n--b--\r\n"
    )
    headers = {"Content-Type": "multipart/form-data; boundary=b", "Authorization": f"Bearer {api.token}"}

    answer = api.client.http.post(f"/tickets/{ticket['id']}/attachments", headers=headers, body=body)

    assert answer.status_code == 201, answer.body
    client = boto3.client("dynamodb", region_name="us-east-1")
    total = client.get_item(TableName=aws["EventsTableName"], Key=meter.ATTACHMENTS_KEY)["Item"]
    assert (total["stored_bytes"]["N"], total["stored_files"]["N"]) == ("11", "1")
    assert day_item(aws, "api_handler")["s3_put_bytes"] == 11


def test_mail_and_s3_calls_are_counted_with_their_bytes(aws: dict[str, str]) -> None:
    import boto3

    from chalicelib import wiring

    wiring.desk()
    ses = meter.watch(boto3.client("sesv2", region_name="us-east-1"))
    ses.create_email_identity(EmailIdentity="desk@example.org")
    s3 = meter.watch(boto3.client("s3", region_name="us-east-1"))
    bucket = aws["AttachmentsBucketName"]
    raw = (
        b"From: desk@example.org\r\nTo: rosa@example.org\r\nSubject: x\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nhi\r\n--b\r\n'
        b'Content-Type: text/plain\r\nContent-Disposition: attachment; filename="a.txt"\r\n\r\nfile\r\n--b--\r\n'
    )

    def work(event: Any) -> None:
        ses.send_email(
            FromEmailAddress="desk@example.org",
            Destination={"ToAddresses": ["rosa@example.org"]},
            Content={"Raw": {"Data": raw}},
        )
        s3.put_object(Bucket=bucket, Key="attachments/T1/A1", Body=b"0123456789")
        s3.head_object(Bucket=bucket, Key="attachments/T1/A1")
        s3.get_object(Bucket=bucket, Key="attachments/T1/A1")
        s3.delete_object(Bucket=bucket, Key="attachments/T1/A1")  # free

    meter.measure(Event(), work)

    counted = day_item(aws, "api_handler")
    assert (counted["ses_mails"], counted["ses_bytes"], counted["ses_attachment_bytes"]) == (1, len(raw), len(raw))
    assert (counted["s3_put_requests"], counted["s3_get_requests"], counted["s3_put_bytes"]) == (1, 2, 10)


def test_the_bytes_logged_are_counted_as_lambda_writes_them(aws: dict[str, str]) -> None:
    import boto3

    from chalicelib import wiring

    wiring.desk()
    client = meter.watch(boto3.client("dynamodb", region_name="us-east-1"))
    message = "x" * 100

    def work(event: Any) -> None:
        logging.getLogger("helpdesk.test").error(message)
        client.get_item(TableName=aws["EventsTableName"], Key={"pk": {"S": "x"}, "sk": {"S": "1"}})

    meter.measure(Event(), work)

    line = f"helpdesk.test - ERROR - {message}\n"
    assert day_item(aws, "api_handler")["log_bytes"] == meter.LAMBDA_PLATFORM_LOG_BYTES + len(line)


def test_the_meter_names_functions_as_app_py_does_and_maps_deployed_names_back() -> None:
    import app

    handlers = {source.name for source in app.app.event_sources} | {"api_handler"}
    handlers |= {function.name for function in app.app.pure_lambda_functions}  # webhook_sender

    assert set(meter.FUNCTIONS) == handlers
    assert all(meter.logical_id(n) == to_cfn_resource_name(n) for n in handlers - {"api_handler"})
    assert meter.function_name("helpdesk-dev-TicketChanges-1A2B3C4D") == "ticket_changes"
    assert meter.function_name("helpdesk-APIHandler-XYZ") == "api_handler"
    assert meter.function_name("sla_sweep") == "sla_sweep"
    assert meter.function_name(None) == "api_handler"
    assert app.app.log.name == meter.APP_LOGGER
    assert meter.COUNTERS == cost.COUNTERS


def test_the_memory_is_the_deployed_one() -> None:
    config = json.loads((ROOT / ".chalice" / "config.json").read_text())

    assert meter.memory_mb() == config["lambda_memory_size"]


def test_an_invocation_that_loads_no_aws_client_carries_its_counts_without_importing_one() -> None:
    """A static asset's request: served, metered, and botocore never imported (no chalice.test, which imports it)."""
    probe = """
import sys, json
import app
from chalicelib.adapters import meter
event = {
    "requestContext": {"resourcePath": "/static/{name}", "httpMethod": "GET", "path": "/static/x.css"},
    "pathParameters": {"name": "nothing.css"}, "headers": {}, "multiValueQueryStringParameters": None,
    "queryStringParameters": None, "body": None, "isBase64Encoded": False, "stageVariables": None,
}
class Context:
    function_name = "helpdesk-APIHandler-ABC123"
answer = app.app(event, Context())
carried = {k: str(v) for k, v in meter._carried["api_handler"].counts.items()}
print(json.dumps({"status": answer["statusCode"], "carried": carried,
                  "loaded": [m for m in ("botocore", "boto3", "pynamodb") if m in sys.modules]}))
"""
    done = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True)
    answer = json.loads(done.stdout.strip().splitlines()[-1])

    assert answer["status"] == 404
    assert answer["loaded"] == []
    assert answer["carried"]["invocations"] == "1"
    assert answer["carried"]["api_requests"] == "1"


def test_an_invocation_that_called_no_aws_service_waits_for_the_next_flush(aws: dict[str, str], calls: Calls) -> None:
    import boto3

    from chalicelib import wiring

    wiring.desk()
    client = meter.watch(boto3.client("dynamodb", region_name="us-east-1"))

    meter.measure(Event(), lambda event: None)
    assert calls.meter_writes() == []
    meter.measure(
        Event(),
        lambda event: client.get_item(TableName=aws["EventsTableName"], Key={"pk": {"S": "x"}, "sk": {"S": "1"}}),
    )

    assert calls.meter_writes() == ["UpdateItem"]
    assert day_item(aws, "api_handler")["invocations"] == 2
