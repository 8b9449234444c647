"""The POST a delivery makes: deployed, only to public addresses, connected to the address that was checked, with
TLS verified against the host name; in the local run, to the machine itself. Redirects are never followed."""

from __future__ import annotations

import datetime as dt
import ipaddress
import socket
import ssl
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from chalicelib.adapters.webhook_transport import HttpPoster

HOST = "hooks.example.org"
PUBLIC = "93.184.215.14"
BODY = b'{"kind":"created"}'
HEADERS = {"Content-Type": "application/json", "Webhook-Id": "evt_1"}
REAL_GETADDRINFO = socket.getaddrinfo
REAL_CREATE_CONNECTION = socket.create_connection

Resolved = list[tuple[Any, ...]]


def answer(*addresses: str, port: int = 443) -> Resolved:
    """What getaddrinfo returns for a name with these addresses."""
    found: Resolved = []
    for address in addresses:
        if ipaddress.ip_address(address).version == 6:
            found.append((socket.AF_INET6, socket.SOCK_STREAM, 6, "", (address, port, 0, 0)))
        else:
            found.append((socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port)))
    return found


@dataclass
class Network:
    """A fake DNS for the names the test gives (anything else resolves for real: 127.0.0.1 and numeric forms) and
    a record of every connection asked for; `route` sends a connection to a public address to a local server."""

    names: dict[str, list[Resolved]] = field(default_factory=dict)
    lookups: list[str] = field(default_factory=list)
    connections: list[tuple[str, int]] = field(default_factory=list)
    route: tuple[str, int] | None = None

    def getaddrinfo(self, host: Any, port: Any, *args: Any, **kwargs: Any) -> Resolved:
        if host in self.names:
            self.lookups.append(host)
            answers = self.names[host]
            return answers.pop(0) if len(answers) > 1 else answers[0]  # the next answer differs: DNS rebinding
        return REAL_GETADDRINFO(host, port, *args, **kwargs)

    def create_connection(self, address: tuple[str, int], *args: Any, **kwargs: Any) -> socket.socket:
        self.connections.append(address)
        if self.route is None:
            raise ConnectionRefusedError("no route in this test")
        return REAL_CREATE_CONNECTION(self.route, *args, **kwargs)


@pytest.fixture
def network(monkeypatch: pytest.MonkeyPatch) -> Network:
    fake = Network()
    monkeypatch.setattr(socket, "getaddrinfo", fake.getaddrinfo)
    monkeypatch.setattr(socket, "create_connection", fake.create_connection)
    return fake


def test_a_name_that_resolves_to_a_private_address_is_refused_without_a_connection(network: Network) -> None:
    network.names[HOST] = [answer("10.0.0.5")]

    posted = HttpPoster().post(f"https://{HOST}/hook", BODY, HEADERS, 5.0)

    assert (posted.status, posted.error) == (
        None,
        f"refused: {HOST} resolves to 10.0.0.5, which is not a public address",
    )
    assert network.lookups == [HOST]
    assert network.connections == []


@pytest.mark.parametrize(
    "addresses",
    [
        (PUBLIC, "169.254.169.254"),
        ("2606:4700:4700::1111", "::1"),
        ("::ffff:127.0.0.1",),
        ("fd00:ec2::254",),
        ("224.0.0.1",),
    ],
)
def test_any_address_that_is_not_public_refuses_the_target(network: Network, addresses: tuple[str, ...]) -> None:
    network.names[HOST] = [answer(*addresses)]

    posted = HttpPoster().post(f"https://{HOST}/hook", BODY, HEADERS, 5.0)

    assert posted.status is None
    assert posted.error is not None
    assert posted.error.startswith(f"refused: {HOST} resolves to ")
    assert network.connections == []


@pytest.mark.parametrize(
    ("url", "error"),
    [
        ("https://127.0.0.1:9/hook", "refused: 127.0.0.1 is not a public address"),
        ("https://[::1]/hook", "refused: ::1 is not a public address"),
        ("https://169.254.169.254/latest/meta-data/", "refused: 169.254.169.254 is not a public address"),
        ("https://2130706433/", "refused: 2130706433 resolves to 127.0.0.1, which is not a public address"),
        ("https://0x7f.1/", "refused: 0x7f.1 resolves to 127.0.0.1, which is not a public address"),
        ("http://hooks.example.org/hook", "refused: only https targets are delivered to"),
        ("https://hooks.example.org:port/", "refused: not a valid URL"),
    ],
)
def test_deployed_the_machine_itself_and_plain_http_are_refused_before_any_connection(
    network: Network, url: str, error: str
) -> None:
    posted = HttpPoster().post(url, BODY, HEADERS, 5.0)

    assert (posted.status, posted.error) == (None, error)
    assert network.connections == []


def test_a_name_that_does_not_resolve_is_not_reached(network: Network, monkeypatch: pytest.MonkeyPatch) -> None:
    def nowhere(*args: Any, **kwargs: Any) -> Resolved:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", nowhere)

    posted = HttpPoster().post(f"https://{HOST}/hook", BODY, HEADERS, 5.0)

    assert posted.status is None
    assert posted.error == f"not reached: {HOST} does not resolve ([Errno -2] Name or service not known)"
    assert network.connections == []


# A receiver behind TLS, with a certificate from a test authority, reached through the fake network.


@dataclass
class Authority:
    ca_file: Path
    issue: Callable[[str], ssl.SSLContext]  # a server context with a certificate for that name

    def trust(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.ca_file))


def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])


@pytest.fixture(scope="module")
def authority(tmp_path_factory: pytest.TempPathFactory) -> Authority:
    folder = tmp_path_factory.mktemp("tls")
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(_name("webhook test CA"))
        .issuer_name(_name("webhook test CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    ca_file = folder / "ca.pem"
    ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))

    def issue(name: str) -> ssl.SSLContext:
        key = ec.generate_private_key(ec.SECP256R1())
        leaf = (
            x509.CertificateBuilder()
            .subject_name(_name(name))
            .issuer_name(ca.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256())
        )
        chain = folder / f"{name}.pem"
        chain.write_bytes(
            leaf.public_bytes(serialization.Encoding.PEM)
            + key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(str(chain))
        return context

    return Authority(ca_file, issue)


@dataclass
class Seen:
    sni: list[str | None] = field(default_factory=list)
    requests: list[tuple[str, str, str | None, bytes]] = field(default_factory=list)  # method, path, Host, body


def _handler(seen: Seen) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            seen.requests.append(("POST", self.path, self.headers.get("Host"), body))
            if self.path == "/moved":
                self.send_response(302)
                self.send_header("Location", "/elsewhere")
            else:
                self.send_response(204)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def do_GET(self) -> None:
            seen.requests.append(("GET", self.path, self.headers.get("Host"), b""))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            return

    return Handler


@pytest.fixture
def serve() -> Iterator[Callable[[ssl.SSLContext | None], tuple[int, Seen]]]:
    """Starts a receiver on 127.0.0.1 (TLS with the context given, plain HTTP without): its port and what it saw."""
    servers: list[ThreadingHTTPServer] = []

    def start(context: ssl.SSLContext | None) -> tuple[int, Seen]:
        seen = Seen()
        server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(seen))
        server.daemon_threads = True
        if context is not None:

            def note(sock: ssl.SSLSocket, name: str | None, ctx: ssl.SSLContext) -> None:
                seen.sni.append(name)

            context.sni_callback = note
            server.socket = context.wrap_socket(server.socket, server_side=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return server.server_address[1], seen

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def test_a_public_name_is_connected_to_by_its_checked_address_with_tls_for_the_name(
    network: Network, authority: Authority, serve: Callable[[ssl.SSLContext | None], tuple[int, Seen]]
) -> None:
    port, seen = serve(authority.issue(HOST))
    network.route = ("127.0.0.1", port)
    network.names[HOST] = [answer(PUBLIC), answer("127.0.0.1")]  # a second lookup would answer the inside

    posted = HttpPoster(tls=authority.trust()).post(f"https://{HOST}/hook?team=it", BODY, HEADERS, 5.0)

    assert (posted.status, posted.error) == (204, None)
    assert network.lookups == [HOST]
    assert network.connections == [(PUBLIC, 443)]
    assert seen.sni == [HOST]
    assert seen.requests == [("POST", "/hook?team=it", HOST, BODY)]


def test_the_next_address_is_tried_when_the_first_does_not_answer(
    network: Network,
    authority: Authority,
    serve: Callable[[ssl.SSLContext | None], tuple[int, Seen]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    port, seen = serve(authority.issue(HOST))
    network.route = ("127.0.0.1", port)
    network.names[HOST] = [answer("2606:4700:4700::1111", PUBLIC, port=8443)]

    def ipv6_unreachable(address: tuple[str, int], *args: Any, **kwargs: Any) -> socket.socket:
        if ":" in address[0]:
            network.connections.append(address)
            raise OSError("Network is unreachable")
        return network.create_connection(address, *args, **kwargs)

    monkeypatch.setattr(socket, "create_connection", ipv6_unreachable)

    posted = HttpPoster(tls=authority.trust()).post(f"https://{HOST}:8443/hook", BODY, HEADERS, 5.0)

    assert (posted.status, posted.error) == (204, None)
    assert network.connections == [("2606:4700:4700::1111", 8443), (PUBLIC, 8443)]
    assert seen.requests == [("POST", "/hook", f"{HOST}:8443", BODY)]


def test_a_certificate_for_another_name_is_not_trusted(
    network: Network, authority: Authority, serve: Callable[[ssl.SSLContext | None], tuple[int, Seen]]
) -> None:
    port, seen = serve(authority.issue("other.example.org"))
    network.route = ("127.0.0.1", port)
    network.names[HOST] = [answer(PUBLIC)]

    posted = HttpPoster(tls=authority.trust()).post(f"https://{HOST}/hook", BODY, HEADERS, 5.0)

    assert posted.status is None
    assert posted.error is not None
    assert posted.error.startswith("not reached: [SSL: CERTIFICATE_VERIFY_FAILED]")
    assert "Hostname mismatch" in posted.error
    assert seen.requests == []


def test_deployed_a_redirect_is_the_answer_and_is_not_followed(
    network: Network, authority: Authority, serve: Callable[[ssl.SSLContext | None], tuple[int, Seen]]
) -> None:
    port, seen = serve(authority.issue(HOST))
    network.route = ("127.0.0.1", port)
    network.names[HOST] = [answer(PUBLIC)]

    posted = HttpPoster(tls=authority.trust()).post(f"https://{HOST}/moved", BODY, HEADERS, 5.0)

    assert (posted.status, posted.error) == (302, None)
    assert [path for _, path, _, _ in seen.requests] == ["/moved"]
    assert network.connections == [(PUBLIC, 443)]


def test_the_local_run_posts_to_the_machine_itself_and_does_not_follow_a_redirect(
    serve: Callable[[ssl.SSLContext | None], tuple[int, Seen]],
) -> None:
    port, seen = serve(None)
    poster = HttpPoster(local=True)

    sent = poster.post(f"http://127.0.0.1:{port}/hook", BODY, HEADERS, 5.0)
    moved = poster.post(f"http://127.0.0.1:{port}/moved", BODY, HEADERS, 5.0)

    assert (sent.status, sent.error) == (204, None)
    assert (moved.status, moved.error) == (302, None)
    assert [(method, path) for method, path, _, _ in seen.requests] == [("POST", "/hook"), ("POST", "/moved")]


def test_the_default_poster_is_the_guarded_one(network: Network) -> None:
    posted = HttpPoster().post("https://localhost:9/hook", BODY, HEADERS, 5.0)

    assert posted.status is None
    assert posted.error is not None
    assert posted.error.startswith("refused: localhost resolves to ")  # 127.0.0.1 or ::1, whichever comes first
    assert network.connections == []
