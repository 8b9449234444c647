"""The AWS price list the cost estimate uses: us-east-1 list prices, no free tier, overridable in the configuration."""

from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace
from typing import Any

from chalicelib.domain.errors import ValidationError

# us-east-1 list prices, free tier left out, as the pricing pages said when checked (2026-12):
#   API Gateway  https://aws.amazon.com/api-gateway/pricing/      REST API $3.50 per million requests (first 333M)
#   Lambda       https://aws.amazon.com/lambda/pricing/           $0.20 per million requests; $0.0000166667 per GB-s on
#                x86_64 (Chalice's package names no Architectures, so the functions run on x86_64)
#   DynamoDB     https://aws.amazon.com/dynamodb/pricing/on-demand/  $0.625 per million write request units,
#                $0.125 per million read request units (after the November 2024 cut), storage $0.25 per GB-month,
#                continuous backups (point-in-time recovery, on for all three tables in infra/template.json) $0.20 per
#                GB-month; Streams reads by a Lambda trigger are free
#   SES          https://aws.amazon.com/ses/pricing/              $0.10 per 1,000 mails sent, $0.12 per GB attached;
#                mail received $0.10 per 1,000 mails and $0.09 per 1,000 incoming 256 KB chunks
#   S3           https://aws.amazon.com/s3/pricing/               Standard $0.023 per GB-month; PUT, COPY, POST, LIST
#                $0.005 per 1,000; GET and the rest $0.0004 per 1,000
#   CloudWatch   https://aws.amazon.com/cloudwatch/pricing/       Logs $0.50 per GB ingested, $0.03 per GB-month stored;
#                a standard-resolution alarm $0.10 per month
#   SQS          https://aws.amazon.com/sqs/pricing/              $0.40 per million standard requests
#   SNS          https://aws.amazon.com/sns/pricing/              $0.50 per million publishes (no fee to Lambda)
#   EventBridge  https://aws.amazon.com/eventbridge/pricing/      custom events $1.00 per million (each 64 KB chunk of
#                an entry is one)
PRICE_LIMIT = 1000.0  # no price of the list comes near it; a bigger number is a typo


@dataclass(frozen=True)
class Prices:
    """Dollars per the unit each name says."""

    api_gateway_per_million_requests: float = 3.50
    lambda_per_million_requests: float = 0.20
    lambda_per_gb_second: float = 0.0000166667
    dynamodb_per_million_write_units: float = 0.625
    dynamodb_per_million_read_units: float = 0.125
    dynamodb_storage_per_gb_month: float = 0.25
    dynamodb_pitr_per_gb_month: float = 0.20
    ses_per_thousand_mails: float = 0.10
    ses_attachments_per_gb: float = 0.12
    ses_inbound_per_thousand_mails: float = 0.10
    ses_inbound_per_thousand_chunks: float = 0.09
    s3_storage_per_gb_month: float = 0.023
    s3_per_thousand_put_requests: float = 0.005
    s3_per_thousand_get_requests: float = 0.0004
    logs_ingested_per_gb: float = 0.50
    logs_stored_per_gb_month: float = 0.03
    alarm_per_month: float = 0.10
    sqs_per_million_requests: float = 0.40
    sns_per_million_publishes: float = 0.50
    eventbridge_per_million_events: float = 1.00

    def document(self) -> dict[str, float]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


PRICE_NAMES = tuple(f.name for f in fields(Prices))


def parse_cost(value: Any) -> Prices:
    """The configuration's optional `cost` object (`{"prices": {name: dollars}}`; absent: the list prices above);
    ValidationError names each bad path."""
    if value is None:
        return Prices()
    if not isinstance(value, dict):
        raise ValidationError("the desk configuration is not valid", {"cost": "must be an object"})
    errors: dict[str, str] = {f"cost.{name}": "is not a known setting" for name in sorted(set(value) - {"prices"})}
    given = value.get("prices", {})
    numbers: dict[str, float] = {}
    if not isinstance(given, dict):
        errors["cost.prices"] = "must be an object"
        given = {}
    for name in sorted(set(given) - set(PRICE_NAMES)):
        errors[f"cost.prices.{name}"] = "is not a known price"
    for name in PRICE_NAMES:
        if name not in given:
            continue
        number = given[name]
        if (
            isinstance(number, bool)
            or not isinstance(number, int | float)
            or not math.isfinite(number)
            or not 0 <= number <= PRICE_LIMIT
        ):
            errors[f"cost.prices.{name}"] = f"must be a number of dollars from 0 to {PRICE_LIMIT:g}"
        else:
            numbers[name] = float(number)
    if errors:
        raise ValidationError("the desk configuration is not valid", errors)
    return replace(Prices(), **numbers)
