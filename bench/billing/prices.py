"""The one price table of the bench: us-east-1 list prices in dollars, no free tier.

Sources (checked when this was written; the pages change):
  API Gateway  https://aws.amazon.com/api-gateway/pricing/         REST APIs: $3.50 per million requests (first 333
               million); data transfer out at the EC2 rate, https://aws.amazon.com/ec2/pricing/on-demand/ ($0.09/GB
               for the first 10 TB; the account-wide 100 GB a month that is free is left out, as all free tier is)
  Lambda       https://aws.amazon.com/lambda/pricing/              $0.20 per million requests, $0.0000166667 per
               GB-second on x86_64 (Chalice packages no Architectures); duration rounded up to 1 ms; since 1 August
               2025 the INIT phase of a cold start is billed as duration too
               (https://aws.amazon.com/blogs/compute/aws-lambda-standardizes-billing-for-init-phase/)
  DynamoDB     https://aws.amazon.com/dynamodb/pricing/on-demand/  $0.625 per million write request units, $0.125 per
               million read request units (on-demand after the November 2024 price cut); storage $0.25 per GB-month
               (first 25 GB free: left out); continuous backups (point-in-time recovery) $0.20 per GB-month; reads of
               a stream by a Lambda trigger are free
  SES          https://aws.amazon.com/ses/pricing/                 (pay as you go) $0.10 per 1,000 mails sent, $0.12
               per GB of attachments sent; $0.10 per 1,000 mails received and $0.09 per 1,000 incoming mail chunks
               of 256 KB
  S3           https://aws.amazon.com/s3/pricing/                  Standard: $0.023 per GB-month (first 50 TB); PUT,
               COPY, POST, LIST $0.005 per 1,000; GET, SELECT and all other requests $0.0004 per 1,000; DELETE free
  CloudWatch   https://aws.amazon.com/cloudwatch/pricing/          Logs (standard class): $0.50 per GB ingested,
               $0.03 per GB-month stored (compressed); a standard-resolution metric alarm $0.10 a month
  SQS          https://aws.amazon.com/sqs/pricing/                 standard queue $0.40 per million requests
  SNS          https://aws.amazon.com/sns/pricing/                 $0.50 per million publishes; deliveries to Lambda
               free
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Price:
    dollars: float
    per: float  # how many units the price is for (1,000,000 requests, 1 GB-month ...)
    unit: str  # what one unit is, as the bill line shows it

    def cost(self, quantity: float) -> float:
        return quantity * self.dollars / self.per

    def text(self) -> str:
        per = "" if self.per == 1 else f"{self.per:,.0f} "
        return f"${self.dollars:g} per {per}{self.unit}"


GB = 1024**3  # AWS bills storage and data in GiB ("GB" on the pricing pages)

PRICES: dict[str, Price] = {
    "api_requests": Price(3.50, 1_000_000, "requests"),
    "data_out": Price(0.09, 1, "GB"),
    "lambda_requests": Price(0.20, 1_000_000, "requests"),
    "lambda_gb_seconds": Price(0.0000166667, 1, "GB-s"),
    "dynamodb_wru": Price(0.625, 1_000_000, "WRU"),
    "dynamodb_rru": Price(0.125, 1_000_000, "RRU"),
    "dynamodb_storage": Price(0.25, 1, "GB-month"),
    "dynamodb_pitr": Price(0.20, 1, "GB-month"),
    "dynamodb_stream_reads": Price(0.0, 1_000_000, "GetRecords"),
    "ses_sent": Price(0.10, 1_000, "mails"),
    "ses_attachments": Price(0.12, 1, "GB"),
    "ses_received": Price(0.10, 1_000, "mails"),
    "ses_chunks": Price(0.09, 1_000, "chunks"),
    "s3_put": Price(0.005, 1_000, "requests"),
    "s3_get": Price(0.0004, 1_000, "requests"),
    "s3_storage": Price(0.023, 1, "GB-month"),
    "logs_ingested": Price(0.50, 1, "GB"),
    "logs_stored": Price(0.03, 1, "GB-month"),
    "alarms": Price(0.10, 1, "alarm-months"),
    "sqs_requests": Price(0.40, 1_000_000, "requests"),
    "sns_publishes": Price(0.50, 1_000_000, "publishes"),
}
