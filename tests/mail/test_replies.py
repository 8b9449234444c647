"""The new text of a reply: the desk's marker, earlier messages in each client's style, and signatures cut."""

from __future__ import annotations

import pytest

from chalicelib.mail.replies import REPLY_MARKER, new_text

NEW = "It works again, thank you!\nYou can close the ticket."
QUOTE = f"> {REPLY_MARKER}\n>\n> Hello Ada,\n> did the restart help?\n"


def test_the_marker_line_and_everything_below_it_are_cut() -> None:
    assert new_text(f"{NEW}\n\n{REPLY_MARKER}\n\nHello Ada,\nold text") == NEW


def test_a_quoted_marker_with_a_byte_order_mark_still_cuts() -> None:
    assert new_text(f"{NEW}\n\n> \ufeff{REPLY_MARKER}\n> old") == NEW


def test_a_custom_marker_can_be_given_and_none_disables_it() -> None:
    assert new_text(f"{NEW}\n=== reply above ===\nold", "=== reply above ===") == NEW
    assert new_text(f"{NEW}\n{REPLY_MARKER}\nold", None) == f"{NEW}\n{REPLY_MARKER}\nold"


@pytest.mark.parametrize(
    "attribution",
    [
        "On Tue, 4 Mar 2025 at 10:00, Acme Help Desk <support@desk.example.org> wrote:",  # Gmail
        "On Tue, 4 Mar 2025 at 10:00, Acme Help Desk <\nsupport@desk.example.org> wrote:",  # Gmail, wrapped
        "On 4 Mar 2025, at 10:00, Acme Help Desk <support@desk.example.org> wrote:",  # Apple Mail
        "On 03/03/2025 10:00, Acme Help Desk wrote:",  # Thunderbird
        "Am Di., 4. März 2025 um 10:00 Uhr schrieb Acme Help Desk <support@desk.example.org>:",
        "Am 04.03.2025 um 10:00 schrieb Acme Help Desk:",
        "Le mar. 4 mars 2025 à 10:00, Acme Help Desk <support@desk.example.org> a écrit :",
        "Le 04/03/2025 à 10:00, Acme Help Desk a écrit\u00a0:",
        "El mar, 4 mar 2025 a las 10:00, Acme Help Desk (<support@desk.example.org>) escribió:",
        "Op di 4 mrt 2025 om 10:00 schreef Acme Help Desk <support@desk.example.org>:",
    ],
)
def test_an_attribution_line_above_the_quote_is_cut_with_the_quote(attribution: str) -> None:
    assert new_text(f"{NEW}\n\n{attribution}\n\n{QUOTE}", None) == NEW


@pytest.mark.parametrize(
    "header",
    [
        (
            "From: Acme Help Desk <support@desk.example.org>\nSent: Monday, March 3, 2025 4:12 PM\n"
            "To: Grace Hopper <grace@contoso.example>\nSubject: [HD-1002] Printer"
        ),
        (
            "________________________________\nFrom: Acme Help Desk <support@desk.example.org>\n"
            "Sent: Monday, March 3, 2025 4:12 PM\nTo: Grace\nSubject: [HD-1002] Printer"
        ),
        "*From:* Acme Help Desk <support@desk.example.org>\n*Sent:* Monday, March 3, 2025\n*To:* Grace",
        (
            "Von: Acme Help Desk <support@desk.example.org>\nGesendet: Montag, 3. März 2025 17:30\n"
            "An: Jürgen\nBetreff: [HD-1003] Zugang"
        ),
        (
            "De : Acme Help Desk <support@desk.example.org>\nEnvoyé : lundi 3 mars 2025 17:30\n"
            "À : Marie\nObjet : [HD-1005] Lecteur"
        ),
        (
            "De: Acme Help Desk <support@desk.example.org>\nEnviado: lunes, 3 de marzo de 2025 17:30\n"
            "Para: Ana\nAsunto: [HD-1007] Impresora"
        ),
        "-----Original Message-----\nFrom: Acme Help Desk\nSent: Monday",
        "-----Ursprüngliche Nachricht-----\nVon: Acme Help Desk",
        "-----Message d'origine-----\nDe : Acme Help Desk",
        "-----Mensaje original-----\nDe: Acme Help Desk",
    ],
)
def test_an_outlook_header_block_and_the_unquoted_message_below_it_are_cut(header: str) -> None:
    assert new_text(f"{NEW}\n\n{header}\n\nHello Grace,\nold text\n", None) == NEW


def test_a_from_line_alone_in_the_new_text_is_not_a_header_block() -> None:
    text = "From: the accounts team\nwe got no invoice."
    assert new_text(text, None) == text


def test_trailing_quoted_lines_without_attribution_are_cut() -> None:
    assert new_text(f"{NEW}\n\n> old\n> > older\n", None) == NEW


def test_inline_answers_keep_their_quoted_questions() -> None:
    text = "On 4 Mar 2025, at 10:00, Desk <d@example.org> wrote:\n> Did you restart?\nYes.\n> Which version?\n3.2"
    assert new_text(text, None) == text


def test_an_attribution_followed_by_unquoted_old_text_is_cut_there() -> None:
    assert (
        new_text(f"{NEW}\n\nOn Tue, 4 Mar 2025 at 10:00, Desk <d@example.org> wrote:\n\nHello Ada,\nold", None) == NEW
    )


def test_prose_starting_with_on_is_not_an_attribution() -> None:
    text = "On Monday the printer wrote:\nnothing at all."
    assert new_text(text, None) == text


def test_the_signature_after_a_dash_dash_line_is_cut() -> None:
    assert new_text(f"{NEW}\n-- \nMarie Curie\nRadium Institute", None) == NEW
    assert new_text(f"{NEW}\n--\nMarie Curie", None) == NEW


@pytest.mark.parametrize(
    "line", ["Sent from my iPhone", "Get Outlook for Android", "Von meinem iPhone gesendet", "Envoyé de mon iPad"]
)
def test_a_trailing_sent_from_my_phone_line_is_cut(line: str) -> None:
    assert new_text(f"{NEW}\n\n{line}\n\n> On 4 Mar 2025, at 10:00, Desk <d@example.org> wrote:\n> old", None) == NEW


def test_forwarded_messages_are_kept_they_are_the_content() -> None:
    text = "See below.\n\n---------- Forwarded message ---------\nFrom: Bob <bob@example.com>\nDate: Mon\nbody"
    assert new_text(text, None) == text


def test_lists_and_closings_are_not_mistaken_for_signatures() -> None:
    text = "Steps:\n- open the report\n- click Export\n\nThanks, that is all.\nBest regards\nAda"
    assert new_text(text) == text


def test_nothing_new_gives_an_empty_string() -> None:
    assert new_text(f"{REPLY_MARKER}\nold") == ""
    assert new_text("> only a quote") == ""


def test_crlf_line_ends_are_handled() -> None:
    assert new_text(f"{NEW}\r\n\r\n> old\r\n".replace("\n", "\r\n").replace("\r\r", "\r"), None) == NEW
