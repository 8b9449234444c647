"""Every mail kind rendered: subjects safe for a header, HTML escaped throughout, text bodies verbatim."""

from __future__ import annotations

import re
import subprocess
import sys
from html import unescape
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from chalicelib.mail import KINDS, render_mail
from chalicelib.mail.html_text import html_to_text
from chalicelib.mail.render import ANSWERABLE, SUBJECT_LIMIT, paragraphs
from chalicelib.mail.replies import REPLY_MARKER, new_text
from tests.mail.contexts import (
    AGENT_KINDS,
    CONSOLE_URL,
    HOSTILE_BODY,
    HOSTILE_DESK,
    HOSTILE_NAME,
    HOSTILE_SUBJECT,
    HOSTILE_URL,
    PORTAL_KINDS,
    PORTAL_URL,
    REQUESTER_KINDS,
    SIGN_IN_URL,
    TICKETLESS_KINDS,
    contexts,
    text_values,
)

ROOT = Path(__file__).resolve().parents[2]
# What a mail's HTML may contain: layout tables, text, links. No scripts, images, styles sheets or forms.
ALLOWED_TAGS = {"html", "head", "meta", "title", "body", "table", "tr", "td", "p", "a", "strong", "br", "div"}
TICKET_KINDS = [kind for kind in KINDS if kind not in TICKETLESS_KINDS]


class Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def parsed(html: str) -> Tags:
    parser = Tags()
    parser.feed(html)
    parser.close()
    return parser


def hrefs(html: str) -> list[str]:
    return [attrs["href"] or "" for tag, attrs in parsed(html).tags if tag == "a"]


def urls_in(context: dict[str, Any]) -> set[str]:
    urls = {context[k] for k in ("portal_url", "comment_url", "unsubscribe_url", "console_url", "link") if k in context}
    urls |= {a["url"] for a in context.get("actions", [])} | {r["url"] for r in context.get("ratings", [])}
    urls |= {a["console_url"] for a in context.get("alerts", [])}
    if context.get("status_update"):
        urls |= {a["url"] for a in context["status_update"]["actions"]}
    return urls


@pytest.mark.parametrize("kind", TICKET_KINDS)
def test_every_kind_renders_a_subject_with_the_reference_a_text_and_an_html_body(kind: str) -> None:
    context = contexts()[kind]

    mail = render_mail(kind, context)

    assert mail.subject.startswith("[HD-1001] ")
    assert "VPN drops every hour" in mail.subject
    for value in text_values(kind, context):
        assert value in mail.text, value
    assert "HD-1001" in mail.html
    assert "VPN drops every hour" in mail.html
    assert mail.html.startswith("<!doctype html>")
    assert set(hrefs(mail.html)) == urls_in(context)
    assert all(tag in ALLOWED_TAGS for tag, _ in parsed(mail.html).tags)


@pytest.mark.parametrize("kind", TICKET_KINDS)
def test_hostile_values_stay_out_of_the_subject_header_and_are_escaped_in_html(kind: str) -> None:
    context = contexts(hostile=True)[kind]

    mail = render_mail(kind, context)

    assert "\r" not in mail.subject
    assert "\n" not in mail.subject
    assert mail.subject.startswith("[HD-1001] ")
    assert "Hi Bcc: evil@example.com" in mail.subject
    assert len(mail.subject) <= SUBJECT_LIMIT
    lowered = mail.html.lower()
    assert "<script" not in lowered
    assert "<img" not in lowered
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in mail.html
    assert "Eve, &lt;eve@evil.test&gt;" in mail.html
    tags = parsed(mail.html).tags
    assert all(tag in ALLOWED_TAGS for tag, _ in tags)
    assert not [name for _, attrs in tags for name in attrs if name.startswith("on") or name == "src"]
    # every link is exactly a URL the context gave, attribute quoting intact
    assert set(hrefs(mail.html)) == urls_in(context)
    assert HOSTILE_URL not in mail.html
    assert ("token=a&#34;b&lt;c" in mail.html) == bool(urls_in(context))
    for value in text_values(kind, context):
        assert value in mail.text, value
    assert HOSTILE_SUBJECT in mail.text
    assert HOSTILE_NAME in mail.text
    assert HOSTILE_DESK in mail.text


@pytest.mark.parametrize("kind", ["acknowledgement", "reply", "status", "requester_comment", "reminder"])
def test_plain_text_with_newlines_becomes_paragraphs_and_line_breaks_after_escaping(kind: str) -> None:
    mail = render_mail(kind, contexts(hostile=True)[kind])

    assert "&lt;img src=x onerror=alert(1)&gt;<br>\nsecond line</p>" in mail.html
    assert ">new paragraph</p>" in mail.html
    assert HOSTILE_BODY in mail.text


@pytest.mark.parametrize("kind", TICKETLESS_KINDS)
def test_a_mail_about_no_one_ticket_renders_and_its_footer_names_the_desk(kind: str) -> None:
    context = contexts()[kind]

    mail = render_mail(kind, context)

    assert "HD-" not in mail.subject
    for value in text_values(kind, context):
        assert value in mail.text, value
    assert mail.text.rstrip().endswith("-- \nAcme Help Desk")
    assert mail.html.startswith("<!doctype html>")
    assert set(hrefs(mail.html)) == urls_in(context)
    assert all(tag in ALLOWED_TAGS for tag, _ in parsed(mail.html).tags)


@pytest.mark.parametrize("kind", TICKETLESS_KINDS)
def test_hostile_values_in_a_mail_about_no_one_ticket_are_escaped(kind: str) -> None:
    context = contexts(hostile=True)[kind]

    mail = render_mail(kind, context)

    assert "\r" not in mail.subject
    assert "\n" not in mail.subject
    lowered = mail.html.lower()
    assert "<script" not in lowered
    assert "<img" not in lowered
    assert "Eve, &lt;eve@evil.test&gt;" in mail.html
    tags = parsed(mail.html).tags
    assert all(tag in ALLOWED_TAGS for tag, _ in tags)
    assert not [name for _, attrs in tags for name in attrs if name.startswith("on") or name == "src"]
    assert set(hrefs(mail.html)) == urls_in(context)
    assert "token=a&#34;b&lt;c" in mail.html
    for value in text_values(kind, context):
        assert value in mail.text, value
    assert HOSTILE_DESK in mail.text


@pytest.mark.parametrize("kind", [k for k in AGENT_KINDS if k != "sla_digest"])
def test_agent_mails_open_the_ticket_in_the_console_from_text_and_a_button(kind: str) -> None:
    mail = render_mail(kind, contexts()[kind])

    assert f"Open in the console: {CONSOLE_URL}" in mail.text
    button = f'<a href="{CONSOLE_URL}" style="display:inline-block;'
    assert button in mail.html
    assert mail.html.index(button) < mail.html.index("Open in the console</a>")


@pytest.mark.parametrize("kind", REQUESTER_KINDS)
def test_requester_mails_never_show_a_console_link_even_when_one_is_given(kind: str) -> None:
    mail = render_mail(kind, {**contexts()[kind], "console_url": CONSOLE_URL})

    assert "/console/" not in mail.text
    assert "/console/" not in mail.html
    assert "console" not in mail.text.lower()


def test_a_reply_made_with_a_move_carries_the_status_message_and_its_decision_links() -> None:
    context = contexts()["reply"]
    actions = contexts()["status"]["actions"]
    update = {"label": "Client testing", "message": "Please test the fix.\n\nThank you.", "actions": actions}

    plain = render_mail("reply", context)
    mail = render_mail("reply", {**context, "status_update": update})

    assert plain.subject == "[HD-1001] New reply to your request: VPN drops every hour"
    assert mail.subject == "[HD-1001] New reply, now Client testing: VPN drops every hour"
    assert "Its status is now: Client testing." in mail.text
    assert mail.text.index("Does that help?") < mail.text.index("Please test the fix.") < mail.text.index("Approve")
    assert "Thank you." in mail.text
    assert "What would you like to do?" in mail.text
    assert "<strong>Client testing</strong>" in mail.html
    assert {a["url"] for a in actions} <= set(hrefs(mail.html))
    assert "Its status is now" not in plain.text + plain.html
    assert "What would you like to do?" not in plain.text


def test_the_sla_digest_lists_every_ticket_overdue_first_with_its_console_link() -> None:
    context = contexts()["sla_digest"]

    mail = render_mail("sla_digest", context)

    assert mail.subject == "SLA alerts on 2 tickets: 1 overdue, 1 due soon"
    assert "2 tickets need attention" in mail.text
    assert mail.text.index("HD-1001") < mail.text.index("HD-1002")
    assert "overdue, its first response target was due Tue 4 Mar 2025, 11:00" in mail.text
    assert "due soon, its resolution target is due Wed 5 Mar 2025, 17:00" in mail.text
    assert "Assigned to: nobody yet" in mail.text
    assert "Assigned to: Ada Lovelace" in mail.text
    assert hrefs(mail.html) == [CONSOLE_URL, CONSOLE_URL.replace("t1", "t2")]
    assert mail.html.count("Open in the console</a>") == 2
    all_breached = render_mail("sla_digest", {**context, "breached": 2, "at_risk": 0})
    assert all_breached.subject == "SLA alerts on 2 tickets: 2 overdue"


def test_the_sign_in_mail_says_what_the_link_does_and_how_long_it_works() -> None:
    context = contexts()["sign_in"]

    mail = render_mail("sign_in", context)
    one = render_mail("sign_in", {**context, "minutes": 1})

    assert mail.subject == "Sign in to Acme Help Desk"
    text = " ".join(mail.text.split())
    assert "Someone (hopefully you) asked to sign in to the Acme Help Desk console." in text
    assert f"Use this link within 15 minutes; it works once: {SIGN_IN_URL}" in text
    assert "If you did not ask for this, ignore this mail; nobody can sign in without it." in text
    assert "within 1 minute;" in one.text
    assert f'<a href="{SIGN_IN_URL}" style="display:inline-block;' in mail.html
    assert "If you did not ask for this, ignore this mail; nobody can sign in without it." in mail.html


def test_paragraphs_split_on_blank_lines_and_every_kind_of_line_break() -> None:
    html = str(paragraphs("one\r\ntwo\u2028three\n\n\n<b>four</b> & five\n  \nsix"))

    assert html.count("<p ") == 3
    assert "one<br>\ntwo<br>\nthree</p>" in html
    assert "&lt;b&gt;four&lt;/b&gt; &amp; five</p>" in html
    assert str(paragraphs("")) == ""


@pytest.mark.parametrize("kind", PORTAL_KINDS)
def test_requester_mails_send_people_to_their_private_link_not_to_a_mailbox_nobody_reads(kind: str) -> None:
    """Mail sent to the desk is not read by the desk (there is no inbound mail), so no mail invites a reply."""
    mail = render_mail(kind, contexts()[kind])

    assert "answer us, through your private link" in mail.text
    assert contexts()[kind]["portal_url"] in hrefs(mail.html)
    assert "reply to this email" not in mail.text.lower()
    assert "reply to this email" not in mail.html.lower()


@pytest.mark.parametrize("kind", REQUESTER_KINDS)
def test_requester_mails_greet_by_name_or_generally(kind: str) -> None:
    context = contexts()[kind]
    assert render_mail(kind, context).text.startswith("Hi Ada Lovelace,")
    assert render_mail(kind, {**context, "recipient_name": ""}).text.startswith("Hello,")


def test_acknowledgement_subject() -> None:
    mail = render_mail("acknowledgement", contexts()["acknowledgement"])
    assert mail.subject == "[HD-1001] We received your request: VPN drops every hour"


def test_the_acknowledgement_asks_for_the_missing_intake_fields_on_the_requests_page() -> None:
    context = contexts()["acknowledgement"]
    asking = render_mail("acknowledgement", context)
    complete = render_mail("acknowledgement", {**context, "missing_fields": []})

    asked = "To help us, please add: Steps to reproduce, Version — on your request's page:"
    assert f"{asked}\n{PORTAL_URL}\n" in asking.text
    assert "please add: <strong>Steps to reproduce, Version</strong>" in asking.html
    assert re.search(rf'<a href="{re.escape(PORTAL_URL)}"[^>]*>your request&#39;s page</a>', asking.html)
    assert "please add" not in complete.text
    assert "please add" not in complete.html
    assert hrefs(complete.html) == [PORTAL_URL]


def test_a_missing_fields_label_is_escaped_in_the_acknowledgement() -> None:
    mail = render_mail("acknowledgement", contexts(hostile=True)["acknowledgement"])

    assert f"please add: {HOSTILE_NAME}, Version" in mail.text
    assert "please add: <strong>&lt;script&gt;alert(1)&lt;/script&gt;, Version</strong>" in mail.html


def test_status_mail_lists_the_requester_actions_and_omits_the_list_when_there_are_none() -> None:
    context = contexts()["status"]
    with_actions = render_mail("status", context)
    without = render_mail("status", {**context, "actions": []})

    assert "Estimate pending client approval" in with_actions.subject
    assert "Approve estimate" in with_actions.html
    assert "What would you like to do?" in with_actions.text
    assert "What would you like to do?" not in without.text
    assert "What would you like to do?" not in without.html
    assert hrefs(without.html) == [context["portal_url"]]


def test_reminders_number_themselves_and_show_a_final_notice_only_when_given() -> None:
    context = contexts()["reminder"]
    notice = context["final_notice"]
    final = render_mail("reminder", {**context, "number": 2, "times": 2})
    plain = render_mail("reminder", {**context, "final_notice": None})

    assert "Reminder 2 of 2" in final.subject
    assert "Reminder 2 of 2" in final.text
    assert "Reminder 2 of 2" in final.html
    assert notice in final.text
    assert notice in final.html
    assert "Reminder 1 of 2" in plain.text
    assert notice not in plain.text
    assert notice not in plain.html
    assert "Mon 3 Mar 2025" in plain.text


def test_the_team_reminder_says_how_long_the_ticket_has_not_moved() -> None:
    mail = render_mail("team_reminder", contexts()["team_reminder"])

    assert "Reminder 1 of 2" in mail.subject
    assert "has been in Approved for action for 3 business days" in mail.text
    assert "without moving" in mail.text
    assert "without moving" in mail.html


def test_sla_mails_tell_due_soon_from_overdue() -> None:
    context = contexts()["sla"]
    at_risk = render_mail("sla", context)
    breached = render_mail("sla", {**context, "level": "breached", "assignee_name": None})

    assert "Due soon" in at_risk.subject
    assert "due soon" in at_risk.text
    assert "overdue" not in at_risk.text.lower()
    assert "Overdue" in breached.subject
    assert "overdue" in breached.text
    assert "Overdue" in breached.html
    assert "first response" in breached.text
    assert "Tue 4 Mar 2025, 11:00" in breached.text
    assert "nobody yet" in breached.text
    assert "Ada Lovelace" in at_risk.text


def test_the_assignment_mail_shows_the_first_response_due_only_when_known() -> None:
    context = contexts()["assigned"]
    assert "First response due: Tue 4 Mar 2025, 11:00" in render_mail("assigned", context).text
    assert "First response due" not in render_mail("assigned", {**context, "first_response_due": None}).text


def test_the_survey_shows_a_row_of_rating_buttons_a_comment_link_and_an_unsubscribe_line() -> None:
    context = contexts()["survey"]
    mail = render_mail("survey", context)

    tags = parsed(mail.html)
    rating_links = [attrs["href"] for tag, attrs in tags.tags if tag == "a" and "rating=" in (attrs["href"] or "")]
    assert rating_links == [r["url"] for r in context["ratings"]]
    assert "1 = very dissatisfied" in mail.html
    assert "5 = very satisfied" in mail.html
    assert "Leave a comment" in mail.html
    assert mail.html.index("Unsubscribe") > mail.html.index("Leave a comment")
    assert "Don't want these surveys?" in unescape(mail.html)
    assert "1 (very dissatisfied)" in mail.text
    assert "5 (very satisfied)" in mail.text
    assert mail.text.rstrip().endswith(f"Unsubscribe: {context['unsubscribe_url']}")


def test_the_survey_scale_follows_the_ratings_given() -> None:
    context = contexts()["survey"]
    ratings = [{"rating": n, "url": f"https://desk.example.org/s?r={n}"} for n in (3, 1, 2)]
    mail = render_mail("survey", {**context, "ratings": ratings})

    assert "3 = very satisfied" in mail.html
    assert mail.text.index("1 (very dissatisfied)") < mail.text.index("3 (very satisfied)")


def test_a_long_subject_is_cut_to_the_subject_limit() -> None:
    context = contexts()["reply"]
    ticket = {**context["ticket"], "subject": "word " * 100}
    subject = render_mail("reply", {**context, "ticket": ticket}).subject
    assert len(subject) == SUBJECT_LIMIT
    assert subject.endswith("…")


def test_unknown_kinds_levels_missing_values_and_non_http_links_are_refused() -> None:
    context = contexts()
    with pytest.raises(ValueError, match="unknown mail kind"):
        render_mail("newsletter", context["reply"])
    with pytest.raises(ValueError, match="unknown SLA level"):
        render_mail("sla", {**context["sla"], "level": "late"})
    digest = context["sla_digest"]
    with pytest.raises(ValueError, match="unknown SLA level 'late'"):
        render_mail("sla_digest", {**digest, "alerts": [*digest["alerts"], {**digest["alerts"][0], "level": "late"}]})
    with pytest.raises(ValueError, match="link"):
        render_mail("sign_in", {k: v for k, v in context["sign_in"].items() if k != "link"})
    incomplete = dict(context["reply"])
    del incomplete["body"]
    with pytest.raises(ValueError, match="body"):
        render_mail("reply", incomplete)
    with pytest.raises(ValueError, match="http"):
        render_mail("reply", {**context["reply"], "portal_url": "javascript:alert(1)"})


def test_importing_the_mail_package_loads_no_jinja2() -> None:
    probe = "import sys, chalicelib.mail; print('jinja2' in sys.modules, 'markupsafe' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


# The reply marker ----------------------------------------------------------------------------------------------


def test_the_kinds_a_person_may_answer_are_the_ticket_kinds_but_the_survey() -> None:
    assert {kind for kind in TICKET_KINDS if kind != "survey"} == ANSWERABLE
    assert ANSWERABLE.isdisjoint({"survey", *TICKETLESS_KINDS})


@pytest.mark.parametrize("kind", sorted(ANSWERABLE))
def test_an_answerable_mail_starts_with_the_reply_marker_when_the_desk_reads_replies(kind: str) -> None:
    context = contexts()[kind]
    marked = render_mail(kind, context, desk_reads_replies=True)
    plain = render_mail(kind, context)

    assert marked.text.splitlines()[:2] == [REPLY_MARKER, ""]
    assert marked.text == f"{REPLY_MARKER}\n\n{plain.text}"
    assert marked.subject == plain.subject
    assert REPLY_MARKER not in plain.text
    assert REPLY_MARKER not in plain.html
    # In HTML one small grey line, before the card and everything else the reader sees.
    body = marked.html[marked.html.index("<body") :]
    assert body.count(REPLY_MARKER) == 1
    assert body.index(REPLY_MARKER) < body.index(context["desk_name"])
    line = body[: body.index(REPLY_MARKER)].rsplit("<td", 1)[1]
    assert "font-size:12px" in line
    assert "color:#8a93a3" in line
    # What the desk reads of an answer is cut at the marker, in the text part and in the HTML made text.
    assert new_text(f"Thanks, that works.\n\n{marked.text}") == "Thanks, that works."
    assert new_text(f"Thanks, that works.\n\n{html_to_text(marked.html)}") == "Thanks, that works."


@pytest.mark.parametrize("kind", sorted(set(KINDS) - ANSWERABLE))
def test_a_mail_no_one_answers_has_no_marker_even_when_the_desk_reads_replies(kind: str) -> None:
    context = contexts()[kind]
    marked = render_mail(kind, context, desk_reads_replies=True)

    assert REPLY_MARKER not in marked.text
    assert REPLY_MARKER not in marked.html
    assert marked == render_mail(kind, context)


def test_a_context_cannot_put_its_own_marker_in() -> None:
    context = {**contexts()["reply"], "reply_marker": "##- injected -##"}
    assert "injected" not in render_mail("reply", context).text
    assert "injected" not in render_mail("reply", context, desk_reads_replies=True).html
