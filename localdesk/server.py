"""Chalice's local API Gateway, serving one request at a time against the in-process moto."""

from __future__ import annotations

import functools
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

from chalice import Chalice
from chalice.config import Config
from chalice.local import ChaliceRequestHandler, LocalDevServer, ThreadedHTTPServer

from chalicelib.web.http import error_body
from infra.gateway import UNKNOWN_ROUTE
from localdesk.gateway import DeskGateway


class GateClosedError(Exception):
    """The desk is stopping: moto may already be gone."""


class Gate:
    """Admits one request, stream batch or job at a time to moto; closed for good when the desk stops.

    moto's in-process backends are not safe under concurrent conditional writes (two version-checked
    updates can both succeed), so everything that touches the mocked AWS goes through `turn()`.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._closed = False

    @contextmanager
    def turn(self) -> Iterator[None]:
        with self._lock:
            if self._closed:
                raise GateClosedError
            yield

    @contextmanager
    def outside(self) -> Iterator[None]:
        """Within a turn: let others in while this one waits on something that is not moto (a webhook's receiver)."""
        self._lock.release()
        try:
            yield
        finally:
            self._lock.acquire()

    def close(self) -> None:
        """Waits for the one in progress, then refuses every later turn."""
        with self._lock:
            self._closed = True


class SerialGateway(DeskGateway):
    """The desk's gateway (unknown routes answered without the app, and without a turn); routes take their turn."""

    def __init__(self, app_object: Chalice, config: Config, gate: Gate) -> None:
        super().__init__(app_object, config)
        self._gate = gate

    def routed(self, method: str, path: str, headers: Any, body: bytes | None) -> Any:
        with self._gate.turn():
            return super().routed(method, path, headers, body)


class SerialRequestHandler(ChaliceRequestHandler):
    """Chalice's handler with a gateway that takes its turn at the gate; reading and writing stay concurrent."""

    def __init__(
        self,
        request: Any,
        client_address: tuple[str, int],
        server: HTTPServer,
        app_object: Chalice,
        config: Config,
        gate: Gate,
    ) -> None:
        # ChaliceRequestHandler.__init__ would build a plain LocalGateway, and the base class handles
        # the request inside __init__, so the gateway must be in place before that call.
        self.local_gateway = SerialGateway(app_object, config, gate)
        BaseHTTPRequestHandler.__init__(self, request, client_address, server)

    def _generic_handle(self) -> None:
        try:
            super()._generic_handle()
        except GateClosedError:
            self.close_connection = True
            self._send_http_response(
                503, {"Connection": "close"}, b'{"error": {"code": "stopping", "message": "the desk is stopping"}}'
            )

    do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = do_PATCH = do_OPTIONS = _generic_handle

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """A method no route has (TRACE, CONNECT, WebDAV's...) gets the desk's JSON 404, as the deployed API Gateway
        answers it (no route answers this method on this path), not the standard library's HTML 501 page. Every
        other error the HTTP layer itself raises keeps its usual answer."""
        if code != HTTPStatus.NOT_IMPLEMENTED:
            super().send_error(code, message, explain)
            return
        self.close_connection = True
        body = json.dumps(error_body(UNKNOWN_ROUTE)).encode()
        self._send_http_response(
            HTTPStatus.NOT_FOUND, {"Content-Type": "application/json", "Connection": "close"}, body
        )


class LocalHTTPServer(ThreadedHTTPServer):
    """A thread per connection (browsers hold connections open); the gate serialises the work itself."""

    daemon_threads = True
    allow_reuse_address = True


def build_server(app: Chalice, config: Config, host: str, port: int, gate: Gate) -> LocalDevServer:
    handler = functools.partial(SerialRequestHandler, gate=gate)
    return LocalDevServer(app, config, host, port, handler_cls=handler, server_cls=LocalHTTPServer)
