"""The process environment of the local run: fake AWS credentials, no endpoint overrides, the desk's settings."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PROJECT_DIR = Path(__file__).resolve().parent.parent
STAGE = "dev"  # the local run stands in for the dev stage of .chalice/config.json, as `chalice local` does
REGION = "us-east-1"
DEFAULT_PORT = 8000
DEFAULT_HOST = "127.0.0.1"
ANY_ADDRESS = ("0.0.0.0", "::", "")  # noqa: S104 - only ever compared with, never bound by default
DEFAULT_SENDER = "desk@example.org"  # verified in moto's SES at start; any address works locally
DEFAULT_INBOUND = "help@desk.example.org"  # the local SMTP server's address, unless the stage or the shell names one
RAW_MAIL_PREFIX = "inbound/"  # as the deployed receipt rule's S3 action (infra/inbound.py PREFIX)
LOCAL_DOWNLOAD_INLINE_BYTES = 1024 * 1024 * 1024
MAIL_DIR = PROJECT_DIR / ".localdesk" / "mail"  # where the sent mails go as .eml files, unless HELPDESK_MAIL_DIR

FAKE_AWS = {
    "AWS_ACCESS_KEY_ID": "localdesk",
    "AWS_SECRET_ACCESS_KEY": "localdesk",
    "AWS_SESSION_TOKEN": "localdesk",
    "AWS_SECURITY_TOKEN": "localdesk",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
    # botocore >= 1.44.4 sends DynamoDB Streams calls to an account-based endpoint moto does not route.
    "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
    # A profile in ~/.aws could name a real endpoint or real credentials: read no AWS files at all.
    "AWS_CONFIG_FILE": "/dev/null",
    "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
    "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS": "true",
}
DROPPED = ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI")


class SetupError(Exception):
    """The local run cannot start as configured; the message says what to change."""


@dataclass(frozen=True)
class Listen:
    host: str
    port: int

    @property
    def url(self) -> str:
        """The address a person on this machine opens (a wildcard bind is reached through loopback)."""
        host = DEFAULT_HOST if self.host in ANY_ADDRESS else self.host
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.port}"


def listen_address(environ: MutableMapping[str, str]) -> Listen:
    text = environ.get("PORT", "").strip() or str(DEFAULT_PORT)
    if not text.isdigit() or not 1 <= int(text) <= 65535:
        raise SetupError(f"PORT must be a TCP port number from 1 to 65535, not {text!r}")
    return Listen(host=environ.get("HELPDESK_HOST", "").strip() or DEFAULT_HOST, port=int(text))


def chalice_config(project_dir: Path = PROJECT_DIR) -> dict[str, Any]:
    """The project's .chalice/config.json, or an empty one."""
    path = project_dir / ".chalice" / "config.json"
    if not path.is_file():
        return {}
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise SetupError(f"{path} is not valid JSON: {exc}") from None
    return document if isinstance(document, dict) else {}


def prepare(environ: MutableMapping[str, str], listen: Listen, stage_variables: Mapping[str, str]) -> None:
    """Point every AWS client of this process at moto only, before moto or any client starts.

    The stage's environment variables apply unless the shell sets them; AWS settings are always the fake ones.
    """
    for name, value in stage_variables.items():
        if not name.startswith("AWS_"):
            environ.setdefault(name, value)
    for name in list(environ):
        if name.startswith("AWS_ENDPOINT_URL") or name in DROPPED:
            del environ[name]
    environ.update(FAKE_AWS)
    if not environ.get("HELPDESK_PUBLIC_URL"):
        environ["HELPDESK_PUBLIC_URL"] = listen.url
    if not environ.get("HELPDESK_SENDER_EMAIL", "").strip():
        environ["HELPDESK_SENDER_EMAIL"] = DEFAULT_SENDER
    if not environ.get("HELPDESK_INBOUND_ADDRESS", "").strip():
        environ["HELPDESK_INBOUND_ADDRESS"] = DEFAULT_INBOUND
    environ["HELPDESK_RAW_MAIL_PREFIX"] = RAW_MAIL_PREFIX
    environ["HELPDESK_LOCAL_RUN"] = "1"  # webhooks may target http://localhost and http://127.0.0.1 here
    # Deployed, a file over 4 MB is handed out as a short S3 link (a Lambda answers at most 6 MB). Here S3 is moto
    # inside this process, which no browser can reach, and the local server has no answer limit: it serves them all.
    environ.setdefault("HELPDESK_DOWNLOAD_INLINE_BYTES", str(LOCAL_DOWNLOAD_INLINE_BYTES))


def mail_directory(environ: Mapping[str, str] | None = None) -> Path:
    """HELPDESK_MAIL_DIR (relative to the current directory), else .localdesk/mail in the project."""
    chosen = (os.environ if environ is None else environ).get("HELPDESK_MAIL_DIR", "").strip()
    return Path(chosen).expanduser().resolve() if chosen else MAIL_DIR


def use_tables(environ: MutableMapping[str, str], outputs: dict[str, str]) -> None:
    """The names CloudFormation (moto) gave the tables and the buckets, as the deployed stage gets them."""
    environ["HELPDESK_TICKETS_TABLE"] = outputs["TicketsTableName"]
    environ["HELPDESK_DESK_TABLE"] = outputs["DeskTableName"]
    environ["HELPDESK_EVENTS_TABLE"] = outputs["EventsTableName"]
    environ["HELPDESK_TICKETS_STREAM_ARN"] = outputs["TicketsTableStreamArn"]
    environ["HELPDESK_RAW_MAIL_BUCKET"] = outputs["RawMailBucketName"]
    environ["HELPDESK_ATTACHMENTS_BUCKET"] = outputs["AttachmentsBucketName"]
