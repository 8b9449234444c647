"""HTML mail as readable plain text, with the standard library's `html.parser` only."""

from __future__ import annotations

import re
from html.parser import HTMLParser

# Elements whose content is never text a person wrote (or reads): dropped with everything inside them.
_DROPPED = frozenset({"head", "title", "script", "style", "noscript", "template", "svg", "math", "object", "iframe"})
# Elements that start and end a block of their own: a line break before and after.
_BLOCKS = frozenset(
    {
        "address", "article", "aside", "center", "dd", "details", "dialog", "dir", "div", "dl", "dt", "fieldset",
        "figcaption", "figure", "footer", "form", "header", "hgroup", "main", "menu", "nav", "section", "summary",
        "table", "tbody", "thead", "tfoot", "tr", "caption",
    }
)  # fmt: skip
# Blocks set apart by an empty line.
_PARAGRAPHS = frozenset({"p", "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "pre", "blockquote"})
_CELLS = frozenset({"td", "th"})
_VOID = frozenset({"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "wbr"})
_NESTING_LIMIT = 100  # lists and quotes deeper than this are flattened: no line is mostly indentation
_WHITESPACE = re.compile(r"[ \t\n\r\f\v\u00a0\u200b\u2000-\u200a\u202f\u205f\u3000]+")
_UNSAFE_SCHEMES = ("javascript:", "vbscript:", "data:")


class _TextParser(HTMLParser):
    """Collects the text as lines; block elements break lines, lists get "- " (or "1. "), quotes get "> "."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lines: list[str] = []
        self._line: list[str] = []  # words and spaces of the line being built
        self._dropped = 0  # depth inside dropped elements
        self._pre = 0
        self._quote = 0
        self._lists: list[list[int]] = []  # one [counter] per open list; counter -1 for a bulleted list
        self._links: list[tuple[str, int]] = []  # (href, length of the line text when the link opened)
        self._blank_pending = False
        self._item_prefix = ""
        self._last_quote = 0  # quote depth of the last line written

    # Line handling -------------------------------------------------------------------------------------------

    def _prefix(self) -> str:
        return "> " * min(self._quote, _NESTING_LIMIT)

    def _indent(self) -> str:
        return "  " * max(0, min(len(self._lists), _NESTING_LIMIT) - 1)

    def _current(self) -> str:
        return "".join(self._line)

    def _break(self, *, blank: bool = False) -> None:
        text = self._current().rstrip()
        self._line = []
        if text.strip():
            if self._blank_pending and self.lines:
                self.lines.append(("> " * min(self._quote, self._last_quote, _NESTING_LIMIT)).rstrip())
            self.lines.append(text)
            self._last_quote = self._quote
            self._blank_pending = False
        if blank:
            self._blank_pending = True

    def _write(self, text: str, *, keep_indent: bool = False) -> None:
        if not self._line:
            start = self._prefix() + self._indent() + self._item_prefix
            self._item_prefix = ""
            self._line.append(start)
            text = text if keep_indent else text.lstrip(" ")
            if not text:
                return
        self._line.append(text)

    # Parser callbacks ----------------------------------------------------------------------------------------

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self._dropped:
            if tag in _DROPPED:
                self._dropped += 1
            return
        if tag in _DROPPED:
            self._dropped = 1
            return
        if tag == "br":
            if self._current().strip():
                self._break()
            elif self.lines:
                self._blank_pending = True  # an empty line: Gmail writes one as <div><br></div>
            return
        if tag == "hr":
            self._break()
            self.lines.append(self._prefix() + "-" * 20)
            return
        if tag == "img":
            alt = _collapse(dict(attrs).get("alt") or "").strip()
            if alt:
                self._write(f"[{alt}]")
            return
        if tag == "a":
            self._links.append((dict(attrs).get("href") or "", len(self._current())))
            return
        if tag in _CELLS:
            if self._current().strip():
                self._line.append("  ")
            return
        if tag == "li":
            self._break()
            if self._lists:
                counter = self._lists[-1]
                if counter[0] >= 0:
                    counter[0] += 1
                    self._item_prefix = f"{counter[0]}. "
                else:
                    self._item_prefix = "- "
            else:
                self._item_prefix = "- "
            return
        if tag in ("ul", "ol", "menu", "dir"):
            self._break(blank=not self._lists)
            self._lists.append([0 if tag == "ol" else -1])
            return
        if tag == "blockquote":
            self._break(blank=True)
            self._quote += 1
            return
        if tag == "pre":
            self._break(blank=True)
            self._pre += 1
            return
        if tag in _PARAGRAPHS:
            self._break(blank=True)
        elif tag in _BLOCKS:
            self._break()

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag not in _VOID:
            self.handle_endtag(tag)

    def handle_endtag(self, tag: str) -> None:
        if self._dropped:
            if tag in _DROPPED:
                self._dropped -= 1
            return
        if tag == "a":
            if self._links:
                href, start = self._links.pop()
                self._close_link(href, start)
            return
        if tag in ("ul", "ol", "menu", "dir"):
            self._break()
            if self._lists:
                self._lists.pop()
            if not self._lists:
                self._blank_pending = True
            return
        if tag == "li":
            self._break()
            return
        if tag == "blockquote":
            self._break()
            self._quote = max(0, self._quote - 1)
            self._blank_pending = True
            return
        if tag == "pre":
            self._break()
            self._pre = max(0, self._pre - 1)
            self._blank_pending = True
            return
        if tag in _PARAGRAPHS:
            self._break(blank=True)
        elif tag in _BLOCKS:
            self._break()

    def _close_link(self, href: str, start: int) -> None:
        url = href.strip()
        label = self._current()[start:].strip()
        if not url or url.startswith("#") or url.lower().startswith(_UNSAFE_SCHEMES):
            return
        shown = url[len("mailto:") :] if url.lower().startswith("mailto:") else url
        if not label:
            self._write(shown)
        elif shown.rstrip("/") != label.rstrip("/"):
            self._write(f" ({shown})")

    def handle_data(self, data: str) -> None:
        if self._dropped or not data:
            return
        if self._pre:
            lines = data.replace("\r\n", "\n").replace("\r", "\n").split("\n")
            for number, line in enumerate(lines):
                if number:
                    self._break()
                if line:
                    self._write(line.replace("\u00a0", " ").expandtabs(4), keep_indent=True)
            return
        text = _collapse(data)
        if text == " " and (not self._line or self._current().endswith(" ")):
            return
        if self._current().endswith(" "):
            text = text.lstrip(" ")
        if text:
            self._write(text)

    def close(self) -> None:
        super().close()
        self._break()


def _collapse(text: str) -> str:
    return _WHITESPACE.sub(" ", text)


_TAG = re.compile(r"<[^>]*>")


def _stripped(html: str) -> str:
    """The last resort for markup `html.parser` gives up on: tags removed, entities decoded."""
    from html import unescape

    lines = (" ".join(_collapse(unescape(line)).split()) for line in _TAG.sub("\n", html).split("\n"))
    return "\n".join(line for line in lines if line)


def html_to_text(html: str) -> str:
    """Readable text of an HTML body: paragraphs and line breaks kept, lists as "- " (numbered for <ol>), quotes as
    "> ", links as "text (url)", head/script/style dropped, entities decoded, whitespace collapsed."""
    parser = _TextParser()
    try:
        parser.feed(html)
        parser.close()
    except (AssertionError, ValueError, IndexError):  # `_markupbase` asserts on some broken `<!...` declarations
        return _stripped(html)
    lines = [line.rstrip() for line in parser.lines]
    while lines and not lines[-1].strip(" >"):
        lines.pop()
    return "\n".join(lines)
