"""A real loopback HTTP server for WSGI apps, so the EHR tools are tested over the wire."""

from __future__ import annotations

import threading
from typing import Callable, Iterator

import pytest
from werkzeug.serving import make_server


class LiveServer:
    def __init__(self, app) -> None:
        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


@pytest.fixture
def live() -> Iterator[Callable[[object], LiveServer]]:
    """``live(app)`` serves a WSGI app on a free loopback port until the test ends."""
    servers: list[LiveServer] = []

    def start(app) -> LiveServer:
        server = LiveServer(app)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()
