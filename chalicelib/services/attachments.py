"""Files on tickets: stored within the limits, listed per audience, delivered only to whoever may see them."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, Protocol

from chalicelib.domain.attachments import (
    OCTET_STREAM,
    ROLES,
    SNIFF_BYTES,
    Attachment,
    AttachmentLimits,
    AttachmentTooLargeError,
    UploadMissingError,
    declared,
    delivery_headers,
    delivery_type,
    safe_filename,
    sniff,
    valid_id,
)
from chalicelib.domain.errors import NotFoundError, ValidationError
from chalicelib.services.ports import Clock, IdSource

UPLOAD_SECONDS = 15 * 60  # how long a presigned POST may be used


class AttachmentRecords(Protocol):
    def add(self, attachment: Attachment) -> None: ...
    def get(self, ticket_id: str, attachment_id: str) -> Attachment | None: ...
    def of_ticket(self, ticket_id: str) -> list[Attachment]: ...
    def mark_stored(self, attachment: Attachment) -> bool: ...
    def remove(self, ticket_id: str, attachment_id: str) -> None: ...
    def used(self, ticket_id: str) -> int: ...
    def reserve(self, ticket_id: str, size: int, limit: int) -> bool: ...
    def release(self, ticket_id: str, size: int) -> None: ...


class AttachmentBlobs(Protocol):
    def put(self, ticket_id: str, attachment_id: str, data: bytes, content_type: str) -> None: ...
    def presigned_post(self, ticket_id: str, attachment_id: str, max_bytes: int, expires_in: int) -> dict[str, Any]: ...
    def verify(self, ticket_id: str, attachment_id: str, max_bytes: int) -> tuple[int, bytes]: ...
    def sha256(self, ticket_id: str, attachment_id: str, max_bytes: int) -> tuple[int, str]: ...
    def open(self, ticket_id: str, attachment_id: str) -> Iterator[bytes]: ...
    def delete(self, ticket_id: str, attachment_id: str) -> None: ...


@dataclass(frozen=True)
class Upload:
    """A direct upload begun: the browser posts the file to `url` with `fields`, then the desk finishes it."""

    attachment: Attachment
    url: str
    fields: dict[str, str]
    max_bytes: int
    expires_at: datetime


@dataclass(frozen=True)
class Download:
    attachment: Attachment
    headers: dict[str, str]
    body: Iterator[bytes]


class Attachments:
    def __init__(
        self,
        records: AttachmentRecords,
        blobs: AttachmentBlobs,
        clock: Clock,
        ids: IdSource,
        limits: AttachmentLimits | None = None,
    ) -> None:
        self.records = records
        self.blobs = blobs
        self.clock = clock
        self.ids = ids
        self.limits = limits or AttachmentLimits()

    def store_bytes(
        self,
        ticket_id: str,
        comment_id: str | None,
        filename: str | None,
        declared_type: str | None,
        data: bytes,
        by: str,
    ) -> Attachment:
        """A file the desk received whole (mail, a form post): checked, sniffed, stored, recorded, counted."""
        _check_role(by)
        self.limits.check_file(len(data))
        self._check_count(ticket_id, comment_id, adding=1)
        attachment_id = self.ids.new_id()
        kind = declared(declared_type)
        attachment = Attachment(
            id=attachment_id,
            ticket_id=ticket_id,
            comment_id=comment_id,
            filename=safe_filename(filename, 1, kind),
            size=len(data),
            declared_type=kind,
            sniffed_type=sniff(data[:SNIFF_BYTES]),
            sha256=hashlib.sha256(data).hexdigest(),
            created_at=self.clock.now(),
            uploaded_by=by,
        )
        self._reserve(ticket_id, len(data))
        try:
            self.blobs.put(ticket_id, attachment_id, data, delivery_type(attachment))
            self.records.add(attachment)
        except Exception:
            self.records.release(ticket_id, len(data))
            self.blobs.delete(ticket_id, attachment_id)
            raise
        return attachment

    def begin_upload(
        self, ticket_id: str, comment_id: str | None, filename: str | None, declared_type: str | None, by: str
    ) -> Upload:
        """A presigned POST for one file, capped at what the ticket has room for, and a pending record of it."""
        _check_role(by)
        self._check_count(ticket_id, comment_id, adding=1)
        room = self.limits.max_ticket_bytes - self.records.used(ticket_id)
        if room <= 0:
            raise self.limits.ticket_full(1, self.limits.max_ticket_bytes - room)
        max_bytes = min(self.limits.max_file_bytes, room)
        now = self.clock.now()
        kind = declared(declared_type)
        attachment = Attachment(
            id=self.ids.new_id(),
            ticket_id=ticket_id,
            comment_id=comment_id,
            filename=safe_filename(filename, 1, kind),
            size=0,
            declared_type=kind,
            sniffed_type=OCTET_STREAM,
            sha256="",
            created_at=now,
            uploaded_by=by,
            state="pending",
        )
        self.records.add(attachment)
        post = self.blobs.presigned_post(ticket_id, attachment.id, max_bytes, UPLOAD_SECONDS)
        return Upload(
            attachment=attachment,
            url=str(post["url"]),
            fields={str(k): str(v) for k, v in post["fields"].items()},
            max_bytes=max_bytes,
            expires_at=now + timedelta(seconds=UPLOAD_SECONDS),
        )

    def finish_upload(self, ticket_id: str, attachment_id: str) -> Attachment:
        """Check what the browser stored (S3's policy is not trusted: the local run's S3 ignores it) and keep it
        within the limits, or delete it and refuse. Finishing a finished upload answers the stored file."""
        attachment = self._find(ticket_id, attachment_id)
        if attachment.state == "stored":
            return attachment
        try:
            size, head = self.blobs.verify(ticket_id, attachment_id, self.limits.max_file_bytes)
        except AttachmentTooLargeError:
            self.records.remove(ticket_id, attachment_id)  # verify deleted the object
            raise
        if size == 0:
            self._discard(attachment)
            raise ValidationError("the file is empty", {"file": "is empty"})
        hashed_size, digest = self.blobs.sha256(ticket_id, attachment_id, self.limits.max_file_bytes)
        if hashed_size != size:  # replaced between the two reads: refuse rather than record a size not stored
            self._discard(attachment)
            raise ValidationError("the file changed while it was checked", {"file": "changed; upload it again"})
        if not self.records.reserve(ticket_id, size, self.limits.max_ticket_bytes):
            self._discard(attachment)
            raise self.limits.ticket_full(size, self.records.used(ticket_id))
        stored = replace(attachment, size=size, sniffed_type=sniff(head), sha256=digest, state="stored")
        if not self.records.mark_stored(stored):
            self.records.release(ticket_id, size)  # another call finished it first and counted it
            return self._find(ticket_id, attachment_id)
        return stored

    def listing(
        self, ticket_id: str, for_requester: bool, public_comment_ids: frozenset[str] | set[str] = frozenset()
    ) -> list[Attachment]:
        """The ticket's stored files in upload order; a requester's list leaves out every file of an internal note."""
        stored = [a for a in self.records.of_ticket(ticket_id) if a.state == "stored"]
        if for_requester:
            stored = [a for a in stored if a.visible_to_requester(public_comment_ids)]
        return sorted(stored, key=lambda a: (a.created_at, a.id))

    def for_download(
        self,
        ticket_id: str,
        attachment_id: str,
        for_requester: bool,
        public_comment_ids: frozenset[str] | set[str] = frozenset(),
    ) -> Download:
        """The file of this ticket, with the headers it must be served with. Another ticket's attachment id, a
        pending upload, or (for a requester) a note's file is NotFoundError: the answer never tells which."""
        attachment = self._find(ticket_id, attachment_id)
        if attachment.state != "stored" or (for_requester and not attachment.visible_to_requester(public_comment_ids)):
            raise _not_found()
        try:
            body = self.blobs.open(ticket_id, attachment_id)
        except UploadMissingError:
            raise _not_found() from None
        return Download(attachment=attachment, headers=delivery_headers(attachment), body=body)

    def _find(self, ticket_id: str, attachment_id: str) -> Attachment:
        if not (valid_id(ticket_id) and valid_id(attachment_id)):
            raise _not_found()
        attachment = self.records.get(ticket_id, attachment_id)
        if attachment is None or attachment.ticket_id != ticket_id:
            raise _not_found()
        return attachment

    def _check_count(self, ticket_id: str, comment_id: str | None, adding: int) -> None:
        if comment_id is None:
            return
        on_comment = sum(1 for a in self.records.of_ticket(ticket_id) if a.comment_id == comment_id)
        self.limits.check_count(on_comment + adding)

    def _reserve(self, ticket_id: str, size: int) -> None:
        if not self.records.reserve(ticket_id, size, self.limits.max_ticket_bytes):
            raise self.limits.ticket_full(size, self.records.used(ticket_id))

    def _discard(self, attachment: Attachment) -> None:
        self.blobs.delete(attachment.ticket_id, attachment.id)
        self.records.remove(attachment.ticket_id, attachment.id)


def _check_role(by: str) -> None:
    if by not in ROLES:
        raise ValueError(f"unknown uploader role {by!r}")


def _not_found() -> NotFoundError:
    return NotFoundError("no such attachment on this ticket")
