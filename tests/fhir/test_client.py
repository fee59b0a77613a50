"""FhirClient: headers, paging, limits and the error hierarchy (HTTP mocked with ``responses``)."""

from __future__ import annotations

import logging

import pytest
import requests
import responses
from responses import matchers

from cds_service import errors
from cds_service.fhir.client import (
    FhirBadResponse,
    FhirClient,
    FhirConnectionError,
    FhirFetchError,
    FhirHttpError,
    FhirTimeout,
    FhirTooManyPages,
    FhirUrlRefused,
    bundle_resources,
)

BASE = "https://fhir.example.org/r4"


def page(*ids: str, next_url: str | None = None) -> dict:
    out = {"resourceType": "Bundle", "type": "searchset",
           "entry": [{"resource": {"resourceType": "Observation", "id": i}} for i in ids]}
    if next_url:
        out["link"] = [{"relation": "self", "url": "x"}, {"relation": "next", "url": next_url}]
    return out


@pytest.fixture
def client():
    c = FhirClient(timeout=5, max_pages=3)
    yield c
    c.close()


@responses.activate
def test_search_follows_next_links_with_token_and_fhir_json(client):
    responses.get(f"{BASE}/Observation", json=page("o1", "o2", next_url=f"{BASE}/page2"),
                  match=[matchers.query_string_matcher("patient=p1&_count=2")])
    responses.get(f"{BASE}/page2", json=page("o3", next_url="page3"))
    responses.get(f"{BASE}/page3", json=page("o4"))
    found = client.fetch(BASE, "Observation?patient=p1&_count=2", token="secret-token")
    assert [r["id"] for r in found] == ["o1", "o2", "o3", "o4"]
    assert len(responses.calls) == 3
    for call in responses.calls:
        assert call.request.headers["Authorization"] == "Bearer secret-token"
        assert call.request.headers["Accept"] == "application/fhir+json"


@responses.activate
def test_no_authorization_header_without_token(client):
    responses.get(f"{BASE}/Patient/p1", json={"resourceType": "Patient", "id": "p1"})
    assert client.fetch(BASE, "Patient/p1") == [{"resourceType": "Patient", "id": "p1"}]
    assert "Authorization" not in responses.calls[0].request.headers


@responses.activate
def test_page_limit(client):
    responses.get(f"{BASE}/Observation", json=page("o1", next_url=f"{BASE}/p2"))
    responses.get(f"{BASE}/p2", json=page("o2", next_url=f"{BASE}/p3"))
    responses.get(f"{BASE}/p3", json=page("o3", next_url=f"{BASE}/p4"))
    with pytest.raises(FhirTooManyPages, match="more than 3 pages"):
        client.fetch(BASE, "Observation")
    assert len(responses.calls) == 3


@responses.activate
def test_next_link_to_another_server_is_not_followed(client):
    responses.get(f"{BASE}/Observation", json=page("o1", next_url="https://evil.example.com/r4/p2"))
    with pytest.raises(FhirUrlRefused, match="outside the FHIR base"):
        client.fetch(BASE, "Observation", token="secret-token")
    assert [c.request.url for c in responses.calls] == [f"{BASE}/Observation"]


@responses.activate
def test_follow_completes_a_prefetched_bundle(client):
    responses.get(f"{BASE}/p2", json=page("o2"))
    assert [r["id"] for r in client.follow(BASE, page("o1", next_url=f"{BASE}/p2"), "t")] == ["o1", "o2"]


@pytest.mark.parametrize(
    "mock, error, message",
    [
        ({"status": 500, "json": {"resourceType": "OperationOutcome"}}, FhirHttpError, "HTTP 500"),
        ({"status": 401}, FhirHttpError, "HTTP 401"),
        ({"status": 302, "headers": {"Location": "https://elsewhere.example.org/"}}, FhirHttpError, "HTTP 302"),
        ({"body": requests.exceptions.ReadTimeout()}, FhirTimeout, "timeout after 5 s"),
        ({"body": requests.exceptions.ConnectTimeout()}, FhirTimeout, "timeout after 5 s"),
        ({"body": requests.exceptions.ConnectionError()}, FhirConnectionError, "connection failed"),
        ({"body": "<html>", "content_type": "text/html"}, FhirBadResponse, "invalid JSON"),
        ({"json": [1, 2]}, FhirBadResponse, "not a FHIR resource"),
        ({"json": {"resourceType": "OperationOutcome", "issue": []}}, FhirBadResponse, "OperationOutcome"),
    ],
)
@responses.activate
def test_errors_are_fhir_fetch_errors_with_a_reason(client, mock, error, message):
    responses.get(f"{BASE}/Condition", **mock)
    with pytest.raises(error) as info:
        client.fetch(BASE, "Condition")
    assert isinstance(info.value, FhirFetchError)
    assert isinstance(info.value, errors.CdsError)
    assert message in info.value.message


@responses.activate
def test_http_error_keeps_the_status(client):
    responses.get(f"{BASE}/Condition", status=503)
    with pytest.raises(FhirHttpError) as info:
        client.fetch(BASE, "Condition")
    assert info.value.http_status == 503


@responses.activate
def test_logs_name_type_and_status_only(client, caplog):
    caplog.set_level(logging.DEBUG, logger="cds_service.fhir.client")
    responses.get(f"{BASE}/Observation", json=page("o1"))
    client.fetch(BASE, "Observation?patient=secret-patient-42", token="secret-token")
    text = caplog.text
    assert "Observation" in text and "200" in text
    assert "secret-patient-42" not in text and "secret-token" not in text


def test_bundle_resources_skips_search_outcomes_and_empty_entries():
    bundle = {"resourceType": "Bundle", "entry": [
        {"resource": {"resourceType": "Condition", "id": "c1"}},
        {"fullUrl": "x"},
        {"resource": {"resourceType": "OperationOutcome"}, "search": {"mode": "outcome"}},
    ]}
    assert bundle_resources(bundle) == [{"resourceType": "Condition", "id": "c1"}]


def test_one_pooled_session_per_client():
    c = FhirClient(pool_size=16)
    adapter = c.session.get_adapter("https://x")
    assert adapter._pool_maxsize == 16
    assert c.session.headers["Accept"] == "application/fhir+json"
    c.close()
