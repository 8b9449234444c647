"""Address headers no display name can break, parsed back by a strict reader of its own.

Every From/To/Reply-To that `build_message` writes is unfolded as RFC 5322 says (a CRLF before a space or tab
is removed, nothing else), read with the RFC 5322 mailbox grammar (atoms, quoted-strings, RFC 2047 encoded-words
decoded here, one angle-addr, nothing else), and read again by the standard library's header registry and by
the legacy address parser moto's SES uses: each must find exactly one mailbox, with the right address and the
display name the code intends (`header_text(name, NAME_LIMIT)`).

Run alone, with the case count: `.venv/bin/pytest -q tests/mail/test_header_properties.py -p no:cacheprovider
--hypothesis-show-statistics`.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import email
import email.policy
import re
import string
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import getaddresses

import pytest
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from chalicelib.mail import Envelope, RenderedMail, build_message, header_text
from chalicelib.mail.mime import LINE_LIMIT, NAME_LIMIT

WHEN = datetime(2025, 3, 4, 10, 30, tzinfo=UTC)
ENVELOPE = Envelope(
    sender="desk@example.org",
    sender_name="Acme Help Desk",
    to="ada@example.com",
    to_name="Ada Lovelace",
    reply_to="support@example.org",
    message_key="t1#ack",
    thread_key="t1",
    automated=False,
    list_unsubscribe=None,
)
MAIL = RenderedMail("[HD-1001] We received your request: VPN", "Thanks.\n", "<p>Thanks.</p>\n")
ADDRESS_FIELDS = ("From", "To", "Reply-To")
SEVENTY_SIX = "Lovelace" + "x" * 54 + ", Ada Countess"  # the case: folded, the comma split the name
TWO_MAILBOXES = "Bob <mallory@evil.example>, Eve <eve@evil.example>"
FOLDED_MAILBOXES = f"{TWO_MAILBOXES}, and everyone else at the office"  # long enough to be folded

ATEXT = string.ascii_letters + string.digits + "!#$%&'*+-/=?^_`{|}~"
WSP = " \t"
ENCODED_WORD = re.compile(r"=\?([^?\s]+)\?([bBqQ])\?([^?\s]*)\?=")
NASTY = [
    *',"\\<>@;:()[].=?_ \t\r\n\x00\x1b\x7f\x85\u2028\u2029\u202e\ufeff\u200b',
    "=?",
    "?=",
    "=?utf-8?q?x?=",
    "é",
    "ß",
    "漢",
    "字",
    "😀",
    "👩‍👩‍👧",
    "\u0301",
    "\ud800",
    "Bob <mallory@evil.example>",
    ", Eve <eve@evil.example>",
    "undisclosed-recipients:;",
    "A" * 40,
]


@dataclass(frozen=True)
class Mailbox:
    display_name: str
    address: str
    words: tuple[str, ...] = dataclasses.field(
        default=(), compare=False
    )  # the name's words, decoded: for readers that err


def unfolded_fields(raw: bytes) -> dict[str, list[str]]:
    """The header block, checked line by line and unfolded: each field's values by field name."""
    head = raw.split(b"\r\n\r\n", 1)[0]
    assert head.isascii()
    fields: dict[str, list[str]] = {}
    field = ""
    for line in head.decode("ascii").split("\r\n"):
        assert "\r" not in line
        assert "\n" not in line
        assert len(line) <= 998
        if line[:1] in (" ", "\t"):
            assert field, "a header block cannot start with a continuation line"
            assert line.strip(WSP), "a folded line of whitespace only"
            fields[field][-1] += line  # unfolding removes the CRLF, and only the CRLF (RFC 5322 2.2.3)
        else:
            field, _, value = line.partition(":")
            assert field, line
            assert all(33 <= ord(char) <= 126 for char in field), line
            fields.setdefault(field, []).append(value)
        if field in ADDRESS_FIELDS and len(line) > LINE_LIMIT:
            # only an address too long to share a line: alone after the field name, or alone on its line
            assert re.fullmatch(r"(?:(?:From|To|Reply-To): [^\s<>]+| <[^\s<>]+>)", line), line
    return fields


def decoded_word(charset: str, encoding: str, text: str) -> str:
    """One RFC 2047 encoded-word, decoded here (not by the email package), refusing anything malformed."""
    assert charset.lower() == "utf-8"
    if encoding in "bB":
        data = base64.b64decode(text, validate=True)
        assert base64.b64encode(data).decode("ascii") == text  # canonical, no stray padding
    else:
        assert re.fullmatch(r"(?:[A-Za-z0-9!*+\-/_]|=[0-9A-F]{2})*", text)  # RFC 2047 5 (3): safe in a phrase
        data = binascii.a2b_qp(text.replace("_", " "))
    return data.decode("utf-8")  # strict: every word holds whole UTF-8 characters


def strict_mailbox(value: str) -> Mailbox:
    """The one RFC 5322 mailbox `value` is: [phrase] "<" addr-spec ">" or a bare addr-spec; AssertionError for
    anything else: a second mailbox, a group, a comment, a special outside quotes, an unterminated quote."""
    i, n = 0, len(value)
    words: list[tuple[str, str]] = []  # (kind, text): kind "ew" for an encoded-word, "word" otherwise
    address = None
    while i < n:
        if value[i] in WSP:
            i += 1
            continue
        assert address is None, f"something after the address: {value[i:]!r}"
        if value[i] == '"':
            i += 1
            quoted: list[str] = []
            while True:
                assert i < n, "an unterminated quoted-string"
                char = value[i]
                if char == '"':
                    i += 1
                    break
                if char == "\\":
                    assert i + 1 < n, "a quoted-pair at the end"
                    assert 32 <= ord(value[i + 1]) <= 126, "a quoted-pair of a character not printable"
                    quoted.append(value[i + 1])
                    i += 2
                    continue
                assert 32 <= ord(char) <= 126, f"not qtext: {char!r}"
                quoted.append(char)
                i += 1
            assert "=?" not in "".join(quoted), "an encoded-word in a quoted-string: readers disagree on it"
            words.append(("word", "".join(quoted)))
        elif value[i] == "<":
            end = value.index(">", i)
            address = value[i + 1 : end]
            i = end + 1
        else:
            j = i
            while j < n and value[j] not in WSP:
                j += 1
            token = value[i:j]
            match = ENCODED_WORD.fullmatch(token)
            if match:
                words.append(("ew", decoded_word(*match.groups())))
            elif "@" in token and not words:
                address = token  # a bare addr-spec: no display name at all
            else:
                assert all(char in ATEXT for char in token), f"not an atom: {token!r}"
                assert "=?" not in token, "an atom that reads as an encoded-word"
                words.append(("word", token))
            i = j
    assert address is not None, "no address"
    local, at, domain = address.partition("@")
    assert at, address
    assert local, address
    assert domain, address
    assert "@" not in domain, address
    assert all(char in ATEXT + "." for char in local), address
    assert all(char in string.ascii_letters + string.digits + "-." for char in domain), address
    name = ""
    for index, (kind, word) in enumerate(words):
        # whitespace between two encoded-words is not part of the name (RFC 2047 6.2); elsewhere it is one space
        joined = index > 0 and not (kind == "ew" and words[index - 1][0] == "ew")
        name += (" " if joined else "") + word
    return Mailbox(name, address, tuple(word for _, word in words))


def parsed(raw: bytes) -> EmailMessage:
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


def _keeps_the_space_between_encoded_words() -> bool:
    """Python's own address parser keeps the space between two encoded-words of a display name (gh-128110,
    fixed in later releases); where it does, it is held to exactly that reading, elsewhere to the name."""
    (one,) = parsed(b"To: =?utf-8?q?a?= =?utf-8?q?b?= <a@b.example>\r\n\r\n")["To"].addresses
    return bool(one.display_name == "a b")


PYTHON_KEEPS_THE_SPACE = _keeps_the_space_between_encoded_words()


def check(envelope: Envelope) -> None:
    """Every address header of the mail this envelope gives is one mailbox, whoever reads it."""
    raw = build_message(envelope, MAIL, WHEN)
    fields = unfolded_fields(raw)
    message = parsed(raw)
    expected = {
        "From": Mailbox(header_text(envelope.sender_name, NAME_LIMIT), envelope.sender),
        "To": Mailbox(header_text(envelope.to_name, NAME_LIMIT), envelope.to),
        "Reply-To": Mailbox(header_text(envelope.reply_to_name, NAME_LIMIT), envelope.reply_to or ""),
    }
    for field in ADDRESS_FIELDS:
        if field == "Reply-To" and envelope.reply_to is None:
            assert field not in fields
            continue
        (value,) = fields[field]
        want = expected[field]
        read = strict_mailbox(value)
        assert read == want, field
        header = message[field]
        assert len(message.get_all(field) or []) == 1
        assert not header.defects, (field, header.defects)
        (one,) = header.addresses
        python_reads = " ".join(read.words) if PYTHON_KEEPS_THE_SPACE else want.display_name
        assert (one.display_name, one.addr_spec) == (python_reads, want.address), field
        legacy = getaddresses([value])  # compat32, as moto's SES turns To/Cc/Bcc into recipients
        assert [address for _, address in legacy] == [want.address], field
    assert "Bcc" not in message
    assert "Cc" not in message


def names() -> st.SearchStrategy[str]:
    pieces = st.one_of(st.sampled_from(NASTY), st.characters(codec=None), st.characters(codec="ascii"))
    short = st.lists(pieces, max_size=30).map("".join)
    long = st.lists(pieces, min_size=60, max_size=160).map("".join)
    return st.one_of(short, long, st.text(max_size=300), st.text(alphabet=ATEXT + " ", max_size=120))


def addresses() -> st.SearchStrategy[str]:
    atom = st.text(alphabet=ATEXT, min_size=1, max_size=20)
    local = st.lists(atom, min_size=1, max_size=4).map(".".join).filter(lambda text: len(text) <= 64)
    label = st.from_regex(r"[a-z0-9](?:[a-z0-9-]{0,20}[a-z0-9])?", fullmatch=True)
    domain = st.lists(label, min_size=2, max_size=8).map(".".join)
    return st.builds(lambda a, b: f"{a}@{b}", local, domain).filter(lambda text: len(text) <= 254)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(to_name=names(), sender_name=names(), to=addresses(), sender=addresses(), reply=st.booleans())
@example(to_name=SEVENTY_SIX, sender_name="Acme", to="ada@example.com", sender="desk@example.org", reply=True)
@example(
    to_name=FOLDED_MAILBOXES,
    sender_name=FOLDED_MAILBOXES,
    to="ada@example.com",
    sender="desk@example.org",
    reply=False,
)
def test_every_display_name_gives_exactly_one_mailbox_with_its_address(
    to_name: str, sender_name: str, to: str, sender: str, reply: bool
) -> None:
    envelope = replace(
        ENVELOPE, to_name=to_name, sender_name=sender_name, to=to, sender=sender, reply_to=sender if reply else None
    )
    check(envelope)
    if reply:  # the desk's inbound Reply-To carries the desk's name, as From does
        check(replace(envelope, reply_to_name=sender_name))
    shown = header_text(to_name, NAME_LIMIT)
    event("name: empty" if not shown else "name: ascii" if shown.isascii() else "name: non-ascii")
    event("name: cut" if len(header_text(to_name)) > NAME_LIMIT else "name: whole")


@pytest.mark.parametrize(
    "name",
    [
        pytest.param(SEVENTY_SIX, id="76 characters with a comma"),
        pytest.param(TWO_MAILBOXES, id="two mailboxes"),
        pytest.param(FOLDED_MAILBOXES, id="two mailboxes, folded"),
        pytest.param(("漢字かな交じり文" * 32)[:250], id="250 CJK characters"),
        pytest.param("😀👩‍👩‍👧🎉", id="emoji"),
        pytest.param('"' * 40, id="only quotes"),
        pytest.param('\\"\\', id="backslashes and a quote"),
        pytest.param("=?utf-8?q?Mallory?= <m@evil.example>", id="looks encoded"),
        pytest.param("undisclosed-recipients:; (comment) [x]", id="group and comment syntax"),
        pytest.param("x" * 500, id="500 characters, no space"),
        pytest.param("Eve\r\nBcc: evil@example.com", id="a line break"),
    ],
)
def test_the_reported_names_give_one_mailbox(name: str) -> None:
    check(replace(ENVELOPE, to_name=name, sender_name=name))


def test_a_long_name_is_cut_to_the_name_limit_with_an_ellipsis() -> None:
    (value,) = unfolded_fields(build_message(replace(ENVELOPE, to_name="漢" * 250), MAIL, WHEN))["To"]
    assert strict_mailbox(value).display_name == "漢" * (NAME_LIMIT - 1) + "…"


def test_the_strict_reader_refuses_what_the_old_folding_wrote() -> None:
    """The reader can fail: the headers the email package's folder wrote for the reported names."""
    broken = [
        " AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA, Some Longer Text <ada@example.com>",
        " Bob <mallory@evil.example>, Eve <eve@evil.example> xxxx <ada@example.com>",
        ' "a" "b <ada@example.com>',
        " (comment) <ada@example.com>",
        " =?utf-8?q?a?= <ada@example.com> <eve@evil.example>",
        " =?utf-8?b?/w==?= <ada@example.com>",  # not UTF-8
    ]
    for value in broken:
        with pytest.raises((AssertionError, ValueError)):
            strict_mailbox(value)
