"""Failing FHIR servers (issue #16 items 3 and 8), against a fault-injecting HTTP server on loopback.

Every fault ends the call — no hang, no 500: a required key that cannot be had
is a 412 naming it (with the one fetch-failed text), an optional one is
reported unavailable (the cards then say which data is missing). The deadline,
byte cap and resource cap are per call and hold on the single-key path too;
a fetch abandoned at the deadline frees its pool thread at once. No timed
assertions: the tests check what the server saw (how far the client read,
whether it hung up) and that a healthy call right after a hanging one works
with a single pool thread.
"""

from __future__ import annotations

import pytest
from fhir_faults import FaultServer, run_with

from cds_service.errors import PreconditionFailed
from cds_service.fhir.client import (
    FhirBadResponse,
    FhirClient,
    FhirConnectionError,
    FhirHttpError,
    FhirTimeout,
    FhirTooManyPages,
    FhirTooMuchData,
)
from cds_service.fhir.prefetch import FETCH_FAILED, FhirServerPolicy, PrefetchResolver
from cds_service.services import PREFETCH, SERVICES_BY_ID

LEPTO = SERVICES_BY_ID["leptomeningeal-metastases"]  # patient, conditions, observations + procedures, meds
TIMEOUT = 0.6  # the call's budget where a fault is meant to run into it
ROOMY = 15.0  # the budget where it is not (a loaded CI machine must not turn a cap into a timeout)
DEADLINE_FAULTS = {"slow-headers", "trickle-headers", "trickle", "hang-body"}


@pytest.fixture(scope="module")
def server():
    s = FaultServer()
    yield s
    s.stop()


def make_client(timeout: float = ROOMY) -> FhirClient:
    return FhirClient(timeout=timeout, max_pages=4, pool_size=2, max_bytes=256 * 1024, max_resources=1000)


@pytest.fixture
def client():
    c = make_client()
    yield c
    c.close()


@pytest.fixture
def clients():
    """A client per fault: a short budget for the faults that hang, a roomy one for the rest."""
    made = []

    def get(fault: str) -> FhirClient:
        made.append(make_client(TIMEOUT if fault in DEADLINE_FAULTS else ROOMY))
        return made[-1]

    yield get
    for c in made:
        c.close()


@pytest.fixture
def resolvers(server, clients):
    made = []

    def get(fault: str) -> PrefetchResolver:
        made.append(PrefetchResolver(clients(fault), FhirServerPolicy([server.base]), workers=2))
        return made[-1]

    yield get
    for r in made:
        r.close()


def prefetch_without(*keys: str) -> dict:
    out = {key: {"resourceType": "Bundle", "type": "searchset", "entry": []} for key in LEPTO.prefetch_keys}
    out["patient"] = {"resourceType": "Patient", "id": "p1"}
    for key in keys:
        del out[key]
    return out


def request(server, prefetch, token="secret-ehr-token") -> dict:
    return {"hook": "patient-view", "hookInstance": "h1", "fhirServer": server.base,
            "fhirAuthorization": {"access_token": token, "token_type": "Bearer", "expires_in": 300,
                                  "scope": "patient/*.read", "subject": "cds"},
            "context": {"userId": "Practitioner/u1", "patientId": "p1"}, "prefetch": prefetch}


# Fault → the client's error for it (the EHR sees one text for all of them; the log says which).
CLIENT_ERRORS = {
    "slow-headers": FhirTimeout,
    "trickle": FhirTimeout,
    "hang-body": FhirTimeout,
    "http-500": FhirHttpError,
    "http-503": FhirHttpError,
    "http-401": FhirHttpError,
    "malformed-json": FhirBadResponse,
    "deep-json": FhirBadResponse,
    "json-array": FhirBadResponse,
    "wrong-type": FhirBadResponse,
    "wrong-entry-type": FhirBadResponse,
    "operation-outcome": FhirBadResponse,
    "paging-loop": FhirTooManyPages,
    "endless-paging": FhirTooManyPages,
    "huge-bundle": FhirTooMuchData,
    "huge-chunked": FhirTooMuchData,
    "many-resources": FhirTooMuchData,
    "gzip-bomb": FhirTooMuchData,
    "truncated": FhirConnectionError,
    "redirect": FhirHttpError,
}


@pytest.mark.parametrize("fault", list(CLIENT_ERRORS))
def test_each_fault_is_a_typed_client_error(server, clients, fault):
    server.redirect_to = "http://127.0.0.2:9/fhir"
    client = clients(fault)
    with pytest.raises(CLIENT_ERRORS[fault]):
        run_with(server, fault, "Observation", lambda: client.fetch(server.base, "Observation?patient=p1"))


@pytest.mark.parametrize("fault", ["wrong-type", "wrong-id", "operation-outcome", "http-401"])
def test_a_read_must_answer_the_resource_asked_for(server, client, fault):
    with pytest.raises((FhirBadResponse, FhirHttpError)):
        run_with(server, fault, "Patient", lambda: client.fetch(server.base, "Patient/p1"))


# Only the resolver's deadline (which cancels the fetch by shutting its socket) stops a header trickle.
RESOLVER_ONLY = ["trickle-headers"]


@pytest.mark.parametrize("fault", list(CLIENT_ERRORS) + RESOLVER_ONLY)
def test_fault_on_a_required_key_is_a_412_naming_it(server, resolvers, fault):
    server.redirect_to = "http://127.0.0.2:9/fhir"
    body = request(server, prefetch_without("observations"))  # the single-key path
    resolver = resolvers(fault)
    with pytest.raises(PreconditionFailed) as info:
        run_with(server, fault, "Observation", lambda: resolver.resolve(LEPTO, body))
    problem = info.value.body()
    assert problem["missing"] == [{"key": "observations", "query": PREFETCH["observations"].query,
                                   "reason": FETCH_FAILED}]
    assert "p1" not in str(problem) and "secret-ehr-token" not in str(problem)


@pytest.mark.parametrize("fault", list(CLIENT_ERRORS) + RESOLVER_ONLY)
def test_fault_on_an_optional_key_leaves_it_unavailable(server, resolvers, fault):
    server.redirect_to = "http://127.0.0.2:9/fhir"
    body = request(server, prefetch_without("procedures", "medicationRequests"))  # two keys: the parallel path
    server.faults["MedicationRequest"] = fault
    try:
        data = run_with(server, fault, "Procedure", lambda: resolvers(fault).resolve(LEPTO, body))
    finally:
        server.faults.clear()
    assert data.unavailable == frozenset({"procedures", "medicationRequests"})
    assert {"resourceType": "Patient", "id": "p1"} in [dict(r) for r in data.resources]  # the call goes on


def test_a_healthy_key_beside_a_failing_one_is_kept(server, resolvers):
    body = request(server, prefetch_without("procedures", "conditions"))
    data = run_with(server, "http-500", "Procedure", lambda: resolvers("http-500").resolve(LEPTO, body))
    assert data.unavailable == frozenset({"procedures"})
    assert {"resourceType": "Condition", "id": "condition-0"} in [dict(r) for r in data.resources]


def test_trickling_body_is_abandoned_at_the_deadline(server, clients):
    """One byte every 50 ms would take minutes; the client stops reading at its deadline and hangs up."""
    client = clients("trickle")
    server.log.reset()
    with pytest.raises(FhirTimeout):
        run_with(server, "trickle", "Observation", lambda: client.fetch(server.base, "Observation?patient=p1"))
    assert server.log.wait_finished("trickle")  # the handler noticed the client hung up
    assert "trickle" in server.log.client_left
    total = len(b'{"resourceType": "Bundle"') * 200  # far less than the body
    assert 0 <= server.log.bytes_sent["trickle"] < total


def test_huge_body_stops_at_the_byte_cap(server, client):
    server.log.reset()
    with pytest.raises(FhirTooMuchData):
        run_with(server, "huge-chunked", "Observation", lambda: client.fetch(server.base, "Observation?patient=p1"))
    assert server.log.wait_finished("huge-chunked")
    # The client hung up long before the 25 MB were sent (the cap is 256 KB; socket buffers hold a few MB).
    assert "huge-chunked" in server.log.client_left
    assert server.log.bytes_sent["huge-chunked"] < 20 * 1024 * 1024


def test_byte_and_resource_caps_are_per_call_not_per_key(server):
    """Two keys that each fit the caps but together do not: one of them fails, the call does not read on."""
    client = FhirClient(timeout=ROOMY, max_pages=4, max_resources=6000)
    try:
        budget = client.budget()
        server.faults["Observation"] = server.faults["Condition"] = "many-resources"  # 5000 each
        client.fetch(server.base, "Observation?patient=p1", budget=budget)  # 5000 of 6000
        with pytest.raises(FhirTooMuchData):
            client.fetch(server.base, "Condition?patient=p1", budget=budget)
    finally:
        server.faults.clear()
        client.close()


def test_abandoned_fetches_do_not_starve_the_pool(server):
    """One pool thread: a fetch that hangs (the server holds it 20 s) is cut at the call's deadline, and the
    thread is free at once — a task submitted right after runs, and so does a healthy call."""
    client = FhirClient(timeout=TIMEOUT, max_pages=4, pool_size=1)
    resolver = PrefetchResolver(client, FhirServerPolicy([server.base]), workers=1)
    roomy = FhirClient(timeout=ROOMY, pool_size=1)
    try:
        for fault in sorted(DEADLINE_FAULTS):
            hanging = request(server, prefetch_without("observations"))
            with pytest.raises(PreconditionFailed):
                run_with(server, fault, "Observation", lambda: resolver.resolve(LEPTO, hanging))
            assert resolver._executor().submit(lambda: "free").result(timeout=ROOMY) == "free"
            resolver.client = roomy  # a healthy call on the same pool (with a budget a loaded machine meets)
            data = resolver.resolve(LEPTO, request(server, prefetch_without("conditions")))
            resolver.client = client
            assert data.unavailable == frozenset()
    finally:
        resolver.close()
        client.close()
        roomy.close()


def test_bearer_token_goes_to_the_fhir_server_only_as_a_header(server, resolvers):
    server.log.requests.clear()
    resolvers("ok").resolve(LEPTO, request(server, prefetch_without("observations", "conditions")))
    assert {r.path for r in server.log.requests} == {"/fhir/Observation", "/fhir/Condition"}
    assert all(r.headers.get("Authorization") == "Bearer secret-ehr-token" for r in server.log.requests)


def test_every_fault_type_is_exercised():
    assert set(CLIENT_ERRORS) | set(RESOLVER_ONLY) | {"ok", "wrong-id", "next-link"} == set(FaultServer.FAULTS)
