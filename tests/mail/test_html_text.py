"""HTML mail read as text: blocks, lists, links and quotes kept readable; markup, scripts and styles gone."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.mail.html_text import html_to_text


def test_paragraphs_are_set_apart_by_an_empty_line_and_br_breaks_a_line() -> None:
    assert html_to_text("<p>Hello,</p><p>line one<br>line two</p>") == "Hello,\n\nline one\nline two"


def test_gmail_empty_div_lines_become_empty_lines() -> None:
    assert html_to_text("<div>a</div><div><br></div><div>b</div>") == "a\n\nb"


def test_head_script_and_style_are_dropped() -> None:
    html = "<html><head><title>T</title><style>p {}</style></head><body><script>x()</script><p>kept</p></body></html>"
    assert html_to_text(html) == "kept"


def test_entities_are_decoded_and_whitespace_collapsed() -> None:
    assert html_to_text("<p>a &amp;&nbsp;b   c\n\td &lt;x&gt; &ldquo;q&rdquo;</p>") == "a & b c d <x> “q”"


def test_lists_are_dashed_numbered_and_nested_lists_indented() -> None:
    html = "<ul><li>one<ul><li>sub</li></ul></li><li>two</li></ul><ol><li>x</li><li>y</li></ol>"
    assert html_to_text(html) == "- one\n  - sub\n- two\n\n1. x\n2. y"


def test_links_show_their_address_after_the_text_unless_the_text_is_the_address() -> None:
    html = (
        '<p><a href="https://example.com/a">the report</a> '
        '<a href="https://example.com/b">https://example.com/b</a> '
        '<a href="mailto:ada@example.com">ada@example.com</a> '
        '<a href="javascript:alert(1)">click</a></p>'
    )
    assert html_to_text(html) == "the report (https://example.com/a) https://example.com/b ada@example.com click"


def test_blockquotes_become_quoted_lines_so_replies_can_be_cut() -> None:
    html = "<p>new</p><blockquote>old<br>older<blockquote>oldest</blockquote></blockquote>"
    assert html_to_text(html) == "new\n\n> old\n> older\n>\n> > oldest"


def test_pre_keeps_its_lines_and_indentation() -> None:
    assert html_to_text("<pre>  a\n    b</pre>") == "  a\n    b"


def test_table_cells_are_spaced_and_rows_are_lines() -> None:
    assert html_to_text("<table><tr><td>Name</td><td>Ada</td></tr><tr><td>Role</td><td>Admin</td></tr></table>") == (
        "Name  Ada\nRole  Admin"
    )


def test_images_show_their_alt_text() -> None:
    assert html_to_text('<p>logo: <img src="cid:1" alt="Acme logo"></p>') == "logo: [Acme logo]"


def test_outlook_conditional_comments_and_office_tags_leave_no_trace() -> None:
    html = "<!--[if gte mso 9]><xml>x</xml><![endif]--><p class=MsoNormal>Hallo<o:p></o:p></p><p><o:p>&nbsp;</o:p></p>"
    assert html_to_text(html) == "Hallo"


def test_broken_markup_gives_text_not_an_error() -> None:
    assert "tail" in html_to_text("<p>unclosed <b>bold <![weird[ x <div>tail")
    assert html_to_text("<") in ("", "<")


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from([*"<>/!-[]&#;=\"' \nabpdivlrqe", "<p>", "</p>", "<![", "&amp", "<br>", "<a href="])))
def test_any_markup_gives_a_string(pieces: list[str]) -> None:
    assert isinstance(html_to_text("".join(pieces)), str)
