"""Every fixture case, every service it names, over real HTTP against a real FHIR server — twice.

1. As an EHR that prefetches: the service's own prefetch templates (from its
   discovery document) are run against the FHIR server, following paging, and
   sent along.
2. As an EHR that does not: no ``prefetch``, so the service fetches everything
   from ``fhirServer`` itself.

Both must give the same cards (apart from their uuids), and the cards' rule ids
must be exactly the case's expected list. A case that declares prefetch keys
``unavailable`` is called once, without those keys and without ``fhirServer``: its
rule ids when the keys are optional, 412 naming them when one is required (over
HTTP the key's failure policy applies before any rule runs).
"""

from __future__ import annotations

import uuid
from datetime import datetime, timezone
from functools import lru_cache

import pytest
import requests

from cds_service.ehr.fixtures import FIXTURE_NOW, case_context, case_patient_id, read_cases
from cds_service.ehr.prefetch import run_prefetch
from cds_service.services import PREFETCH
from live_servers import without_uuids

pytestmark = pytest.mark.integration

CASES = read_cases()
CALLS = [(case, service_id) for case in CASES for service_id in case.get("expect") or {}]


def rule_ids(response: dict) -> list[str]:
    return [card["source"]["topic"]["code"] for card in response["cards"]]


def case_now(case: dict) -> datetime:
    """The case's evaluation time (YAML may give a datetime or a string); FIXTURE_NOW by default."""
    now = case.get("now")
    if not now:
        return FIXTURE_NOW
    moment = now if isinstance(now, datetime) else datetime.fromisoformat(str(now).replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def case_request(case: dict, hook: str, fhir_server: str) -> dict:
    """A hook request for the case: a new hookInstance, the case's context, ``fhirServer``."""
    return {"hookInstance": str(uuid.uuid4()), "hook": hook, "fhirServer": fhir_server,
            "context": case_context(case, hook)}


@pytest.fixture(scope="module")
def ehr_prefetch(loaded_fhir):
    """Prefetch as the EHR runs it, once per patient and template set (services share templates)."""

    @lru_cache(maxsize=None)
    def run(patient_id: str, templates: tuple[tuple[str, str], ...]) -> dict:
        context = {"patientId": patient_id, "userId": "Practitioner/ehr-sandbox"}
        result = run_prefetch(dict(templates), context, loaded_fhir.client)
        assert not result.failed, f"the EHR could not prefetch {result.failed}"
        return result.prefetch

    return run


def _call(cds, service_id: str, body: dict) -> dict:
    response = requests.post(f"{cds.url}/cds-services/{service_id}", json=body, timeout=60)
    assert response.status_code == 200, f"{service_id}: HTTP {response.status_code} {response.text[:500]}"
    return response.json()


@pytest.mark.parametrize(("case", "service_id"), CALLS, ids=[f"{c['id']}:{s}" for c, s in CALLS])
def test_case_gives_the_same_cards_with_and_without_prefetch(case, service_id, cds, discovery, loaded_fhir,
                                                              ehr_prefetch, service_clock) -> None:
    service = discovery[service_id]
    patient_id = case_patient_id(case)
    body = case_request(case, service["hook"], loaded_fhir.base)
    templates = tuple(sorted((service.get("prefetch") or {}).items()))
    unavailable = set(case.get("unavailable") or ())
    prefetch = {k: v for k, v in ehr_prefetch(patient_id, templates).items() if k not in unavailable}
    expected = sorted(case["expect"][service_id])

    service_clock.now = case_now(case)
    try:
        if unavailable:
            # Keys the case declares unobtainable: not prefetched and no fhirServer to fetch them from.
            # (The service-fetches variant would need a FHIR server failing just those queries.)
            request = {**{k: v for k, v in body.items() if k != "fhirServer"}, "prefetch": prefetch}
            required = sorted(k for k in unavailable if PREFETCH[k].required and k in service["prefetch"])
            if required:  # over HTTP the policy of a required key applies before any rule: 412
                response = requests.post(f"{cds.url}/cds-services/{service_id}", json=request, timeout=60)
                assert response.status_code == 412, response.text[:500]
                assert sorted(m["key"] for m in response.json()["missing"]) == required
                return
            assert sorted(rule_ids(_call(cds, service_id, request))) == expected
            return
        with_prefetch = _call(cds, service_id, {**body, "prefetch": prefetch})
        fetched_by_service = _call(cds, service_id, body)
    finally:
        service_clock.now = FIXTURE_NOW

    assert without_uuids(with_prefetch) == without_uuids(fetched_by_service)
    assert sorted(rule_ids(with_prefetch)) == expected


def test_every_service_is_covered(discovery) -> None:
    if not CASES:
        pytest.skip("no fixture cases yet (fixtures/cases/*.yaml)")
    covered = {service_id for _, service_id in CALLS}
    assert covered == set(discovery)
