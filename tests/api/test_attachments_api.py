# ruff: noqa: F811 - the fixtures are imported into this module, and tests name them as parameters
"""Files on tickets through every door (DESIGN.md §7): the web form, the portal, the console and the API upload
them; the API, the console and the portal link download them — each only its own ticket's, a requester never a
note's, always as a download with the sniffed type and `nosniff`. The IDOR and SVG XSS osTicket and FreeScout
shipped are the cases here."""

from __future__ import annotations

import base64
import json
import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from urllib3.filepost import encode_multipart_formdata

from chalicelib import wiring
from tests.api.conftest import Api, admin_token, api  # noqa: F401 - the API fixtures
from tests.api.console_client import BASE, Console
from tests.services.test_attachments import SVG_WITH_SCRIPT, png_bytes

BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8"}
FileSpec = tuple[str, bytes, str]


def multipart(fields: dict[str, str], files: list[FileSpec], name: str = "files") -> tuple[bytes, str]:
    """A body as a browser posts a form with a file field (several files under one name)."""
    parts: list[tuple[str, Any]] = list(fields.items())
    parts += [(name, (filename, data, kind)) for filename, data, kind in files]
    body, content_type = encode_multipart_formdata(parts)
    return body, content_type


def post_multipart(api: Api, path: str, fields: dict[str, str], files: list[FileSpec], **headers: str) -> Any:
    body, content_type = multipart(fields, files)
    return api.client.http.post(path, headers={"Content-Type": content_type, **headers}, body=body)


def form_ticket(api: Api, files: list[FileSpec], **fields: str) -> tuple[str, str]:
    """A ticket from the public web form with these files; (ticket id, portal token)."""
    values = {
        "type": "question",
        "subject": "Printer offline",
        "description": "It shows as offline since this morning.",
        "requester_name": "Rosa Diaz",
        "requester_email": "rosa@example.org",
        **fields,
    }
    answer = post_multipart(api, "/tickets", values, files)
    assert answer.status_code == 303, answer.body
    query = parse_qs(urlsplit(answer.headers["Location"]).query)
    return query["ticket"][0], query["token"][0]


def portal(api: Api, ticket_id: str, token: str) -> dict[str, Any]:
    status, shown = api.json("GET", f"/portal/tickets/{ticket_id}?token={token}", token=None)
    assert status == 200, shown
    return dict(shown)


def fetch(api: Api, path: str, **headers: str) -> Any:
    return api.client.http.get(path, headers={**BROWSER, **headers})


def agent_get(api: Api, path: str) -> Any:
    return fetch(api, path, Authorization=f"Bearer {api.token}")


@pytest.fixture
def agent(api: Api) -> Console:
    console = Console(api.client)
    console.sign_in_with_token(api.token)
    return console


def console_reply(agent: Console, ticket_id: str, body: str, kind: str, files: list[FileSpec]) -> Any:
    page = agent.get(f"/console/tickets/{ticket_id}")
    text = agent.text(page)
    seen = {
        name: re.search(rf'name="{name}" value="([^"]*)"', text).group(1)  # type: ignore[union-attr]
        for name in ("seen_version", "seen_comments", "seen_at")
    }
    fields = {"csrf": agent.csrf, **seen, "kind": kind, "body": body, "move_to": "", "priority": ""}
    data, content_type = multipart(fields, files)
    headers = agent._headers({"Content-Type": content_type, "Sec-Fetch-Site": "same-origin"})
    return agent.client.http.post(f"/console/tickets/{ticket_id}/reply", headers=headers, body=data)


def test_a_file_from_the_web_form_is_the_requesters_and_downloads_with_its_sniffed_type(api: Api) -> None:
    picture = png_bytes()
    ticket_id, token = form_ticket(api, [("screen shot.png", picture, "image/png")])
    listed = portal(api, ticket_id, token)["attachments"]
    assert [(f["filename"], f["size"], f["content_type"]) for f in listed] == [
        ("screen shot.png", len(picture), "image/png")
    ]
    answer = fetch(api, listed[0]["url"])
    assert answer.status_code == 200
    assert answer.body == picture
    assert answer.headers["Content-Type"] == "image/png"
    assert answer.headers["X-Content-Type-Options"] == "nosniff"
    assert answer.headers["Content-Disposition"].startswith('attachment; filename="screen shot.png"')
    assert "sandbox" in answer.headers["Content-Security-Policy"]
    assert answer.headers["Cache-Control"] == "private, no-store"
    agents_view = api.ticket(ticket_id)["attachments"]
    assert agents_view[0]["uploaded_by"] == "requester"
    assert agents_view[0]["url"].startswith("/tickets/")
    assert agent_get(api, agents_view[0]["url"]).body == picture


def test_the_form_without_files_still_opens_a_ticket_and_an_empty_file_input_is_no_file(api: Api) -> None:
    ticket_id, token = form_ticket(api, [("", b"", "application/octet-stream")])
    assert portal(api, ticket_id, token)["attachments"] == []


def test_an_svg_with_script_is_never_served_as_svg_or_inline(api: Api) -> None:
    ticket_id, token = form_ticket(api, [("logo.svg", SVG_WITH_SCRIPT, "image/svg+xml")])
    listed = portal(api, ticket_id, token)["attachments"]
    answer = fetch(api, listed[0]["url"])
    assert answer.status_code == 200
    assert answer.headers["Content-Type"] == "application/octet-stream"
    assert answer.headers["Content-Disposition"].startswith("attachment;")
    assert answer.headers["X-Content-Type-Options"] == "nosniff"
    assert answer.headers["Content-Security-Policy"] == "default-src 'none'; sandbox"


def test_no_token_or_ticket_opens_another_tickets_file(api: Api) -> None:
    """The IDOR: ticket B's link with A's attachment id, B's token on A's path, A's id under B's path, an id with a
    path in it, a made-up id: none of them opens A's file."""
    ticket_a, token_a = form_ticket(api, [("a.txt", b"secret of A\n", "text/plain")])
    ticket_b, token_b = form_ticket(api, [("b.txt", b"file of B\n", "text/plain")], requester_email="bo@example.org")
    file_a = portal(api, ticket_a, token_a)["attachments"][0]["id"]
    answers = [
        fetch(api, f"/portal/tickets/{ticket_b}/attachments/{file_a}?token={token_b}"),
        fetch(api, f"/portal/tickets/{ticket_a}/attachments/{file_a}?token={token_b}"),
        fetch(api, f"/portal/tickets/{ticket_a}/attachments/{file_a}"),
        agent_get(api, f"/tickets/{ticket_b}/attachments/{file_a}"),
        agent_get(api, f"/tickets/{ticket_a}/attachments/..%2F{file_a}"),
        agent_get(api, f"/tickets/{ticket_a}/attachments/01ZZZZZZZZZZZZZZZZZZZZZZZZ"),
    ]
    # Another ticket's token is refused as the portal refuses it (403; none: 401); a file id not of the ticket: 404.
    assert [a.status_code for a in answers] == [404, 403, 401, 404, 404, 404]
    assert all(b"secret of A" not in a.body for a in answers)
    assert fetch(api, f"/tickets/{ticket_a}/attachments/{file_a}").status_code == 401  # no token, no file


def test_a_file_on_an_internal_note_is_never_the_requesters(api: Api, agent: Console) -> None:
    ticket_id, token = form_ticket(api, [])
    noted = console_reply(agent, ticket_id, "Vendor quote attached.", "note", [("quote.pdf", b"%PDF-1.4 q", "x/y")])
    assert noted.status_code == 303, agent.text(noted)
    replied = console_reply(agent, ticket_id, "Try this driver.", "reply", [("driver.zip", b"PK\x03\x04zz", "")])
    assert replied.status_code == 303, agent.text(replied)
    agents_view = api.ticket(ticket_id)
    by_body = {c["body"]: c["attachments"] for c in agents_view["comments"]}
    assert [f["filename"] for f in by_body["Vendor quote attached."]] == ["quote.pdf"]
    assert by_body["Try this driver."][0]["content_type"] == "application/zip"
    note_file = by_body["Vendor quote attached."][0]["id"]
    shown = portal(api, ticket_id, token)
    assert [[f["filename"] for f in c["attachments"]] for c in shown["comments"]] == [["driver.zip"]]
    assert fetch(api, f"/portal/tickets/{ticket_id}/attachments/{note_file}?token={token}").status_code == 404
    page = agent.text(agent.get(f"/console/tickets/{ticket_id}"))
    link = re.search(r'<a href="([^"]+)">quote.pdf</a>', page)
    assert link is not None
    download = agent.get(urlsplit(link.group(1)).path.removeprefix(urlsplit(BASE).path), BROWSER)
    assert download.status_code == 200
    assert download.body == b"%PDF-1.4 q"
    assert download.headers["Content-Type"] == "application/pdf"


def test_the_portal_reply_carries_files_and_a_refused_reply_keeps_none(api: Api) -> None:
    ticket_id, token = form_ticket(api, [])
    sent = post_multipart(
        api,
        f"/portal/tickets/{ticket_id}/comments?token={token}",
        {"body": "Here is the log."},
        [("printer.log", b"ERROR 42 paper jam\n", "text/plain")],
    )
    assert sent.status_code == 303, sent.body
    refused = post_multipart(
        api, f"/portal/tickets/{ticket_id}/comments?token={token}", {"body": ""}, [("x.txt", b"x\n", "text/plain")]
    )
    assert refused.status_code == 422
    comments = portal(api, ticket_id, token)["comments"]
    assert [[f["filename"] for f in c["attachments"]] for c in comments] == [["printer.log"]]
    assert [f["filename"] for f in api.json("GET", f"/tickets/{ticket_id}/attachments")[1]["attachments"]] == [
        "printer.log"
    ]


def test_the_limits_are_the_servers_count_size_and_the_pages_4_mb(api: Api) -> None:
    ticket_id, token = form_ticket(api, [])
    path = f"/portal/tickets/{ticket_id}/comments?token={token}"
    eleven = [(f"f{i}.txt", b"x\n", "text/plain") for i in range(11)]
    assert post_multipart(api, path, {"body": "many"}, eleven).status_code == 422
    too_much = post_multipart(api, path, {"body": "big"}, [("big.bin", b"\0" * (4 * 1024 * 1024 + 1), "")])
    assert too_much.status_code == 413
    status, current = api.json("GET", "/admin/config")
    changed = {**current["config"], "attachments": {"max_file_bytes": 100}}
    status, answer = api.json("PUT", "/admin/config", {"config": changed, "version": current["version"]})
    assert status == 200, answer
    over = post_multipart(api, path, {"body": "over"}, [("log.txt", b"y" * 101, "text/plain")])
    assert over.status_code == 413
    assert portal(api, ticket_id, token)["comments"] == []
    assert api.json("GET", f"/tickets/{ticket_id}/attachments")[1]["attachments"] == []


def test_a_form_post_without_a_closing_boundary_is_a_400(api: Api) -> None:
    body = b'--xyz\r\nContent-Disposition: form-data; name="subject"\r\n\r\nHello\r\n'
    headers = {"Content-Type": "multipart/form-data; boundary=xyz", "Accept": "application/json"}
    answer = api.client.http.post("/tickets", headers=headers, body=body)
    assert answer.status_code == 400


def test_the_api_uploads_files_then_a_comment_names_them(api: Api) -> None:
    ticket = api.open()
    uploaded = post_multipart(
        api, f"/tickets/{ticket['id']}/attachments", {}, [("fix.txt", b"run fsck\n", "text/plain")],
        Authorization=f"Bearer {api.token}",
    )  # fmt: skip
    assert uploaded.status_code == 201, uploaded.body
    file_id = json.loads(uploaded.body)["attachments"][0]["id"]
    status, comment = api.json(
        "POST", f"/tickets/{ticket['id']}/comments", {"body": "See the file.", "public": True, "attachments": [file_id]}
    )
    assert status == 201, comment
    assert [f["filename"] for f in comment["attachments"]] == ["fix.txt"]
    status, again = api.json("POST", f"/tickets/{ticket['id']}/comments", {"body": "Again.", "attachments": [file_id]})
    assert status == 422
    assert "attachments" in again["error"]["errors"]
    status, _unknown = api.json("POST", f"/tickets/{ticket['id']}/comments", {"body": "x", "attachments": ["nope"]})
    assert status == 422
    token = ticket["portal_url"].split("token=")[1]
    shown = portal(api, ticket["id"], token)
    assert [[f["filename"] for f in c["attachments"]] for c in shown["comments"]] == [["fix.txt"]]


def test_a_direct_upload_is_a_presigned_post_with_the_size_range_and_is_checked_when_named(api: Api) -> None:
    ticket = api.open()
    status, begun = api.json(
        "POST", f"/tickets/{ticket['id']}/attachments", {"filename": "trace.txt", "content_type": "text/plain"}
    )
    assert status == 201, begun
    upload = begun["upload"]
    policy = json.loads(base64.b64decode(upload["fields"]["policy"]))
    assert ["content-length-range", 1, 10 * 1024 * 1024] in policy["conditions"]
    assert begun["attachment"]["state"] == "pending"
    posted = requests.post(upload["url"], data=upload["fields"], files={"file": ("t", b"trace line\n")}, timeout=10)
    assert posted.status_code in (200, 204)
    status, comment = api.json(
        "POST", f"/tickets/{ticket['id']}/comments", {"body": "Trace.", "attachments": [begun["attachment"]["id"]]}
    )
    assert status == 201, comment
    assert comment["attachments"][0]["size"] == len(b"trace line\n")
    assert agent_get(api, comment["attachments"][0]["url"]).body == b"trace line\n"


def test_a_file_too_large_for_a_lambda_answer_is_a_short_s3_link(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    ticket_id, token = form_ticket(api, [("notes.txt", b"n" * 2000, "text/plain")])
    monkeypatch.setenv("HELPDESK_DOWNLOAD_INLINE_BYTES", "1000")
    monkeypatch.setattr(wiring, "_settings", None)
    url = portal(api, ticket_id, token)["attachments"][0]["url"]
    answer = fetch(api, url)
    assert answer.status_code == 302
    location = answer.headers["Location"]
    assert "response-content-disposition=attachment" in location
    assert "response-content-type=text%2Fplain" in location
    assert requests.get(location, timeout=10).content == b"n" * 2000


def test_a_link_that_no_longer_opens_a_file_is_a_page_for_a_browser(api: Api, agent: Console) -> None:
    ticket_id, token = form_ticket(api, [])
    portal_answer = fetch(api, f"/portal/tickets/{ticket_id}/attachments/01ZZZZZZZZZZZZZZZZZZZZZZZZ?token={token}")
    assert portal_answer.status_code == 404
    assert portal_answer.headers["Content-Type"].startswith("text/html")
    assert "no such attachment on this ticket" in portal_answer.body.decode()
    console_answer = agent.get(f"/console/tickets/{ticket_id}/attachments/01ZZZZZZZZZZZZZZZZZZZZZZZZ", BROWSER)
    assert console_answer.status_code == 404
    assert console_answer.headers["Content-Type"].startswith("text/html")
    program = api.json("GET", f"/portal/tickets/{ticket_id}/attachments/01ZZZZZZZZZZZZZZZZZZZZZZZZ?token={token}")
    assert program[0] == 404
    assert program[1]["error"]["code"] == "not_found"


def test_an_empty_file_is_refused_by_its_name(api: Api) -> None:
    ticket_id, token = form_ticket(api, [])
    answer = post_multipart(
        api,
        f"/portal/tickets/{ticket_id}/comments?token={token}",
        {"body": "two files"},
        [("log.txt", b"ok\n", "text/plain"), ("empty.txt", b"", "text/plain")],
    )
    assert answer.status_code == 422  # a form post: the page says it, by the file's name
    assert "empty.txt is empty" in answer.body.decode()
