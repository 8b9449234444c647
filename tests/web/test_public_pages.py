"""The public pages' templates and their one stylesheet: no inline style or script, and WCAG's contrast for fields."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from chalicelib.web.assets import STATIC

TEMPLATES = Path(__file__).resolve().parents[2] / "chalicelib" / "templates"
PUBLIC = sorted(TEMPLATES.glob("*.html"))  # the console's and the mails' templates are in folders of their own
STYLESHEET = (STATIC / "desk.css").read_text(encoding="utf-8")
PAGE_BACKGROUND = "#ffffff"  # <main>, where every field sits


def _luminance(colour: str) -> float:
    channels = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(one: str, other: str) -> float:
    """WCAG 2's contrast ratio of two #rrggbb colours."""
    lighter, darker = sorted((_luminance(one), _luminance(other)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


def rule(selector_start: str) -> str:
    """The declarations of the stylesheet's first rule whose selector starts so."""
    found = re.search(rf"^{re.escape(selector_start)}[^{{]*\{{([^}}]*)\}}", STYLESHEET, re.MULTILINE)
    assert found, f"no rule for {selector_start!r} in desk.css"
    return found.group(1)


def border_colour(declarations: str) -> str:
    found = re.search(r"border:\s*\d+px solid (#[0-9a-fA-F]{6})", declarations)
    assert found, declarations
    return found.group(1).lower()


def test_the_contrast_ratio_is_computed_as_wcag_defines_it() -> None:
    assert contrast("#000000", "#ffffff") == pytest.approx(21)
    assert contrast("#c4c9d4", "#ffffff") == pytest.approx(1.66, abs=0.01)  # the old field border: too faint


@pytest.mark.parametrize("template", PUBLIC, ids=lambda path: path.name)
def test_no_public_template_carries_inline_style_or_script(template: Path) -> None:
    source = template.read_text(encoding="utf-8")
    assert "<style" not in source
    assert not re.search(r"\sstyle=", source)
    assert "<script" not in source
    assert not re.search(r"\son[a-z]+=", source)


def test_every_public_page_links_the_stylesheet_through_the_base_layout() -> None:
    base = (TEMPLATES / "base.html").read_text(encoding="utf-8")
    assert '<link rel="stylesheet" href="{{ asset(\'desk.css\') }}">' in base
    for template in PUBLIC:
        if template.name != "base.html":
            assert template.read_text(encoding="utf-8").startswith('{% extends "base.html" %}'), template.name


def test_field_borders_stand_out_3_to_1_from_the_page_and_so_do_invalid_ones() -> None:
    """WCAG 2.2 SC 1.4.11 (non-text contrast): what identifies a field needs 3:1 against what is next to it."""
    assert contrast(border_colour(rule('input:not([type="radio"])')), PAGE_BACKGROUND) >= 3
    assert contrast(border_colour(rule(".field--error input")), PAGE_BACKGROUND) >= 3


def test_focus_is_always_visible_as_a_ring_3_to_1_against_the_page() -> None:
    for selector in (":focus-visible", '[tabindex="-1"]:focus'):
        found = re.search(r"outline:\s*(\d+)px solid (#[0-9a-fA-F]{6})", rule(selector))
        assert found, selector
        assert int(found.group(1)) >= 2
        assert contrast(found.group(2), PAGE_BACKGROUND) >= 3
