"""/readyz and a failing feedback database in the scale-out configuration (PostgreSQL, Redis).

The PostgreSQL and Redis servers on 127.0.0.1 are shared: they are never stopped. "Down" is a port
nothing listens on, or a TCP proxy in front of the real server that the test cuts and restores.
"""

from __future__ import annotations

import json
import socket
import threading

import pytest
from ops_support import free_port

from cds_service.app import create_app
from cds_service.config import Config
from cds_service.ehr.fixtures import FIXTURE_NOW
from cds_service.engine import Engine
from ops_support import fixture_requests

REDIS = "redis://127.0.0.1:6379/0"


class TcpProxy:
    """Forwards a loopback port to ``target``; ``cut()`` closes it and every open connection."""

    def __init__(self, target: tuple[str, int], port: int | None = None) -> None:
        self.target = target
        self.port = port or free_port()
        self._conns: list[socket.socket] = []
        self._lock = threading.Lock()
        self._listener: socket.socket | None = None
        self.start()

    def start(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(16)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target, timeout=3)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._conns += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for s in (source, sink):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def cut(self) -> None:
        if self._listener is not None:
            try:
                self._listener.shutdown(socket.SHUT_RDWR)  # wakes the accept() thread; close() alone would not
            except OSError:
                pass
            self._listener.close()
            self._listener = None
        with self._lock:
            conns, self._conns = self._conns, []
        for conn in conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            conn.close()


@pytest.fixture(scope="module")
def engine() -> Engine:
    return Engine.load()


def _pg_url(port: int, schema: str) -> str:
    return f"postgresql://127.0.0.1:{port}/test?options=-csearch_path%3D{schema}"


def _redis_up() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=1):
            return True
    except OSError:
        return False


def make_client(engine, **config):
    app = create_app(Config(allowed_fhir_servers=("http://127.0.0.1:1/fhir",), fixed_now=FIXTURE_NOW, **config),
                     engine=engine)
    return app, app.test_client()


HOOK = next(r for r in fixture_requests() if r[0] == "brain-metastases")


def hook_call(client):
    return client.post(f"/cds-services/{HOOK[0]}", data=json.dumps(HOOK[2]), content_type="application/json")


def feedback(client, card: str):
    return client.post(f"/cds-services/{HOOK[0]}/feedback", content_type="application/json", data=json.dumps(
        {"feedback": [{"card": card, "outcome": "overridden", "outcomeTimestamp": "2026-11-24T09:05:00Z"}]}))


def test_postgresql_down_at_start_gives_advice_and_503_feedback(engine, pg_schema):
    app, client = make_client(engine, database=_pg_url(free_port(), pg_schema))  # nothing listens there
    try:
        assert hook_call(client).status_code == 200
        response = feedback(client, "c1")
        assert response.status_code == 503 and response.headers["Retry-After"]
        ready = client.get("/readyz")
        assert ready.status_code == 503
        assert ready.get_json()["dependencies"] == {"feedbackDatabase": "down"}
        assert client.get("/healthz").status_code == 200
    finally:
        app.extensions["cds"].close()


def test_postgresql_failing_during_the_run_and_coming_back(engine, pg_schema):
    proxy = TcpProxy(("127.0.0.1", 5432))
    app, client = make_client(engine, database=_pg_url(proxy.port, pg_schema))
    store = app.extensions["cds"].store
    try:
        assert feedback(client, "before").get_json() == {"stored": 1, "duplicates": 0}
        assert client.get("/readyz").status_code == 200

        proxy.cut()  # the database goes away mid-run
        assert feedback(client, "during").status_code == 503
        assert hook_call(client).status_code == 200  # advice goes on
        assert client.get("/readyz").status_code == 503

        proxy.start()  # it comes back
        store._last_attempt = float("-inf")  # skip the reconnect interval
        assert client.get("/readyz").status_code == 200
        assert feedback(client, "after").get_json() == {"stored": 1, "duplicates": 0}
        assert sorted(r["card_uuid"] for r in store.feedback_rows()) == ["after", "before"]
    finally:
        app.extensions["cds"].close()
        proxy.cut()


@pytest.mark.skipif(not _redis_up(), reason="Redis at 127.0.0.1:6379 is not reachable")
def test_readyz_follows_redis(engine, tmp_path):
    app, client = make_client(engine, database=str(tmp_path / "f.sqlite3"), redis_url=REDIS)
    try:
        ready = client.get("/readyz")
        assert ready.status_code == 200
        assert ready.get_json()["dependencies"] == {"feedbackDatabase": "up", "redis": "up"}
    finally:
        app.extensions["cds"].close()

    app, client = make_client(engine, database=str(tmp_path / "f.sqlite3"),
                              redis_url=f"redis://127.0.0.1:{free_port()}/0")
    try:
        ready = client.get("/readyz")
        assert ready.status_code == 503
        assert ready.get_json()["dependencies"] == {"feedbackDatabase": "up", "redis": "down"}
        assert client.get("/healthz").status_code == 200
        assert hook_call(client).status_code == 200
    finally:
        app.extensions["cds"].close()
