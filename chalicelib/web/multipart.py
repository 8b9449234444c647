"""multipart/form-data (RFC 7578), as browsers post a form with a file field: text fields and files, byte-exact.

Pure and small on purpose (the standard library's `cgi` is gone, and its `email` parser is built for mail, not for
byte-exact uploads): the body is split on its boundary, each part's headers are read with `email`'s header parser.
"""

from __future__ import annotations

from dataclasses import dataclass
from email.message import Message
from email.parser import HeaderParser

from chalicelib.domain.errors import MalformedRequestError, PayloadTooLargeError, ValidationError

MAX_PARTS = 60  # a page's form has a dozen fields and at most a few dozen files
MAX_HEADER_BYTES = 8 * 1024  # one part's headers


@dataclass(frozen=True)
class PostedFile:
    field: str
    filename: str  # as the browser sent it (cleaned later by the attachments domain)
    content_type: str  # as declared; never trusted
    data: bytes

    @property
    def size(self) -> int:
        return len(self.data)


@dataclass(frozen=True)
class Multipart:
    fields: dict[str, str]
    files: list[PostedFile]


def boundary_of(content_type: str) -> str:
    """The boundary parameter of a multipart/form-data Content-Type; MalformedRequestError without one."""
    message = Message()
    message["Content-Type"] = content_type
    boundary = message.get_param("boundary")
    if not isinstance(boundary, str) or not 1 <= len(boundary) <= 70:
        raise MalformedRequestError("the multipart form has no boundary")
    return boundary


def parse(body: bytes, content_type: str) -> Multipart:
    """The form's text fields (UTF-8; a name sent twice is refused, as for url-encoded forms) and its files
    (several under one name are fine: `<input type=file multiple>`). A file input left empty sends a part with
    an empty filename and no bytes: it is no file."""
    delimiter = b"--" + boundary_of(content_type).encode("ascii", "replace")
    chunks = (b"\r\n" + body).split(b"\r\n" + delimiter)
    if len(chunks) < 3 or not chunks[-1].startswith(b"--"):
        raise MalformedRequestError("the multipart form is not complete (its closing boundary is missing)")
    parts = chunks[1:-1]
    if len(parts) > MAX_PARTS:
        raise PayloadTooLargeError(f"the form has more than {MAX_PARTS} parts")
    fields: dict[str, str] = {}
    repeated: set[str] = set()
    files: list[PostedFile] = []
    for part in parts:
        name, filename, declared, data = _part(part)
        if filename is not None:
            if filename or data:
                files.append(PostedFile(name, filename, declared or "application/octet-stream", data))
            continue
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            raise MalformedRequestError("the form is not UTF-8") from None
        if name in fields:
            repeated.add(name)
        fields[name] = text
    if repeated:
        raise ValidationError(
            "a field was sent more than once", dict.fromkeys(sorted(repeated), "was sent more than once")
        )
    return Multipart(fields, files)


def _part(part: bytes) -> tuple[str, str | None, str | None, bytes]:
    """(field name, filename or None for a text field, declared type, content) of one part."""
    if part.startswith(b"--"):
        raise MalformedRequestError("the multipart form has a part after its closing boundary")
    head, separator, data = part.removeprefix(b"\r\n").partition(b"\r\n\r\n")
    if not separator:
        if part.strip(b"\r\n"):
            raise MalformedRequestError("a part of the multipart form has no headers")
        head, data = b"", b""
    if len(head) > MAX_HEADER_BYTES:
        raise MalformedRequestError("a part of the multipart form has too long headers")
    headers = HeaderParser().parsestr(head.decode("utf-8", "surrogateescape") + "\r\n\r\n", headersonly=True)
    disposition = headers.get("Content-Disposition")
    if disposition is None or headers.get_content_disposition() != "form-data":
        raise MalformedRequestError("a part of the multipart form is not form-data")
    name = headers.get_param("name", header="content-disposition")
    if not isinstance(name, str) or not name:
        raise MalformedRequestError("a part of the multipart form has no name")
    filename = headers.get_filename()
    declared = headers.get_content_type() if headers.get("Content-Type") else None
    return _text(name), _text(filename) if filename is not None else None, declared, data


def _text(value: str) -> str:
    """A header parameter as the browser meant it: browsers send UTF-8 bytes in names (read here as surrogates),
    and write `"`, CR and LF in a name as %22, %0D and %0A (HTML's multipart/form-data encoding algorithm)."""
    text = value.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    return text.replace("%22", '"').replace("%0D", "\r").replace("%0A", "\n")
