"""A browser's part in the console, over chalice's test client: it keeps the session cookie and posts forms with
the CSRF token of the page it last read, and says it is a same-origin request as browsers do."""

from __future__ import annotations

import html
import re
from typing import Any
from urllib.parse import urlencode

from chalice.test import Client

BASE = "https://desk.example.org/api"


class Console:
    def __init__(self, client: Client) -> None:
        self.client = client
        self.cookie: str | None = None
        self.csrf = ""
        self.last: Any = None

    def _headers(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        headers = {"Accept": "text/html"}
        if self.cookie:
            headers["Cookie"] = f"hd_session={self.cookie}"
        return {**headers, **(extra or {})}

    def _keep(self, response: Any) -> Any:
        self.last = response
        set_cookie = response.headers.get("set-cookie") or response.headers.get("Set-Cookie")
        if set_cookie:
            value = set_cookie.split(";", 1)[0].split("=", 1)[1]
            self.cookie = value or None
        text = self.text(response)
        found = re.search(r'name="csrf-token" content="([^"]+)"', text)
        if found:
            self.csrf = html.unescape(found.group(1))
        return response

    @staticmethod
    def text(response: Any) -> str:
        body = response.body
        return body.decode() if isinstance(body, bytes) else str(body or "")

    def get(self, path: str, headers: dict[str, str] | None = None) -> Any:
        return self._keep(self.client.http.get(path, headers=self._headers(headers)))

    def post(
        self, path: str, fields: dict[str, str], *, csrf: bool = True, headers: dict[str, str] | None = None
    ) -> Any:
        sent = {"Content-Type": "application/x-www-form-urlencoded", "Sec-Fetch-Site": "same-origin", **(headers or {})}
        body = {**({"csrf": self.csrf} if csrf and self.csrf else {}), **fields}
        return self._keep(self.client.http.post(path, headers=self._headers(sent), body=urlencode(body)))

    def sign_in_with_token(self, token: str) -> Any:
        return self.post("/console/sign-in", {"token": token}, csrf=False)
