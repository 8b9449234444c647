"""What the local run's embedded AWS holds that contains a piece of text: every item of every DynamoDB table and
every object of every S3 bucket, read from moto's own backends (no Scan is sent: the desk's code never scans, and
this is not the desk's code). `GET /_local/search?text=` answers it, so an erasure can be checked from outside."""

from __future__ import annotations

import base64
import os
from typing import Any

DEFAULT_ACCOUNT = "123456789012"  # moto's, unless MOTO_ACCOUNT_ID names another
MIN_TEXT = 3  # a shorter text is in everything


def strings(value: Any) -> list[str]:
    """Every string of a DynamoDB JSON value, binaries decoded as UTF-8."""
    if isinstance(value, dict):
        if "S" in value:
            return [str(value["S"])]
        if "B" in value:
            raw = value["B"]
            return [(base64.b64decode(raw) if isinstance(raw, str) else bytes(raw)).decode("utf-8", "replace")]
        return [text for inner in value.values() for text in strings(inner)]
    if isinstance(value, list):
        return [text for inner in value for text in strings(inner)]
    return [str(value)]


def items(region: str) -> dict[tuple[str, str, str], list[str]]:
    """(table, pk, sk) -> the item's strings, keys included, for every item of every table."""
    from moto.dynamodb.models import dynamodb_backends

    backend = dynamodb_backends[os.environ.get("MOTO_ACCOUNT_ID", DEFAULT_ACCOUNT)][region]
    found: dict[tuple[str, str, str], list[str]] = {}
    for name, table in backend.tables.items():
        for item in table.all_items():
            attributes = item.to_json()["Attributes"]
            key = (name, _key(attributes, "pk"), _key(attributes, "sk"))
            found[key] = [*key[1:], *strings(attributes)]
    return found


def objects() -> dict[str, bytes]:
    """bucket/key -> the object's bytes, for every object of every bucket."""
    from moto.s3.models import s3_backends

    backend = s3_backends[os.environ.get("MOTO_ACCOUNT_ID", DEFAULT_ACCOUNT)]["aws"]
    return {
        f"{bucket_name}/{key}": bytes(stored.value)
        for bucket_name, bucket in backend.buckets.items()
        for key, stored in bucket.keys.items()
        if stored is not None
    }


def holding(text: str, region: str) -> dict[str, list[str]]:
    """The items ("table pk sk") and objects ("bucket/key") whose text holds `text`, case ignored."""
    wanted = text.lower()
    found_items = [" ".join(k) for k, texts in items(region).items() if any(wanted in t.lower() for t in texts)]
    found_objects = [name for name, body in objects().items() if wanted.encode() in body.lower()]
    return {"items": sorted(found_items), "objects": sorted(found_objects)}


def _key(attributes: dict[str, Any], name: str) -> str:
    value = attributes.get(name) or {}
    return str(value.get("S") or value.get("N") or "")
