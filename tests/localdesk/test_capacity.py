"""DynamoDB's billing under moto: request units from the items' sizes, every index write, DynamoDB's answer shape."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from localdesk.capacity import CapacityModel, item_size, number_size, read_units, write_units

TABLE = "capacity"  # pk/sk; "everything" (ALL) and "keys" (KEYS_ONLY) indexes on the attribute g


@pytest.fixture
def capacity(aws: dict[str, str]) -> Iterator[CapacityModel]:
    model = CapacityModel()
    model.install()
    yield model
    model.uninstall()


@pytest.fixture
def client(capacity: CapacityModel) -> Any:
    client = boto3.client("dynamodb", region_name="us-east-1")
    client.create_table(
        TableName=TABLE,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": name, "AttributeType": "S"} for name in ("pk", "sk", "g")],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "everything",
                "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}],
                "Projection": {"ProjectionType": "ALL"},
            },
            {
                "IndexName": "keys",
                "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}],
                "Projection": {"ProjectionType": "KEYS_ONLY"},
            },
        ],
    )
    capacity.reset()
    return client


def item(pk: str = "a", sk: str = "b", body: int = 0, **attributes: str) -> dict[str, Any]:
    """pk and sk of one character are 3 bytes each; "body" of n characters is 4 + n bytes."""
    found: dict[str, Any] = {"pk": {"S": pk}, "sk": {"S": sk}, **{k: {"S": v} for k, v in attributes.items()}}
    if body:
        found["body"] = {"S": "x" * body}
    return found


def units(model: CapacityModel, index: str | None = None, kind: str = "write", table: str = TABLE) -> float:
    return model.totals().get((table, index, kind), 0.0)


# sizes and units -----------------------------------------------------------------------------------------------


def test_an_items_size_is_its_names_and_values_as_the_guide_counts_them() -> None:
    assert item_size({"name": {"S": "Zoë"}}) == 4 + 4  # UTF-8 bytes of the name and of the value
    assert item_size({"b": {"B": "AAEC"}, "raw": {"B": b"\x00\x01\x02"}}) == (1 + 3) + (3 + 3)  # raw bytes
    assert item_size({"ok": {"BOOL": True}, "none": {"NULL": True}}) == (2 + 1) + (4 + 1)
    assert item_size({"tags": {"SS": ["ab", "cde"]}}) == 4 + 5
    assert item_size({"l": {"L": [{"S": "ab"}, {"BOOL": False}]}}) == 1 + 3 + (2 + 1) + (1 + 1)
    assert item_size({"m": {"M": {"k": {"S": "v"}}}}) == 1 + 3 + (1 + 1 + 1)
    assert item_size({"empty": {"M": {}}}) == 5 + 3


def test_a_number_takes_a_byte_per_two_significant_digits_and_one_more() -> None:
    assert number_size("7") == 2
    assert number_size("123") == 3
    assert number_size("0012.3400") == 3  # leading and trailing zeroes trimmed: 1234
    assert number_size("1000000") == 2  # 1E+6
    assert number_size("-12345678901234567890") == 11


def test_writes_round_up_to_1_kb_and_reads_to_4_kb_halved_unless_strongly_consistent() -> None:
    assert [write_units(size) for size in (0, 1024, 1025, 2560)] == [1, 1, 2, 3]
    assert [read_units(size, consistent=True) for size in (0, 4096, 5 * 1024)] == [1.0, 1.0, 2.0]
    assert [read_units(size, consistent=False) for size in (0, 4096, 10 * 1024)] == [0.5, 0.5, 1.5]


# writes -----------------------------------------------------------------------------------------------------------


def test_a_2_5_kb_put_costs_3_write_units_and_answers_them(aws: dict[str, str], capacity: CapacityModel) -> None:
    client = boto3.client("dynamodb", region_name="us-east-1")
    desk = aws["DeskTableName"]
    answer = client.put_item(TableName=desk, Item=item(body=2504), ReturnConsumedCapacity="TOTAL")  # 2,514 bytes
    assert answer["ConsumedCapacity"] == {"TableName": desk, "CapacityUnits": 3.0}
    assert [(c.operation, c.table, c.index, c.kind, c.units) for c in capacity.charges] == [
        ("PutItem", desk, None, "write", 3.0)
    ]


def test_an_update_is_billed_on_the_larger_of_the_item_before_and_after(
    aws: dict[str, str], capacity: CapacityModel
) -> None:
    client = boto3.client("dynamodb", region_name="us-east-1")
    desk = aws["DeskTableName"]
    client.put_item(TableName=desk, Item=item(body=500))  # 510 bytes: 1 unit
    client.update_item(  # + "extra" (5) and 800 bytes: 1,315 bytes, 2 units
        TableName=desk,
        Key=item(),
        UpdateExpression="SET extra = :v",
        ExpressionAttributeValues={":v": {"S": "y" * 800}},
    )
    client.update_item(TableName=desk, Key=item(), UpdateExpression="REMOVE extra")  # 1,315 -> 510: still 2
    assert [c.units for c in capacity.charges] == [1.0, 2.0, 2.0]


def test_a_put_writes_each_index_its_projection_and_answers_every_index(client: Any, capacity: CapacityModel) -> None:
    answer = client.put_item(TableName=TABLE, Item=item(body=2500, g="x"), ReturnConsumedCapacity="INDEXES")
    # 3 + 3 + 2 + 2,504 = 2,512 bytes: 3 units for the table and for the ALL index; the KEYS_ONLY entry is pk, sk
    # and g (8 bytes): 1 unit.
    assert answer["ConsumedCapacity"] == {
        "TableName": TABLE,
        "CapacityUnits": 7.0,
        "Table": {"CapacityUnits": 3.0, "WriteCapacityUnits": 3.0},
        "GlobalSecondaryIndexes": {
            "everything": {"CapacityUnits": 3.0, "WriteCapacityUnits": 3.0},
            "keys": {"CapacityUnits": 1.0, "WriteCapacityUnits": 1.0},
        },
    }
    assert capacity.totals() == {
        (TABLE, None, "write"): 3.0,
        (TABLE, "everything", "write"): 3.0,
        (TABLE, "keys", "write"): 1.0,
    }


def test_an_item_without_the_index_key_costs_the_index_nothing(client: Any, capacity: CapacityModel) -> None:
    answer = client.put_item(TableName=TABLE, Item=item(), ReturnConsumedCapacity="INDEXES")
    assert answer["ConsumedCapacity"] == {
        "TableName": TABLE,
        "CapacityUnits": 1.0,
        "Table": {"CapacityUnits": 1.0, "WriteCapacityUnits": 1.0},
    }


def test_changing_an_index_key_deletes_and_puts_the_entry_and_other_changes_cost_what_they_change(
    client: Any, capacity: CapacityModel
) -> None:
    client.put_item(TableName=TABLE, Item=item(body=100, g="x"))
    capacity.reset()

    def update(expression: str, values: dict[str, Any] | None = None) -> dict[str | None, float]:
        """What one update cost the table (None) and each index."""
        before = capacity.totals()
        extra = {"ExpressionAttributeValues": values} if values else {}
        client.update_item(TableName=TABLE, Key=item(), UpdateExpression=expression, **extra)
        return {key[1]: spent - before.get(key, 0.0) for key, spent in capacity.totals().items()}

    moved = update("SET g = :g", {":g": {"S": "y"}})
    assert moved == {None: 1.0, "everything": 2.0, "keys": 2.0}  # the index key moved: delete + put
    projected = update("SET body = :b", {":b": {"S": "z" * 100}})
    assert projected == {None: 1.0, "everything": 1.0, "keys": 0.0}  # only the ALL entry changed
    same = update("SET body = :b", {":b": {"S": "z" * 100}})
    assert same == {None: 1.0, "everything": 0.0, "keys": 0.0}  # nothing an index holds changed
    removed = update("REMOVE g")
    assert removed == {None: 1.0, "everything": 1.0, "keys": 1.0}  # out of both indexes: one delete each


def test_a_delete_is_billed_on_the_deleted_item_and_its_index_entries(client: Any, capacity: CapacityModel) -> None:
    client.put_item(TableName=TABLE, Item=item(body=1500, g="x"))  # 1,510 bytes
    capacity.reset()
    answer = client.delete_item(TableName=TABLE, Key=item(), ReturnConsumedCapacity="TOTAL")
    assert answer["ConsumedCapacity"] == {"TableName": TABLE, "CapacityUnits": 5.0}  # 2 + 2 + 1
    client.delete_item(TableName=TABLE, Key=item())  # nothing there any more: one unit, no index
    assert capacity.totals() == {
        (TABLE, None, "write"): 3.0,
        (TABLE, "everything", "write"): 2.0,
        (TABLE, "keys", "write"): 1.0,
    }


def test_a_refused_conditional_write_still_costs_the_larger_item_and_no_index(
    client: Any, capacity: CapacityModel
) -> None:
    client.put_item(TableName=TABLE, Item=item(body=2500, g="x"))
    capacity.reset()
    with pytest.raises(ClientError) as refused:
        client.put_item(
            TableName=TABLE,
            Item=item(body=100, g="y"),
            ConditionExpression="attribute_not_exists(pk)",
            ReturnConsumedCapacity="INDEXES",
        )
    assert refused.value.response["Error"]["Code"] == "ConditionalCheckFailedException"
    assert capacity.totals() == {(TABLE, None, "write"): 3.0}  # the 2,512-byte item found outweighs the new one


def test_a_batch_write_bills_each_item_on_its_own(client: Any, capacity: CapacityModel) -> None:
    client.put_item(TableName=TABLE, Item=item(sk="c", body=1500))
    capacity.reset()
    answer = client.batch_write_item(
        RequestItems={
            TABLE: [
                {"PutRequest": {"Item": item(sk="b", body=100, g="x")}},
                {"DeleteRequest": {"Key": item(sk="c")}},
            ]
        },
        ReturnConsumedCapacity="INDEXES",
    )
    assert answer["ConsumedCapacity"] == [
        {
            "TableName": TABLE,
            "CapacityUnits": 5.0,
            "Table": {"CapacityUnits": 3.0, "WriteCapacityUnits": 3.0},  # 1 for the put, 2 for the 1.5 KB delete
            "GlobalSecondaryIndexes": {
                "everything": {"CapacityUnits": 1.0, "WriteCapacityUnits": 1.0},
                "keys": {"CapacityUnits": 1.0, "WriteCapacityUnits": 1.0},
            },
        }
    ]


# transactions -----------------------------------------------------------------------------------------------------


def test_a_transaction_doubles_the_table_writes_but_not_the_index_writes(
    aws: dict[str, str], client: Any, capacity: CapacityModel
) -> None:
    desk = aws["DeskTableName"]
    client.put_item(TableName=desk, Item=item(body=1500))  # 1,510 bytes: 2 units, 4 in a transaction
    capacity.reset()
    answer = client.transact_write_items(
        TransactItems=[
            {"Put": {"TableName": TABLE, "Item": item(body=1500, g="x")}},
            {"ConditionCheck": {"TableName": desk, "Key": item(), "ConditionExpression": "attribute_exists(pk)"}},
        ],
        ReturnConsumedCapacity="INDEXES",
    )
    assert answer["ConsumedCapacity"] == [
        {
            "TableName": TABLE,
            "CapacityUnits": 7.0,
            "WriteCapacityUnits": 7.0,
            "Table": {"CapacityUnits": 4.0, "WriteCapacityUnits": 4.0},
            "GlobalSecondaryIndexes": {
                "everything": {"CapacityUnits": 2.0, "WriteCapacityUnits": 2.0},
                "keys": {"CapacityUnits": 1.0, "WriteCapacityUnits": 1.0},
            },
        },
        {
            "TableName": desk,
            "CapacityUnits": 4.0,
            "WriteCapacityUnits": 4.0,
            "Table": {"CapacityUnits": 4.0, "WriteCapacityUnits": 4.0},
        },
    ]


def test_a_cancelled_transaction_is_billed_for_its_items_and_writes_no_index(
    client: Any, capacity: CapacityModel
) -> None:
    with pytest.raises(ClientError) as cancelled:
        client.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": TABLE, "Item": item(sk="b", body=100, g="x")}},
                {
                    "ConditionCheck": {
                        "TableName": TABLE,
                        "Key": item(sk="c"),
                        "ConditionExpression": "attribute_exists(pk)",
                    }
                },
            ]
        )
    assert cancelled.value.response["Error"]["Code"] == "TransactionCanceledException"
    assert capacity.totals() == {(TABLE, None, "write"): 4.0}


def test_a_transactional_read_costs_twice_a_strong_one_even_for_a_missing_item(
    aws: dict[str, str], capacity: CapacityModel
) -> None:
    client = boto3.client("dynamodb", region_name="us-east-1")
    desk = aws["DeskTableName"]
    client.put_item(TableName=desk, Item=item(body=5000))  # 5,010 bytes: 2 strong units
    capacity.reset()
    answer = client.transact_get_items(
        TransactItems=[
            {"Get": {"TableName": desk, "Key": item()}},
            {"Get": {"TableName": desk, "Key": item(sk="missing")}},
        ],
        ReturnConsumedCapacity="TOTAL",
    )
    assert answer["ConsumedCapacity"] == [{"TableName": desk, "CapacityUnits": 6.0, "ReadCapacityUnits": 6.0}]


# reads ------------------------------------------------------------------------------------------------------------


def test_a_5_kb_get_costs_2_units_strongly_consistent_and_1_eventually(
    aws: dict[str, str], capacity: CapacityModel
) -> None:
    client = boto3.client("dynamodb", region_name="us-east-1")
    desk = aws["DeskTableName"]
    client.put_item(TableName=desk, Item=item(body=5000))
    capacity.reset()
    strong = client.get_item(TableName=desk, Key=item(), ConsistentRead=True, ReturnConsumedCapacity="TOTAL")
    eventual = client.get_item(TableName=desk, Key=item(), ProjectionExpression="pk", ReturnConsumedCapacity="TOTAL")
    missing = client.get_item(TableName=desk, Key=item(sk="missing"), ReturnConsumedCapacity="TOTAL")
    assert [strong["ConsumedCapacity"]["CapacityUnits"], eventual["ConsumedCapacity"]["CapacityUnits"]] == [2.0, 1.0]
    assert missing["ConsumedCapacity"] == {"TableName": desk, "CapacityUnits": 0.5}
    assert units(capacity, kind="read", table=desk) == 3.5


def test_a_batch_get_rounds_each_item_up_on_its_own(aws: dict[str, str], capacity: CapacityModel) -> None:
    client = boto3.client("dynamodb", region_name="us-east-1")
    desk = aws["DeskTableName"]
    for sk in ("b", "c"):
        client.put_item(TableName=desk, Item=item(sk=sk, body=100))
    capacity.reset()
    answer = client.batch_get_item(
        RequestItems={desk: {"Keys": [item(sk="b"), item(sk="c"), item(sk="d")]}}, ReturnConsumedCapacity="TOTAL"
    )
    assert answer["ConsumedCapacity"] == [{"TableName": desk, "CapacityUnits": 1.5}]  # 3 x 1 unit, halved


def test_a_query_pays_for_every_item_it_evaluated_whatever_the_filter_keeps(
    aws: dict[str, str], capacity: CapacityModel
) -> None:
    client = boto3.client("dynamodb", region_name="us-east-1")
    desk = aws["DeskTableName"]
    for n in range(10):
        client.put_item(TableName=desk, Item=item(pk="q", sk=str(n), body=1014))  # exactly 1 KB each
    capacity.reset()

    def query(**options: Any) -> tuple[int, float]:
        values = {":q": {"S": "q"}, **options.pop("values", {})}
        asked = {"KeyConditionExpression": "pk = :q", "ExpressionAttributeValues": values, **options}
        answer = client.query(TableName=desk, ReturnConsumedCapacity="TOTAL", **asked)
        return answer["Count"], answer["ConsumedCapacity"]["CapacityUnits"]

    assert query(FilterExpression="sk = :s", values={":s": {"S": "3"}}) == (1, 1.5)  # 10 KB -> 3 units, halved
    assert query(ConsistentRead=True) == (10, 3.0)
    assert query(Limit=4) == (4, 0.5)  # 4 KB
    assert query(ExclusiveStartKey=item(pk="q", sk="4"), ConsistentRead=True) == (5, 2.0)  # 5 KB
    assert query(KeyConditionExpression="pk = :q AND sk > :s", values={":s": {"S": "9"}}) == (0, 0.5)  # none found


def test_an_index_query_reads_the_projected_entries_eventually_and_answers_the_index(
    client: Any, capacity: CapacityModel
) -> None:
    for sk in ("b", "c"):
        client.put_item(TableName=TABLE, Item=item(sk=sk, body=3000, g="x"))  # 3,010 bytes; the keys entry 8
    capacity.reset()
    answers = [
        client.query(
            TableName=TABLE,
            IndexName=index,
            KeyConditionExpression="g = :g",
            ExpressionAttributeValues={":g": {"S": "x"}},
            ReturnConsumedCapacity="INDEXES",
        )["ConsumedCapacity"]
        for index in ("everything", "keys")
    ]
    assert answers == [
        {
            "TableName": TABLE,
            "CapacityUnits": 1.0,  # 6,020 bytes -> 2 units, halved
            "Table": {"CapacityUnits": 0.0, "ReadCapacityUnits": 0.0},
            "GlobalSecondaryIndexes": {"everything": {"CapacityUnits": 1.0, "ReadCapacityUnits": 1.0}},
        },
        {
            "TableName": TABLE,
            "CapacityUnits": 0.5,
            "Table": {"CapacityUnits": 0.0, "ReadCapacityUnits": 0.0},
            "GlobalSecondaryIndexes": {"keys": {"CapacityUnits": 0.5, "ReadCapacityUnits": 0.5}},
        },
    ]


# hooking clients --------------------------------------------------------------------------------------------------


def test_nothing_is_answered_when_the_call_did_not_ask(aws: dict[str, str], capacity: CapacityModel) -> None:
    client = boto3.client("dynamodb", region_name="us-east-1")
    answer = client.batch_write_item(RequestItems={aws["DeskTableName"]: [{"PutRequest": {"Item": item()}}]})
    assert "ConsumedCapacity" not in answer  # moto answers a constant list; DynamoDB nothing
    assert capacity.total("write") == 1.0


def test_a_client_made_before_install_is_charged_once_attached_and_its_own_hooks_see_the_true_units(
    aws: dict[str, str],
) -> None:
    desk = aws["DeskTableName"]
    client = boto3.client("dynamodb", region_name="us-east-1")
    seen: list[Any] = []
    client.meta.events.register(
        "after-call.dynamodb.PutItem", lambda parsed, **_: seen.append(parsed.get("ConsumedCapacity"))
    )
    model = CapacityModel()
    model.install()
    try:
        client.put_item(TableName=desk, Item=item(body=2504), ReturnConsumedCapacity="TOTAL")
        assert model.charges == []  # made before install: not hooked
        model.attach(client)
        client.put_item(TableName=desk, Item=item(body=2504), ReturnConsumedCapacity="TOTAL")
    finally:
        model.uninstall()
    assert model.total("write") == 3.0
    assert seen == [
        {"TableName": desk, "CapacityUnits": 1.0},
        {"TableName": desk, "CapacityUnits": 3.0},
    ]  # moto's, ours
    client.put_item(TableName=desk, Item=item(body=2504))
    assert model.total("write") == 3.0  # uninstalled: charged no more


# the desk's own tables --------------------------------------------------------------------------------------------


def test_a_ticket_item_writes_every_index_whose_key_it_has(aws: dict[str, str], capacity: CapacityModel) -> None:
    client = boto3.client("dynamodb", region_name="us-east-1")
    tickets = aws["TicketsTableName"]
    answer = client.put_item(
        TableName=tickets,
        # 3 + 3 + (6 + 4) + (5 + 6) + (10 + 1) + (3 + 4) + 2,004 = 2,049 bytes: 3 units
        Item=item(pk="t", sk="t", body=2000, status="open", state="active", queue_sort="q", ref="HD-1"),
        ReturnConsumedCapacity="INDEXES",
    )
    assert answer["ConsumedCapacity"]["Table"] == {"CapacityUnits": 3.0, "WriteCapacityUnits": 3.0}
    assert answer["ConsumedCapacity"]["GlobalSecondaryIndexes"] == {
        "by_status": {"CapacityUnits": 3.0, "WriteCapacityUnits": 3.0},  # ALL
        "by_state": {"CapacityUnits": 3.0, "WriteCapacityUnits": 3.0},  # ALL
        "by_ref": {"CapacityUnits": 1.0, "WriteCapacityUnits": 1.0},  # KEYS_ONLY: pk, sk and ref, 13 bytes
    }  # by_assignee, by_team, by_type, by_requester and by_closed: the item has none of their keys
    assert answer["ConsumedCapacity"]["CapacityUnits"] == 10.0


def test_the_desk_opening_a_ticket_through_pynamodb_is_charged_on_each_index_it_lands_in(
    aws: dict[str, str], capacity: CapacityModel
) -> None:
    from chalicelib import wiring

    desk = wiring.desk()
    desk.seed_config()
    capacity.reset()
    ticket = desk.open_ticket(
        {
            "subject": "Printer offline",
            "description": "It shows as offline.",
            "requester_name": "Rosa Diaz",
            "requester_email": "rosa@example.org",
        },
        from_form=False,
        idempotency_key=None,
    ).ticket
    tickets = aws["TicketsTableName"]
    client = boto3.client("dynamodb", region_name="us-east-1")
    stored = client.get_item(TableName=tickets, Key={"pk": {"S": ticket.id}, "sk": {"S": "ticket"}})["Item"]
    indexes = client.describe_table(TableName=tickets)["Table"]["GlobalSecondaryIndexes"]
    expected = {
        index["IndexName"]: float(
            write_units(item_size(stored)) if index["Projection"]["ProjectionType"] == "ALL" else 1
        )
        for index in indexes
        if all(key["AttributeName"] in stored for key in index["KeySchema"])
    }
    charged = {c.index: c.units for c in capacity.charges if c.table == tickets and c.index is not None}
    assert charged == expected
    assert {"by_status", "by_ref"} <= set(charged)
