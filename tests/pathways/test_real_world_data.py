"""Issue #13: the same facts written the way real EHRs write them give the safe answer.

One section per class of the issue. Each test takes a fixture patient, changes only the *encoding* of
a fact (a bound, a reference style, a duplicate, a version …) and checks the rules the real service
answers with, through the prefetch resolver and the engine.
"""

from __future__ import annotations

import json

import pytest
import responses

from cds_service.errors import PreconditionFailed
from cds_service.fhir.client import FhirClient
from cds_service.fhir.orders import OrderClassifier
from cds_service.fhir.prefetch import FhirServerPolicy, PrefetchResolver
from cds_service.services import SERVICES_BY_ID

from .realworld import (CPT, LNC, LOCAL, ROOT, SCT, UCUM, cards, evaluate, find, full_url, patient_resources,
                        prefetch_of, request, rule_ids, without)

ROOT_REQUESTS = ROOT / "requests"

BRAIN = "brain-metastases"
SPINE = "spinal-metastases"
LM = "leptomeningeal-metastases"
SIGN = "neuro-oncology-order-sign"
SELECT = "neuro-oncology-order-select"


def _lesion_quantity(resources: list[dict]) -> dict:
    lesion = find(resources, "Observation", "21889-1")
    return lesion["component"][0]["valueQuantity"]


# -- 1. bounds are not values ---------------------------------------------------------------------


def test_lesion_recorded_as_more_than_10_mm_never_gives_the_reassuring_organ_mdo() -> None:
    resources = patient_resources("bm-a4-organ")
    assert "BM-MDO-ORGAN" in rule_ids(BRAIN, resources)  # 8 mm: organ-specific MDO
    _lesion_quantity(resources).update({"value": 10, "comparator": ">"})
    found = rule_ids(BRAIN, resources)
    assert "BM-MDO-ORGAN" not in found
    assert "BM-MDO-NEURO" in found  # "> 10 mm" answers "> 10 mm?" with yes


def test_a_bound_that_does_not_settle_the_step_is_unknown() -> None:
    resources = patient_resources("bm-a4-organ")
    _lesion_quantity(resources).update({"value": 15, "comparator": "<"})  # < 15 mm: > 10 mm? unknown
    found = rule_ids(BRAIN, resources)
    assert "BM-MDO-ORGAN" not in found and "DATA-MISSING" in found


def test_card_shows_the_bound_as_recorded() -> None:
    resources = patient_resources("bm-a4-organ")
    _lesion_quantity(resources).update({"value": 10, "comparator": ">"})
    detail = "\n".join(c["detail"] for c in cards(BRAIN, resources))
    assert "> 10 mm" in detail


def test_survival_more_than_3_months_is_no_restraint() -> None:
    resources = patient_resources("bm-a1-short-prognosis")
    assert "BM-RESTRAINT" in rule_ids(BRAIN, resources)  # 2 months
    survival = find(resources, "Observation", "expected-survival")
    survival.pop("valueQuantity", None)
    survival.pop("valueCodeableConcept", None)
    survival["valueQuantity"] = {"value": 3, "comparator": ">", "unit": "mo", "system": UCUM, "code": "mo"}
    assert "BM-RESTRAINT" not in rule_ids(BRAIN, resources)


@pytest.mark.parametrize("where", ["lesion", "recorded"])
def test_resected_tumour_more_than_2_cm_is_no_wait_and_scan(where: str) -> None:
    resources = patient_resources("bm-postop-waitscan")
    assert "BM-POSTOP-WAITSCAN" in rule_ids(BRAIN, resources)  # 20 mm before the resection
    bound = {"value": 2, "comparator": ">", "unit": "cm", "system": UCUM, "code": "cm"}
    if where == "lesion":
        _lesion_quantity(resources).clear()
        _lesion_quantity(resources).update(bound)
    else:
        resources.append({"resourceType": "Observation", "id": "rtd", "status": "final",
                          "subject": {"reference": "Patient/bm-postop-waitscan"},
                          "code": {"coding": [{"system": LOCAL, "code": "resected-tumour-diameter"}]},
                          "effectiveDateTime": "2026-11-14T09:00:00+00:00", "valueQuantity": bound})
    found = rule_ids(BRAIN, resources)
    assert "BM-POSTOP-WAITSCAN" not in found and "BM-POSTOP-SRS" not in found
    assert "DATA-MISSING" in found


def test_year_only_birth_date_does_not_decide_the_rpa_class() -> None:
    resources = patient_resources("bm-rpa-class-1")
    patient = next(r for r in resources if r["resourceType"] == "Patient")
    rpa = next(c for c in cards(BRAIN, resources) if c["source"]["topic"]["code"] == "PROG-RPA")
    assert "1" in rpa["summary"]
    patient["birthDate"] = "1961"  # age 64 or 65 on 2026-11-24: "age < 65" is not answered
    found = cards(BRAIN, resources)
    rpa_cards = [c for c in found if c["source"]["topic"]["code"] == "PROG-RPA"]
    assert all("class 1" not in c["summary"].lower() for c in rpa_cards)
    patient["birthDate"] = "1950"  # 75 or 76: both ≥ 65, class 2 is decided
    assert "PROG-RPA" in rule_ids(BRAIN, resources)


# -- 2. references are followed -------------------------------------------------------------------

BRAINSTEM = {"coding": [{"system": SCT, "code": "15926001", "display": "Brainstem structure"}]}


def _brainstem_lesion(resources: list[dict], style: str) -> list[dict]:
    """The 8 mm lesion of bm-a4-organ located in the brainstem by a BodyStructure, referenced by ``style``."""
    resources = without(resources, "Observation", "critical-location")  # no recorded "none"
    lesion = find(resources, "Observation", "21889-1")
    lesion.pop("bodySite", None)
    body = {"resourceType": "BodyStructure", "id": "bs-1", "location": BRAINSTEM,
            "patient": {"reference": "Patient/bm-a4-organ"}}
    if style == "contained":
        lesion["contained"] = [body]
        lesion["focus"] = [{"reference": "#bs-1"}]
        return resources
    resources.append(body)
    lesion["focus"] = [{"reference": {"relative": "BodyStructure/bs-1", "urn": full_url(body),
                                      "absolute": "http://ehr.example/fhir/BodyStructure/bs-1"}[style]}]
    return resources


@pytest.mark.parametrize("style", ["contained", "relative", "urn", "absolute"])
def test_brainstem_lesion_located_by_any_reference_style_is_critical(style: str) -> None:
    found = rule_ids(BRAIN, _brainstem_lesion(patient_resources("bm-a4-organ"), style))
    assert "BM-MDO-ORGAN" not in found
    assert "BM-MDO-NEURO" in found


def test_unresolvable_focus_is_unknown_never_no() -> None:
    resources = without(patient_resources("bm-a4-organ"), "Observation", "critical-location")
    lesion = find(resources, "Observation", "21889-1")
    lesion["focus"] = [{"reference": "BodyStructure/not-here"}]
    found = rule_ids(BRAIN, resources)
    assert "BM-MDO-ORGAN" not in found


def _order_patient() -> tuple[list[dict], dict]:
    body = json.loads((ROOT_REQUESTS / "neuro-oncology-order-sign-ord-srs-no-mdo.json").read_text("utf-8"))
    resources = [e["resource"] for key in ("conditions", "observations", "procedures") for e in
                 (body["prefetch"].get(key) or {}).get("entry", [])]
    resources.append(body["prefetch"]["patient"])
    return resources, body



def _rt_referral(reason: dict | None = None, **extra) -> dict:
    draft = {"resourceType": "ServiceRequest", "id": "rt-1", "status": "draft", "intent": "order",
             "subject": {"reference": "Patient/ord-srs-no-mdo"},
             "code": {"coding": [{"system": LOCAL, "code": "radiotherapy-referral"}]}}
    if reason is not None:
        draft["reasonReference"] = [reason]
    draft.update(extra)
    return draft


def _drafts(*resources: dict, urls: bool = False) -> dict:
    return {"resourceType": "Bundle", "type": "collection",
            "entry": [{"resource": r, **({"fullUrl": full_url(r)} if urls else {})} for r in resources]}


def _bm_condition(resources: list[dict]) -> dict:
    return find(resources, "Condition", "94225005")


@pytest.mark.parametrize("style", ["relative", "absolute", "urn"])
def test_rt_referral_whose_reason_references_the_brain_metastasis_condition_is_blocked(style: str) -> None:
    resources, _body = _order_patient()
    condition = _bm_condition(resources)
    ref = {"relative": f"Condition/{condition['id']}", "absolute": f"https://ehr.example/fhir/Condition/{condition['id']}",
           "urn": full_url(condition)}[style]
    assert "RT-DIRECT-REFERRAL-BLOCKED" not in rule_ids(SIGN, resources, patient_id="ord-srs-no-mdo",
                                                        draft_orders=_drafts(_rt_referral()))
    found = rule_ids(SIGN, resources, patient_id="ord-srs-no-mdo",
                     draft_orders=_drafts(_rt_referral({"reference": ref})))
    assert "RT-DIRECT-REFERRAL-BLOCKED" in found


def test_rt_referral_with_a_frontal_lobe_body_site_is_brain_radiotherapy() -> None:
    resources, _body = _order_patient()
    draft = _rt_referral(bodySite=[{"coding": [{"system": SCT, "code": "83251001", "display": "Frontal lobe"}]}])
    found = rule_ids(SIGN, resources, patient_id="ord-srs-no-mdo", draft_orders=_drafts(draft))
    assert "RT-DIRECT-REFERRAL-BLOCKED" in found


# -- medicationReference ----------------------------------------------------------------------------

DEXA = {"coding": [{"system": "http://www.whocc.no/atc", "code": "H02AB02", "display": "dexamethasone"}]}


def _dexa_request(reference: str, *, contained: bool = False) -> dict:
    req = {"resourceType": "MedicationRequest", "id": "mr-dexa", "status": "active", "intent": "order",
           "subject": {"reference": "Patient/t1"}, "authoredOn": "2026-11-20T08:00:00+00:00",
           "medicationReference": {"reference": reference},
           "dosageInstruction": [{"text": "4 mg 4 times a day"}]}
    if contained:
        req["contained"] = [{"resourceType": "Medication", "id": "med", "code": DEXA}]
    return req


@pytest.mark.parametrize("style", ["contained", "relative", "urn"])
def test_dexamethasone_via_medication_reference_is_dexamethasone(style: str) -> None:
    medication = {"resourceType": "Medication", "id": "med-1", "code": DEXA}
    reference = {"contained": "#med", "relative": "Medication/med-1", "urn": full_url(medication)}[style]
    resources = [{"resourceType": "Patient", "id": "t1", "birthDate": "1960-01-01"},
                 _dexa_request(reference, contained=style == "contained")]
    if style != "contained":
        resources.append(medication)
    facts = evaluate(SPINE, resources, patient_id="t1").facts
    assert facts.value("dexamethasone_active") is True


def test_medication_that_cannot_be_identified_makes_on_dexamethasone_unknown() -> None:
    resources = [{"resourceType": "Patient", "id": "t1", "birthDate": "1960-01-01"},
                 _dexa_request("Medication/elsewhere")]
    fact = evaluate(SPINE, resources, patient_id="t1").facts["dexamethasone_active"]
    assert fact.value is None and not fact.known
    assert any("MedicationRequest/mr-dexa" in n for n in fact.notes)


# -- 3. the order of a Bundle never decides -------------------------------------------------------


def _kps(value: int, rid: str, when: str = "2026-11-20T10:00:00+00:00", **meta) -> dict:
    res = {"resourceType": "Observation", "id": rid, "status": "final",
           "code": {"coding": [{"system": LNC, "code": "89243-0"}]}, "subject": {"reference": "Patient/t1"},
           "effectiveDateTime": when, "valueInteger": value}
    if meta:
        res["meta"] = meta
    return res


@pytest.mark.parametrize("order", [0, 1])
def test_two_kps_values_at_the_same_time_that_disagree_are_unknown_naming_both(order: int) -> None:
    pair = [_kps(60, "k-a"), _kps(80, "k-b")]
    resources = [{"resourceType": "Patient", "id": "t1"}, *(pair if order == 0 else pair[::-1])]
    kps = evaluate(BRAIN, resources, patient_id="t1").facts["kps"]
    assert kps.value is None and not kps.known
    assert {p.reference for p in kps.provenance} == {"Observation/k-a", "Observation/k-b"}
    assert any("Observation/k-a" in n and "Observation/k-b" in n for n in kps.notes)


def test_same_time_values_that_answer_the_step_alike_still_decide_it() -> None:
    resources = [{"resourceType": "Patient", "id": "t1"}, _kps(80, "k-a"), _kps(90, "k-b")]
    facts = evaluate(BRAIN, resources, patient_id="t1").facts
    from cds_service.facts.model import compare

    assert compare(facts["kps"], ">=", 70) is True


@pytest.mark.parametrize("order", [0, 1])
def test_newest_version_of_a_record_wins_whatever_the_order(order: int) -> None:
    old = _kps(60, "k", meta={"versionId": "1", "lastUpdated": "2026-11-20T10:00:00Z"})
    new = _kps(80, "k", meta={"versionId": "2", "lastUpdated": "2026-11-21T10:00:00Z"})
    copies = [old, new] if order == 0 else [new, old]
    resources = [{"resourceType": "Patient", "id": "t1"}, *copies]
    assert evaluate(BRAIN, resources, patient_id="t1").facts.value("kps") == 80


@pytest.mark.parametrize("order", [0, 1])
def test_newer_entered_in_error_version_removes_the_record(order: int) -> None:
    old = _kps(60, "k", meta={"versionId": "1"})
    gone = dict(_kps(60, "k", meta={"versionId": "2"}), status="entered-in-error")
    copies = [old, gone] if order == 0 else [gone, old]
    resources = [{"resourceType": "Patient", "id": "t1"}, *copies]
    assert evaluate(BRAIN, resources, patient_id="t1").facts.value("kps") is None


# -- 4. records that are not current --------------------------------------------------------------


def test_abated_condition_without_clinical_status_is_not_active() -> None:
    resources = patient_resources("bm-a4-organ")
    condition = _bm_condition(resources)
    condition.pop("clinicalStatus", None)
    condition["abatementDateTime"] = "2026-06-01"
    assert rule_ids(BRAIN, resources, patient_id="bm-a4-organ") == set()


@pytest.mark.parametrize("deceased", [{"deceasedBoolean": True}, {"deceasedDateTime": "2026-11-20"}])
@pytest.mark.parametrize("pid,service", [("bm-a4-organ", BRAIN), ("lm-suspect-breast", LM),
                                         ("ord-spine-mri-slow", SPINE)])
def test_deceased_patient_gets_no_cards_from_any_service(deceased: dict, pid: str, service: str) -> None:
    resources = patient_resources(pid)
    assert rule_ids(service, resources, patient_id=pid)  # alive: cards
    next(r for r in resources if r["resourceType"] == "Patient").update(deceased)
    assert rule_ids(service, resources, patient_id=pid) == set()


def test_deceased_in_the_future_is_not_deceased() -> None:
    resources = patient_resources("bm-a4-organ")
    next(r for r in resources if r["resourceType"] == "Patient")["deceasedDateTime"] = "2027-01-01"
    assert rule_ids(BRAIN, resources, patient_id="bm-a4-organ")


def test_deceased_patient_gets_no_order_cards() -> None:
    resources, _body = _order_patient()
    condition = _bm_condition(resources)
    draft = _rt_referral({"reference": f"Condition/{condition['id']}"})
    next(r for r in resources if r["resourceType"] == "Patient")["deceasedBoolean"] = True
    assert rule_ids(SIGN, resources, patient_id="ord-srs-no-mdo", draft_orders=_drafts(draft)) == set()


# -- 5. outside the population --------------------------------------------------------------------


def test_headache_without_any_cancer_recorded_gets_no_leptomeningeal_card() -> None:
    headache = {"resourceType": "Condition", "id": "h", "subject": {"reference": "Patient/t1"},
                "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                                               "code": "active"}]},
                "code": {"coding": [{"system": LOCAL, "code": "headache"}]}, "onsetDateTime": "2026-11-22"}
    resources = [{"resourceType": "Patient", "id": "t1"}, headache]
    assert rule_ids(LM, resources, patient_id="t1") == set()
    assert rule_ids(SPINE, resources, patient_id="t1") == set()
    assert rule_ids(BRAIN, resources, patient_id="t1") == set()


# -- 6. lesion volumes, no systemic therapy with effect ---------------------------------------------


def test_four_lesions_with_four_volume_observations_are_four_metastases() -> None:
    resources = patient_resources("bm-a4-organ")
    lesion = find(resources, "Observation", "21889-1")
    lesion["component"] = lesion["component"][:1]  # the diameter only: volumes come as their own Observations
    for i in range(1, 4):
        twin = json.loads(json.dumps(lesion))
        twin["id"] = f"{lesion['id']}-{i}"
        resources.append(twin)
    for i in range(4):
        resources.append({"resourceType": "Observation", "id": f"vol-{i}", "status": "final",
                          "subject": lesion["subject"], "code": {"coding": [{"system": LOCAL,
                                                                             "code": "lesion-volume"}]},
                          "effectiveDateTime": lesion["effectiveDateTime"],
                          "valueQuantity": {"value": 0.5, "unit": "mL", "system": UCUM, "code": "mL"}})
    facts = evaluate(BRAIN, resources, patient_id="bm-a4-organ").facts
    assert facts.value("brain_metastasis_count") == 4
    assert facts.value("total_volume_cm3") == 2.0
    assert "BM-TX-SRS" in rule_ids(BRAIN, resources, patient_id="bm-a4-organ")


def test_no_systemic_options_remaining_gives_wbrt_without_a_driver_status() -> None:
    resources = patient_resources("bm-tx-wbrt")
    resources = [r for r in resources if not (r["resourceType"] == "Observation" and {
        c.get("code") for c in r["code"]["coding"]} & {"69548-6", "systemic-switch-cns-response"})]
    assert "BM-TX-WBRT" not in rule_ids(BRAIN, resources, patient_id="bm-tx-wbrt")
    resources.append({"resourceType": "Observation", "id": "sor", "status": "final",
                      "subject": {"reference": "Patient/bm-tx-wbrt"},
                      "code": {"coding": [{"system": LOCAL, "code": "systemic-options-remaining"}]},
                      "effectiveDateTime": "2026-11-20T10:00:00+00:00", "valueBoolean": False})
    assert "BM-TX-WBRT" in rule_ids(BRAIN, resources, patient_id="bm-tx-wbrt")


# -- 7. drafts as real clients write them ---------------------------------------------------------


def _spine_patient() -> list[dict]:
    return patient_resources("ord-spine-mri-slow")


@pytest.mark.parametrize("code,display", [
    ("72156", "Magnetic resonance (eg, proton) imaging, spinal canal and contents, without contrast material, "
              "followed by contrast material(s) and further sequences; cervical"),
    ("72148", "Magnetic resonance (eg, proton) imaging, spinal canal and contents, lumbar; without contrast material"),
])
def test_cpt_spine_mri_draft_from_the_sandbox_gets_the_urgency_card(code: str, display: str) -> None:
    draft = {"resourceType": "ServiceRequest", "id": "sr-cpt", "status": "draft", "intent": "order",
             "subject": {"reference": "Patient/ord-spine-mri-slow"}, "priority": "routine",
             "code": {"coding": [{"system": CPT, "code": code, "display": display}], "text": display}}
    found = cards(SIGN, _spine_patient(), patient_id="ord-spine-mri-slow", draft_orders=_drafts(draft))
    urgency = [c for c in found if c["source"]["topic"]["code"] == "SM-MRI-URGENCY"]
    assert urgency
    assert "whole spine" in urgency[0]["detail"]


def test_cpt_wording_without_a_code_is_read() -> None:
    text = "Magnetic resonance (eg, proton) imaging, spinal canal and contents, thoracic; without contrast material"
    draft = {"resourceType": "ServiceRequest", "id": "sr-txt", "status": "draft", "intent": "order",
             "subject": {"reference": "Patient/ord-spine-mri-slow"}, "priority": "routine", "code": {"text": text}}
    assert "SM-MRI-URGENCY" in rule_ids(SIGN, _spine_patient(), patient_id="ord-spine-mri-slow",
                                        draft_orders=_drafts(draft))


def test_cpt_brain_mri_is_a_brain_mri() -> None:
    classifier = OrderClassifier.load(strict=True)
    draft = {"resourceType": "ServiceRequest", "id": "b", "status": "draft",
             "code": {"coding": [{"system": CPT, "code": "70553"}]}}
    (order,) = classifier.classify(_drafts(draft), None, language="en")
    assert order.kind == "mri-brain"


# -- 8. silence on failure -------------------------------------------------------------------------


def test_a_draft_the_reader_fails_on_is_data_missing_naming_it(monkeypatch) -> None:
    resources, _body = _order_patient()
    draft = _rt_referral({"reference": f"Condition/{_bm_condition(resources)['id']}"})

    def broken(self, res):
        raise RuntimeError("boom")

    monkeypatch.setattr(OrderClassifier, "_deadline", broken)
    found = cards(SIGN, resources, patient_id="ord-srs-no-mdo", draft_orders=_drafts(draft))
    missing = [c for c in found if c["source"]["topic"]["code"] == "DATA-MISSING"]
    assert missing and "Could not be read and so was not checked: draft order 1" in missing[0]["detail"]
    assert "rt-1" not in missing[0]["detail"]  # named by position and the clinician's words, never by FHIR id
    with pytest.raises(RuntimeError):
        OrderClassifier.load(strict=True).classify(_drafts(draft), None, language="en")


def test_all_required_keys_null_without_fhir_server_is_412() -> None:
    body = request(BRAIN, {"patient": None, "conditions": None, "observations": None})
    with pytest.raises(PreconditionFailed) as caught:
        PrefetchResolver(FhirClient(), FhirServerPolicy()).resolve(SERVICES_BY_ID[BRAIN], body)
    assert "patient" in str(caught.value)


def test_patient_sent_as_null_is_412_for_every_service() -> None:
    prefetch = prefetch_of(patient_resources("bm-a4-organ"))
    prefetch["patient"] = None
    for service_id in (BRAIN, SPINE, LM, SIGN):
        with pytest.raises(PreconditionFailed):
            evaluate(service_id, prefetch=prefetch)


@responses.activate
def test_patient_404_on_the_fhir_server_is_412() -> None:
    base = "http://127.0.0.1:9/fhir"
    responses.add(responses.GET, f"{base}/Patient/p", status=404,
                  json={"resourceType": "OperationOutcome", "issue": []})
    prefetch = prefetch_of(patient_resources("bm-a4-organ"))
    del prefetch["patient"]
    body = request(BRAIN, prefetch)
    body["fhirServer"] = base
    with pytest.raises(PreconditionFailed) as caught:
        PrefetchResolver(FhirClient(), FhirServerPolicy()).resolve(SERVICES_BY_ID[BRAIN], body)
    assert "not found" in json.dumps(caught.value.details if hasattr(caught.value, "details") else str(caught.value))



# -- disease status: the focus decides brain vs extracranial ----------------------------------------


@pytest.mark.parametrize("style", ["relative", "urn", "absolute", "contained-unknown"])
def test_disease_status_worsened_with_focus_on_the_brain_metastases_is_not_extracranial(style: str) -> None:
    resources = patient_resources("bm-a4-organ")
    condition = _bm_condition(resources)
    ref = {"relative": f"Condition/{condition['id']}", "urn": full_url(condition),
           "absolute": f"https://ehr.example/fhir/Condition/{condition['id']}",
           "contained-unknown": "Condition/not-in-the-call"}[style]
    resources.append({"resourceType": "Observation", "id": "ds", "status": "final",
                      "subject": {"reference": "Patient/bm-a4-organ"},
                      "code": {"coding": [{"system": LNC, "code": "97509-4"}]},
                      "effectiveDateTime": "2026-11-23T09:00:00+00:00", "focus": [{"reference": ref}],
                      "valueCodeableConcept": {"coding": [{"system": SCT, "code": "271299001"}]}})
    facts = evaluate(BRAIN, resources, patient_id="bm-a4-organ").facts
    assert facts.value("extracranial_disease_status") != "progressive"
    if style == "contained-unknown":  # which disease worsened is unknown: neither brain nor extracranial
        assert facts.value("extracranial_disease_status") is None
    else:
        assert facts.value("bm_recurrence") is not False


# -- spinal population: a cancer patient with the spinal symptoms of 3b --------------------------------


def _condition(code: str, system: str, rid: str) -> dict:
    return {"resourceType": "Condition", "id": rid, "subject": {"reference": "Patient/t1"},
            "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                                           "code": "active"}]},
            "code": {"coding": [{"system": system, "code": code}]},
            "onsetDateTime": "2026-11-22T08:00:00+00:00", "recordedDate": "2026-11-23T08:00:00+00:00"}


def test_cancer_patient_with_spinal_symptoms_is_in_the_spinal_population() -> None:
    patient = {"resourceType": "Patient", "id": "t1", "birthDate": "1960-01-01"}
    symptoms = [_condition("radicular-pain", LOCAL, "rp"), _condition("local-back-pain", LOCAL, "bp")]
    assert rule_ids(SPINE, [patient, *symptoms], patient_id="t1") == set()  # no cancer: outside
    with_cancer = [patient, _condition("254837009", SCT, "breast"), *symptoms]
    assert "SM-MRI-URGENCY" in rule_ids(SPINE, with_cancer, patient_id="t1")


def test_a_generic_neurological_deficit_of_brain_metastases_is_no_spinal_suspicion() -> None:
    resources = patient_resources("bm-s1-symptomatic")
    assert rule_ids(SPINE, resources, patient_id="bm-s1-symptomatic") == set()


@pytest.mark.parametrize("birth,gpa_shown", [("1950", True), ("1956", False)])
def test_gpa_age_from_a_year_only_birth_date_only_when_the_whole_range_is_one_row(birth: str, gpa_shown: bool) -> None:
    """Lung-molGPA age rows split at 70: born 1950 is 75–76 (one row), born 1956 is 69–70 (two rows)."""
    resources = patient_resources("gpa-lung-adeno")
    next(r for r in resources if r["resourceType"] == "Patient")["birthDate"] = birth
    found = rule_ids(BRAIN, resources, patient_id="gpa-lung-adeno")
    assert ("PROG-GPA" in found) is gpa_shown
    if not gpa_shown:
        assert "DATA-MISSING" in found


def test_an_unreadable_draft_is_counted_in_the_metrics_over_http(tmp_path, monkeypatch) -> None:
    from datetime import datetime, timezone

    from cds_service.app import create_app
    from cds_service.config import Config

    from .realworld import engine

    resources, _body = _order_patient()
    draft = _rt_referral({"reference": f"Condition/{_bm_condition(resources)['id']}"})

    def broken(self, res):
        raise RuntimeError("boom")

    monkeypatch.setattr(OrderClassifier, "_deadline", broken)
    app = create_app(Config(database=str(tmp_path / "f.sqlite3")), engine=engine(),
                     clock=lambda: datetime(2026, 11, 24, 9, 0, tzinfo=timezone.utc))
    app.testing = True
    try:
        client = app.test_client()
        body = request(SIGN, prefetch_of(resources), patient_id="ord-srs-no-mdo", draft_orders=_drafts(draft))
        response = client.post(f"/cds-services/{SIGN}", json=body)
        assert response.status_code == 200
        assert any(c["source"]["topic"]["code"] == "DATA-MISSING" for c in response.get_json()["cards"])
        exposition = client.get("/metrics").get_data(as_text=True)
        assert f'cds_unreadable_draft_orders_total{{service="{SIGN}"}} 1.0' in exposition
    finally:
        app.extensions["cds"].close()


@pytest.mark.parametrize("reference,expected", [
    ("Medication/dexa", "no card"),  # resolves to dexamethasone: already on it
    ("Medication/elsewhere", "no one-click start"),  # cannot be identified: may already be on it
])
def test_dexamethasone_card_on_a_medication_reference(reference: str, expected: str) -> None:
    resources = patient_resources("sm-red-flag-deficit")  # signs of compression: dexamethasone now (003)
    before = [c for c in cards(SPINE, resources, patient_id="sm-red-flag-deficit")
              if c["source"]["topic"]["code"] == "SM-DEXAMETHASONE"]
    assert before and before[0].get("suggestions")  # not on dexamethasone: the card offers to start it
    order = _dexa_request(reference)
    order["subject"] = {"reference": "Patient/sm-red-flag-deficit"}
    resources += [order, {"resourceType": "Medication", "id": "dexa", "code": DEXA}]
    after = [c for c in cards(SPINE, resources, patient_id="sm-red-flag-deficit")
             if c["source"]["topic"]["code"] == "SM-DEXAMETHASONE"]
    if expected == "no card":
        assert after == []
    else:
        assert after and not after[0].get("suggestions")
