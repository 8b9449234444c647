"""What the desk stores, read straight from moto's backends (no request is made, so nothing is billed for looking):
DynamoDB's table and index bytes by DynamoDB's rules, and the S3 buckets' bytes."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

ACCOUNT = "123456789012"
REGION = "us-east-1"
ITEM_OVERHEAD = 100  # DynamoDB bills 100 bytes of indexing overhead per item, and per index entry


def dynamodb_bytes(
    item_size: Callable[[Mapping[str, Any]], int], tables: list[str]
) -> tuple[dict[str, int], dict[str, int]]:
    """Per table: its items' sizes plus 100 bytes each; per global secondary index ("table/index"): each entry's
    projected size (the keys of the table and of the index, and the projected attributes) plus 100 bytes. An
    item lacking an index's key attributes is not in that index."""
    from moto.dynamodb.models import dynamodb_backends

    backend = dynamodb_backends[ACCOUNT][REGION]
    table_bytes: dict[str, int] = {}
    index_bytes: dict[str, int] = {}
    for name in tables:
        table = backend.tables[name]
        table_keys = [k for k in (table.hash_key_attr, table.range_key_attr) if k]
        indexes = []
        for index in table.global_indexes:
            keys = [k["AttributeName"] for k in index.schema]
            projection = index.projection or {}
            kind = projection.get("ProjectionType", "ALL")
            kept = None if kind == "ALL" else {*table_keys, *keys, *projection.get("NonKeyAttributes", [])}
            indexes.append((f"{name}/{index.name}", keys, kept))
            index_bytes.setdefault(f"{name}/{index.name}", 0)
        total = 0
        for item in table.all_items():
            attributes = item.to_json()["Attributes"]
            size = item_size(attributes)
            total += size + ITEM_OVERHEAD
            for label, keys, kept in indexes:
                if not all(k in attributes for k in keys):
                    continue
                projected = size if kept is None else item_size({k: v for k, v in attributes.items() if k in kept})
                index_bytes[label] += projected + ITEM_OVERHEAD
        table_bytes[name] = total
    return table_bytes, index_bytes


def s3_bytes(buckets: list[str]) -> dict[str, int]:
    from moto.s3.models import s3_backends

    backend = s3_backends[ACCOUNT]["global"]
    sizes = {}
    for name in buckets:
        bucket = backend.buckets.get(name)
        sizes[name] = sum(key.size for key in bucket.keys.values()) if bucket is not None else 0
    return sizes
