"""Files on tickets over HTTP: uploads (a page's multipart post, or the API's direct upload to S3), the lists shown
with the conversation, and downloads through the three authorised doors (API token, console session, portal link).

Every download is the attachments service's: the ticket's own file only, a requester never a note's, always a
download with the sniffed type and `nosniff` (chalicelib/domain/attachments.py delivery_headers).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode

from chalice.app import Request, Response

from chalicelib import wiring
from chalicelib.domain.attachments import Attachment, AttachmentTooLargeError, delivery_type, size_text
from chalicelib.domain.errors import ValidationError
from chalicelib.web import present
from chalicelib.web.http import (
    MULTIPART,
    handled,
    json_body,
    json_response,
    media_type,
    posted_files,
    query,
    signed_in_agent,
)
from chalicelib.web.views import for_people

if TYPE_CHECKING:
    from chalicelib.web.multipart import PostedFile

REQUESTER = "requester"
AGENT = "agent"


def api_path(ticket_id: str, attachment_id: str) -> str:
    return f"/tickets/{quote(ticket_id)}/attachments/{quote(attachment_id)}"


def console_path(ticket_id: str, attachment_id: str) -> str:
    return f"/console/tickets/{quote(ticket_id)}/attachments/{quote(attachment_id)}"


def portal_path(ticket_id: str, attachment_id: str, token: str) -> str:
    return f"/portal/tickets/{quote(ticket_id)}/attachments/{quote(attachment_id)}?{urlencode({'token': token})}"


def shown(attachment: Attachment, url: str, *, for_agent: bool) -> dict[str, Any]:
    """One file as the API and the pages show it; agents also see where it came from and its checksum."""
    item: dict[str, Any] = {
        "id": attachment.id,
        "filename": attachment.filename,
        "size": attachment.size,
        "size_text": size_text(attachment.size),
        "content_type": delivery_type(attachment).split(";")[0],
        "created_at": present.when(attachment.created_at),
        "url": url,
    }
    if for_agent:
        item["comment_id"] = attachment.comment_id
        item["uploaded_by"] = attachment.uploaded_by
        item["sha256"] = attachment.sha256
        if attachment.state != "stored":
            item["state"] = attachment.state
    return item


def grouped(files: Iterable[Attachment]) -> dict[str | None, list[Attachment]]:
    """The files by the comment they came with (None: the ticket's own, from the form or mail that opened it)."""
    by_comment: dict[str | None, list[Attachment]] = {}
    for attachment in files:
        by_comment.setdefault(attachment.comment_id, []).append(attachment)
    return by_comment


def check_posted(files: list[PostedFile], on_comment: bool) -> None:
    """Refuse, before anything is written, what the limits refuse anyway: too many files, a file too large or empty."""
    limits = wiring.attachments().limits
    if on_comment or files:
        limits.check_count(len(files))
    for posted in files:
        name = posted.filename or "a file"
        try:
            limits.check_file(posted.size)
        except ValidationError:
            raise ValidationError(f"{name} is empty", {"files": f"{name} is empty: choose it again"}) from None
        except AttachmentTooLargeError as error:
            raise AttachmentTooLargeError(
                f"{name} is {size_text(posted.size)}, over the limit of {size_text(limits.max_file_bytes)} for a file",
                size=posted.size,
                limit=limits.max_file_bytes,
            ) from error


def store_posted(ticket_id: str, comment_id: str | None, files: list[PostedFile], by: str) -> list[Attachment]:
    """A page's files stored on the ticket (for a comment: before the comment is written); all or none."""
    if not files:
        return []
    check_posted(files, comment_id is not None)
    service = wiring.attachments()
    stored: list[Attachment] = []
    try:
        for posted in files:
            stored.append(
                service.store_bytes(ticket_id, comment_id, posted.filename, posted.content_type, posted.data, by)
            )
    except Exception:
        for attachment in stored:
            service.discard(attachment)
        raise
    return stored


# the API ----------------------------------------------------------------------------------------------------


@handled
def upload(request: Request, ticket_id: str) -> Response:
    """Files for a ticket, not yet on a comment (a comment then names them in `attachments`). A multipart body
    stores its files now (a page's 4 MB at most); a JSON body `{"filename", "content_type"}` begins a direct
    upload to S3: the answer's `upload` is the form to post the file to, up to `max_bytes`."""
    signed_in_agent(request)
    ticket = wiring.desk()._ticket(ticket_id)
    service = wiring.attachments()
    if media_type(request) == MULTIPART:
        files = posted_files(request)
        if not files:
            raise ValidationError("choose a file to upload", {"file": "is required"})
        stored = store_posted(ticket.id, None, files, AGENT)
        return json_response(
            {"attachments": [shown(a, api_path(ticket.id, a.id), for_agent=True) for a in stored]}, 201
        )
    body = json_body(request)
    if not isinstance(body, dict) or set(body) - {"filename", "content_type"}:
        raise ValidationError('send {"filename", "content_type"}', {"": "only filename and content_type"})
    filename, declared = body.get("filename"), body.get("content_type")
    if not isinstance(filename, str) or not filename.strip():
        raise ValidationError("the file needs a name", {"filename": "is required"})
    if declared is not None and not isinstance(declared, str):
        raise ValidationError("content_type must be text", {"content_type": "must be a string"})
    begun = service.begin_upload(ticket.id, None, filename, declared, AGENT)
    return json_response(
        {
            "attachment": shown(begun.attachment, api_path(ticket.id, begun.attachment.id), for_agent=True),
            "upload": {
                "url": begun.url,
                "fields": begun.fields,
                "max_bytes": begun.max_bytes,
                "expires_at": present.when(begun.expires_at),
            },
        },
        201,
    )


@handled
def listing(request: Request, ticket_id: str) -> Response:
    signed_in_agent(request)
    ticket = wiring.desk()._ticket(ticket_id)
    files = wiring.attachments().listing(ticket.id, for_requester=False)
    return json_response({"attachments": [shown(a, api_path(ticket.id, a.id), for_agent=True) for a in files]})


@handled
def download(request: Request, ticket_id: str, attachment_id: str) -> Response:
    """An agent's download by the API's bearer token."""
    signed_in_agent(request)
    return _serve(ticket_id, attachment_id, for_requester=False)


def console_download(request: Request, ticket_id: str, attachment_id: str) -> Response:
    """An agent's download by the console's session (the cookie lives under /console); a link that no longer
    works is a console page (signed out: the sign-in page, then back here). The console's modules load here."""
    from chalicelib.web.console.session import console_view, signed_in

    @console_view
    def view(request: Request) -> Response:
        signed_in(request, renew=False)
        return _serve(ticket_id, attachment_id, for_requester=False)

    return view(request)


@for_people
def portal_download(request: Request, ticket_id: str, attachment_id: str) -> Response:
    """The requester's download by their portal link: their ticket's files of public comments and their own."""
    detail = wiring.desk().portal_ticket(ticket_id, query(request, "token"))
    public = {c.id for c in detail.comments if c.public}
    return _serve(detail.ticket.id, attachment_id, for_requester=True, public_comment_ids=public)


def _serve(
    ticket_id: str, attachment_id: str, *, for_requester: bool, public_comment_ids: set[str] | None = None
) -> Response:
    ticket = wiring.desk()._ticket(ticket_id) if not for_requester else None
    found = wiring.attachments().for_download(
        ticket.id if ticket else ticket_id,
        attachment_id,
        for_requester,
        frozenset(public_comment_ids or ()),
        inline_limit=wiring.settings().download_inline_bytes,
    )
    if found.url is not None:
        return Response(body="", status_code=302, headers={"Location": found.url, "Cache-Control": "no-store"})
    body = b"".join(found.body or ())
    return Response(body=body, status_code=200, headers=dict(found.headers.items()))
