"""Files a mail of the desk carries: which of them fit SES's size limit, and the MIME that carries them.

Pure functions. `carry` decides, when the mail is recorded, which files go with it (sizes are known from their
records, so the text can say which are attached and which wait on the ticket); `with_files` turns the recorded
mail's raw bytes and those files' bytes into the message sent, at each delivery. The outbox item never holds
the files (a DynamoDB item is at most 400 KB), only their ids, and the same item always builds the same bytes.

The original message is not parsed and written out again: its headers are kept byte for byte (the `email`
package's folder would undo what chalicelib/mail/mime.py does for address headers). Its content headers and body
become the first part of a `multipart/mixed`; each file is one base64 part, its name in RFC 2231 parameters.
The standard library's `email` is imported only when a mail carries a file.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import TYPE_CHECKING

from chalicelib.domain.attachments import OCTET_STREAM, delivery_type, safe_filename

if TYPE_CHECKING:
    from chalicelib.domain.attachments import Attachment

# Classic SES (SendRawEmail) takes at most 10 MB a message, counted after encoding; read as 10,000,000 bytes,
# the smaller of the two readings of "MB".
SES_MESSAGE_LIMIT = 10_000_000
# What the mail is without its files: the outbox item that holds it (with its subject, text and HTML besides)
# is at most 400 KB, and a margin for the headers of multipart/mixed.
BODY_ALLOWANCE = 400 * 1024 + 64 * 1024
FILE_BUDGET = SES_MESSAGE_LIMIT - BODY_ALLOWANCE  # encoded bytes of file parts: about 6.9 MB of files
# A part's own headers: the type, the disposition and the file's name twice (Content-Type's `name` for older
# readers, Content-Disposition's `filename`), each up to 150 characters of up to 9 bytes once percent-encoded.
PART_ALLOWANCE = 4 * 1024
BASE64_LINE = 76  # characters of base64 per line, then CRLF (RFC 2045 6.8)


def encoded_size(size: int) -> int:
    """What a file of `size` bytes adds to a mail: its base64 (4 characters per 3 bytes, CRLF after every 76)
    and an allowance for its part's headers. An upper bound, so a budget of these is one SES keeps to."""
    characters = 4 * -(-size // 3)
    return characters + 2 * -(-characters // BASE64_LINE) + PART_ALLOWANCE


def carry(files: Sequence[Attachment], budget: int = FILE_BUDGET) -> tuple[list[Attachment], list[Attachment]]:
    """(carried, left on the ticket): in their order, each file that still fits the budget is carried; one that
    does not is left (a later, smaller one may still fit). The same files always give the same answer."""
    carried: list[Attachment] = []
    left: list[Attachment] = []
    used = 0
    for attachment in files:
        cost = encoded_size(attachment.size)
        if used + cost <= budget:
            carried.append(attachment)
            used += cost
        else:
            left.append(attachment)
    return carried, left


def part_type(attachment: Attachment) -> tuple[str, str, dict[str, str]]:
    """(maintype, subtype, parameters) a file is carried as: the type it is downloaded with (`delivery_type`),
    and bytes for anything a reader could render as a page or image with script (HTML, SVG, XML, CSS)."""
    essence, _, rest = delivery_type(attachment).partition(";")
    essence = essence.strip().lower()
    if _may_render(essence):
        essence, rest = OCTET_STREAM, ""
    maintype, _, subtype = essence.partition("/")
    params: dict[str, str] = {}
    for parameter in rest.split(";"):
        name, equals, value = parameter.partition("=")
        if equals and name.strip():
            params[name.strip().lower()] = value.strip().strip('"')
    return maintype, subtype, params


def _may_render(essence: str) -> bool:
    """Whether a mail reader could show a type as a page or run script in it (HTML, SVG, XML, CSS, script, any
    text but plain): never carried under such a type, whatever a record says."""
    maintype, slash, subtype = essence.partition("/")
    if not slash or not maintype or not subtype or "/" in subtype:
        return True
    markup = any(word in subtype for word in ("html", "svg", "script", "css")) or subtype == "xml"
    return markup or subtype.endswith("+xml") or (maintype == "text" and subtype != "plain")


def file_part(attachment: Attachment, data: bytes, number: int = 1) -> bytes:
    """One file as a MIME part (its headers, a blank line, base64 lines; CRLF line ends): a download
    (`Content-Disposition: attachment`), named by RFC 2231 parameters where the name is not plain ASCII."""
    from email.message import EmailMessage
    from email.policy import SMTP

    policy = SMTP.clone(cte_type="7bit")
    maintype, subtype, params = part_type(attachment)
    name = safe_filename(attachment.filename, number, f"{maintype}/{subtype}")
    part = EmailMessage(policy=policy)
    part.set_content(
        data,
        maintype=maintype,
        subtype=subtype,
        cte="base64",
        disposition="attachment",
        filename=name,
        params={**params, "name": name},
    )
    del part["MIME-Version"]  # it belongs on the message only
    return part.as_bytes(policy=policy)


def _split(raw: bytes) -> tuple[bytes, list[bytes], bytes]:
    """(line end, header fields each with its continuation lines, body) of a raw message."""
    first = raw.find(b"\n")
    linesep = b"\r\n" if first > 0 and raw[first - 1 : first] == b"\r" else b"\n"
    head, blank, body = raw.partition(linesep + linesep)
    if not blank:
        raise ValueError("not a mail: no blank line ends its headers")
    fields: list[bytes] = []
    for line in head.split(linesep):
        if line[:1] in (b" ", b"\t") and fields:
            fields[-1] += linesep + line
        elif line:
            fields.append(line)
    return linesep, fields, body


def _is_content_field(field: bytes) -> bool:
    return field.split(b":", 1)[0].strip().lower().startswith(b"content-")


def _boundary(raw: bytes, parts: Sequence[bytes]) -> str:
    """A boundary made of what the message holds (the same mail, the same boundary) that none of it contains.
    Its "=_" never occurs in base64, and the random boundary of the mail's own alternative part is in `raw`."""
    digest = hashlib.sha256(raw)
    for part in parts:
        digest.update(hashlib.sha256(part).digest())
    seed = digest.hexdigest()
    for attempt in range(100):
        boundary = f"=_desk_{seed[:40]}_{attempt}"
        marker = boundary.encode("ascii")
        if marker not in raw and not any(marker in part for part in parts):
            return boundary
    raise ValueError("no boundary found that the message does not contain")  # pragma: no cover - 100 collisions


def with_files(raw: bytes, files: Sequence[tuple[Attachment, bytes]]) -> bytes:
    """The mail `raw` with `files` as attachments: multipart/mixed around its body (its own content headers
    moved into the first part), then one part per file, in order. Without files, `raw` unchanged.

    ValueError when `raw` is not a mail (no blank line after its headers)."""
    if not files:
        return raw
    linesep, fields, body = _split(raw)
    parts = [
        file_part(attachment, data, number).replace(b"\r\n", linesep)
        for number, (attachment, data) in enumerate(files, 1)
    ]
    boundary = _boundary(raw, parts)
    delimiter = b"--" + boundary.encode("ascii")
    top = [field for field in fields if not _is_content_field(field)]
    if not any(field.split(b":", 1)[0].strip().lower() == b"mime-version" for field in top):
        top.append(b"MIME-Version: 1.0")
    top.append(b"Content-Type: multipart/mixed;" + linesep + b' boundary="' + boundary.encode("ascii") + b'"')
    inner = [field for field in fields if _is_content_field(field)] or [b"Content-Type: text/plain; charset=us-ascii"]
    out = [linesep.join(top), linesep, linesep, delimiter, linesep, linesep.join(inner), linesep, linesep, body]
    if not body.endswith(linesep):
        out.append(linesep)
    for part in parts:
        out += [delimiter, linesep, part]
        if not part.endswith(linesep):
            out.append(linesep)
    out += [delimiter, b"--", linesep]
    return b"".join(out)
