"""`GET /_local/search`: every item of every table and every object of every bucket of the embedded AWS that
holds a text, found without a Scan; bad input is a 4xx."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from chalice import Chalice
from chalice.test import Client

from chalicelib.adapters.clock import AdjustableClock
from localdesk.jobs import JobRunner
from localdesk.mail import MailLog
from localdesk.routes import register_local_routes


@pytest.fixture
def http(aws: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Client]:
    monkeypatch.setenv("HELPDESK_MAIL_DIR", str(tmp_path / "mail"))
    app = Chalice(app_name="search-test")
    register_local_routes(app, AdjustableClock(), JobRunner([], threading.Lock), MailLog())
    with Client(app, project_dir=str(tmp_path)) as client:
        yield client


def test_it_finds_the_text_in_items_and_objects_whatever_its_case_and_nothing_else(
    http: Client, aws: dict[str, str]
) -> None:
    dynamodb = boto3.client("dynamodb", region_name="us-east-1")
    table = aws["EventsTableName"]
    dynamodb.put_item(TableName=table, Item={"pk": {"S": "T1"}, "sk": {"S": "ev#1"}, "data": {"S": "Ada@Example.org"}})
    dynamodb.put_item(
        TableName=table, Item={"pk": {"S": "T1"}, "sk": {"S": "ev#2"}, "raw": {"B": b"to ada@example.org"}}
    )
    dynamodb.put_item(TableName=table, Item={"pk": {"S": "T2"}, "sk": {"S": "ev#1"}, "data": {"S": "someone else"}})
    bucket = aws["AttachmentsBucketName"]
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.put_object(Bucket=bucket, Key="attachments/T1/a", Body=b"From: ADA@example.org\r\n")
    s3.put_object(Bucket=bucket, Key="attachments/T2/b", Body=b"nothing here")

    answer = json.loads(http.http.get("/_local/search?text=ada@example.org").body)

    assert answer["items"] == [f"{table} T1 ev#1", f"{table} T1 ev#2"]
    assert answer["objects"] == [f"{bucket}/attachments/T1/a"]
    assert answer["found"] == 3
    assert json.loads(http.http.get("/_local/search?text=grace@example.org").body)["found"] == 0


def test_a_missing_or_short_text_is_422_and_an_unknown_parameter_400(http: Client) -> None:
    assert http.http.get("/_local/search").status_code == 422
    assert http.http.get("/_local/search?text=ab").status_code == 422
    assert http.http.get("/_local/search?text=ada&table=x").status_code == 400
