"""Opening tickets: JSON and plain HTML form posts, idempotency, bots, limits, CORS."""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlsplit

from chalicelib import wiring
from chalicelib.domain.config import shipped_document
from chalicelib.web import assets
from tests.api.conftest import DEFECT_FIELDS, Api
from tests.api.page_html import parse


def _body(response: object) -> str:
    body = response.body  # type: ignore[attr-defined]
    return body.decode() if isinstance(body, bytes) else body


def test_json_post_answers_201_with_only_id_ref_status_and_portal_link(api: Api) -> None:
    status, answer = api.json(
        "POST",
        "/tickets",
        {
            "type": "defect",
            "subject": "Invoice cannot be saved",
            "description": "Saving an invoice fails.",
            "requester_name": "Rosa Diaz",
            "requester_email": "Rosa@Example.org",
            "fields": DEFECT_FIELDS,
        },
        token=None,
    )
    assert status == 201
    assert set(answer) == {"id", "ref", "status", "portal_url"}
    assert answer["ref"] == "HD-1001"
    assert answer["status"] == "submitted"
    assert answer["portal_url"].startswith(f"https://desk.example.org/portal/tickets/{answer['id']}?token=")


def test_references_are_short_and_sequential(api: Api) -> None:
    refs = [api.open(requester_email=f"r{i}@example.org")["ref"] for i in range(3)]
    assert refs == ["HD-1001", "HD-1002", "HD-1003"]


def test_ticket_can_be_read_by_its_reference(api: Api) -> None:
    opened = api.open()
    assert api.ticket("HD-1001")["id"] == opened["id"]
    assert api.ticket("hd-1001")["id"] == opened["id"]


def test_missing_required_intake_field_is_refused_naming_the_field(api: Api) -> None:
    fields = {k: v for k, v in DEFECT_FIELDS.items() if k != "steps_to_reproduce"}
    status, answer = api.json(
        "POST",
        "/tickets",
        {
            "type": "defect",
            "subject": "s",
            "description": "d",
            "requester_name": "n",
            "requester_email": "n@example.org",
            "fields": fields,
        },
        token=None,
    )
    assert status == 422
    assert answer["error"]["code"] == "invalid_input"
    assert answer["error"]["errors"] == {"fields.steps_to_reproduce": "is required"}


def test_unknown_fields_and_wrong_types_are_refused_naming_each(api: Api) -> None:
    status, answer = api.json(
        "POST",
        "/tickets",
        {
            "type": "training",
            "subject": "Training",
            "description": "d",
            "requester_name": "n",
            "requester_email": "not-an-email",
            "colour": "blue",
            "fields": {"course": "Basics", "attendees": "many", "format": "By pigeon", "shoe_size": 9},
        },
        token=None,
    )
    assert status == 422
    errors = answer["error"]["errors"]
    assert set(errors) == {"colour", "requester_email", "fields.attendees", "fields.format", "fields.shoe_size"}


def test_requesters_cannot_choose_a_priority_unless_the_desk_allows_it(api: Api) -> None:
    status, answer = api.json(
        "POST",
        "/tickets",
        {
            "subject": "s",
            "description": "d",
            "requester_name": "n",
            "requester_email": "n@example.org",
            "priority": "critical",
        },
        token=None,
    )
    assert status == 422
    assert "priority" in answer["error"]["errors"]


def test_malformed_json_is_a_400_never_a_500(api: Api) -> None:
    response = api.request("POST", "/tickets", "{not json", token=None)
    assert response.status_code == 400
    assert json.loads(_body(response))["error"]["code"] == "malformed_request"
    assert api.json("POST", "/tickets", [1, 2], token=None)[0] == 422


def test_a_body_over_the_size_limit_is_refused_with_413(api: Api) -> None:
    status, answer = api.json(
        "POST",
        "/tickets",
        {"subject": "s", "description": "x" * 70000, "requester_name": "n", "requester_email": "n@example.org"},
        token=None,
    )
    assert status == 413
    assert answer["error"]["code"] == "payload_too_large"


def test_an_overlong_description_is_refused_naming_the_field(api: Api) -> None:
    status, answer = api.json(
        "POST",
        "/tickets",
        {"subject": "s", "description": "x" * 20001, "requester_name": "n", "requester_email": "n@example.org"},
        token=None,
    )
    assert status == 422
    assert "description" in answer["error"]["errors"]


def test_retry_with_the_same_idempotency_key_returns_the_first_ticket(api: Api) -> None:
    body = {"subject": "s", "description": "d", "requester_name": "n", "requester_email": "n@example.org"}
    headers = {"Idempotency-Key": "order-77"}
    first = api.json("POST", "/tickets", body, token=None, headers=headers)
    again = api.json("POST", "/tickets", body, token=None, headers=headers)
    assert first[0] == again[0] == 201
    assert first[1]["id"] == again[1]["id"]
    _status, page = api.json("GET", "/tickets")
    assert [t["id"] for t in page["tickets"]] == [first[1]["id"]]


def test_reusing_an_idempotency_key_for_another_request_is_refused(api: Api) -> None:
    body = {"subject": "s", "description": "d", "requester_name": "n", "requester_email": "n@example.org"}
    api.json("POST", "/tickets", body, token=None, headers={"Idempotency-Key": "k"})
    status, _answer = api.json(
        "POST", "/tickets", {**body, "subject": "other"}, token=None, headers={"Idempotency-Key": "k"}
    )
    assert status == 409


def test_a_json_post_with_the_honeypot_filled_creates_nothing(api: Api) -> None:
    status, _ = api.json(
        "POST",
        "/tickets",
        {
            "subject": "s",
            "description": "d",
            "requester_name": "n",
            "requester_email": "n@example.org",
            "website": "spam.example",
        },
        token=None,
    )
    assert status == 202
    assert api.json("GET", "/tickets?state=all")[1]["tickets"] == []


def test_a_plain_form_post_answers_303_to_a_thank_you_page_that_shows_the_reference(api: Api) -> None:
    response = api.form(
        "/tickets",
        {
            "type": "defect",
            "subject": "Invoice cannot be saved",
            "description": "It fails.",
            "requester_name": "Rosa",
            "requester_email": "rosa@example.org",
            "form_token": "t1",
            "website": "",
            "environment": "",
            **DEFECT_FIELDS,
        },
    )
    assert response.status_code == 303
    location = response.headers["Location"]
    assert location.startswith("https://desk.example.org/form/thanks?")
    assert set(parse_qs(urlsplit(location).query)) == {"ticket", "token"}
    thanks = api.client.http.get(f"/form/thanks?{urlsplit(location).query}")
    assert thanks.status_code == 200
    assert "HD-1001" in _body(thanks)
    ticket = api.ticket("HD-1001")
    assert ticket["fields"] == DEFECT_FIELDS
    assert "environment" not in ticket["fields"]


def test_a_double_submitted_form_opens_one_ticket(api: Api) -> None:
    fields = {
        "subject": "s",
        "description": "d",
        "requester_name": "n",
        "requester_email": "n@example.org",
        "form_token": "same",
    }
    assert api.form("/tickets", fields).status_code == 303
    assert api.form("/tickets", fields).status_code == 303
    assert len(api.json("GET", "/tickets")[1]["tickets"]) == 1


def test_a_form_post_with_the_honeypot_filled_is_thanked_and_dropped(api: Api) -> None:
    fields = {
        "subject": "s",
        "description": "d",
        "requester_name": "n",
        "requester_email": "n@example.org",
        "website": "x",
    }
    response = api.form("/tickets", fields)
    assert response.status_code == 303
    assert api.json("GET", "/tickets?state=all")[1]["tickets"] == []


def test_a_form_with_errors_is_shown_again_with_the_values_and_escaped(api: Api) -> None:
    response = api.form(
        "/tickets",
        {
            "type": "defect",
            "subject": '<script>alert("x")</script>',
            "description": "d",
            "requester_name": "n",
            "requester_email": "bad",
        },
    )
    assert response.status_code == 422
    html = _body(response)
    assert "<script>alert" not in html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in html
    assert "must be an email address" in html
    assert 'id="f-steps_to_reproduce-error"' in html


def test_a_form_with_errors_opens_on_a_summary_that_links_to_each_field_in_page_order(api: Api) -> None:
    response = api.form(
        "/tickets",
        {"type": "question", "requester_name": "", "requester_email": "bad", "subject": "", "description": ""},
    )
    assert response.status_code == 422
    page = parse(_body(response))
    assert page.one("title").text.startswith("Error: Question")
    summary = page.one("div", class_="error-summary")
    assert (summary.attrs["role"], summary.attrs["tabindex"]) == ("alert", "-1")
    assert "autofocus" in summary.attrs  # focus lands on it with no script
    assert summary.one("h2").text == "There is a problem"
    links = [(a.attrs["href"], a.text) for a in summary.all("a")]
    assert links == [
        ("#requester_name", "Your name is required"),
        ("#requester_email", "Your email must be an email address"),
        ("#subject", "Subject is required"),
        ("#description", "Description is required"),
    ]
    assert page.one("input", id="requester_email").attrs["value"] == "bad"


def test_each_invalid_field_is_marked_and_tied_to_its_message_and_valid_ones_are_not(api: Api) -> None:
    fields = {k: v for k, v in DEFECT_FIELDS.items() if k != "steps_to_reproduce"}
    response = api.form(
        "/tickets",
        {"type": "defect", "requester_name": "Rosa", "requester_email": "bad", "subject": "s", "description": "d"}
        | fields,
    )
    page = parse(_body(response))
    for field_id, tag in (("requester_email", "input"), ("f-steps_to_reproduce", "textarea")):
        field = page.one(tag, id=field_id)
        assert field.attrs["aria-invalid"] == "true"
        assert field.attrs["aria-describedby"] == f"{field_id}-error"
        message = page.one(id=f"{field_id}-error")
        assert message.one("span", class_="visually-hidden").text == "Error:"
        assert message.text.startswith("Error: ")
    assert page.one(id="f-steps_to_reproduce-error").text == "Error: Steps to reproduce is required"
    for valid in ("requester_name", "subject", "f-product"):
        assert "aria-invalid" not in page.one(id=valid).attrs
    assert [a.attrs["href"] for a in page.one("div", class_="error-summary").all("a")] == [
        "#requester_email",
        "#f-steps_to_reproduce",
    ]


def test_an_error_for_no_field_on_the_page_is_summarised_without_a_link(api: Api) -> None:
    response = api.form(
        "/tickets",
        {"type": "question", "requester_name": "n", "requester_email": "n@example.org", "subject": "s"}
        | {"description": "d", "shoe_size": "9"},
    )
    assert response.status_code == 422
    summary = parse(_body(response)).one("div", class_="error-summary")
    assert summary.all("a") == []
    assert summary.one("li").text == "shoe_size is not a field of a question ticket"


def test_a_form_without_errors_has_no_summary_and_no_error_title(api: Api) -> None:
    page = parse(_body(api.client.http.get("/form?type=question")))
    assert page.all("div", class_="error-summary") == []
    assert not page.one("title").text.startswith("Error")
    assert page.all(**{"aria-invalid": "true"}) == []


def test_the_honeypot_is_labelled_out_of_sight_and_out_of_the_tab_order_but_not_hidden_from_assistive_tech(
    api: Api,
) -> None:
    html = _body(api.client.http.get("/form?type=question"))
    page = parse(html)
    trap = page.one("input", name="website")
    assert (trap.attrs["tabindex"], trap.attrs["autocomplete"]) == ("-1", "off")
    assert page.one("label", **{"for": trap.attrs["id"] or ""}).text == "Leave this field empty"
    wrapper = next(d for d in page.all("div", class_="visually-hidden") if trap in d.all("input"))
    assert "aria-hidden" not in wrapper.attrs
    assert "aria-hidden" not in html


def test_public_pages_have_one_stylesheet_from_the_desk_and_no_inline_style(api: Api) -> None:
    for path in ("/form", "/form?type=defect", "/form/thanks", "/form?type=nope"):
        response = api.client.http.get(path)
        html = _body(response)
        policy = response.headers["Content-Security-Policy"]
        assert policy.startswith("default-src 'none'; style-src 'self'; img-src 'self' data:; base-uri 'none'; ")
        assert "unsafe-inline" not in policy
        assert "<style" not in html
        assert " style=" not in html
        stylesheets = parse(html).all("link", rel="stylesheet")
        assert len(stylesheets) == 1, path
        href = stylesheets[0].attrs["href"] or ""
        assert href.startswith("https://desk.example.org/static/desk.")
        assert href.endswith(".css")
    served = assets.serve(href.rsplit("/", 1)[1])
    assert served.status_code == 200
    assert served.headers["Content-Type"].startswith("text/css")
    assert "immutable" in served.headers["Cache-Control"]


def test_the_desk_thank_you_url_receives_form_posts(api: Api, admin_token: str) -> None:
    document = shipped_document()
    document["desk"]["thank_you_url"] = "https://www.example.org/thanks"
    assert api.json("PUT", "/admin/config", {"config": document, "version": 0})[0] == 200
    response = api.form(
        "/tickets", {"subject": "s", "description": "d", "requester_name": "n", "requester_email": "n@example.org"}
    )
    assert response.headers["Location"] == "https://www.example.org/thanks?ref=HD-1001"


def test_the_form_page_lets_browsers_follow_the_redirect_to_the_thank_you_url(api: Api) -> None:
    """Browsers apply CSP form-action to the redirect after a form post too (seen in Chromium)."""
    document = shipped_document()
    document["desk"]["thank_you_url"] = "https://www.example.org/thanks"
    assert api.json("PUT", "/admin/config", {"config": document, "version": 0})[0] == 200
    policy = api.client.http.get("/form?type=question").headers["Content-Security-Policy"]
    form_action = next(d for d in policy.split("; ") if d.startswith("form-action"))
    assert form_action == "form-action 'self' https://desk.example.org https://www.example.org"


def test_more_new_tickets_per_hour_than_allowed_from_one_address_are_refused_with_429(api: Api, clock) -> None:
    document = shipped_document()
    document["desk"]["new_tickets_per_hour"] = 2
    wiring.desk().seed_config(document)
    for _ in range(2):
        api.open()
    status, answer = api.json(
        "POST",
        "/tickets",
        {"subject": "s", "description": "d", "requester_name": "n", "requester_email": "rosa@example.org"},
        token=None,
    )
    assert status == 429
    assert answer["error"]["code"] == "rate_limited"
    assert api.open(requester_email="someone.else@example.org")["ref"] == "HD-1003"
    clock.advance(hours=1)
    assert api.open()["ref"] == "HD-1004"


def test_allowed_origins_get_cors_headers_and_others_do_not(api: Api) -> None:
    body = {"subject": "s", "description": "d", "requester_name": "n", "requester_email": "n@example.org"}
    allowed = api.request("POST", "/tickets", body, token=None, headers={"Origin": "https://www.example.org"})
    assert allowed.headers["Access-Control-Allow-Origin"] == "https://www.example.org"
    other = api.request("POST", "/tickets", body, token=None, headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in other.headers
    preflight = api.client.http.options("/tickets", headers={"Origin": "https://www.example.org"})
    assert preflight.status_code == 204
    assert "Idempotency-Key" in preflight.headers["Access-Control-Allow-Headers"]


def test_the_form_page_lists_the_types_and_renders_each_types_intake_fields(api: Api) -> None:
    index = _body(api.client.http.get("/form"))
    for label in ("Defect", "Consultation", "Training", "Question"):
        assert label in index
    defect = api.client.http.get("/form?type=defect")
    html = _body(defect)
    assert defect.status_code == 200
    assert 'action="https://desk.example.org/tickets"' in html
    assert 'name="steps_to_reproduce"' in html
    assert 'name="website"' in html
    assert 'name="form_token"' in html
    assert 'name="priority"' not in html
    assert defect.headers["Content-Security-Policy"].startswith("default-src 'none'")
    assert api.client.http.get("/form?type=nope").status_code == 404


def test_an_oversized_form_post_gets_a_page_not_json(api: Api) -> None:
    response = api.form("/tickets", {"subject": "s", "description": "x" * 70000})
    assert response.status_code == 413
    assert response.headers["Content-Type"].startswith("text/html")


def test_the_thank_you_page_shows_only_what_a_valid_link_vouches_for(api: Api) -> None:
    spoof = api.client.http.get("/form/thanks?ref=HD-1%20-%20call%20%2B1-900-SCAM").body.decode()
    assert "SCAM" not in spoof
    assert "We received your request." in spoof
    opened = api.open()
    other = api.open(requester_email="other@example.org")
    token = parse_qs(urlsplit(opened["portal_url"]).query)["token"][0]
    mismatched = api.client.http.get(f"/form/thanks?ticket={other['id']}&token={token}").body.decode()
    assert other["ref"] not in mismatched
    assert "Follow your request" not in mismatched


def test_odd_json_that_is_no_text_is_refused_not_a_500(api: Api) -> None:
    body = '{"subject": "a\\ud800", "description": "d", "requester_name": "n", "requester_email": "n@example.org"}'
    response = api.request("POST", "/tickets", body, token=None)
    assert response.status_code == 400


def test_numbers_dynamodb_cannot_store_are_refused_naming_the_field(api: Api) -> None:
    for value in ("1" + "0" * 400, "1e-200"):
        body = (
            '{"type": "consultation", "subject": "s", "description": "d", "requester_name": "n",'
            f' "requester_email": "n@example.org", "fields": {{"topic": "t", "hours_expected": {value}}}}}'
        )
        response = api.request("POST", "/tickets", body, token=None)
        assert response.status_code == 422, value
        assert "fields.hours_expected" in _body(response)
