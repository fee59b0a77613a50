"""Draft-order rows of ../shared/spec/fhir-mapping.md: every code / text form / site / reason encoding → kind."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from cds_service.fhir.orders import OrderClassifier

LOCAL = "https://neuro-onc-cds.example.org/fhir/CodeSystem/facts"
SCT = "http://snomed.info/sct"
LNC = "http://loinc.org"
CPT = "http://www.ama-assn.org/go/cpt"
ICD10 = "http://hl7.org/fhir/sid/icd-10"
ICD10NL = "http://hl7.org/fhir/sid/icd-10-nl"
ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"


def cc(system: str, code: str) -> dict:
    return {"coding": [{"system": system, "code": code}]}


def draft(code: dict, **fields) -> dict:
    return {"resourceType": "ServiceRequest", "id": "d1", "status": "draft", "intent": "order",
            "subject": {"reference": "Patient/t1"}, "code": code, **fields}


BM_COND = {"resourceType": "Condition", "id": "bm1", "subject": {"reference": "Patient/t1"},
           "code": cc(SCT, "94225005"),
           "clinicalStatus": cc("http://terminology.hl7.org/CodeSystem/condition-clinical", "active")}

RT_CODES = [cc(LOCAL, c) for c in ("stereotactic-radiosurgery", "stereotactic-radiotherapy",
                                   "radiotherapy-referral")] + [cc(SCT, "1217123003"), cc(SCT, "1287742003")]
BRAIN_SITES = [cc(SCT, c) for c in ("12738006", "15926001", "113305005", "83251001", "16630005", "78277001",
                                   "31065004")] + [cc(LOCAL, "brain"), cc(LOCAL, "posterior-fossa")]
BM_REASONS = [cc(SCT, "94225005"), cc(ICD10, "C79.3"), cc(ICD10NL, "C79.3"), cc(ICD10CM, "C79.31"), cc(ICD10, "C79.31"),
              cc(LOCAL, "brain-metastases")]

CASES = [
    *[(f"mri-spine-lnc-{c}", draft(cc(LNC, c)), "mri-spine")
      for c in ("24935-9", "24937-5", "24980-5", "24981-3", "24968-0", "24967-2")],
    ("mri-spine-local", draft(cc(LOCAL, "mri-whole-spine")), "mri-spine"),
    *[(f"mri-spine-cpt-{c}", draft(cc(CPT, c)), "mri-spine")
      for c in ("72141", "72142", "72156", "72146", "72147", "72157", "72148", "72149", "72158")],
    *[(f"mri-spine-text-{i}", draft({"text": t}), "mri-spine")
      for i, t in enumerate(["MRI wervelkolom", "MRI whole spine", "Magnetic resonance imaging of spine",
                             "MRI van de gehele wervelkolom met contrast"])],
    *[(f"mri-brain-lnc-{c}", draft(cc(LNC, c)), "mri-brain") for c in ("24590-2", "24589-4", "24587-8")],
    *[(f"mri-brain-cpt-{c}", draft(cc(CPT, c)), "mri-brain") for c in ("70551", "70552", "70553")],
    *[(f"mri-brain-text-{i}", draft({"text": t}), "mri-brain")
      for i, t in enumerate(["MRI hersenen", "MRI brain with contrast", "Magnetic resonance imaging of brain",
                             "MRI van de hersenen"])],
    ("mdo-local", draft(cc(LOCAL, "neuro-oncology-mdo")), "mdo-referral"),
    ("wbrt-local", draft(cc(LOCAL, "whole-brain-radiotherapy")), "rt-wbrt"),
    *[(f"rt-{i}-site-{j}", draft(code, bodySite=[site]), "rt-brain")
      for i, code in enumerate(RT_CODES) for j, site in enumerate(BRAIN_SITES)],
    *[(f"rt-{i}-reason-{j}", draft(code, reasonCode=[reason]), "rt-brain")
      for i, code in enumerate(RT_CODES) for j, reason in enumerate(BM_REASONS)],
    *[(f"rt-{i}-reason-reference", draft(code, reasonReference=[{"reference": "Condition/bm1"}]), "rt-brain")
      for i, code in enumerate(RT_CODES)],
    ("rt-text-brain-metastases", draft({"text": "Radiotherapie hersenmetastasen"}), "rt-brain"),
    ("rt-course-text-brain-metastases", draft({**cc(SCT, "1217123003"), "text": "RT brain metastases"}), "rt-brain"),
    ("rt-text-no-site", draft({"text": "Radiotherapie"}), "other"),
    ("rt-course-reason-reference-icd10nl", draft(cc(SCT, "1217123003"),
                                                 reasonReference=[{"reference": "Condition/bmnl"}]), "rt-brain"),
    ("rt-course-spine-site", draft(cc(SCT, "1217123003"), bodySite=[cc(SCT, "44300000")]), "other"),
    ("rt-course-no-site", draft(cc(SCT, "1217123003")), "other"),
]


@pytest.fixture(scope="module")
def classifier() -> OrderClassifier:
    return OrderClassifier.load()


@pytest.mark.parametrize("resource,kind", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_draft_kind(classifier: OrderClassifier, resource: dict, kind: str) -> None:
    bundle = {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": resource}]}
    bm_nl = {**BM_COND, "id": "bmnl", "code": cc(ICD10NL, "C79.3")}
    orders = classifier.classify(bundle, None, language="en", patient_resources=[BM_COND, bm_nl])
    assert len(orders) == 1 and orders[0].kind == kind


@pytest.mark.parametrize("fields,priority,deadline", [
    ({"priority": "stat"}, "stat", None),
    ({"priority": "asap"}, "asap", None),
    ({"priority": "urgent", "occurrenceDateTime": "2026-11-25T09:00:00Z"}, "urgent",
     datetime(2026, 11, 25, 9, 0, tzinfo=timezone.utc)),
    ({"occurrencePeriod": {"start": "2026-11-24T10:00:00Z", "end": "2026-11-24T20:00:00Z"}}, None,
     datetime(2026, 11, 24, 20, 0, tzinfo=timezone.utc)),
])
def test_priority_and_deadline(classifier: OrderClassifier, fields: dict, priority, deadline) -> None:
    bundle = {"resourceType": "Bundle", "entry": [{"resource": draft(cc(LNC, "24935-9"), **fields)}]}
    (order,) = classifier.classify(bundle, None, language="en")
    assert order.priority == priority and order.deadline == deadline
