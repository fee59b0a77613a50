"""Prefetch resolution: client data, null, OperationOutcome, paging, fallback fetches, policy, 412."""

from __future__ import annotations

import threading
import time

import pytest
import requests
import responses

from cds_service.errors import FhirServerNotAllowed, PreconditionFailed
from cds_service.fhir.client import FhirClient
from cds_service.fhir.prefetch import FETCH_FAILED, FhirServerPolicy, PrefetchResolver, TokenUnavailable, render_query
from cds_service.services import PREFETCH, SERVICES_BY_ID

FHIR = "https://fhir.example.org/r4"
LEPTO = SERVICES_BY_ID["leptomeningeal-metastases"]  # patient, conditions, observations (+ 3 optional keys)
BRAIN = SERVICES_BY_ID["brain-metastases"]


def bundle(*resources, next_url=None):
    out = {"resourceType": "Bundle", "type": "searchset", "entry": [{"resource": r} for r in resources]}
    if next_url:
        out["link"] = [{"relation": "next", "url": next_url}]
    return out


def res(rtype, rid):
    return {"resourceType": rtype, "id": rid}


def full(service=LEPTO):
    prefetch = {key: bundle() for key in service.prefetch_keys}
    prefetch["patient"] = res("Patient", "p1")
    return prefetch


def request(prefetch=None, fhir_server=None, token=None, **context):
    body = {"hook": "patient-view", "hookInstance": "h1",
            "context": {"userId": "Practitioner/u1", "patientId": "p1", **context}}
    if prefetch is not None:
        body["prefetch"] = prefetch
    if fhir_server:
        body["fhirServer"] = fhir_server
    if token:
        body["fhirAuthorization"] = {"access_token": token, "token_type": "Bearer", "expires_in": 300,
                                     "scope": "patient/*.read", "subject": "cds"}
    return body


@pytest.fixture
def resolver():
    client = FhirClient(timeout=2, max_pages=5)
    r = PrefetchResolver(client, FhirServerPolicy([FHIR]), workers=4)
    yield r
    r.close()
    client.close()


def search_url(key):
    return f"{FHIR}/{PREFETCH[key].resource_type}"


# -- templates ----------------------------------------------------------------------------

@pytest.mark.parametrize(
    "template, context, expected",
    [
        ("Patient/{{context.patientId}}", {"patientId": "p1"}, "Patient/p1"),
        ("Condition?patient={{ context.patientId }}&_count=200", {"patientId": "p1"}, "Condition?patient=p1&_count=200"),
        ("Encounter/{{context.encounterId}}", {"encounterId": "e9"}, "Encounter/e9"),
        ("CareTeam?participant={{context.userId}}", {"userId": "Practitioner/u1"}, "CareTeam?participant=Practitioner/u1"),
        ("Practitioner/{{userPractitionerId}}", {"userId": "Practitioner/u1"}, "Practitioner/u1"),
        ("PractitionerRole/{{userPractitionerRoleId}}", {"userId": "PractitionerRole/r1"}, "PractitionerRole/r1"),
        ("Patient/{{userPatientId}}", {"userId": "Patient/p1"}, "Patient/p1"),
        ("RelatedPerson/{{userRelatedPersonId}}", {"userId": "RelatedPerson/x"}, "RelatedPerson/x"),
        ("Condition?patient={{context.patientId}}", {"patientId": "a&b=c"}, "Condition?patient=a%26b%3Dc"),
    ],
)
def test_render_query(template, context, expected):
    assert render_query(template, context) == expected


@pytest.mark.parametrize(
    "template, context, message",
    [
        ("Encounter/{{context.encounterId}}", {"patientId": "p1"}, "context.encounterId is not given"),
        ("Practitioner/{{userPractitionerId}}", {"userId": "PractitionerRole/r1"}, "not a Practitioner"),
        ("X?y={{context.draftOrders}}", {"draftOrders": {"resourceType": "Bundle"}}, "context.draftOrders"),
        ("X?y={{context.a.b}}", {"a": {"b": "c"}}, "context.a.b"),
        ("X?y={{patient.id}}", {}, "unsupported prefetch token"),
    ],
)
def test_render_query_refuses_what_is_not_a_token(template, context, message):
    with pytest.raises(TokenUnavailable, match=message):
        render_query(template, context)


# -- client data --------------------------------------------------------------------------

@responses.activate
def test_complete_prefetch_makes_no_request(resolver):
    prefetch = full()
    prefetch["conditions"] = bundle(res("Condition", "c1"), res("Condition", "c2"))
    prefetch["observations"] = bundle(res("Observation", "o1"), res("Condition", "c1"))  # duplicate c1
    data = resolver.resolve(LEPTO, request(prefetch, FHIR, "tok"))
    assert [f"{r['resourceType']}/{r['id']}" for r in data.resources] == [
        "Patient/p1", "Condition/c1", "Condition/c2", "Observation/o1"]
    assert data.unavailable == frozenset()
    assert len(responses.calls) == 0


@responses.activate
def test_null_means_no_data_and_is_never_fetched(resolver):
    prefetch = full()
    prefetch["conditions"] = None
    prefetch["procedures"] = None
    data = resolver.resolve(LEPTO, request(prefetch, FHIR, "tok"))
    assert data.resources == (res("Patient", "p1"),)
    assert data.unavailable == frozenset()
    assert len(responses.calls) == 0


@responses.activate
def test_missing_keys_are_fetched_in_parallel_with_the_bearer_token(resolver):
    prefetch = full()
    del prefetch["conditions"], prefetch["observations"]
    barrier = threading.Barrier(2, timeout=2)

    def slow(resource):
        def callback(req):
            barrier.wait()  # both fetches must be in flight at once
            return 200, {}, '{"resourceType": "Bundle", "entry": [{"resource": %s}]}' % resource
        return callback

    responses.add_callback(responses.GET, search_url("conditions"),
                           callback=slow('{"resourceType": "Condition", "id": "c1"}'))
    responses.add_callback(responses.GET, search_url("observations"),
                           callback=slow('{"resourceType": "Observation", "id": "o1"}'))
    data = resolver.resolve(LEPTO, request(prefetch, FHIR, "tok-123"))
    assert {f"{r['resourceType']}/{r['id']}" for r in data.resources} == {"Patient/p1", "Condition/c1", "Observation/o1"}
    assert sorted(c.request.url for c in responses.calls) == [
        f"{FHIR}/Condition?patient=p1&_count=200", f"{FHIR}/Observation?patient=p1&_count=500"]
    assert all(c.request.headers["Authorization"] == "Bearer tok-123" for c in responses.calls)


@responses.activate
def test_operation_outcome_is_treated_as_missing_and_fetched(resolver):
    prefetch = full()
    prefetch["conditions"] = {"resourceType": "OperationOutcome", "issue": [{"severity": "error"}]}
    responses.get(search_url("conditions"), json=bundle(res("Condition", "c1")))
    data = resolver.resolve(LEPTO, request(prefetch, FHIR))
    assert res("Condition", "c1") in data.resources
    assert len(responses.calls) == 1
    assert "Authorization" not in responses.calls[0].request.headers


@responses.activate
def test_prefetched_bundle_with_next_link_is_completed(resolver):
    prefetch = full()
    prefetch["observations"] = bundle(res("Observation", "o1"), next_url=f"{FHIR}/Observation?page=2")
    responses.get(f"{FHIR}/Observation", json=bundle(res("Observation", "o2")))
    data = resolver.resolve(LEPTO, request(prefetch, FHIR, "tok"))
    assert [r["id"] for r in data.resources if r["resourceType"] == "Observation"] == ["o1", "o2"]
    assert responses.calls[0].request.headers["Authorization"] == "Bearer tok"


def test_prefetched_bundle_with_next_link_and_no_fhir_server_is_incomplete(resolver):
    prefetch = full()
    prefetch["observations"] = bundle(res("Observation", "o1"), next_url=f"{FHIR}/Observation?page=2")
    with pytest.raises(PreconditionFailed) as info:
        resolver.resolve(LEPTO, request(prefetch))
    assert info.value.body()["missing"] == [{
        "key": "observations", "query": PREFETCH["observations"].query,
        "reason": "the prefetched Bundle has more pages and no fhirServer given"}]


# -- policy per key -------------------------------------------------------------------------

def test_required_keys_without_fhir_server_fail_with_412_naming_each_key(resolver):
    prefetch = full()
    del prefetch["patient"], prefetch["observations"], prefetch["procedures"]
    with pytest.raises(PreconditionFailed) as info:
        resolver.resolve(LEPTO, request(prefetch))
    body = info.value.body()
    assert info.value.status == 412
    assert body["error"] == "precondition-failed"
    assert body["missing"] == [
        {"key": "patient", "query": "Patient/{{context.patientId}}", "reason": "not prefetched and no fhirServer given"},
        {"key": "observations", "query": "Observation?patient={{context.patientId}}&_count=500",
         "reason": "not prefetched and no fhirServer given"},
    ]
    assert body["unavailable"] == [{"key": "procedures", "query": "Procedure?patient={{context.patientId}}&_count=200",
                                    "reason": "not prefetched and no fhirServer given"}]
    assert "patient, observations" in body["message"]


@pytest.mark.parametrize(
    "mock, reason",
    [
        ({"status": 500}, FETCH_FAILED),
        ({"body": requests.exceptions.ReadTimeout()}, FETCH_FAILED),
        ({"body": "{not json", "content_type": "application/fhir+json"}, FETCH_FAILED),
        ({"status": 401, "json": {"resourceType": "OperationOutcome"}}, FETCH_FAILED),
        ({"json": {"resourceType": "OperationOutcome", "issue": []}}, FETCH_FAILED),
        ({"json": res("Patient", "p1")}, FETCH_FAILED),
        ({"body": "[" * 5000 + "]" * 5000, "content_type": "application/fhir+json"}, FETCH_FAILED),
    ],
)
@responses.activate
def test_required_key_fetch_failure_is_412(resolver, mock, reason):
    prefetch = full()
    del prefetch["conditions"]
    responses.get(search_url("conditions"), **mock)
    with pytest.raises(PreconditionFailed) as info:
        resolver.resolve(LEPTO, request(prefetch, FHIR, "tok"))
    assert info.value.body()["missing"] == [
        {"key": "conditions", "query": PREFETCH["conditions"].query, "reason": reason}]


@responses.activate
def test_optional_key_fetch_failure_is_reported_as_unavailable(resolver):
    prefetch = full()
    del prefetch["procedures"], prefetch["medicationRequests"]
    responses.get(search_url("procedures"), status=500)
    responses.get(search_url("medicationRequests"), json=bundle(res("MedicationRequest", "m1")))
    data = resolver.resolve(LEPTO, request(prefetch, FHIR, "tok"))
    assert data.unavailable == frozenset({"procedures"})
    assert res("MedicationRequest", "m1") in data.resources


@responses.activate
def test_a_hanging_server_does_not_hang_the_call():
    client = FhirClient(timeout=0.2, max_pages=2)
    r = PrefetchResolver(client, FhirServerPolicy([FHIR]), workers=2)
    prefetch = full()
    del prefetch["procedures"], prefetch["medicationRequests"]

    release = threading.Event()

    def hang(req):
        release.wait(2)
        return 200, {}, "{}"

    responses.add_callback(responses.GET, search_url("procedures"), callback=hang)
    responses.add_callback(responses.GET, search_url("medicationRequests"), callback=hang)
    data = r.resolve(LEPTO, request(prefetch, FHIR))
    assert data.unavailable == frozenset({"procedures", "medicationRequests"})
    release.set()  # let the abandoned fetches finish inside this test's mock, not in a later test's
    pool = r._pool
    r.close()
    if pool is not None:
        pool.shutdown(wait=True)
    client.close()


# -- fhirServer allow-list --------------------------------------------------------------------

@responses.activate
def test_unlisted_fhir_server_is_refused_before_any_request(resolver):
    with pytest.raises(FhirServerNotAllowed) as info:
        resolver.resolve(LEPTO, request({}, "https://evil.example.com/fhir", "tok"))
    assert info.value.status == 400
    assert info.value.body()["fhirServer"] == "https://evil.example.com/fhir"
    assert len(responses.calls) == 0


@pytest.mark.parametrize("url", [FHIR + "/", "https://FHIR.example.org:443/r4", FHIR])
def test_allow_list_compares_normalised_base_urls(url):
    FhirServerPolicy([FHIR]).check(url)


@pytest.mark.parametrize(
    "allowed, production, url, extra, ok",
    [
        ((), False, "http://127.0.0.1:8080/fhir", (), True),
        ((), False, "http://localhost/fhir", (), True),
        ((), False, "https://fhir.example.org/r4", (), False),
        ((), True, "http://127.0.0.1:8080/fhir", (), False),
        ((FHIR,), False, "http://127.0.0.1:8080/fhir", (), False),
        ((FHIR,), False, "https://fhir.example.org/r4/other", (), False),
        ((), False, "http://demo.example.org/demo/fhir", ("http://demo.example.org/demo/fhir/",), True),
    ],
)
def test_fhir_server_policy(allowed, production, url, extra, ok):
    policy = FhirServerPolicy(allowed, production=production)
    if ok:
        policy.check(url, extra)
    else:
        with pytest.raises(FhirServerNotAllowed):
            policy.check(url, extra)


def test_dev_mode_loopback_logs_a_warning_once(caplog):
    policy = FhirServerPolicy(())
    policy.check("http://127.0.0.1/fhir")
    policy.check("http://127.0.0.1/fhir")
    assert sum("CDS_ALLOWED_FHIR_SERVERS is not set" in r.message for r in caplog.records) == 1


def test_every_service_key_has_a_renderable_template():
    for service in SERVICES_BY_ID.values():
        for key in service.prefetch_keys:
            rendered = render_query(PREFETCH[key].query, {"patientId": "p1", "userId": "Practitioner/u1"})
            assert "{{" not in rendered and "p1" in rendered


@responses.activate
def test_brain_service_fetches_every_missing_key_once(resolver):
    for key in BRAIN.prefetch_keys:
        if key == "patient":
            responses.get(f"{FHIR}/Patient/p1", json=res("Patient", "p1"))
        else:
            responses.get(search_url(key), json=bundle())
    data = resolver.resolve(BRAIN, request(None, FHIR, "tok"))
    assert data.resources == (res("Patient", "p1"),)
    assert len(responses.calls) == len(BRAIN.prefetch_keys)


# -- malformed client prefetch never crashes the resolver ----------------------------------------

@pytest.mark.parametrize("broken, why", [
    ({"resourceType": "Bundle", "type": "searchset", "entry": 1}, "entry is not a list"),
    ({"resourceType": "Bundle", "type": "searchset", "entry": {"resource": {}}}, "entry is not a list"),
])
def test_a_bundle_whose_entry_is_not_a_list_is_fetched_or_missing(resolver, broken, why):
    prefetch = full()
    prefetch["conditions"] = broken
    with pytest.raises(PreconditionFailed) as info:  # required key, no fhirServer to fetch it from
        resolver.resolve(LEPTO, request(prefetch))
    assert [m["key"] for m in info.value.body()["missing"]] == ["conditions"]


@pytest.mark.parametrize("odd", [
    {"resourceType": "Bundle", "link": 3, "entry": []},
    {"resourceType": "Bundle", "entry": [{"search": "x", "resource": {"resourceType": "OperationOutcome"}}]},
    {"resourceType": "Bundle", "entry": [{"resource": {"resourceType": "Condition", "id": {"a": 1}}},
                                         {"resource": {"resourceType": ["x"], "id": "c1"}}, 7, {"resource": 7}]},
])
def test_odd_bundle_parts_are_skipped_not_fatal(resolver, odd):
    prefetch = full()
    prefetch["conditions"] = odd
    data = resolver.resolve(LEPTO, request(prefetch))
    assert "conditions" not in data.unavailable
