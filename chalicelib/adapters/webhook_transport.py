"""How deliveries leave: one HTTP POST with a short timeout, and the hand-over to the webhook_sender function.

Deployed, a POST goes only to the internet: the host is resolved first, every address it has must be public
(chalicelib/domain/webhooks.py, `public_address`), and the connection is made to an address that was checked, so
a name whose DNS answer changes between the check and the connect (DNS rebinding) cannot switch it to the desk's
own network; TLS still verifies the certificate against the host name, which is also the SNI and the Host."""

from __future__ import annotations

import http.client
import ipaddress
import json
import logging
import socket
import ssl
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from chalicelib.domain.webhooks import public_address
from chalicelib.services.webhooks import DeliveryKey, Posted

logger = logging.getLogger("helpdesk.webhooks")
ANSWER_READ_LIMIT = 4096  # what is read of a receiver's answer (then the connection is closed)


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A redirect is an answer, not an instruction: a POST is never turned into a GET to another address."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_opener = urllib.request.build_opener(_NoRedirects())


class HttpPoster:
    """One POST per delivery; a redirect is never followed (a 3xx is the answer, and a failure).

    `local` is the local run's: its receivers are on the machine itself, so the target is not checked (and http
    is spoken). Otherwise the target must be https and resolve to public addresses only. `tls` is the trust a
    deployed POST verifies certificates with (the system's by default; the tests pass their own)."""

    def __init__(self, *, local: bool = False, tls: ssl.SSLContext | None = None) -> None:
        self.local = local
        self.tls = tls

    def post(self, url: str, body: bytes, headers: dict[str, str], timeout: float) -> Posted:
        started = time.perf_counter()
        if self.local:
            status, error = _post_anywhere(url, body, headers, timeout)
        else:
            status, error = self._post_outside(url, body, headers, timeout)
        duration = int((time.perf_counter() - started) * 1000)
        return Posted(status, error, duration)

    def _post_outside(
        self, url: str, body: bytes, headers: dict[str, str], timeout: float
    ) -> tuple[int | None, str | None]:
        """Deployed: resolve, check every address, then POST to a checked one."""
        try:
            parts = urlsplit(url)
            host = parts.hostname or ""
            port = parts.port or 443
        except ValueError:
            return None, "refused: not a valid URL"
        if parts.scheme != "https" or not host:
            return None, "refused: only https targets are delivered to"
        addresses, refusal = _checked_addresses(host, port)
        if refusal:
            return None, refusal
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        connection = _PinnedHTTPSConnection(host, port, addresses, timeout, self.tls)
        try:
            connection.request("POST", target, body=body, headers={**headers, "Connection": "close"})
            answer = connection.getresponse()
            answer.read(ANSWER_READ_LIMIT)
            return int(answer.status), None
        except TimeoutError:
            return None, f"no answer within {timeout:g} s"
        except (OSError, http.client.HTTPException) as failed:  # refused, reset, TLS, a garbled answer
            return None, f"not reached: {str(failed) or type(failed).__name__}"
        except ValueError as failed:  # http.client refuses a control or non-ASCII character in the target
            return None, f"refused: not a valid URL ({failed})"
        finally:
            connection.close()


def _checked_addresses(host: str, port: int) -> tuple[list[str], str | None]:
    """The host's addresses, in the resolver's order, or why none is used: ANY address that is not public refuses
    the target (a name that answers with both would otherwise be a coin toss away from the inside)."""
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError) as failed:  # gaierror; idna refuses an over-long or malformed label
        return [], f"not reached: {host} does not resolve ({failed})"
    addresses: list[str] = []
    for _family, _type, _proto, _name, sockaddr in found:
        address = str(sockaddr[0])
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return [], f"refused: {host} resolves to {address}, which is not an IP address"
        if not public_address(ip):
            if _is_ip(host):
                return [], f"refused: {host} is not a public address"
            return [], f"refused: {host} resolves to {address}, which is not a public address"
        if address not in addresses:
            addresses.append(address)
    if not addresses:
        return [], f"not reached: {host} has no address"
    return addresses, None


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """HTTPS to `host` over a connection to one of `addresses` (the checked ones) and nowhere else: no second
    lookup happens. The certificate is verified against `host`, which is also the SNI and the Host header."""

    def __init__(
        self, host: str, port: int, addresses: list[str], timeout: float, context: ssl.SSLContext | None
    ) -> None:
        if context is None:  # what http.client makes by default: the system's trust, the host name checked
            context = ssl.create_default_context()
            context.set_alpn_protocols(["http/1.1"])
        super().__init__(host, port, timeout=timeout, context=context)
        self.addresses = addresses
        self.tls = context

    def connect(self) -> None:
        failure: OSError | None = None
        raw: socket.socket | None = None
        for address in self.addresses:  # in the resolver's order, as socket.create_connection tries them
            try:
                raw = socket.create_connection((address, self.port), self.timeout)
                break
            except OSError as failed:
                failure = failed
        if raw is None:
            raise failure or OSError(f"no address of {self.host} to connect to")
        try:
            raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.sock = self.tls.wrap_socket(raw, server_hostname=self.host)
        except BaseException:
            raw.close()
            raise


def _post_anywhere(url: str, body: bytes, headers: dict[str, str], timeout: float) -> tuple[int | None, str | None]:
    """The local run: urllib to whatever the URL names (its receivers are on this machine), redirects refused."""
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")  # noqa: S310 - the local run's own receivers
    try:
        with _opener.open(request, timeout=timeout) as answer:
            answer.read(ANSWER_READ_LIMIT)
            return int(answer.status), None
    except urllib.error.HTTPError as refused:
        refused.close()
        return int(refused.code), None
    except TimeoutError:
        return None, f"no answer within {timeout:g} s"
    except urllib.error.URLError as failed:
        reason = failed.reason
        if isinstance(reason, TimeoutError):
            return None, f"no answer within {timeout:g} s"
        return None, f"not reached: {reason}"
    except (OSError, http.client.HTTPException) as failed:
        return None, f"not reached: {str(failed) or type(failed).__name__}"


def payload(keys: list[DeliveryKey]) -> dict[str, Any]:
    """The webhook_sender function's event: the keys of the deliveries to send."""
    return {
        "deliveries": [{"ticket_id": k.ticket_id, "webhook_id": k.webhook_id, "event_key": k.event_key} for k in keys]
    }


def keys_of(event: Any) -> list[DeliveryKey]:
    """The keys in a webhook_sender event; anything malformed is left out (and logged)."""
    found: list[DeliveryKey] = []
    items = event.get("deliveries") if isinstance(event, dict) else None
    for item in items if isinstance(items, list) else []:
        try:
            found.append(DeliveryKey(str(item["ticket_id"]), str(item["webhook_id"]), str(item["event_key"])))
        except (KeyError, TypeError):
            logger.warning("a malformed delivery key was left out: %r", item)
    return found


class LambdaHandoff:
    """Deployed: invokes the webhook_sender function without waiting for it (InvocationType Event)."""

    def __init__(self, function_name: str, region: str) -> None:
        self.function_name = function_name
        self.region = region
        self._client: Any = None

    def __call__(self, keys: list[DeliveryKey]) -> None:
        if self._client is None:
            import boto3

            self._client = boto3.client("lambda", region_name=self.region)
        self._client.invoke(
            FunctionName=self.function_name, InvocationType="Event", Payload=json.dumps(payload(keys)).encode()
        )


class ThreadHandoff:
    """The local run: the same function, run in a thread of this process, so the stream never waits for it."""

    def __init__(self, run: Callable[[dict[str, Any]], Any]) -> None:
        self.run = run

    def __call__(self, keys: list[DeliveryKey]) -> None:
        event = payload(keys)
        threading.Thread(target=self._run, args=(event,), name="webhook_sender", daemon=True).start()

    def _run(self, event: dict[str, Any]) -> None:
        try:
            self.run(event)
        except Exception:
            logger.exception("webhook_sender failed; the outbox job retries what it did not send")
