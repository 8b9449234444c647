"""DynamoDB store of the report aggregates, in the events table beside the trackers.

* ``pk = "stats#<dimension>", sk = "<local day>#<value>"``: one item of counters per day and value of a
  dimension (``all``, ``type``, ``priority``, ``team``, ``assignee``). A report over a range reads one
  ``Query`` of its dimension: days x values items, however many tickets they count.
* ``pk = "stats#open", sk = "<dimension>#<value>"``: how many tickets are open now.
* ``pk = "stats#comments", sk = "<local day>#<ticket id>"``: survey comments, newest read first.
* ``pk = <ticket id>, sk = "stats"``: what that ticket last added, with a revision. A change applies the
  difference to the counters in one transaction with the revision check, so a repeated or concurrent
  refresh can never count twice.

Counters use the low-level client: their attribute names are data (a status, a bucket), not a schema.
"""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError

from chalicelib.adapters.records import EventRecord, transaction_connection
from chalicelib.domain.reports import Row
from chalicelib.domain.stats import Cell, CommentKey, Contribution, difference
from chalicelib.services.ports import StoredContribution

STATS_SK = "stats"
DAY_PREFIX = "stats#"
OPEN_PK = "stats#open"
COMMENTS_PK = "stats#comments"
TRANSACTION_LIMIT = 100  # DynamoDB's items per TransactWriteItems


def _cell_key(cell: Cell) -> dict[str, dict[str, str]]:
    if cell.day:
        return {"pk": {"S": DAY_PREFIX + cell.dim}, "sk": {"S": f"{cell.day}#{cell.value}"}}
    return {"pk": {"S": OPEN_PK}, "sk": {"S": f"{cell.dim}#{cell.value}"}}


def _comment_key(key: CommentKey) -> dict[str, dict[str, str]]:
    return {"pk": {"S": COMMENTS_PK}, "sk": {"S": f"{key.day}#{key.ticket_id}"}}


def _counts(item: dict[str, Any]) -> dict[str, int]:
    return {name: int(value["N"]) for name, value in item.items() if "N" in value}


class DynamoStatsStore:
    @property
    def _table(self) -> str:
        return str(EventRecord.Meta.table_name)

    @property
    def _client(self) -> Any:
        return transaction_connection().client

    # what a ticket added ---------------------------------------------------------------------------

    def stored(self, ticket_id: str) -> StoredContribution | None:
        found = self._client.get_item(
            TableName=self._table, Key={"pk": {"S": ticket_id}, "sk": {"S": STATS_SK}}, ConsistentRead=True
        ).get("Item")
        if not found:
            return None
        return StoredContribution(
            int(found["revision"]["N"]),
            int(found["event_count"]["N"]),
            Contribution.from_document(json.loads(found["contribution"]["S"])),
        )

    def apply(self, ticket_id: str, event_count: int, stored: StoredContribution | None, new: Contribution) -> bool:
        """Move the counters from what `stored` added to what `new` adds; False if `stored` is no longer current.

        Usually one transaction. A change touching more items than a transaction takes is applied in steps;
        each step records how far it got, so a step that fails leaves a consistent state to continue from.
        """
        old = stored.contribution if stored else Contribution()
        revision = stored.revision if stored else None
        change = difference(old, new)
        if change.empty and stored is not None and stored.event_count == event_count:
            return True
        operations: list[tuple[str, Any, Any]] = [("add", cell, delta) for cell, delta in change.deltas.items()]
        operations += [("put", key, doc) for key, doc in change.comment_puts.items()]
        operations += [("delete", key, None) for key in change.comment_deletes]
        step = TRANSACTION_LIMIT - 1
        chunks = [operations[i : i + step] for i in range(0, len(operations), step)] or [[]]
        reached = old
        for number, chunk in enumerate(chunks):
            reached = new if number == len(chunks) - 1 else _advance(reached, new, chunk)
            if not self._write(ticket_id, event_count, revision, reached, chunk):
                return False
            revision = (revision or 0) + 1
        return True

    def _write(
        self,
        ticket_id: str,
        event_count: int,
        revision: int | None,
        reached: Contribution,
        chunk: list[tuple[str, Any, Any]],
    ) -> bool:
        own: dict[str, Any] = {
            "TableName": self._table,
            "Key": {"pk": {"S": ticket_id}, "sk": {"S": STATS_SK}},
            "UpdateExpression": "SET revision = :next, event_count = :events, contribution = :doc",
            "ExpressionAttributeValues": {
                ":next": {"N": str((revision or 0) + 1)},
                ":events": {"N": str(event_count)},
                ":doc": {"S": json.dumps(reached.document(), sort_keys=True, ensure_ascii=False)},
            },
        }
        if revision is None:
            own["ConditionExpression"] = "attribute_not_exists(pk)"
        else:
            own["ConditionExpression"] = "revision = :current"
            own["ExpressionAttributeValues"][":current"] = {"N": str(revision)}
        items: list[dict[str, Any]] = [{"Update": own}]
        for kind, key, payload in chunk:
            if kind == "add":
                names = {f"#a{i}": name for i, name in enumerate(payload)}
                values = {f":v{i}": {"N": str(amount)} for i, amount in enumerate(payload.values())}
                items.append(
                    {
                        "Update": {
                            "TableName": self._table,
                            "Key": _cell_key(key),
                            "UpdateExpression": "ADD " + ", ".join(f"#a{i} :v{i}" for i in range(len(payload))),
                            "ExpressionAttributeNames": names,
                            "ExpressionAttributeValues": values,
                        }
                    }
                )
            elif kind == "put":
                item = {**_comment_key(key), "doc": {"S": json.dumps(payload, sort_keys=True, ensure_ascii=False)}}
                items.append({"Put": {"TableName": self._table, "Item": item}})
            else:
                items.append({"Delete": {"TableName": self._table, "Key": _comment_key(key)}})
        try:
            self._client.transact_write_items(TransactItems=items)
        except ClientError as error:
            refused = {reason.get("Code") for reason in error.response.get("CancellationReasons") or []}
            refused -= {"None", None}
            # Our revision moved on, or another ticket's transaction held a shared day cell at that moment:
            # either way the caller reads again and retries.
            if refused and refused <= {"ConditionalCheckFailed", "TransactionConflict"}:
                return False
            raise
        return True

    # reading -----------------------------------------------------------------------------------------

    def _query(self, **kwargs: Any) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        request: dict[str, Any] = {"TableName": self._table, **kwargs}
        while True:
            page = self._client.query(**request)
            items.extend(page.get("Items", []))
            if "Limit" in request and len(items) >= request["Limit"]:
                return items[: request["Limit"]]
            last = page.get("LastEvaluatedKey")
            if not last:
                return items
            request["ExclusiveStartKey"] = last

    def cells(self, dim: str, first_day: str, last_day: str) -> list[Row]:
        """Every cell of a dimension from `first_day` to `last_day` (inclusive): one paginated Query."""
        items = self._query(
            KeyConditionExpression="pk = :pk AND sk BETWEEN :low AND :high",
            ExpressionAttributeValues={
                ":pk": {"S": DAY_PREFIX + dim},
                ":low": {"S": f"{first_day}#"},
                ":high": {"S": f"{last_day}#~"},
            },
        )
        rows = []
        for item in items:
            day, value = item["sk"]["S"].split("#", 1)
            rows.append(Row(day, value, _counts(item)))
        return rows

    def open_counts(self) -> dict[tuple[str, str], int]:
        items = self._query(KeyConditionExpression="pk = :pk", ExpressionAttributeValues={":pk": {"S": OPEN_PK}})
        found: dict[tuple[str, str], int] = {}
        for item in items:
            dim, value = item["sk"]["S"].split("#", 1)
            count = _counts(item).get("open", 0)
            if count:
                found[(dim, value)] = count
        return found

    def comments(
        self, first_day: str, last_day: str, limit: int, before: str | None
    ) -> tuple[list[dict[str, Any]], str | None]:
        """Survey comments of the range, newest day first; `before` is the last key of the previous page."""
        if before is not None and before < f"{first_day}#":
            return [], None  # the previous page ended before this range: nothing is left
        high = before if before and before <= f"{last_day}#~" else f"{last_day}#~"
        items = self._query(
            KeyConditionExpression="pk = :pk AND sk BETWEEN :low AND :high",
            ExpressionAttributeValues={
                ":pk": {"S": COMMENTS_PK},
                ":low": {"S": f"{first_day}#"},
                ":high": {"S": high},
            },
            ScanIndexForward=False,
            Limit=limit + 2,
        )
        found = [item for item in items if item["sk"]["S"] != before]
        page = found[:limit]
        docs = []
        for item in page:
            doc = json.loads(item["doc"]["S"])
            doc["day"] = item["sk"]["S"].split("#", 1)[0]
            docs.append(doc)
        next_key = page[-1]["sk"]["S"] if len(found) > limit and page else None
        return docs, next_key


def _advance(reached: Contribution, new: Contribution, chunk: list[tuple[str, Any, Any]]) -> Contribution:
    """`reached` with the items of `chunk` brought to what `new` has."""
    counters = dict(reached.counters)
    comments = dict(reached.comments)
    for kind, key, _ in chunk:
        if kind == "add":
            if key in new.counters:
                counters[key] = new.counters[key]
            else:
                counters.pop(key, None)
        elif kind == "put":
            comments[key] = new.comments[key]
        else:
            comments.pop(key, None)
    return Contribution(counters, comments)
