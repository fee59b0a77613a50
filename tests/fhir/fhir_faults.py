"""Loopback test servers: a fault-injecting FHIR server and a trap that must never be connected to.

Imported by name (``from fhir_faults import …``). Both bind to 127.0.0.0/8 only,
on free ports, in daemon threads; every wait inside a handler is bounded and
ends when the server stops, so a test can never hang on them.
"""

from __future__ import annotations

import gzip
import json
import socket
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable
from urllib.parse import parse_qs, urlsplit


class Trap:
    """A TCP listener that records every connection (and the first bytes sent: a bearer token would show)."""

    def __init__(self, host: str = "127.0.0.2") -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, 0))
        self.sock.listen(16)
        self.sock.settimeout(0.05)
        self.host, self.port = self.sock.getsockname()[:2]
        self.connections: list[bytes] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    @property
    def netloc(self) -> str:
        return f"{self.host}:{self.port}"

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            conn.settimeout(0.5)
            try:
                data = conn.recv(4096)
            except OSError:
                data = b""
            self.connections.append(data)
            conn.close()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(2)
        self.sock.close()


@dataclass
class Seen:
    """One request the fault server received."""

    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]


@dataclass
class FaultLog:
    requests: list[Seen] = field(default_factory=list)
    bytes_sent: dict[str, int] = field(default_factory=dict)  # fault name -> bytes written before the client left
    client_left: set[str] = field(default_factory=set)  # faults whose client hung up before the body was complete
    finished: dict[str, int] = field(default_factory=dict)  # fault name -> handlers that have returned
    _changed: threading.Condition = field(default_factory=threading.Condition)

    def reset(self) -> None:
        with self._changed:
            self.requests.clear()
            self.bytes_sent.clear()
            self.client_left.clear()
            self.finished.clear()

    def done(self, fault: str) -> None:
        with self._changed:
            self.finished[fault] = self.finished.get(fault, 0) + 1
            self._changed.notify_all()

    def wait_finished(self, fault: str, timeout: float = 30.0) -> bool:
        """Until a handler of ``fault`` has returned (its figures are then final); False if none did in time."""
        with self._changed:
            return self._changed.wait_for(lambda: self.finished.get(fault, 0) > 0, timeout)


def _bundle(rtype: str, count: int, start: int = 0, next_url: str | None = None, pad: int = 0) -> dict:
    entries = [{"resource": {"resourceType": rtype, "id": f"{rtype.lower()}-{i}", **({"text": "x" * pad} if pad else {})},
                "search": {"mode": "match"}} for i in range(start, start + count)]
    out: dict[str, Any] = {"resourceType": "Bundle", "type": "searchset", "entry": entries}
    if next_url:
        out["link"] = [{"relation": "next", "url": next_url}]
    return out


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hung up mid-answer is what these tests provoke: nothing to print."""


_BOMB: list[bytes] = []


def _gzip_bomb() -> bytes:
    """~16 KB of gzip that inflates to 16 MB (built once, when the server starts)."""
    if not _BOMB:
        _BOMB.append(gzip.compress(b'{"resourceType": "Bundle", "x": "' + b"a" * (16 * 1024 * 1024) + b'"}', 6))
    return _BOMB[0]


class FaultServer:
    """A FHIR server on 127.0.0.1 whose answer per resource type is a named fault (default: a correct answer).

    ``faults["Observation"] = "trickle"`` makes every Observation request misbehave that way.
    ``next_links["Observation"] = url`` puts that ``next`` link in a (correct) search page.
    """

    FAULTS = ("ok", "slow-headers", "trickle-headers", "trickle", "hang-body", "http-500", "http-503", "http-401", "malformed-json",
              "deep-json", "json-array", "wrong-type", "wrong-entry-type", "wrong-id", "operation-outcome",
              "paging-loop", "endless-paging", "huge-bundle", "huge-chunked", "many-resources", "gzip-bomb",
              "truncated", "redirect", "next-link")

    def __init__(self, hold: float = 20.0) -> None:
        self.faults: dict[str, str] = {}
        self.next_links: dict[str, str] = {}
        self.redirect_to = ""
        self.log = FaultLog()
        self.hold = hold  # how long hanging faults hang at most (the server's own bound)
        self._stop = threading.Event()
        _gzip_bomb()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def do_GET(self) -> None:  # noqa: N802
                server._handle(self)

        self.httpd = _QuietServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.netloc = f"127.0.0.1:{self.port}"
        self.base = f"http://{self.netloc}/fhir"
        self._thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self.httpd.shutdown()
        self.httpd.server_close()
        self._thread.join(2)

    # -- answers -------------------------------------------------------------------------------
    def _handle(self, h: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(h.path)
        self.log.requests.append(Seen(parts.path, parse_qs(parts.query), {k: v for k, v in h.headers.items()}))
        rest = parts.path.removeprefix("/fhir/")
        rtype, _, rid = rest.partition("/")
        fault = self.faults.get(rtype, "ok")
        query = parse_qs(parts.query)
        try:
            getattr(self, "_" + fault.replace("-", "_"))(h, rtype, rid, query)
        except (BrokenPipeError, ConnectionResetError, TimeoutError, OSError):
            self.log.client_left.add(fault)
        finally:
            self.log.done(fault)

    def _send(self, h: BaseHTTPRequestHandler, status: int, body: bytes, ctype: str = "application/fhir+json",
              headers: dict[str, str] | None = None) -> None:
        h.send_response(status)
        h.send_header("Content-Type", ctype)
        h.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            h.send_header(k, v)
        h.end_headers()
        h.wfile.write(body)

    def _json(self, h: BaseHTTPRequestHandler, body: Any, status: int = 200) -> None:
        self._send(h, status, json.dumps(body).encode())

    def _ok(self, h, rtype, rid, query) -> None:
        if rid:
            self._json(h, {"resourceType": rtype, "id": rid})
        else:
            self._json(h, _bundle(rtype, 1, next_url=self.next_links.get(rtype)))

    _next_link = _ok

    def _slow_headers(self, h, rtype, rid, query) -> None:
        self._stop.wait(self.hold)
        self._ok(h, rtype, rid, query)

    def _trickle_headers(self, h, rtype, rid, query) -> None:
        """The status line, then a header one byte every 50 ms (each read is quick: only a deadline stops it)."""
        h.wfile.write(b"HTTP/1.1 200 OK\r\nX-Slow: ")
        for _ in range(int(self.hold / 0.05)):
            if self._stop.wait(0.05):
                return
            h.wfile.write(b"a")
            h.wfile.flush()
        h.wfile.write(b"\r\nContent-Length: 2\r\n\r\n{}")

    def _trickle(self, h, rtype, rid, query) -> None:
        body = json.dumps(_bundle(rtype, 200)).encode()
        h.send_response(200)
        h.send_header("Content-Type", "application/fhir+json")
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        sent = 0
        try:
            for i in range(len(body)):
                if self._stop.wait(0.05):
                    return
                h.wfile.write(body[i:i + 1])
                h.wfile.flush()
                sent += 1
        finally:
            self.log.bytes_sent["trickle"] = sent

    def _hang_body(self, h, rtype, rid, query) -> None:
        h.send_response(200)
        h.send_header("Content-Type", "application/fhir+json")
        h.send_header("Content-Length", "100000")
        h.end_headers()
        h.wfile.write(b'{"resourceType": "Bundle", "entry": [')
        h.wfile.flush()
        self._stop.wait(self.hold)

    def _http_500(self, h, rtype, rid, query) -> None:
        self._json(h, {"resourceType": "OperationOutcome", "issue": [{"severity": "error"}]}, 500)

    def _http_503(self, h, rtype, rid, query) -> None:
        self._send(h, 503, b"<html>Service Unavailable</html>", "text/html")

    def _http_401(self, h, rtype, rid, query) -> None:
        self._send(h, 401, b'{"resourceType": "OperationOutcome"}', headers={"WWW-Authenticate": "Bearer error=\"invalid_token\""})

    def _malformed_json(self, h, rtype, rid, query) -> None:
        self._send(h, 200, b'{"resourceType": "Bundle", "entry": [')

    def _deep_json(self, h, rtype, rid, query) -> None:
        self._send(h, 200, b'{"resourceType": "Bundle", "x": ' + b"[" * 100_000 + b"]" * 100_000 + b"}")

    def _json_array(self, h, rtype, rid, query) -> None:
        self._send(h, 200, b"[1, 2, 3]")

    def _wrong_type(self, h, rtype, rid, query) -> None:
        self._json(h, {"resourceType": "Practitioner", "id": "x"})

    def _wrong_entry_type(self, h, rtype, rid, query) -> None:
        self._json(h, _bundle("Practitioner", 2))

    def _wrong_id(self, h, rtype, rid, query) -> None:
        self._json(h, {"resourceType": rtype, "id": "someone-else"})

    def _operation_outcome(self, h, rtype, rid, query) -> None:
        self._json(h, {"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": "processing"}]})

    def _paging_loop(self, h, rtype, rid, query) -> None:
        self._json(h, _bundle(rtype, 1, next_url=f"{self.base}/{rtype}?page=1"))

    def _endless_paging(self, h, rtype, rid, query) -> None:
        page = int((query.get("page") or ["0"])[0])
        self._json(h, _bundle(rtype, 1, start=page, next_url=f"{self.base}/{rtype}?page={page + 1}"))

    def _huge_bundle(self, h, rtype, rid, query) -> None:
        body = json.dumps(_bundle(rtype, 50, pad=20_000)).encode()  # ~1 MB, Content-Length declared
        self._send(h, 200, body)

    def _huge_chunked(self, h, rtype, rid, query) -> None:
        h.send_response(200)
        h.send_header("Content-Type", "application/fhir+json")
        h.send_header("Transfer-Encoding", "chunked")
        h.end_headers()
        sent = 0
        chunk = b" " * 65536
        try:
            for _ in range(400):  # up to 25 MB, unless the client leaves first
                h.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                sent += len(chunk)
            h.wfile.write(b"0\r\n\r\n")
        finally:
            self.log.bytes_sent["huge-chunked"] = sent

    def _many_resources(self, h, rtype, rid, query) -> None:
        self._json(h, _bundle(rtype, 5000))

    def _gzip_bomb(self, h, rtype, rid, query) -> None:
        self._send(h, 200, _gzip_bomb(), headers={"Content-Encoding": "gzip"})

    def _truncated(self, h, rtype, rid, query) -> None:
        h.send_response(200)
        h.send_header("Content-Type", "application/fhir+json")
        h.send_header("Content-Length", "5000")
        h.end_headers()
        h.wfile.write(b'{"resourceType": "Bundle", "entry": []')
        h.close_connection = True

    def _redirect(self, h, rtype, rid, query) -> None:
        self._send(h, 302, b"", headers={"Location": self.redirect_to})


def run_with(server: FaultServer, fault: str, rtype: str, action: Callable[[], Any]) -> Any:
    """Run ``action`` with ``fault`` injected for ``rtype``; the fault is removed afterwards."""
    server.faults[rtype] = fault
    try:
        return action()
    finally:
        server.faults.pop(rtype, None)
