"""Real HTTP(S) servers on loopback addresses for redirect and origin tests.

:func:`serving` starts a threaded ``http.server`` on ``host`` (127.0.0.1, or 127.0.0.2 standing in
for another machine), plain or TLS with a throwaway certificate, whose answers come from a
``routes`` table the test fills, and which records every request it receives (method, path,
headers, body). :func:`trust` makes the standard library (and requests/httpx) trust that
certificate for the duration of a test.
"""

from __future__ import annotations

import datetime
import ipaddress
import ssl
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

#: (status, headers, body) answered for a request.
Answer = tuple[int, dict[str, str], bytes]


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Server:
    base_url: str
    routes: dict[str, Callable[[Seen], Answer]] = field(default_factory=dict)
    requests: list[Seen] = field(default_factory=list)

    def route(self, path: str, status: int, body: bytes = b"", **headers: str) -> None:
        self.routes[path] = lambda seen: (status, {k.replace("_", "-"): v for k, v in headers.items()}, body)

    def redirect(self, path: str, location: str, status: int = 307) -> None:
        self.route(path, status, b"", Location=location)

    def authorization_headers(self) -> list[str]:
        return [seen.headers["authorization"] for seen in self.requests if "authorization" in seen.headers]


@dataclass
class Certificate:
    cert_path: Path
    key_path: Path


def make_certificate(directory: Path, hosts: tuple[str, ...] = ("127.0.0.1", "127.0.0.2")) -> Certificate:
    """A self-signed certificate valid for ``hosts`` (IP addresses), written next to its key."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "logto-m2m-django test")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(h)) for h in hosts]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        # Python 3.13 verifies with VERIFY_X509_STRICT (RFC 5280): a CA needs its key usages and key identifiers.
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return Certificate(cert_path, key_path)


def trust(monkeypatch: Any, certificate: Certificate) -> None:
    """Trust ``certificate`` in this process: OpenSSL's default paths, requests and httpx read these variables."""
    monkeypatch.setenv("SSL_CERT_FILE", str(certificate.cert_path))
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(certificate.cert_path))
    # Python 3.13's urllib builds an opener's TLS context when the opener is built (3.11: per connection):
    # the module-level openers must be built again to read SSL_CERT_FILE.
    from logto_m2m_client import source
    from logto_m2m_client._internal import redirects

    from logto_m2m_django.drf import remote

    monkeypatch.setattr(source, "_opener", redirects.build_opener())
    monkeypatch.setattr(remote, "_opener", redirects.build_opener())


def _handler(server: Server) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            seen = Seen(self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body)
            server.requests.append(seen)
            route = server.routes.get(self.path.split("?")[0])
            status, headers, content = route(seen) if route else (404, {}, b'{"error": "not_found"}')
            self.send_response(status)
            headers.setdefault("Content-Type", "application/json")
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(content)))
            self.end_headers()
            self.wfile.write(content)

        do_GET = do_POST = do_PUT = do_DELETE = _answer  # noqa: N815

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@contextmanager
def serving(host: str = "127.0.0.1", certificate: Certificate | None = None) -> Iterator[Server]:
    """A running :class:`Server` on ``host`` and a free port; https when ``certificate`` is given."""
    server = Server(base_url="")
    httpd = ThreadingHTTPServer((host, 0), _handler(server))
    httpd.daemon_threads = True
    scheme = "http"
    if certificate is not None:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(certificate.cert_path, certificate.key_path)
        httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
        scheme = "https"
    server.base_url = f"{scheme}://{host}:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)
