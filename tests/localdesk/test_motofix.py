"""The local run's faster moto transactions keep DynamoDB's all-or-nothing behaviour."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError


def _items(client: Any, table: str, pk: str) -> list[dict[str, Any]]:
    found = client.query(
        TableName=table, KeyConditionExpression="pk = :pk", ExpressionAttributeValues={":pk": {"S": pk}}
    )
    return sorted(found["Items"], key=lambda item: item["sk"]["S"])


def test_a_cancelled_transaction_leaves_every_item_as_it_was(aws: dict[str, str]) -> None:
    from moto.dynamodb.models import DynamoDBBackend

    assert getattr(DynamoDBBackend.transact_write_items, "item_backup", False)  # tests/conftest.py installed it
    client = boto3.client("dynamodb", region_name="us-east-1")
    table = aws["EventsTableName"]
    client.put_item(TableName=table, Item={"pk": {"S": "t"}, "sk": {"S": "a"}, "n": {"N": "1"}})
    client.put_item(TableName=table, Item={"pk": {"S": "t"}, "sk": {"S": "c"}, "n": {"N": "5"}})
    before = _items(client, table, "t")
    with pytest.raises(ClientError) as raised:
        client.transact_write_items(
            TransactItems=[
                {
                    "Update": {
                        "TableName": table,
                        "Key": {"pk": {"S": "t"}, "sk": {"S": "a"}},
                        "UpdateExpression": "ADD n :one",
                        "ExpressionAttributeValues": {":one": {"N": "1"}},
                    }
                },
                {"Put": {"TableName": table, "Item": {"pk": {"S": "t"}, "sk": {"S": "b"}}}},
                {"Delete": {"TableName": table, "Key": {"pk": {"S": "t"}, "sk": {"S": "c"}}}},
                {
                    "ConditionCheck": {
                        "TableName": table,
                        "Key": {"pk": {"S": "u"}, "sk": {"S": "x"}},
                        "ConditionExpression": "attribute_exists(pk)",
                    }
                },
            ]
        )
    assert raised.value.response["Error"]["Code"] == "TransactionCanceledException"
    assert _items(client, table, "t") == before


def test_a_transaction_that_succeeds_writes_every_item(aws: dict[str, str]) -> None:
    client = boto3.client("dynamodb", region_name="us-east-1")
    table = aws["EventsTableName"]
    client.transact_write_items(
        TransactItems=[
            {"Put": {"TableName": table, "Item": {"pk": {"S": "t"}, "sk": {"S": "a"}}}},
            {
                "Update": {
                    "TableName": table,
                    "Key": {"pk": {"S": "t"}, "sk": {"S": "b"}},
                    "UpdateExpression": "ADD n :two",
                    "ExpressionAttributeValues": {":two": {"N": "2"}},
                }
            },
        ]
    )
    assert [(i["sk"]["S"], i.get("n", {}).get("N")) for i in _items(client, table, "t")] == [("a", None), ("b", "2")]
