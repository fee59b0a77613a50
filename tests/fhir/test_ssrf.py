"""Issue #12 / #16 item 2: no request — and no bearer token — ever goes anywhere but an allowed FHIR base.

Through the real stack: the Flask app (test client) with the real prefetch
resolver and the real FHIR client (requests/urllib3). An allowed FHIR server
(the fault server) listens on 127.0.0.1; trap listeners on 127.0.0.2 and on
another 127.0.0.1 port record every connection. Each bypass variant must be
refused with no connection to either trap (and, for a refused ``fhirServer``,
none to the allowed server either), and never answer 500.
"""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest
from fhir_faults import FaultServer, Trap

from cds_service.app import create_app
from cds_service.config import Config
from cds_service.engine import Engine
from cds_service.fhir.prefetch import FETCH_FAILED
from cds_service.fhir.urls import UnsafeUrl, parse_target, resolve_link

TOKEN = "secret-ehr-token-123"


@pytest.fixture(scope="module")
def engine():
    return Engine.load()


@pytest.fixture(scope="module")
def fhir():
    server = FaultServer()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def trap():
    t = Trap("127.0.0.2")
    yield t
    t.stop()


@pytest.fixture(scope="module")
def local_trap():
    t = Trap("127.0.0.1")
    yield t
    t.stop()


@pytest.fixture
def make_client(engine, tmp_path):
    apps = []

    def build(**config):
        config.setdefault("database", str(tmp_path / "feedback.sqlite3"))
        config.setdefault("fhir_timeout", 10.0)  # nothing here hangs: a loaded machine must not time out
        app = create_app(Config(**config), engine=engine)
        app.testing = True
        apps.append(app)
        return app.test_client()

    yield build
    for app in apps:
        app.extensions["cds"].close()


def call(client, fhir_server, prefetch=None, headers=None):
    body = {"hook": "patient-view", "hookInstance": "h-ssrf",
            "context": {"userId": "Practitioner/u1", "patientId": "p1"},
            "fhirServer": fhir_server,
            "fhirAuthorization": {"access_token": TOKEN, "token_type": "Bearer", "expires_in": 300,
                                  "scope": "patient/*.read", "subject": "cds"}}
    if prefetch is not None:
        body["prefetch"] = prefetch
    return client.post("/cds-services/leptomeningeal-metastases", json=body, headers=headers or {})


def empty_bundle(next_url=None):
    out = {"resourceType": "Bundle", "type": "searchset", "entry": []}
    if next_url is not None:
        out["link"] = [{"relation": "next", "url": next_url}]
    return out


def fhir_server_variants(fhir, trap, local_trap):
    """``fhirServer`` values that must be refused (allow-list: the fault server's base)."""
    a, t, lt = fhir.netloc, trap.netloc, local_trap.netloc
    return {
        "backslash before @ (issue #12)": f"http://{t}\\@{a}/fhir",
        "backslash, allowed host first": f"http://{a}\\@{t}/fhir",
        "double backslash": f"http://{t}\\\\@{a}/fhir",
        "backslash as path start": f"http://{t}\\fhir",
        "scheme with backslashes": f"http:\\\\{t}/fhir",
        "userinfo before the allowed host": f"http://{t}@{a}/fhir",
        "userinfo with port-like user": f"http://{a}:80@{t}/fhir",
        "userinfo on the allowed server": f"http://user:pw@{a}/fhir",
        "other host": f"http://{t}/fhir",
        "other port": f"http://{lt}/fhir",
        "other scheme": f"https://{a}/fhir",
        "gopher": f"gopher://{t}/fhir",
        "file URL": "file:///etc/passwd",
        "metadata address": "http://169.254.169.254/latest/meta-data/",
        "metadata via backslash": f"http://169.254.169.254\\@{a}/fhir",
        "IPv6-mapped trap": f"http://[::ffff:127.0.0.2]:{trap.port}/fhir",
        "trailing-dot host": f"http://{trap.host}.:{trap.port}/fhir",
        "percent-encoded host": f"http://%31%32%37.0.0.2:{trap.port}/fhir",
        "hex host": f"http://0x7f.0.0.2:{trap.port}/fhir",
        "decimal host": f"http://2130706434:{trap.port}/fhir",
        "dot segments leave the base": f"http://{a}/fhir/../admin",
        "encoded dot segments": f"http://{a}/fhir/%2e%2e/admin",
        "dot-dot-semicolon": f"http://{a}/fhir/..;/admin",
        "encoded slash": f"http://{a}/fhir%2F..",
        "sibling path": f"http://{a}/fhirx",
        "query on the base": f"http://{a}/fhir?x=http://{t}/",
        "fragment": f"http://{a}/fhir#@{t}",
        "tab inside": f"http://{a}/fh\tir",
        "newline inside": f"http://{t}\n@{a}/fhir",
        "NUL": f"http://{t}\x00@{a}/fhir",
        "leading space": f" http://{t}/fhir",
        "scheme-relative": f"//{t}/fhir",
        "unclosed IPv6 bracket (was a 500)": "http://[",
        "bad port": f"http://{trap.host}:99999/fhir",
        "non-ASCII host": f"http://{a}\u3002evil/fhir",
        "fullwidth @": f"http://{t}\uff20{a}/fhir",
    }


def next_link_variants(fhir, trap, local_trap):
    """``next`` links (in a prefetched Bundle, or from the allowed server) that must not be followed."""
    a, t, lt = fhir.netloc, trap.netloc, local_trap.netloc
    return {
        "other host": f"http://{t}/fhir/Observation?page=2",
        "backslash before @ (issue #12)": f"http://{t}\\@{a}/fhir/Observation?page=2",
        "backslash, allowed host first": f"http://{a}\\@{t}/fhir/Observation?page=2",
        "userinfo": f"http://{t}@{a}/fhir/Observation?page=2",
        "userinfo on the allowed server": f"http://u:p@{a}/fhir/Observation?page=2",
        "other port": f"http://{lt}/fhir/Observation?page=2",
        "other scheme": f"https://{a}/fhir/Observation?page=2",
        "dot segments leave the base": f"http://{a}/fhir/../admin?page=2",
        "encoded dot segments": f"http://{a}/fhir/%2e%2e/admin?page=2",
        "dot-dot-semicolon": f"http://{a}/fhir/..;/admin?page=2",
        "relative, absolute path": "/admin?page=2",
        "relative, dot segments": "../admin?page=2",
        "scheme-relative": f"//{t}/fhir/Observation?page=2",
        "sibling path": f"http://{a}/fhirx/Observation?page=2",
        "metadata address": "http://169.254.169.254/latest/meta-data/",
        "file URL": "file:///etc/passwd",
        "tab inside": f"http://{t}\t@{a}/fhir/Observation",
        "control character": f"http://{a}/fhir/Observation\x7f?page=2",
        "non-ASCII": f"http://{a}/fhir/Observation\u2028?page=2",
    }


def assert_untouched(*traps):
    for t in traps:
        assert t.connections == [], f"{t.netloc} was contacted: {t.connections[:1]}"


_NAMES = SimpleNamespace(netloc="h:1", host="h", port=1)  # only to list the variants' names
FHIR_SERVER_VARIANTS = list(fhir_server_variants(_NAMES, _NAMES, _NAMES))
NEXT_LINK_VARIANTS = list(next_link_variants(_NAMES, _NAMES, _NAMES))


@pytest.mark.parametrize("name", FHIR_SERVER_VARIANTS)
def test_fhir_server_variants_are_refused_without_any_connection(make_client, fhir, trap, local_trap, name):
    value = fhir_server_variants(fhir, trap, local_trap)[name]
    client = make_client(allowed_fhir_servers=(fhir.base,))
    fhir.log.requests.clear()
    response = call(client, value)  # no prefetch: every key would be fetched
    assert response.status_code == 400, (name, response.status_code, response.get_data(as_text=True)[:300])
    assert response.get_json()["error"] in ("fhir-server-not-allowed", "bad-request"), name
    assert_untouched(trap, local_trap)
    assert fhir.log.requests == [], name  # not even the allowed server: nothing is fetched for a refused call
    assert TOKEN not in response.get_data(as_text=True)


@pytest.mark.parametrize("name", NEXT_LINK_VARIANTS)
def test_prefetched_next_link_variants_are_not_followed(make_client, fhir, trap, local_trap, name):
    link = next_link_variants(fhir, trap, local_trap)[name]
    client = make_client(allowed_fhir_servers=(fhir.base,))
    prefetch = {"patient": {"resourceType": "Patient", "id": "p1"}, "conditions": empty_bundle(),
                "observations": empty_bundle(link), "procedures": None, "medicationRequests": None,
                "medicationStatements": None}
    fhir.log.requests.clear()
    response = call(client, fhir.base, prefetch)
    assert response.status_code == 412, (name, response.status_code)
    assert response.get_json()["missing"][0]["key"] == "observations"
    assert response.get_json()["missing"][0]["reason"] == FETCH_FAILED
    assert_untouched(trap, local_trap)
    assert fhir.log.requests == [], name


@pytest.mark.parametrize("name", NEXT_LINK_VARIANTS)
def test_server_next_link_variants_are_not_followed(make_client, fhir, trap, local_trap, name):
    link = next_link_variants(fhir, trap, local_trap)[name]
    client = make_client(allowed_fhir_servers=(fhir.base,))
    prefetch = {"patient": {"resourceType": "Patient", "id": "p1"}, "conditions": empty_bundle(),
                "procedures": None, "medicationRequests": None, "medicationStatements": None}
    fhir.log.requests.clear()
    fhir.faults["Observation"] = "next-link"
    fhir.next_links["Observation"] = link
    try:
        response = call(client, fhir.base, prefetch)
    finally:
        fhir.faults.clear()
        fhir.next_links.clear()
    assert response.status_code == 412, (name, response.status_code)
    assert_untouched(trap, local_trap)
    assert [r.path for r in fhir.log.requests] == ["/fhir/Observation"], name  # the first page only


def test_a_next_link_below_the_base_is_followed(make_client, fhir):
    client = make_client(allowed_fhir_servers=(fhir.base,))
    prefetch = {"patient": {"resourceType": "Patient", "id": "p1"}, "conditions": empty_bundle(),
                "observations": empty_bundle(f"{fhir.base}/Observation?patient=p1&page=2"),
                "procedures": None, "medicationRequests": None, "medicationStatements": None}
    fhir.log.requests.clear()
    response = call(client, fhir.base, prefetch)
    assert response.status_code == 200
    assert [(r.path, r.headers.get("Authorization")) for r in fhir.log.requests] == [
        ("/fhir/Observation", f"Bearer {TOKEN}")]


def test_redirects_are_not_followed(make_client, fhir, trap):
    client = make_client(allowed_fhir_servers=(fhir.base,))
    fhir.faults["Observation"] = "redirect"
    fhir.redirect_to = f"http://{trap.netloc}/fhir/Observation"
    try:
        response = call(client, fhir.base, {"patient": {"resourceType": "Patient", "id": "p1"},
                                            "conditions": empty_bundle()})
    finally:
        fhir.faults.clear()
    assert response.status_code == 412
    assert_untouched(trap)


@pytest.mark.parametrize("query", ["Patient/../../admin", "Condition/../../x?patient=p1",
                                   "Patient/%2e%2e/%2e%2e/admin", "Patient/..;/admin"])
def test_a_query_cannot_climb_out_of_the_base(fhir, query):
    """Queries are built from context values (validated, then URL-quoted); the client still checks the result."""
    from cds_service.fhir.client import FhirClient, FhirUrlRefused

    client = FhirClient(timeout=1)
    fhir.log.requests.clear()
    try:
        with pytest.raises(FhirUrlRefused):
            client.fetch(fhir.base + "/", query, token=TOKEN)
    finally:
        client.close()
    assert fhir.log.requests == []


@pytest.mark.parametrize("variant", ["http://127.0.0.1:1\\@169.254.169.254/latest", "http://169.254.169.254/",
                                     "http://10.0.0.1/fhir", "http://localhost:1\\@10.0.0.1/fhir",
                                     "http://[::1]:1\\@10.0.0.1/fhir", "http://127.0.0.1.nip.io/fhir"])
def test_development_loopback_rule_cannot_be_bypassed(make_client, variant):
    client = make_client()  # no allow-list: development allows loopback servers only
    response = call(client, variant)
    assert response.status_code == 400
    assert response.get_json()["error"] == "fhir-server-not-allowed"


def test_closed_and_open_ports_give_the_same_answer(make_client, fhir, local_trap):
    """The 412 text must not tell a closed port from an open one (development: any loopback port is allowed)."""
    client = make_client(fhir_timeout=0.5)
    closed = call(client, f"http://127.0.0.1:{_closed_port()}/fhir")
    answers = []
    for fault in ("http-401", "http-500", "malformed-json", "ok-but-404"):
        for rtype in ("Patient", "Condition", "Observation", "Procedure", "MedicationRequest", "MedicationStatement"):
            fhir.faults[rtype] = fault if fault != "ok-but-404" else "redirect"
        try:
            answers.append(call(client, fhir.base))
        finally:
            fhir.faults.clear()
    assert closed.status_code == 412
    for open_ in answers:
        assert open_.status_code == 412
        assert open_.get_json() == closed.get_json()


def _closed_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # closed again when the socket is


def test_host_header_does_not_widen_the_allow_list(make_client, trap):
    """Issue #12 item 2: the demo FHIR base is configuration, not the request's Host."""
    client = make_client(demo_fhir=True, allowed_fhir_servers=("https://fhir.example.org/r4",))
    for headers in ({"Host": trap.netloc}, {"X-Forwarded-Host": trap.netloc, "X-Forwarded-Proto": "http"}):
        response = call(client, f"http://{trap.netloc}/demo/fhir", headers=headers)
        assert response.status_code == 400
        assert response.get_json()["error"] == "fhir-server-not-allowed"
    assert_untouched(trap)


def test_jwks_urls_go_through_the_same_parser(trap):
    from cds_service.hooks.auth import JwksCache

    cache = JwksCache({"https://ehr": (f"https://{trap.netloc}\\@ehr.example.org/jwks",)})
    assert cache.key("https://ehr", "kid-1") is None
    assert_untouched(trap)


def test_one_parser_for_every_url():
    base = parse_target("http://127.0.0.1:8080/fhir")
    assert resolve_link(base, "Observation?page=2").url == "http://127.0.0.1:8080/fhir/Observation?page=2"
    with pytest.raises(UnsafeUrl):
        resolve_link(base, "http://127.0.0.2:1\\@127.0.0.1:8080/fhir/Observation")
    assert json.dumps(str(UnsafeUrl("x")))  # messages are plain text (no URL in them)


@pytest.fixture(scope="module")
def live_service(engine, fhir, tmp_path_factory):
    """The service on a real loopback socket (werkzeug), allowed to read the fault server only; demo FHIR on."""
    import threading

    from werkzeug.serving import make_server

    config = Config(allowed_fhir_servers=(fhir.base,), demo_fhir=True, fhir_timeout=10.0,
                    database=str(tmp_path_factory.mktemp("ssrf") / "feedback.sqlite3"))
    app = create_app(config, engine=engine)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(5)
    app.extensions["cds"].close()


def _post_live(url, fhir_server, headers=None, patient="p1"):
    import requests

    body = {"hook": "patient-view", "hookInstance": "h-live", "fhirServer": fhir_server,
            "context": {"userId": "Practitioner/u1", "patientId": patient},
            "fhirAuthorization": {"access_token": TOKEN, "token_type": "Bearer", "expires_in": 300,
                                  "scope": "patient/*.read", "subject": "cds"}}
    return requests.post(f"{url}/cds-services/leptomeningeal-metastases", json=body, headers=headers or {},
                         timeout=30)


def test_every_fhir_server_variant_over_a_real_socket(live_service, fhir, trap, local_trap):
    fhir.log.requests.clear()
    for name, value in fhir_server_variants(fhir, trap, local_trap).items():
        response = _post_live(live_service, value)
        assert response.status_code == 400, (name, response.status_code, response.text[:200])
        assert TOKEN not in response.text
    assert_untouched(trap, local_trap)
    assert fhir.log.requests == []


def test_host_header_over_a_real_socket_does_not_make_a_demo_base(live_service, trap):
    """Issue #12 item 2 as found: `Host: attacker` made `http://attacker/demo/fhir` an allowed server."""
    for headers in ({"Host": trap.netloc}, {"X-Forwarded-Host": trap.netloc}):
        response = _post_live(live_service, f"http://{trap.netloc}/demo/fhir", headers)
        assert response.status_code == 400
        assert response.json()["error"] == "fhir-server-not-allowed"
    assert_untouched(trap)
    # the demo base at the address the server listens on is still allowed (and served by itself)
    response = _post_live(live_service, f"{live_service}/demo/fhir", patient="lm-suspect-breast")  # a fixture patient
    assert response.status_code == 200, response.text[:300]
