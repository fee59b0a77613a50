"""End to end: a hook answers DATA-MISSING; the clinician follows its SMART link, the EHR launches the app
(SMART App Launch 2.x, PKCE, oauth2-mock-server behind the SMART proxy), headless Chromium fills in the
LHC-Forms questionnaire (first an out-of-range value, refused; then a valid one); the Observation is on the
FHIR server; the same hook call now answers with the triage card."""

from __future__ import annotations

import json
import shutil
import subprocess
import uuid
from urllib.parse import urlencode

import pytest
import requests

from cds_service.ehr.fhir import FhirRestClient
from cds_service.ehr.fixtures import FixtureLoader, read_bundles
from live_servers import REPO

SMART_DIR = REPO / "integration" / "smart-auth"

pytestmark = pytest.mark.integration

PATIENT = "bm-unknown-survival"
USER = "Practitioner/smart-e2e-clinician"
LOCAL = "https://neuro-onc-cds.example.org/fhir/CodeSystem/facts"
TRIAGE = {"BM-MDO-NEURO", "BM-MDO-ORGAN", "BM-RESTRAINT", "BM-NEURO-REFERRAL"}
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def hook_call(service_url: str, fhir_base: str) -> dict:
    body = {"hook": "patient-view", "hookInstance": str(uuid.uuid4()), "fhirServer": fhir_base,
            "context": {"userId": USER, "patientId": PATIENT}}
    reply = requests.post(f"{service_url}/cds-services/brain-metastases", json=body,
                          headers={"Accept-Language": "en"}, timeout=30)
    assert reply.status_code == 200, reply.text
    return reply.json()


def rules(response: dict) -> set[str]:
    return {card["source"]["topic"]["code"] for card in response["cards"]}


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (make smart-app installs it)")
def test_missing_fact_recorded_in_the_smart_app_turns_data_missing_into_triage(backend, smart_ehr, service):
    FixtureLoader(FhirRestClient(backend.base)).load(read_bundles([PATIENT]))

    before = hook_call(service.url, backend.base)
    assert "DATA-MISSING" in rules(before)
    assert not rules(before) & TRIAGE
    data_missing = next(c for c in before["cards"] if c["source"]["topic"]["code"] == "DATA-MISSING")
    smart_links = [link for link in data_missing.get("links", []) if link["type"] == "smart"]
    assert len(smart_links) == 1 and smart_links[0]["url"].startswith(f"{service.url}/smart/launch")

    # The EHR launches the linked app: a launch id for this patient and user, iss = its FHIR base.
    launch = requests.post(f"{smart_ehr.root}/ehr/launch", json={"patient": PATIENT, "user": USER}, timeout=10).json()
    separator = "&" if "?" in smart_links[0]["url"] else "?"
    launch_url = smart_links[0]["url"] + separator + urlencode({"iss": launch["iss"], "launch": launch["launch"],
                                                                 "lang": "en"})
    steps = [{"answers": {"expected_survival_months": "900"}, "expect": "refused"},
             {"answers": {"expected_survival_months": "12"}, "expect": "saved"}]
    run = subprocess.run(["node", "fill.mjs", "--url", launch_url, "--steps", json.dumps(steps),
                          "--chromium", CHROMIUM], cwd=SMART_DIR, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout.strip().splitlines()[-1])
    assert "error" not in result, json.dumps(result, indent=1)[:20000]
    print(f"\nSMART app, one patient: form shown after {result['loadedMs']} ms, saved after {result['totalMs']} ms")

    assert "DATA-MISSING" in result["cardsBefore"]
    assert "expected_survival_months/1" in result["questions"]
    refused, saved = result["steps"]
    assert refused["written"] == [] and any("600" in e for e in refused["errors"]), refused
    assert saved["toWrite"] == ["Expected survival: 12 mo"]  # every value is reviewed before it is saved
    assert len(saved["written"]) == 2  # the QuestionnaireResponse and one Observation
    assert all(href.startswith(smart_ehr.iss) for href in saved["written"])
    assert "DATA-MISSING" not in saved["cardsAfter"] and set(saved["cardsAfter"]) & TRIAGE

    # The Observation is on the EHR's FHIR server, coded as the input profile says, with author and time.
    found = requests.get(f"{backend.base}/Observation", params={"patient": PATIENT,
                                                             "code": f"{LOCAL}|expected-survival"}, timeout=10).json()
    observations = [e["resource"] for e in found.get("entry", [])]
    assert len(observations) == 1
    obs = observations[0]
    assert obs["valueQuantity"] == {"value": 12, "unit": "mo", "system": "http://unitsofmeasure.org", "code": "mo"}
    assert obs["performer"] == [{"reference": USER}] and obs["status"] == "final"
    assert obs["effectiveDateTime"].startswith("2026-11-24")
    qr = requests.get(f"{backend.base}/{obs['derivedFrom'][0]['reference']}", timeout=10).json()
    assert qr["author"] == {"reference": USER} and qr["status"] == "completed"

    # The same hook call now answers with the triage card.
    after = hook_call(service.url, backend.base)
    assert "DATA-MISSING" not in rules(after)
    assert rules(after) & TRIAGE
