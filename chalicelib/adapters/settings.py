"""Settings read once from the environment into one frozen object."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

DOWNLOAD_INLINE_BYTES = 4 * 1024 * 1024
# Every function's memory (.chalice/config.json's lambda_memory_size): what the meter bills a millisecond at where
# Lambda's AWS_LAMBDA_FUNCTION_MEMORY_SIZE is not set (tests, the local run).
LAMBDA_MEMORY_MB = 512


@dataclass(frozen=True)
class Settings:
    stage: str
    region: str
    tickets_table: str
    desk_table: str
    events_table: str
    cors_origins: tuple[str, ...]
    public_url: str | None
    max_body_bytes: int
    sender_email: str = "desk@example.org"
    ses_configuration_set: str | None = None
    session_idle_minutes: int = 30
    session_hours: int = 12
    # The address the desk receives mail at (SES receipt rule, or the local SMTP server); None: it receives none.
    inbound_address: str | None = None
    # A download larger than this is answered with a short S3 link instead of the bytes: a Lambda answers at most
    # 6 MB, base64 included. The local run raises it (its server has no such limit, and its S3 is in-process).
    download_inline_bytes: int = DOWNLOAD_INLINE_BYTES

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        origins = tuple(o.strip().rstrip("/") for o in env.get("HELPDESK_CORS_ORIGINS", "").split(",") if o.strip())
        return cls(
            stage=env.get("HELPDESK_STAGE", "dev"),
            region=env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or "us-east-1",
            tickets_table=env.get("HELPDESK_TICKETS_TABLE", "helpdesk-tickets"),
            desk_table=env.get("HELPDESK_DESK_TABLE", "helpdesk-desk"),
            events_table=env.get("HELPDESK_EVENTS_TABLE", "helpdesk-events"),
            cors_origins=origins,
            public_url=(env.get("HELPDESK_PUBLIC_URL") or "").rstrip("/") or None,
            max_body_bytes=int(env.get("HELPDESK_MAX_BODY_BYTES", "65536")),
            sender_email=env.get("HELPDESK_SENDER_EMAIL") or "desk@example.org",
            ses_configuration_set=env.get("HELPDESK_SES_CONFIGURATION_SET") or None,
            session_idle_minutes=int(env.get("HELPDESK_SESSION_IDLE_MINUTES") or "30"),
            session_hours=int(env.get("HELPDESK_SESSION_HOURS") or "12"),
            inbound_address=(env.get("HELPDESK_INBOUND_ADDRESS") or "").strip() or None,
            download_inline_bytes=int(env.get("HELPDESK_DOWNLOAD_INLINE_BYTES") or DOWNLOAD_INLINE_BYTES),
        )


# Chalice needs the stream ARN when app.py is imported; a placeholder keeps the import working where it is unset
# (tests, `chalice package`, whose merged template replaces it with the table's StreamArn).
STREAM_PLACEHOLDER = "arn:aws:dynamodb:us-east-1:000000000000:table/helpdesk-tickets/stream/unset"


def tickets_stream_arn(env: Mapping[str, str]) -> str:
    return env.get("HELPDESK_TICKETS_STREAM_ARN") or STREAM_PLACEHOLDER
