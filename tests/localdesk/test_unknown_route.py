"""An unknown method or path, locally: the desk's own 404 (the body the deployed API Gateway gives), never Chalice's
403 that quotes the Authorization header; a page for a browser; every route still reaches the app."""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from chalice import Chalice
from chalice.config import Config

from chalicelib.web.http import error_body
from infra.gateway import UNKNOWN_ROUTE, gateway_responses
from localdesk.gateway import PAGE_TITLE, DeskGateway
from localdesk.server import Gate, build_server

TOKEN = "Bearer a-secret-agent-token"


@pytest.fixture(scope="module")
def desk_app() -> Chalice:
    from app import app

    return app


@pytest.fixture
def gateway(desk_app: Chalice) -> DeskGateway:
    return DeskGateway(desk_app, Config())


def _header(response: dict[str, Any], name: str) -> Any:
    merged = {**response["headers"], **response["multiValueHeaders"]}
    return next(v for k, v in merged.items() if k.lower() == name.lower())


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/nowhere"), ("GET", "/tickets/t1/nothing?x=1"), ("DELETE", "/form"), ("HEAD", "/form"), ("PUT", "/")],
)
def test_an_unknown_method_or_path_is_the_desks_json_404(gateway: DeskGateway, method: str, path: str) -> None:
    response = gateway.handle_request(method, path, {"Authorization": TOKEN, "Accept": "*/*"}, None)
    assert response["statusCode"] == 404
    assert json.loads(response["body"]) == error_body(UNKNOWN_ROUTE)
    assert _header(response, "Content-Type").startswith("application/json")
    assert "a-secret-agent-token" not in json.dumps(response)


def test_the_local_404_is_the_deployed_one(gateway: DeskGateway) -> None:
    deployed = gateway_responses()["MISSING_AUTHENTICATION_TOKEN"]
    local = gateway.handle_request("GET", "/nowhere", {}, None)
    assert str(local["statusCode"]) == deployed["StatusCode"]
    assert json.loads(local["body"]) == json.loads(deployed["ResponseTemplates"]["application/json"])


def test_a_browser_gets_a_page_under_the_strict_policy(gateway: DeskGateway) -> None:
    headers = {"accept": "text/html,application/xhtml+xml,*/*;q=0.8", "authorization": TOKEN}
    response = gateway.handle_request("GET", "/nowhere/<script>", headers, None)
    assert response["statusCode"] == 404
    assert _header(response, "Content-Type").startswith("text/html")
    assert "default-src 'none'" in _header(response, "Content-Security-Policy")
    assert f"<h1>{PAGE_TITLE}</h1>" in response["body"]
    assert "<script" not in response["body"]
    assert "a-secret-agent-token" not in json.dumps(response)


def test_routes_and_their_preflights_still_reach_the_app(gateway: DeskGateway, desk_app: Chalice) -> None:
    from chalicelib.web import assets

    css = gateway.handle_request("GET", assets.asset_path("desk.css"), {}, None)
    assert (css["statusCode"], _header(css, "Content-Type")) == (200, "text/css; charset=utf-8")
    for path, views in desk_app.routes.items():
        concrete = path.replace("{", "").replace("}", "")
        for method in views:
            assert gateway.has_route(method, concrete), (method, path)
    assert gateway.has_route("OPTIONS", "/tickets")  # the desk's own preflight route
    assert not gateway.has_route("OPTIONS", "/form")


def test_a_route_with_cors_keeps_chalices_preflight() -> None:
    app = Chalice(app_name="cors-test")

    @app.route("/open", methods=["GET"], cors=True)
    def open_route() -> dict[str, str]:
        return {}

    @app.route("/closed", methods=["GET"])
    def closed_route() -> dict[str, str]:
        return {}

    gateway = DeskGateway(app, Config())
    assert gateway.has_route("OPTIONS", "/open")
    assert not gateway.has_route("OPTIONS", "/closed")
    assert gateway.handle_request("OPTIONS", "/open", {}, None)["statusCode"] == 200


@pytest.fixture
def served(desk_app: Chalice) -> Iterator[str]:
    """The local run's real HTTP server on a free loopback port (the unknown route needs no moto)."""
    server = build_server(desk_app, Config(), "127.0.0.1", 0, Gate())
    thread = threading.Thread(target=server.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server.server_address[1]}"
    finally:
        server.shutdown()
        server.server.server_close()
        thread.join()


def test_over_http_an_unknown_path_is_a_404_that_quotes_no_header(served: str) -> None:
    request = urllib.request.Request(f"{served}/admin/nothing", headers={"Authorization": TOKEN})
    with pytest.raises(urllib.error.HTTPError) as answer:
        urllib.request.urlopen(request, timeout=10)
    assert answer.value.code == 404
    body = answer.value.read().decode()
    assert json.loads(body) == error_body(UNKNOWN_ROUTE)
    assert "a-secret-agent-token" not in body + str(answer.value.headers)


@pytest.mark.parametrize("method", ["TRACE", "CONNECT", "PROPFIND"])
def test_over_http_a_method_no_route_has_is_the_same_json_404(served: str, method: str) -> None:
    request = urllib.request.Request(f"{served}/tickets", method=method, headers={"Authorization": TOKEN})
    with pytest.raises(urllib.error.HTTPError) as answer:
        urllib.request.urlopen(request, timeout=10)
    assert answer.value.code == 404
    assert answer.value.headers["Content-Type"] == "application/json"
    body = answer.value.read().decode()
    assert json.loads(body) == error_body(UNKNOWN_ROUTE)
    assert "a-secret-agent-token" not in body
