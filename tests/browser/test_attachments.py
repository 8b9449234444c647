"""Files on tickets in a real browser (Debian's Chromium) against `python -m localdesk` (DESIGN.md §7): the form and
the portal upload them (with and without script), the console's composer attaches them to a reply or a note, every
link downloads the exact bytes under the file's name with the sniffed type and `nosniff`, markup is never rendered,
and a requester never reaches a file of an internal note.

One ticket opened from the form (a PNG and a text file) is shared by the requester's and the agent's tests: it is
opened once per worker, as the desk itself is.
"""

from __future__ import annotations

import itertools
import re
import struct
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from playwright.sync_api import Browser, Dialog, Download, FilePayload, Locator, Page, expect

from tests.browser.support import AxeCheck, NewContext
from tests.localrun import LocalDesk

_serial = itertools.count(1)
FILES_FIELD = re.compile("^Files")  # the form's and the portal's field; "Attached files" lists are not it


def tiny_png() -> bytes:
    """A real 2x2 red PNG (signature, IHDR, zlib-compressed IDAT, IEND, each chunk with its CRC), built here so the
    test needs no image file and the desk sniffs a genuine image."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\x00" + b"\xff\x00\x00" * 2 for _ in range(2))  # filter byte, then two RGB pixels
    header = struct.pack(">IIBBBBB", 2, 2, 8, 2, 0, 0, 0)  # 2x2, 8 bits, truecolour
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


PNG = FilePayload(name="printer error ü.png", mimeType="image/png", buffer=tiny_png())
TEXT = FilePayload(name="printer-log.txt", mimeType="text/plain", buffer=b"10:02 jam in tray 2\n10:05 jam again\n")


def unique_email(name: str) -> str:
    """Each form post and agent its own address: the desk takes only a few new tickets an hour from one address,
    and the whole worker shares one desk."""
    return f"{name}.{next(_serial)}.{time.monotonic_ns() % 1_000_000}@example.org"


def send_form(page: Page, desk: LocalDesk, subject: str, files: list[FilePayload]) -> None:
    """Fill the public form as a requester does, choose the files and send it; it lands on the thanks page."""
    page.goto(f"{desk.url}/form?type=question")
    page.get_by_label("Your name").fill("Fay Files")
    page.get_by_label("Your email").fill(unique_email("fay"))
    page.get_by_label("Subject").fill(subject)
    page.get_by_label("Description").fill("The printer shows this error; the log is attached.")
    page.get_by_label(FILES_FIELD).set_input_files(files)
    page.get_by_role("button", name="Send").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Thank you")


@dataclass(frozen=True)
class FormTicket:
    """The ticket a requester opened from the form with PNG and TEXT, as its thanks page named it."""

    thanks_url: str
    portal_url: str
    id: str
    token: str

    def portal_file_url(self, base: str, attachment_id: str) -> str:
        return f"{base}/portal/tickets/{self.id}/attachments/{attachment_id}?{urlencode({'token': self.token})}"


@pytest.fixture(scope="module")
def form_ticket(local_desk: LocalDesk, browser: Browser) -> Iterator[FormTicket]:
    """A ticket opened from the form in the browser with a PNG and a text file (two files in one `multiple`
    field), once per worker; its thanks page's address and the portal link on it."""
    context = browser.new_context()
    try:
        page = context.new_page()
        send_form(page, local_desk, "Printer error with a screenshot", [PNG, TEXT])
        portal_url = page.get_by_role("link", name="Follow your request").get_attribute("href")
        assert portal_url, "the thanks page has no portal link"
        match = re.search(r"/portal/tickets/([^/?]+)", portal_url)
        assert match, portal_url
        token = parse_qs(urlsplit(portal_url).query)["token"][0]
        yield FormTicket(thanks_url=page.url, portal_url=portal_url, id=match.group(1), token=token)
    finally:
        context.close()


def download(page: Page, link: Locator) -> tuple[Download, dict[str, str]]:
    """Click a file's link as a person does; the finished download and the headers the desk answered it with."""
    with (
        page.expect_response(lambda response: "/attachments/" in response.url) as answered,
        page.expect_download() as started,
    ):
        link.click()
    return started.value, answered.value.all_headers()


def downloaded_bytes(done: Download) -> bytes:
    return Path(done.path()).read_bytes()


def assert_delivered(done: Download, headers: dict[str, str], file: FilePayload, content_type: str) -> None:
    """The exact bytes under the file's own name, as a download with the sniffed type that the browser must not
    second-guess."""
    assert done.suggested_filename == file["name"]
    assert downloaded_bytes(done) == file["buffer"]
    assert headers["content-type"] == content_type
    assert headers["content-disposition"].startswith("attachment;")
    assert headers["x-content-type-options"] == "nosniff"


def file_links(entry: Locator) -> Locator:
    return entry.get_by_role("list", name="Attached files").get_by_role("link")


def attachment_id(link: Locator) -> str:
    href = link.get_attribute("href") or ""
    match = re.search(r"/attachments/([^/?]+)", href)
    assert match, href
    return match.group(1)


def sign_in(page: Page, desk: LocalDesk, name: str) -> None:
    """A new agent of the desk, signed in to the console with its token (as tests/browser/test_console.py does)."""
    _, token = desk.create_agent(name, unique_email(name.split(maxsplit=1)[0].lower()))
    page.goto(f"{desk.url}/console")
    page.get_by_label("Agent token").fill(token)
    page.get_by_role("button", name="Sign in with the token").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("All open")


def test_the_form_with_files_passes_axe_and_refuses_an_empty_file_on_its_field(
    local_desk: LocalDesk, page: Page, axe_check: AxeCheck
) -> None:
    page.goto(f"{local_desk.url}/form?type=question")
    page.get_by_label("Your name").fill("Eli Empty")
    page.get_by_label("Your email").fill(unique_email("eli"))
    page.get_by_label("Subject").fill("An empty file")
    page.get_by_label("Description").fill("Nothing in it.")
    page.get_by_label(FILES_FIELD).set_input_files(
        [TEXT, FilePayload(name="empty.txt", mimeType="text/plain", buffer=b"")]
    )
    assert not axe_check(page)

    page.get_by_role("button", name="Send").click()

    expect(page.get_by_role("alert")).to_contain_text("There is a problem")
    files = page.get_by_label(FILES_FIELD)
    expect(files).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_role("alert").get_by_role("link", name=re.compile("^Files:"))).to_have_attribute(
        "href", "#files"
    )
    expect(page.get_by_label("Subject")).to_have_value("An empty file")  # the rest of the form is kept
    assert not axe_check(page)


def test_a_requester_sends_two_files_with_the_form_and_downloads_them_from_the_portal(
    local_desk: LocalDesk, form_ticket: FormTicket, page: Page, axe_check: AxeCheck
) -> None:
    page.goto(form_ticket.thanks_url)
    page.get_by_role("link", name="Follow your request").click()
    request = page.locator(".comment", has_text="You wrote")
    expect(file_links(request)).to_have_text([PNG["name"], TEXT["name"]])
    expect(request.get_by_role("list", name="Attached files")).to_contain_text(f"{len(PNG['buffer'])} bytes")
    assert not axe_check(page)

    for file, content_type in ((PNG, "image/png"), (TEXT, "text/plain; charset=utf-8")):
        done, headers = download(page, request.get_by_role("link", name=file["name"], exact=True))
        assert_delivered(done, headers, file, content_type)
    expect(page).to_have_url(form_ticket.portal_url)  # a download, not a page the requester is taken to


def test_the_form_uploads_a_file_without_javascript(local_desk: LocalDesk, new_context: NewContext) -> None:
    page = new_context(java_script_enabled=False).new_page()
    send_form(page, local_desk, "Sent with script off", [TEXT])
    page.get_by_role("link", name="Follow your request").click()
    link = page.get_by_role("link", name=TEXT["name"], exact=True)
    expect(link).to_be_visible()
    done, headers = download(page, link)
    assert_delivered(done, headers, TEXT, "text/plain; charset=utf-8")


def test_an_agent_replies_and_notes_with_files_and_the_requester_gets_only_the_replys(
    local_desk: LocalDesk, form_ticket: FormTicket, new_context: NewContext, axe_check: AxeCheck
) -> None:
    reply_file = FilePayload(name="driver-steps.txt", mimeType="text/plain", buffer=b"1. Update the driver\n")
    note_file = FilePayload(name="vendor-contract.txt", mimeType="text/plain", buffer=b"Support ends in March\n")
    agent = new_context().new_page()
    sign_in(agent, local_desk, "Ava Attach")
    agent.goto(f"{local_desk.url}/console/tickets/{form_ticket.id}")
    request = agent.locator(".entry.from-requester").first
    expect(file_links(request)).to_have_text([PNG["name"], TEXT["name"]])
    expect(request.get_by_role("list", name="Attached files")).to_contain_text("image/png")

    agent.get_by_label("Your message").fill("Please install the new driver.")
    agent.get_by_label("Attach files").set_input_files([reply_file])
    agent.get_by_role("button", name="Send reply").click()
    expect(agent.get_by_text("Your reply was sent to the requester.")).to_be_visible()
    agent.get_by_label("Internal note").check()
    agent.get_by_label("Your message").fill("The contract is attached.")
    agent.get_by_label("Attach files").set_input_files([note_file])
    agent.get_by_role("button", name="Add note").click()
    expect(agent.get_by_text("Your internal note was added.")).to_be_visible()

    reply = agent.locator(".entry.reply", has_text="Please install the new driver.")
    note = agent.locator(".entry.note", has_text="The contract is attached.")
    expect(file_links(reply)).to_have_text([reply_file["name"]])
    expect(file_links(note)).to_have_text([note_file["name"]])
    assert not axe_check(agent)
    done, headers = download(agent, file_links(note).first)
    assert_delivered(done, headers, note_file, "text/plain; charset=utf-8")
    done, headers = download(agent, request.get_by_role("link", name=PNG["name"], exact=True))
    assert_delivered(done, headers, PNG, "image/png")
    note_file_id = attachment_id(file_links(note).first)

    requester = new_context().new_page()
    requester.goto(form_ticket.portal_url)
    answer = requester.locator(".comment.agent", has_text="Please install the new driver.")
    expect(file_links(answer)).to_have_text([reply_file["name"]])
    expect(requester.get_by_text("The contract is attached.")).to_have_count(0)
    expect(requester.get_by_role("link", name=note_file["name"])).to_have_count(0)
    assert not axe_check(requester)
    done, headers = download(requester, file_links(answer).first)
    assert_delivered(done, headers, reply_file, "text/plain; charset=utf-8")

    refused = requester.goto(form_ticket.portal_file_url(local_desk.url, note_file_id))  # a download would raise
    assert refused is not None
    assert refused.status == 404


def test_an_svg_or_html_file_from_the_portal_is_downloaded_never_rendered(local_desk: LocalDesk, page: Page) -> None:
    svg = FilePayload(
        name="diagram.svg",
        mimeType="image/svg+xml",
        buffer=b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><script>alert(2)</script></svg>',
    )
    html = FilePayload(name="report.html", mimeType="text/html", buffer=b"<!doctype html><script>alert(3)</script>")
    dialogs: list[str] = []

    def dismiss(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", dismiss)
    ticket: dict[str, Any] = local_desk.open_ticket(subject="A diagram of the network")
    page.goto(ticket["portal_url"])
    page.get_by_label("Your message").fill("The diagram and the report.")
    page.get_by_label(FILES_FIELD).set_input_files([svg, html])
    page.get_by_role("button", name="Send reply").click()
    expect(page.get_by_role("status")).to_contain_text("your reply was sent")
    portal = page.url

    for file in (svg, html):
        done, headers = download(page, page.get_by_role("link", name=file["name"], exact=True))
        assert_delivered(done, headers, file, "application/octet-stream")
        assert "sandbox" in headers["content-security-policy"]
    expect(page).to_have_url(portal)
    assert dialogs == []
