"""Every page layout names an empty icon, so a browser never asks for /favicon.ico (a refused request per page
view), and every page's CSP lets it show that icon while staying strict."""

from __future__ import annotations

from pathlib import Path

import pytest

from chalicelib.web import pages
from chalicelib.web.console.session import CSP as CONSOLE_CSP
from tests.api.page_html import parse

TEMPLATES = Path(__file__).resolve().parents[2] / "chalicelib" / "templates"
LAYOUTS = sorted(p for p in TEMPLATES.rglob("*.html") if "email" not in p.parts and "<head" in p.read_text())
ICON = '<link rel="icon" href="data:,">'


def directives(csp: str) -> dict[str, list[str]]:
    found = {}
    for part in csp.split(";"):
        name, *values = part.split()
        found[name] = values
    return found


def test_the_layouts_are_found() -> None:
    assert {p.relative_to(TEMPLATES).as_posix() for p in LAYOUTS} >= {"base.html", "console/layout.html"}


@pytest.mark.parametrize("layout", LAYOUTS, ids=lambda p: p.relative_to(TEMPLATES).as_posix())
def test_every_layout_names_an_empty_icon(layout: Path) -> None:
    assert ICON in layout.read_text()


def test_a_rendered_public_page_has_the_icon_and_a_csp_that_allows_it() -> None:
    response = pages.message_page("Gone", "This page is gone.", 404, base="https://desk.example.org")
    head = parse(str(response.body)).one("head")
    icons = [link.attrs for link in head.all("link") if link.attrs.get("rel") == "icon"]
    assert icons == [{"rel": "icon", "href": "data:,"}]
    policy = directives(str(response.headers["Content-Security-Policy"]))
    assert policy["img-src"] == ["'self'", "data:"]  # a data: image and the desk's own: nothing from elsewhere
    assert policy["default-src"] == ["'none'"]


def test_the_console_csp_allows_the_icon_and_nothing_else_from_elsewhere() -> None:
    policy = directives(CONSOLE_CSP)
    assert policy["img-src"] == ["'self'", "data:"]
    assert policy["default-src"] == ["'none'"]
    assert policy["script-src"] == ["'self'"]
