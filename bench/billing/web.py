"""A browser's part over Chalice's test client, every request billed: cookies, the CSRF token of the last page,
redirects followed, the pages' stylesheets and scripts fetched once (they are cached for a year)."""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit

from bench.billing.meter import Meter

PUBLIC_URL = "https://desk.example.org"
BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
ASSET = re.compile(r'(?:href|src)="([^"]*/static/[^"]+)"')
FORM = re.compile(r"<form\b([^>]*)>(.*?)</form>", re.DOTALL)
ATTRIBUTE = re.compile(r'([a-zA-Z_:-]+)="([^"]*)"')
INPUT = re.compile(r"<input\b([^>]*)>")
BUTTON = re.compile(r"<button\b([^>]*)>")
CSRF = re.compile(r'name="csrf-token" content="([^"]+)"')


def path_of(url: str) -> str:
    """The path and query of one of the desk's URLs (as API Gateway sees the request)."""
    if url.startswith(PUBLIC_URL):
        url = url[len(PUBLIC_URL) :]
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


@dataclass(frozen=True)
class Form:
    action: str  # a path
    hidden: dict[str, str]
    buttons: list[tuple[str, str]]  # (name, value) of the submit buttons that carry one


@dataclass(frozen=True)
class Page:
    status: int
    path: str  # the path that answered (after redirects)
    headers: dict[str, str]
    text: str

    def forms(self) -> list[Form]:
        found = []
        for attributes, inner in FORM.findall(self.text):
            attrs = dict(ATTRIBUTE.findall(attributes))
            if attrs.get("method", "get").lower() != "post":
                continue
            hidden = {}
            for tag in INPUT.findall(inner):
                field = {k: html.unescape(v) for k, v in ATTRIBUTE.findall(tag)}
                if field.get("type") == "hidden" and "name" in field:
                    hidden[field["name"]] = field.get("value", "")
            buttons = []
            for tag in BUTTON.findall(inner):
                field = {k: html.unescape(v) for k, v in ATTRIBUTE.findall(tag)}
                if "name" in field and "disabled" not in tag:
                    buttons.append((field["name"], field.get("value", "")))
            found.append(Form(path_of(html.unescape(attrs.get("action", ""))), hidden, buttons))
        return found

    def form(self, action_end: str) -> Form | None:
        return next((f for f in self.forms() if f.action.split("?", 1)[0].endswith(action_end)), None)

    def attribute(self, name: str) -> str | None:
        found = re.search(rf'{re.escape(name)}="([^"]*)"', self.text)
        return html.unescape(found.group(1)) if found else None


class Routes:
    """Names a request by the app's route it reaches ("GET /tickets/{ticket_id}"), for the bill's request mix."""

    def __init__(self, templates: list[str]) -> None:
        self._patterns = sorted(
            ((re.compile("^" + re.sub(r"\{[^}]+\}", "[^/]+", t) + "$"), t) for t in templates),
            key=lambda pair: pair[1].count("{"),
        )

    def kind(self, method: str, path: str) -> str:
        bare = path.split("?", 1)[0]
        template = next((t for pattern, t in self._patterns if pattern.match(bare)), bare)
        return f"{method} {template}"


class Browser:
    """One person's browser. `source_ip` is what API Gateway reports for its requests."""

    def __init__(self, meter: Meter, client: Any, routes: Routes, source_ip: str, set_ip: Callable[[str], None]):
        self.meter = meter
        self.client = client
        self.routes = routes
        self.source_ip = source_ip
        self._set_ip = set_ip
        self.cookie: str | None = None
        self.csrf = ""
        self.assets: dict[str, str] = {}  # the stylesheets and scripts this browser has (by path)

    def request(
        self,
        method: str,
        path: str,
        *,
        headers: dict[str, str] | None = None,
        body: bytes | str | None = None,
        follow: bool = True,
        assets: bool = True,
    ) -> Page:
        sent = {"Accept": BROWSER_ACCEPT, "Accept-Encoding": "gzip, deflate, br", **(headers or {})}
        if self.cookie:
            sent["Cookie"] = f"hd_session={self.cookie}"
        self._set_ip(self.source_ip)
        response = self.meter.http(self.client, self.routes.kind(method, path), method, path, sent, body)
        raw = response.body
        text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw or "")
        answer_headers = {str(k): str(v) for k, v in (response.headers or {}).items()}
        set_cookie = answer_headers.get("set-cookie") or answer_headers.get("Set-Cookie")
        if set_cookie and set_cookie.startswith("hd_session="):
            value = set_cookie.split(";", 1)[0].split("=", 1)[1]
            self.cookie = value or None
        found = CSRF.search(text)
        if found:
            self.csrf = html.unescape(found.group(1))
        location = answer_headers.get("Location") or answer_headers.get("location")
        if follow and response.status_code in (301, 302, 303, 307) and location:
            return self.request("GET", path_of(location), assets=assets)
        page = Page(response.status_code, path, answer_headers, text)
        if assets and "text/html" in answer_headers.get("Content-Type", answer_headers.get("content-type", "")):
            for url in ASSET.findall(text):
                asset = path_of(html.unescape(url))
                if asset not in self.assets:
                    self.assets[asset] = ""
                    self.assets[asset] = self.request("GET", asset, assets=False).text
        return page

    def get(self, path: str, **options: Any) -> Page:
        return self.request("GET", path, **options)

    def post_form(
        self, path: str, fields: dict[str, str], *, csrf: bool = True, accept: str | None = None, **options: Any
    ) -> Page:
        values = {**({"csrf": self.csrf} if csrf and self.csrf and "csrf" not in fields else {}), **fields}
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "Origin": PUBLIC_URL,
            "Sec-Fetch-Site": "same-origin",
            **({"Accept": accept} if accept else {}),
        }
        return self.request("POST", path, headers=headers, body=urlencode(values), **options)

    def post_multipart(self, path: str, body: bytes, content_type: str) -> Page:
        headers = {"Content-Type": content_type, "Origin": PUBLIC_URL, "Sec-Fetch-Site": "same-origin"}
        return self.request("POST", path, headers=headers, body=body)
