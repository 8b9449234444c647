"""The raw messages SES stores in S3: read only from the desk's bucket and prefix, and never past the size limit."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

DEFAULT_PREFIX = "inbound/"
DEFAULT_MAX_BYTES = 25 * 1024 * 1024
# What S3 answers for a key that is not there (GetObject says NoSuchKey; HeadObject has no body, so only 404). The
# functions may not list the bucket (least privilege), and S3 then answers a missing (e.g. expired) key with 403.
MISSING = {"404", "NoSuchKey", "NotFound", "403", "AccessDenied"}


class RawMailError(Exception):
    """A stored message that the desk will not read: retrying would not change that."""


class ForeignMailError(RawMailError):
    """The notification names a bucket or key outside the desk's raw mail."""


class MailTooLargeError(RawMailError):
    def __init__(self, size: int, limit: int) -> None:
        super().__init__(f"the message is {size} bytes, over the limit of {limit}")
        self.size = size
        self.limit = limit


class MailGoneError(RawMailError):
    """The object is not (or no longer) in the bucket: the lifecycle rule expired it, or it was never stored."""


@dataclass(frozen=True)
class RawMailSettings:
    bucket: str
    prefix: str = DEFAULT_PREFIX
    max_bytes: int = DEFAULT_MAX_BYTES
    region: str = "us-east-1"

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> RawMailSettings:
        return cls(
            bucket=env.get("HELPDESK_RAW_MAIL_BUCKET", ""),
            prefix=env.get("HELPDESK_RAW_MAIL_PREFIX") or DEFAULT_PREFIX,
            max_bytes=int(env.get("HELPDESK_MAX_INBOUND_BYTES") or DEFAULT_MAX_BYTES),
            region=env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or "us-east-1",
        )

    def owns(self, bucket: str, key: str) -> bool:
        """Whether bucket/key is one of the desk's stored messages (never a path out of the prefix)."""
        name = key[len(self.prefix) :]
        return (
            bool(self.bucket)
            and bucket == self.bucket
            and key.startswith(self.prefix)
            and bool(name)
            and "/" not in name
            and name not in (".", "..")
        )


class RawMailStore:
    """S3 through boto3 (imported on first use: only the inbound function and the local run need it)."""

    def __init__(self, settings: RawMailSettings, client: Any = None) -> None:
        self.settings = settings
        self._client = client

    @property
    def client(self) -> Any:
        if self._client is None:
            import boto3

            from chalicelib.adapters.meter import watch

            self._client = watch(boto3.client("s3", region_name=self.settings.region))
        return self._client

    def fetch(self, bucket: str, key: str) -> bytes:
        """The stored message; its size is checked (HeadObject) before a byte of it is downloaded."""
        if not self.owns(bucket, key):
            raise ForeignMailError(f"s3://{bucket}/{key} is not in the desk's raw mail")
        try:
            size = int(self.client.head_object(Bucket=bucket, Key=key)["ContentLength"])
            if size > self.settings.max_bytes:
                raise MailTooLargeError(size, self.settings.max_bytes)
            # The range keeps the limit even if the object were replaced between the two calls.
            answer = self.client.get_object(Bucket=bucket, Key=key, Range=f"bytes=0-{self.settings.max_bytes}")
            body: bytes = answer["Body"].read()
        except Exception as error:
            if _error_code(error) in MISSING:
                raise MailGoneError(f"s3://{bucket}/{key} is not there") from None
            raise
        if len(body) > self.settings.max_bytes:
            raise MailTooLargeError(len(body), self.settings.max_bytes)
        return body

    def owns(self, bucket: str, key: str) -> bool:
        return self.settings.owns(bucket, key)

    def store(self, name: str, raw: bytes) -> str:
        """Put a message under the prefix, as SES's S3 action does (the local run's SMTP server); its key."""
        key = f"{self.settings.prefix}{name}"
        if not self.owns(self.settings.bucket, key):
            raise ForeignMailError(f"{name!r} is not a name for a stored message")
        self.client.put_object(Bucket=self.settings.bucket, Key=key, Body=raw)
        return key


def _error_code(error: Exception) -> str | None:
    response = getattr(error, "response", None)
    if not isinstance(response, dict):
        return None
    code = response.get("Error", {}).get("Code")
    return str(code) if code is not None else None
