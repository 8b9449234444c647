"""Decoding of the tickets table's stream records into the pipeline's changes."""

from __future__ import annotations

from typing import Any

from chalicelib.adapters.dynamo import TICKET_SK, comment_from_record, ticket_from_record
from chalicelib.adapters.records import CommentRecord, SurveyRecord, TicketRecord
from chalicelib.adapters.surveys import SURVEY_SK, survey_answer
from chalicelib.services.pipeline import Change, CommentWritten, SurveyWritten, TicketWritten

COMMENT_PREFIX = "comment#"


class UndecodableRecordError(ValueError):
    """A stream record that is not shaped like one from the tickets table."""


def _sort_key(dynamodb: dict[str, Any]) -> str:
    keys = dynamodb.get("Keys")
    sk = keys.get("sk") if isinstance(keys, dict) else None
    value = sk.get("S") if isinstance(sk, dict) else None
    if not isinstance(value, str):
        raise UndecodableRecordError("the record has no string sort key")
    return value


def decode_record(raw: dict[str, Any]) -> Change | None:
    """The change a record describes; None for what history ignores (removals, items it does not track)."""
    dynamodb = raw.get("dynamodb")
    if not isinstance(dynamodb, dict):
        raise UndecodableRecordError("the record has no dynamodb section")
    name = raw.get("eventName")
    if name not in ("INSERT", "MODIFY", "REMOVE"):
        raise UndecodableRecordError(f"unknown event name {name!r}")
    if name == "REMOVE":
        return None
    sort_key = _sort_key(dynamodb)
    new_image = dynamodb.get("NewImage")
    if not isinstance(new_image, dict):
        raise UndecodableRecordError("the record has no new image (the stream must show NEW_AND_OLD_IMAGES)")
    if sort_key == TICKET_SK:
        old_image = dynamodb.get("OldImage")
        old = ticket_from_record(TicketRecord.from_raw_data(old_image)) if isinstance(old_image, dict) else None
        return TicketWritten(old=old, new=ticket_from_record(TicketRecord.from_raw_data(new_image)))
    if sort_key == SURVEY_SK:
        if "rating" not in new_image:
            return None  # an item being made in two steps; the step that completes it carries the answer
        old_image = dynamodb.get("OldImage")
        before = None
        if isinstance(old_image, dict) and "rating" in old_image:
            before = survey_answer(SurveyRecord.from_raw_data(old_image))
        return SurveyWritten(old=before, new=survey_answer(SurveyRecord.from_raw_data(new_image)))
    if sort_key.startswith(COMMENT_PREFIX):
        if name != "INSERT":
            return None  # comments are never edited; a rewrite adds nothing
        return CommentWritten(comment_from_record(CommentRecord.from_raw_data(new_image)))
    return None
