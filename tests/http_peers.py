"""Local HTTPS peers for the tests of `--kube` and `--argocd-app`: a real server socket on 127.0.0.1,
real TLS (a trustme CA), every request recorded with its headers for the assertions.

No real Kubernetes API server or Argo CD can run on this machine, so these answer the few fixed
paths the gate calls, in the shapes those servers use.
"""

from __future__ import annotations

import json
import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import trustme

from gate.checks import CHECKS

# Tests of --kube and --argocd-app cannot be --offline (it forbids both): they leave out the DNS and
# registry checks instead, so that nothing but the local peer is asked.
NO_NETWORK = tuple(arg for c in CHECKS.values() if c.probe for arg in ("--exclude", c.id))

@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-case names


Answer = tuple[int, dict]  # status, JSON body
Handler = Callable[[Request], Answer]


@dataclass
class Peer:
    url: str
    port: int
    ca_file: Path
    ca_pem: bytes
    requests: list[Request] = field(default_factory=list)


class TLSPeer:
    """`with TLSPeer(handler, tmp_path) as peer:` serves HTTPS on 127.0.0.1 until the block ends."""

    def __init__(self, handler: Handler, folder: Path):
        self.handler = handler
        self.folder = folder

    def __enter__(self) -> Peer:
        ca = trustme.CA()
        cert = ca.issue_cert("127.0.0.1", "localhost")
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        cert.configure_cert(context)
        ca_file = self.folder / "ca.pem"
        ca.cert_pem.write_to_path(str(ca_file))
        recorded: list[Request] = []
        answer = self.handler

        class Handle(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                request = Request("GET", parts.path, parse_qs(parts.query),
                                  {k.lower(): v for k, v in self.headers.items()})
                recorded.append(request)
                status, body = answer(request)
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handle)
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        port = self.server.server_address[1]
        return Peer(url=f"https://127.0.0.1:{port}", port=port, ca_file=ca_file, ca_pem=ca.cert_pem.bytes(),
                    requests=recorded)

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)
