"""multipart/form-data as browsers post it: byte-exact files, text fields, and the malformed bodies refused."""

from __future__ import annotations

import pytest
from urllib3.filepost import encode_multipart_formdata

from chalicelib.domain.errors import MalformedRequestError, ValidationError
from chalicelib.web.multipart import parse

TRICKY = b"\x89PNG\r\n\x1a\n\r\n--not-the-boundary\r\n\x00\xff\r\n"


def test_text_fields_and_files_come_back_byte_exact() -> None:
    body, content_type = encode_multipart_formdata(
        [
            ("body", "Grüße"),
            ("files", ("shot.png", TRICKY, "image/png")),
            ("files", ("log.txt", b"line\n", "text/plain")),
        ]
    )
    parsed = parse(body, content_type)
    assert parsed.fields == {"body": "Grüße"}
    assert [(f.field, f.filename, f.content_type, f.data) for f in parsed.files] == [
        ("files", "shot.png", "image/png", TRICKY),
        ("files", "log.txt", "text/plain", b"line\n"),
    ]


def test_a_file_input_left_empty_is_no_file() -> None:
    body, content_type = encode_multipart_formdata([("body", "hi"), ("files", ("", b"", "application/octet-stream"))])
    assert parse(body, content_type).files == []


def test_a_name_as_browsers_escape_it_is_read_back() -> None:
    """HTML's form encoding writes `"` as %22 (and CR, LF as %0D, %0A) in a part's filename."""
    body = (
        b'--b\r\nContent-Disposition: form-data; name="files"; filename="r\xc3\xa9%22sum\xc3\xa9.txt"\r\n'
        b"Content-Type: text/plain\r\n\r\nx\r\n--b--\r\n"
    )
    assert parse(body, "multipart/form-data; boundary=b").files[0].filename == 'ré"sumé.txt'


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b'--b\r\nContent-Disposition: form-data; name="a"\r\n\r\nx\r\n', "multipart/form-data; boundary=b"),
        (b'--b\r\nContent-Disposition: form-data; name="a"\r\n\r\nx\r\n--b--', "multipart/form-data"),
        (b"--b\r\nContent-Type: text/plain\r\n\r\nx\r\n--b--\r\n", "multipart/form-data; boundary=b"),
        (b"--b\r\nContent-Disposition: form-data\r\n\r\nx\r\n--b--\r\n", "multipart/form-data; boundary=b"),
    ],
    ids=["no closing boundary", "no boundary parameter", "not form-data", "no name"],
)
def test_a_malformed_body_is_refused_as_malformed(body: bytes, content_type: str) -> None:
    with pytest.raises(MalformedRequestError):
        parse(body, content_type)


def test_a_text_field_sent_twice_is_refused() -> None:
    body, content_type = encode_multipart_formdata([("body", "one"), ("body", "two")])
    with pytest.raises(ValidationError):
        parse(body, content_type)
