"""The attachments bucket: files under `attachments/<ticket id>/<attachment id>`, checked after a direct upload."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from chalicelib.domain.attachments import (
    OCTET_STREAM,
    SNIFF_BYTES,
    AttachmentTooLargeError,
    UploadMissingError,
    valid_id,
)

PREFIX = "attachments/"
CHUNK_BYTES = 64 * 1024
# What S3 answers for a key that is not there (GetObject says NoSuchKey; HeadObject has no body, so only 404). The
# deployed functions may not list the bucket (least privilege), and S3 then answers a missing key with 403.
MISSING = {"404", "NoSuchKey", "NotFound", "403", "AccessDenied"}


@dataclass(frozen=True)
class AttachmentStoreSettings:
    bucket: str
    region: str = "us-east-1"

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> AttachmentStoreSettings:
        return cls(
            bucket=env.get("HELPDESK_ATTACHMENTS_BUCKET", ""),
            region=env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or "us-east-1",
        )


def object_key(ticket_id: str, attachment_id: str) -> str:
    """The one key of an attachment; ids that are not plain ULID-like names never reach S3 (no `..`, no `/`)."""
    if not (valid_id(ticket_id) and valid_id(attachment_id)):
        raise ValueError(f"not an attachment key: {ticket_id!r}/{attachment_id!r}")
    return f"{PREFIX}{ticket_id}/{attachment_id}"


class S3AttachmentStore:
    """S3 through boto3 (imported on first use: only the handlers that move files need it)."""

    def __init__(self, settings: AttachmentStoreSettings, client: Any = None) -> None:
        self.settings = settings
        self._client = client

    @property
    def client(self) -> Any:
        if self._client is None:
            import boto3

            from chalicelib.adapters.meter import watch

            self._client = watch(boto3.client("s3", region_name=self.settings.region))
        return self._client

    def put(self, ticket_id: str, attachment_id: str, data: bytes, content_type: str) -> None:
        """A file the desk itself received (mail, a form post): stored with the type it will be served as."""
        self.client.put_object(
            Bucket=self.settings.bucket,
            Key=object_key(ticket_id, attachment_id),
            Body=data,
            ContentType=content_type,
            ContentDisposition="attachment",
        )

    def presigned_post(self, ticket_id: str, attachment_id: str, max_bytes: int, expires_in: int) -> dict[str, Any]:
        """A browser's direct upload of one file to its exact key: `{"url": …, "fields": {…}}`.

        S3 enforces the policy (size range, key, type); the embedded S3 of the local run does not, so verify()
        checks the stored object whatever the policy said.
        """
        key = object_key(ticket_id, attachment_id)
        return dict(
            self.client.generate_presigned_post(
                Bucket=self.settings.bucket,
                Key=key,
                Fields={"Content-Type": OCTET_STREAM},
                # boto3 adds the bucket and the exact key to the conditions itself.
                Conditions=[["content-length-range", 1, max_bytes], {"Content-Type": OCTET_STREAM}],
                ExpiresIn=expires_in,
            )
        )

    def verify(self, ticket_id: str, attachment_id: str, max_bytes: int) -> tuple[int, bytes]:
        """The stored size and first SNIFF_BYTES of a direct upload; an object over `max_bytes` is deleted."""
        key = object_key(ticket_id, attachment_id)
        try:
            size = int(self.client.head_object(Bucket=self.settings.bucket, Key=key)["ContentLength"])
            if size > max_bytes:
                self.client.delete_object(Bucket=self.settings.bucket, Key=key)
                raise AttachmentTooLargeError(
                    f"the file is {size} bytes, over the limit of {max_bytes} bytes a file", size=size, limit=max_bytes
                )
            if size == 0:
                return 0, b""  # a range of an empty object is refused (416)
            answer = self.client.get_object(Bucket=self.settings.bucket, Key=key, Range=f"bytes=0-{SNIFF_BYTES - 1}")
            head: bytes = answer["Body"].read()
        except AttachmentTooLargeError:
            raise
        except Exception as error:
            if _error_code(error) in MISSING:
                raise UploadMissingError("nothing was uploaded for this attachment") from None
            raise
        return size, head

    def sha256(self, ticket_id: str, attachment_id: str, max_bytes: int) -> tuple[int, str]:
        """The size and SHA-256 of the stored object, read in chunks and never past `max_bytes` (+1 to tell)."""
        digest = hashlib.sha256()
        size = 0
        for chunk in self._chunks(ticket_id, attachment_id, f"bytes=0-{max_bytes}"):
            digest.update(chunk)
            size += len(chunk)
        return size, digest.hexdigest()

    def open(self, ticket_id: str, attachment_id: str) -> Iterator[bytes]:
        """The file's bytes in chunks, for a download; UploadMissingError when it is not (or no longer) there."""
        return self._chunks(ticket_id, attachment_id, None)

    def _chunks(self, ticket_id: str, attachment_id: str, byte_range: str | None) -> Iterator[bytes]:
        key = object_key(ticket_id, attachment_id)
        extra = {"Range": byte_range} if byte_range else {}
        try:
            body = self.client.get_object(Bucket=self.settings.bucket, Key=key, **extra)["Body"]
        except Exception as error:
            if _error_code(error) in MISSING:
                raise UploadMissingError("the file is not stored") from None
            raise
        return _read_all(body)

    def presigned_get(self, ticket_id: str, attachment_id: str, headers: Mapping[str, str], expires_in: int) -> str:
        """A short-lived link that has S3 serve the file as the desk would: the same type, disposition and cache
        answer (S3 cannot send `nosniff` or a CSP, but the file is a download on S3's origin, not the desk's)."""
        return str(
            self.client.generate_presigned_url(
                "get_object",
                Params={
                    "Bucket": self.settings.bucket,
                    "Key": object_key(ticket_id, attachment_id),
                    "ResponseContentType": headers["Content-Type"],
                    "ResponseContentDisposition": headers["Content-Disposition"],
                    "ResponseCacheControl": headers["Cache-Control"],
                },
                ExpiresIn=expires_in,
            )
        )

    def delete(self, ticket_id: str, attachment_id: str) -> None:
        self.client.delete_object(Bucket=self.settings.bucket, Key=object_key(ticket_id, attachment_id))


def _read_all(body: Any) -> Iterator[bytes]:
    try:
        while chunk := body.read(CHUNK_BYTES):
            yield chunk
    finally:
        body.close()


def _error_code(error: Exception) -> str | None:
    response = getattr(error, "response", None)
    if not isinstance(response, dict):
        return None
    code = response.get("Error", {}).get("Code")
    return str(code) if code is not None else None
