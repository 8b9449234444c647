"""The local API Gateway's answer to a method and path no route has: the desk's 404, as deployed.

Chalice's LocalGateway answers these with a 403 "Missing Authentication Token" that, when the request carries an
Authorization header, quotes it back. The deployed API Gateway is given the desk's 404 for them instead
(infra/gateway.py, MISSING_AUTHENTICATION_TOKEN), and this gateway gives the same body before any Lambda would run,
or a small page for a browser. It is done here rather than by a catch-all route in app.py: Chalice 1.34 has no greedy
`{proxy+}` path parameter, and a catch-all would cost a Lambda call for every junk request once deployed.
"""

from __future__ import annotations

from typing import Any

from chalice import Chalice
from chalice.config import Config
from chalice.local import LocalGateway, RouteMatcher

from chalicelib.web.http import JSON, error_response
from chalicelib.web.pages import message_page
from infra.gateway import UNKNOWN_ROUTE

PAGE_TITLE = "Not found"
PAGE_MESSAGE = "There is no page at this address. Check the link you followed."


class DeskGateway(LocalGateway):
    def __init__(self, app_object: Chalice, config: Config) -> None:
        super().__init__(app_object, config)
        self._app = app_object
        self._routes = RouteMatcher(list(app_object.routes))

    def has_route(self, method: str, path: str) -> bool:
        """What API Gateway deploys: each route's methods, and OPTIONS where a route has it or CORS (Chalice's
        preflight); any other method or path never reaches the desk."""
        try:
            matched = self._routes.match_route(path)
        except ValueError:
            return False
        views = self._app.routes[matched.route]
        return method in views or (method == "OPTIONS" and any(view.cors is not None for view in views.values()))

    def handle_request(self, method: str, path: str, headers: Any, body: bytes | None) -> Any:
        if not self.has_route(method, path):
            return unknown_route(headers, self._app.api.binary_types)
        return self.routed(method, path, headers, body)

    def routed(self, method: str, path: str, headers: Any, body: bytes | None) -> Any:
        """A request for one of the app's routes, as Chalice's local gateway hands it to the app."""
        return super().handle_request(method, path, headers, body)


def unknown_route(headers: Any, binary_types: list[str]) -> dict[str, Any]:
    """The desk's JSON 404 (the deployed body), or for a browser asking for HTML a page under the pages' policy."""
    accept = next((str(v) for k, v in dict(headers).items() if str(k).lower() == "accept"), "").lower()
    if "text/html" in accept and JSON not in accept:
        response = message_page(PAGE_TITLE, PAGE_MESSAGE, 404)
    else:
        response = error_response(UNKNOWN_ROUTE)
    result: dict[str, Any] = response.to_dict(binary_types)
    return result
