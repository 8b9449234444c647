"""Files on tickets: stored within the limits, listed per audience, delivered only to whoever may see them."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator, Mapping
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
from chalicelib.domain.errors import ConflictError, NotFoundError, ValidationError
from chalicelib.services.ports import Clock, IdSource

UPLOAD_SECONDS = 15 * 60  # how long a presigned POST may be used
ABANDONED_AFTER = timedelta(hours=1)  # a direct upload not finished by then never will be: its link expired long ago
LINK_SECONDS = 60  # how long a download link to S3 (for a file too large for a Lambda answer) may be used


class AttachmentRecords(Protocol):
    def add(self, attachment: Attachment) -> None: ...
    def get(self, ticket_id: str, attachment_id: str) -> Attachment | None: ...
    def of_ticket(self, ticket_id: str) -> list[Attachment]: ...
    def mark_stored(self, attachment: Attachment) -> bool: ...
    def assign(self, ticket_id: str, attachment_id: str, comment_id: str) -> bool: ...
    def unassign(self, ticket_id: str, attachment_id: str, comment_id: str) -> None: ...
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
    def presigned_get(self, ticket_id: str, attachment_id: str, headers: Mapping[str, str], expires_in: int) -> str: ...
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
    """A file to serve: its bytes through the desk (`body`), or, when too large for that, S3's short link (`url`)."""

    attachment: Attachment
    headers: dict[str, str]
    body: Iterator[bytes] | None
    url: str | None = None


class Attachments:
    def __init__(
        self,
        records: AttachmentRecords,
        blobs: AttachmentBlobs,
        clock: Clock,
        ids: IdSource,
        limits: AttachmentLimits | Callable[[], AttachmentLimits] | None = None,
    ) -> None:
        """`limits`: fixed, or read on each use (the desk configuration's, which an admin may change)."""
        self.records = records
        self.blobs = blobs
        self.clock = clock
        self.ids = ids
        self._limits = limits or AttachmentLimits()

    @property
    def limits(self) -> AttachmentLimits:
        return self._limits if isinstance(self._limits, AttachmentLimits) else self._limits()

    def store_bytes(
        self,
        ticket_id: str,
        comment_id: str | None,
        filename: str | None,
        declared_type: str | None,
        data: bytes,
        by: str,
        attachment_id: str | None = None,
    ) -> Attachment:
        """A file the desk received whole (mail, a form post): checked, sniffed, stored, recorded, counted.

        `attachment_id`, when the sender's message fixes it (mail: from its Message-ID and the part's place), makes
        storing it again (a redelivered notification) answer the file already stored instead of a second copy."""
        _check_role(by)
        if attachment_id is not None:
            if not valid_id(attachment_id):
                raise ValueError(f"not an attachment id: {attachment_id!r}")
            earlier = self.records.get(ticket_id, attachment_id)
            if earlier is not None and earlier.state == "stored":
                return earlier
        self.limits.check_file(len(data))
        self._check_count(ticket_id, comment_id, adding=1)
        attachment_id = attachment_id or self.ids.new_id()
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
        except ConflictError:
            # Another delivery of the same message recorded this fixed id first: its record points at the same key
            # (the same bytes), so the object stays; only this call's count is given back.
            self.records.release(ticket_id, len(data))
            earlier = self.records.get(ticket_id, attachment_id)
            if earlier is None:
                raise
            return earlier
        except Exception:
            self.records.release(ticket_id, len(data))
            self.blobs.delete(ticket_id, attachment_id)
            raise
        return attachment

    def begin_upload(
        self, ticket_id: str, comment_id: str | None, filename: str | None, declared_type: str | None, by: str
    ) -> Upload:
        """A presigned POST for one file, capped at what the ticket has room for, and a pending record of it.
        Direct uploads of this ticket begun long ago and never finished are cleared first (their links expired)."""
        _check_role(by)
        self.clear_abandoned(ticket_id)
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
        inline_limit: int | None = None,
    ) -> Download:
        """The file of this ticket, with the headers it must be served with. Another ticket's attachment id, a
        pending upload, or (for a requester) a note's file is NotFoundError: the answer never tells which.
        A file over `inline_limit` bytes comes as a short S3 link instead of bytes (a Lambda answers 6 MB)."""
        attachment = self._find(ticket_id, attachment_id)
        if attachment.state != "stored" or (for_requester and not attachment.visible_to_requester(public_comment_ids)):
            raise _not_found()
        headers = delivery_headers(attachment)
        if inline_limit is not None and attachment.size > inline_limit:
            url = self.blobs.presigned_get(ticket_id, attachment_id, headers, LINK_SECONDS)
            return Download(attachment=attachment, headers=headers, body=None, url=url)
        try:
            body = self.blobs.open(ticket_id, attachment_id)
        except UploadMissingError:
            raise _not_found() from None
        return Download(attachment=attachment, headers=headers, body=body)

    def attach(self, ticket_id: str, attachment_ids: list[str], comment_id: str) -> list[Attachment]:
        """Files uploaded to this ticket and not yet on a comment, put onto `comment_id` (before the comment is
        written): a pending direct upload is finished (checked) first. An id that is not such a file is refused
        and nothing is moved; a file another call attached meanwhile is refused too."""
        if not isinstance(attachment_ids, list) or not all(isinstance(i, str) for i in attachment_ids):
            raise ValidationError("attachments must be a list of attachment ids", {"attachments": "must be a list"})
        wanted = list(dict.fromkeys(attachment_ids))
        if not wanted:
            return []
        self.limits.check_count(len(wanted))
        found = []
        for attachment_id in wanted:
            try:
                attachment = self._find(ticket_id, attachment_id)
            except NotFoundError:
                raise ValidationError(
                    "no such upload on this ticket", {"attachments": f"{attachment_id} is not an upload of this ticket"}
                ) from None
            if attachment.comment_id is not None:
                raise ValidationError(
                    "that file is on a comment already", {"attachments": f"{attachment_id} is on a comment already"}
                )
            found.append(attachment)
        finished = [self.finish_upload(ticket_id, a.id) if a.state == "pending" else a for a in found]
        attached: list[Attachment] = []
        for attachment in finished:
            if not self.records.assign(ticket_id, attachment.id, comment_id):
                for done in attached:  # put back what this call moved: all or nothing
                    self.records.unassign(ticket_id, done.id, comment_id)
                raise ValidationError(
                    "that file is on a comment already", {"attachments": f"{attachment.id} is on a comment already"}
                )
            attached.append(replace(attachment, comment_id=comment_id))
        return attached

    def detach(self, ticket_id: str, attachments: list[Attachment], comment_id: str) -> None:
        """Undo attach() for a comment that was then not written: the files are uploads again, to attach anew."""
        for attachment in attachments:
            self.records.unassign(ticket_id, attachment.id, comment_id)

    def of_comment(self, ticket_id: str, comment_id: str) -> list[Attachment]:
        """The stored files that came with one comment, in upload order (a comment's files are stored before it)."""
        return [a for a in self.listing(ticket_id, for_requester=False) if a.comment_id == comment_id]

    def content(self, ticket_id: str, attachment_id: str) -> tuple[Attachment, bytes]:
        """A stored file and all its bytes (for the desk's own use, e.g. a mail that carries it); NotFoundError
        when it is not (or no longer) there."""
        attachment = self._find(ticket_id, attachment_id)
        if attachment.state != "stored":
            raise _not_found()
        try:
            return attachment, b"".join(self.blobs.open(ticket_id, attachment_id))
        except UploadMissingError:
            raise _not_found() from None

    def clear_abandoned(self, ticket_id: str) -> int:
        """Forget the ticket's direct uploads begun more than ABANDONED_AFTER ago and never finished: the record
        and whatever the browser may have stored (never counted against the ticket). One Query of the ticket's
        files; done whenever the ticket gets a new upload, so abandoned ones never pile up on a ticket in use."""
        cutoff = self.clock.now() - ABANDONED_AFTER
        stale = [a for a in self.records.of_ticket(ticket_id) if a.state == "pending" and a.created_at < cutoff]
        for attachment in stale:
            self._discard(attachment)
        return len(stale)

    def discard(self, attachment: Attachment) -> None:
        """A file stored for something that was then not written (a refused or conflicting comment): gone, and
        its bytes no longer counted against the ticket."""
        self._discard(attachment)
        if attachment.state == "stored":
            self.records.release(attachment.ticket_id, attachment.size)

    def discard_comment_files(self, ticket_id: str, comment_id: str) -> None:
        for attachment in self.records.of_ticket(ticket_id):
            if attachment.comment_id == comment_id:
                self.discard(attachment)

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
