"""DynamoDB and S3 side of exporting and erasing personal data: a ticket's two partitions read whole, items
rewritten or deleted by key, the desk table's per-address items found by their keys; never a Scan."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError
from pynamodb.exceptions import DoesNotExist, UpdateError
from pynamodb.expressions.update import Action

from chalicelib.adapters.dynamo import TICKET_SK, ticket_from_record
from chalicelib.adapters.raw_mail import RawMailSettings, RawMailStore
from chalicelib.adapters.records import (
    ConfigRecord,
    EventRecord,
    TicketRecord,
    is_condition_failure,
    transaction_connection,
)
from chalicelib.domain.errors import StaleVersionError
from chalicelib.domain.personal_data import (
    ERASED,
    Erasure,
    Redactor,
    about_erasure,
    erased_actor,
    erased_event_data,
)
from chalicelib.domain.tickets import REQUESTER, Ticket, normalise_email, stamp
from chalicelib.services.ports import FAILED, PENDING

ERASURE_SK = "erasure"
COMMENT_PREFIX = "comment#"
SURVEY_SK = "survey"
EVENT_PREFIX = "ev#"
MAIL_PREFIX = "mail#"
AGENDA_PREFIX = "agenda#"
TRACKER_SK = "tracker"
STATS_SK = "stats"
ERASED_STATE = "erased"  # an outbox item that will never be sent: its words are gone
PAGE = 100


def _hashed(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


class DynamoPersonalDataStore:
    """Items are handled as DynamoDB JSON (`{"S": …}`): the erasure treats every item of a partition by its sort
    key's prefix, including kinds other modules add later, so it does not go through their models."""

    def __init__(self, raw_mail: RawMailSettings) -> None:
        self.raw_mail = RawMailStore(raw_mail)

    @property
    def _client(self) -> Any:
        return transaction_connection().client

    @property
    def tickets_table(self) -> str:
        return str(TicketRecord.Meta.table_name)

    @property
    def desk_table(self) -> str:
        return str(ConfigRecord.Meta.table_name)

    @property
    def events_table(self) -> str:
        return str(EventRecord.Meta.table_name)

    # finding tickets ---------------------------------------------------------------------------------------

    def requester_ticket_ids(self, email: str, limit: int) -> list[str]:
        """Up to `limit` ids of the person's tickets, open then done (the by_requester index, keys only)."""
        found: list[str] = []
        for state in ("open", "done"):
            if len(found) >= limit:
                break
            records = TicketRecord.by_requester.query(
                f"{email}#{state}", limit=limit - len(found), attributes_to_get=["pk"]
            )
            found.extend(str(r.pk) for r in records)
        return found

    def done_before(self, cutoff: datetime, after: str | None, limit: int) -> list[tuple[str, str]]:
        """(id, closed_sort) of done tickets closed before `cutoff`, oldest first, after the key `after`."""
        high = stamp(cutoff)
        condition = TicketRecord.closed_sort.between(after + " ", high) if after else TicketRecord.closed_sort < high
        records = TicketRecord.by_closed.query("done", condition, limit=limit, attributes_to_get=["pk", "closed_sort"])
        return [(str(r.pk), str(r.closed_sort)) for r in records]

    # partitions ---------------------------------------------------------------------------------------------

    def _partition(self, table: str, pk: str) -> list[dict[str, Any]]:
        request: dict[str, Any] = {
            "TableName": table,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": {":pk": {"S": pk}},
            "ConsistentRead": True,
        }
        items: list[dict[str, Any]] = []
        while True:
            page = self._client.query(**request)
            items.extend(page.get("Items", []))
            last = page.get("LastEvaluatedKey")
            if not last:
                return items
            request["ExclusiveStartKey"] = last

    def ticket_items(self, ticket_id: str) -> list[dict[str, Any]]:
        """Every item of the ticket's partition in the tickets table (ticket, comments, survey, files)."""
        return self._partition(self.tickets_table, ticket_id)

    def event_items(self, ticket_id: str) -> list[dict[str, Any]]:
        """Every item of the ticket's partition in the events table (history, mail, trackers, webhooks …)."""
        return self._partition(self.events_table, ticket_id)

    def rewrite(self, table: str, item: dict[str, Any], changes: dict[str, Any], removed: list[str]) -> None:
        """Set `changes` (DynamoDB JSON values) and remove `removed` on an existing item."""
        names: dict[str, str] = {}
        values: dict[str, Any] = {}
        parts = []
        for i, (name, value) in enumerate(changes.items()):
            names[f"#s{i}"] = name
            values[f":s{i}"] = value
            parts.append(f"#s{i} = :s{i}")
        expression = f"SET {', '.join(parts)}" if parts else ""
        if removed:
            for i, name in enumerate(removed):
                names[f"#r{i}"] = name
            expression += " REMOVE " + ", ".join(f"#r{i}" for i in range(len(removed)))
        if not expression:
            return
        request: dict[str, Any] = {
            "TableName": table,
            "Key": {"pk": item["pk"], "sk": item["sk"]},
            "UpdateExpression": expression.strip(),
            "ExpressionAttributeNames": names,
            "ConditionExpression": "attribute_exists(pk)",
        }
        if values:
            request["ExpressionAttributeValues"] = values
        try:
            self._client.update_item(**request)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise  # an item deleted meanwhile has nothing left to erase

    def delete(self, table: str, pk: str, sk: str) -> None:
        self._client.delete_item(TableName=table, Key={"pk": {"S": pk}, "sk": {"S": sk}})

    def scrub_ticket_partition(self, ticket_id: str, email: str, redact: Redactor) -> list[str]:
        """The requester's comments and survey comment blanked, agents' comments redacted; the raw mail keys
        the comments held (their messages are deleted by the caller). The ticket item and files are apart."""
        mail_keys: list[str] = []
        for item in self.ticket_items(ticket_id):
            sk = text(item, "sk")
            if sk.startswith(COMMENT_PREFIX):
                if text(item, "mail_key"):
                    mail_keys.append(text(item, "mail_key"))
                if text(item, "author_role") == REQUESTER:
                    changes = {"body": ERASED_VALUE, "author_name": ERASED_VALUE, "author_id": ERASED_VALUE}
                else:
                    changes = {"body": string(redact.text(text(item, "body")))}
                self.rewrite(self.tickets_table, item, changes, ["mail_key"] if "mail_key" in item else [])
            elif sk == SURVEY_SK and text(item, "comment"):
                # The revision stays: the stream's record of this write derives nothing new from it.
                self.rewrite(self.tickets_table, item, {"comment": string("")}, [])
        return mail_keys

    def scrub_event_partition(self, ticket_id: str, email: str, redact: Redactor) -> int:
        """Every item of the ticket's events partition by its sort key: history events keep their kind and time
        without the person; mail keeps its key (so a redelivered record sends nothing again) without its words;
        items of kinds this module does not know (webhook deliveries, which quote events) are deleted. The
        `stats` item is left to the reports' own recount. How many items were changed or deleted."""
        touched = 0
        for item in self.event_items(ticket_id):
            sk = text(item, "sk")
            if sk.startswith(EVENT_PREFIX):
                data = erased_event_data(text(item, "kind"), as_json(item, "data"), redact)
                changes = {
                    "data": string(json.dumps(data, ensure_ascii=False)),
                    "actor": string(erased_actor(text(item, "actor"), redact)),
                }
            elif sk.startswith(MAIL_PREFIX):
                changes = {"subject": ERASED_VALUE, "text": ERASED_VALUE, "html": ERASED_VALUE}
                if normalise_email(text(item, "to")) == email or redact.text(text(item, "to")) != text(item, "to"):
                    changes["to"] = ERASED_VALUE
                if "last_error" in item:
                    changes["last_error"] = string(redact.text(text(item, "last_error")))
                removed = [name for name in ("raw",) if name in item]
                if text(item, "state") in (PENDING, FAILED):  # never sent now: out of the outbox's due index
                    changes["state"] = string(ERASED_STATE)
                    removed += [name for name in ("due_shard", "next_due_at") if name in item]
                self.rewrite(self.events_table, item, changes, removed)
                touched += 1
                continue
            elif sk == TRACKER_SK:
                changes = {"state": string(redact.text(text(item, "state")))}
            elif sk == STATS_SK or sk.startswith(AGENDA_PREFIX) or about_erasure(sk):
                continue  # counters, job steps and the news of the erasure itself: no one's words
            else:
                self.delete(self.events_table, ticket_id, sk)
                touched += 1
                continue
            if any(item.get(name) != value for name, value in changes.items()):
                self.rewrite(self.events_table, item, changes, [])
                touched += 1
        return touched

    def mails_to(self, ticket_id: str, email: str) -> list[dict[str, Any]]:
        """The ticket's outbox mail addressed to the person, as the export shows it."""
        mails = []
        for item in self.event_items(ticket_id):
            if text(item, "sk").startswith(MAIL_PREFIX) and normalise_email(text(item, "to")) == email:
                mails.append(
                    {
                        "key": text(item, "sk")[len(MAIL_PREFIX) :],
                        "kind": text(item, "kind"),
                        "subject": text(item, "subject"),
                        "text": text(item, "text"),
                        "state": text(item, "state"),
                        "created_at": text(item, "created_at") or None,
                        "sent_at": text(item, "sent_at") or None,
                    }
                )
        return mails

    # the ticket item ----------------------------------------------------------------------------------------

    def save_erased(self, ticket: Ticket, expected_version: int) -> None:
        """The ticket without its requester's data, if it is still at the version read (else StaleVersionError):
        an agent's edit made meanwhile is never overwritten, and the ticket leaves the person's index entries."""
        state = "open" if ticket.is_open else "done"
        record = TicketRecord(pk=ticket.id, sk=TICKET_SK)
        actions: list[Action] = [
            TicketRecord.subject.set(ticket.subject),
            TicketRecord.description.set(ticket.description),
            TicketRecord.requester_name.set(ticket.requester_name),
            TicketRecord.requester_email.set(ticket.requester_email),
            TicketRecord.requester_state.set(f"{ticket.requester_email}#{state}"),
            TicketRecord.fields.set(ticket.fields),
            TicketRecord.changed_by.set(ticket.changed_by),
            TicketRecord.version.set(expected_version + 1),
            TicketRecord.mail_key.remove(),
        ]
        try:
            condition = TicketRecord.pk.exists() & (TicketRecord.version == expected_version)
            record.update(actions=actions, condition=condition)
        except UpdateError as error:
            if is_condition_failure(error):
                raise StaleVersionError("the ticket changed while it was being erased") from error
            raise

    def ticket(self, ticket_id: str) -> Ticket | None:
        try:
            return ticket_from_record(TicketRecord.get(ticket_id, TICKET_SK, consistent_read=True))
        except DoesNotExist:
            return None

    # the desk table -----------------------------------------------------------------------------------------

    def desk_items(self, pk: str) -> list[dict[str, Any]]:
        return self._partition(self.desk_table, pk)

    def delete_desk_partition(self, pk: str) -> int:
        """Delete every item under `pk` (a rate counter's hours, an opt-out); how many there were."""
        items = self.desk_items(pk)
        for item in items:
            self.delete(self.desk_table, pk, item["sk"]["S"])
        return len(items)

    def forget_inbound(self, ses_message_id: str) -> None:
        """The receipt of a message (it names its sender) and the idempotency claim of the ticket it opened."""
        self.delete(self.desk_table, f"inbound#{ses_message_id}", "received")
        self.delete(self.desk_table, f"idem#{_hashed(f'mail:{ses_message_id}')}", "idem")

    def erasure(self, key: str) -> Erasure | None:
        found = self._client.get_item(
            TableName=self.desk_table, Key={"pk": {"S": f"erasure#{key}"}, "sk": {"S": ERASURE_SK}}, ConsistentRead=True
        ).get("Item")
        if not found:
            return None
        return Erasure(
            key=key,
            tickets_erased=int(found["tickets_erased"]["N"]),
            complete=bool(found["complete"]["BOOL"]),
            started_at=datetime.fromisoformat(found["started_at"]["S"]),
            updated_at=datetime.fromisoformat(found["updated_at"]["S"]),
        )

    def save_erasure(self, erasure: Erasure) -> None:
        self._client.put_item(
            TableName=self.desk_table,
            Item={
                "pk": {"S": f"erasure#{erasure.key}"},
                "sk": {"S": ERASURE_SK},
                "tickets_erased": {"N": str(erasure.tickets_erased)},
                "complete": {"BOOL": erasure.complete},
                "started_at": {"S": erasure.started_at.isoformat()},
                "updated_at": {"S": erasure.updated_at.isoformat()},
            },
        )

    def retention_mark(self) -> str | None:
        """The closed_sort of the last ticket the retention job erased: the next run starts after it."""
        found = self._client.get_item(
            TableName=self.desk_table, Key={"pk": {"S": "retention"}, "sk": {"S": "mark"}}, ConsistentRead=True
        ).get("Item")
        return str(found["after"]["S"]) if found else None

    def save_retention_mark(self, after: str) -> None:
        self._client.put_item(
            TableName=self.desk_table, Item={"pk": {"S": "retention"}, "sk": {"S": "mark"}, "after": {"S": after}}
        )

    # raw mail in S3 -----------------------------------------------------------------------------------------

    def delete_raw_mail(self, key: str) -> None:
        """The message as received; a key outside the desk's raw mail is left alone (it is not ours)."""
        settings = self.raw_mail.settings
        if settings.owns(settings.bucket, key):
            self.raw_mail.client.delete_object(Bucket=settings.bucket, Key=key)

    def raw_mail_name(self, key: str) -> str | None:
        """The SES message id a stored message's key ends with (SES's S3 action names it so)."""
        if key.startswith("ses:"):
            return key[4:] or None
        prefix = self.raw_mail.settings.prefix
        return key[len(prefix) :] or None if key.startswith(prefix) else None


def text(item: dict[str, Any], name: str) -> str:
    value = item.get(name)
    return str(value["S"]) if isinstance(value, dict) and "S" in value else ""


def as_json(item: dict[str, Any], name: str) -> Any:
    raw = text(item, name)
    try:
        return json.loads(raw) if raw else {}
    except ValueError:
        return {}


def string(value: str) -> dict[str, str]:
    return {"S": value}


ERASED_VALUE = string(ERASED)
