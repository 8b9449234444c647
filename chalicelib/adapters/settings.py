"""Settings read once from the environment into one frozen object."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Settings:
    stage: str
    region: str
    tickets_table: str
    desk_table: str
    cors_origins: tuple[str, ...]
    public_url: str | None
    max_body_bytes: int

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        origins = tuple(o.strip().rstrip("/") for o in env.get("HELPDESK_CORS_ORIGINS", "").split(",") if o.strip())
        return cls(
            stage=env.get("HELPDESK_STAGE", "dev"),
            region=env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or "us-east-1",
            tickets_table=env.get("HELPDESK_TICKETS_TABLE", "helpdesk-tickets"),
            desk_table=env.get("HELPDESK_DESK_TABLE", "helpdesk-desk"),
            cors_origins=origins,
            public_url=(env.get("HELPDESK_PUBLIC_URL") or "").rstrip("/") or None,
            max_body_bytes=int(env.get("HELPDESK_MAX_BODY_BYTES", "65536")),
        )
