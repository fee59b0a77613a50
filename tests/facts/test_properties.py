"""Property tests: no resource shape makes extraction raise.

Realistic resources that match the mappings (so every reader and derivation runs) get random JSON —
dicts, lists, strings, numbers, NaN, booleans, None — in every field, nested fields included; fully
random dicts and non-dict entries are mixed in. The extractor runs in strict mode, so a derivation that
raises fails the test instead of being turned into unknown facts.
"""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cds_service.facts.model import Facts, FactStatus

from .helpers import ATC, DCM, HGNC, LNC, LOCAL, NOW, SCT, SUBJECT, ago, concept, extractor

json_leaf = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-10**12, max_value=10**12),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=12),
    st.sampled_from(["2026-11-20", "2026", "2026-13-45", "final", "active", "entered-in-error", "mm", "cm",
                     "mmol/L", "89243-0", LOCAL, LNC, SCT, "Patient/t1", "Condition/c1", "Observation/o1", "#m1"]),
)
json_value = st.recursive(
    json_leaf,
    lambda children: st.one_of(st.lists(children, max_size=4),
                               st.dictionaries(st.sampled_from(["system", "code", "coding", "value", "unit",
                                                                "reference", "text", "start", "end", "valueBoolean",
                                                                "valueInteger", "valueQuantity", "x"]),
                                               children, max_size=4)),
    max_leaves=12,
)


def templates() -> list[dict]:
    lesion_comp = [{"code": concept((LNC, "33728-7")), "valueQuantity": {"value": 12, "unit": "mm", "code": "mm"}},
                   {"code": concept((LOCAL, "lesion-volume")), "valueQuantity": {"value": 1.2, "code": "mL"}}]
    return [
        {"resourceType": "Patient", "id": "t1", "birthDate": "1960-05-01"},
        {"resourceType": "Observation", "id": "o1", "status": "final", "subject": SUBJECT,
         "code": concept((LNC, "89243-0")), "valueInteger": 70, "effectiveDateTime": ago(3)},
        {"resourceType": "Observation", "id": "o2", "status": "final", "subject": SUBJECT,
         "code": concept((LNC, "89247-1")), "valueCodeableConcept": concept((LNC, "LA9624-3")),
         "effectiveDateTime": ago(2)},
        {"resourceType": "Observation", "id": "o3", "status": "final", "subject": SUBJECT,
         "code": concept((LNC, "21889-1")), "bodySite": concept((SCT, "15926001")), "component": lesion_comp,
         "effectiveDateTime": ago(5), "derivedFrom": [{"reference": "ImagingStudy/s1"}],
         "focus": [{"reference": "Condition/c1"}]},
        {"resourceType": "Observation", "id": "o4", "status": "final", "subject": SUBJECT,
         "code": concept((LNC, "69548-6")), "valueCodeableConcept": concept((LNC, "LA9633-4")),
         "component": [{"code": concept((LNC, "48018-6")), "valueCodeableConcept": concept((HGNC, "HGNC:3236"))}]},
        {"resourceType": "Observation", "id": "o5", "status": "final", "subject": SUBJECT,
         "code": concept((LOCAL, "radicular-deficit")), "valueCodeableConcept": concept((LOCAL, "unilateral")),
         "component": [{"code": concept((LOCAL, "onset")), "valueDateTime": ago(4)},
                       {"code": concept((LOCAL, "progressive")), "valueBoolean": True}], "issued": ago(1)},
        {"resourceType": "Observation", "id": "o6", "status": "final", "subject": SUBJECT,
         "code": concept((LOCAL, "sins-total")), "component": [{"code": concept((LOCAL, "sins-pain")),
                                                                 "valueInteger": 3}], "effectiveDateTime": ago(1)},
        {"resourceType": "Observation", "id": "o7", "status": "final", "subject": SUBJECT,
         "code": concept((LNC, "97509-4")), "valueCodeableConcept": concept((SCT, "271299001")),
         "focus": [{"reference": "Condition/c1"}], "effectiveDateTime": ago(2)},
        {"resourceType": "Observation", "id": "o8", "status": "final", "subject": SUBJECT,
         "code": concept((LOCAL, "expected-survival")), "valueQuantity": {"value": 8, "code": "wk"},
         "effectiveDateTime": ago(2)},
        {"resourceType": "Observation", "id": "o9", "status": "final", "subject": SUBJECT,
         "code": concept((LNC, "718-7")), "valueQuantity": {"value": 7.1, "code": "mmol/L"}},
        {"resourceType": "Condition", "id": "c1", "subject": SUBJECT, "code": concept((SCT, "94225005")),
         "clinicalStatus": concept(("http://terminology.hl7.org/CodeSystem/condition-clinical", "active")),
         "verificationStatus": concept(("http://terminology.hl7.org/CodeSystem/condition-ver-status", "confirmed")),
         "onsetDateTime": ago(30), "bodySite": [concept((LOCAL, "eloquent-cortex"))]},
        {"resourceType": "Condition", "id": "c2", "subject": SUBJECT, "code": concept(("http://hl7.org/fhir/sid/"
                                                                                        "icd-10", "C34.1")),
         "onsetDateTime": ago(300)},
        {"resourceType": "Condition", "id": "c3", "subject": SUBJECT, "code": concept((LOCAL, "transverse-lesion")),
         "severity": concept((LOCAL, "incomplete")), "onsetDateTime": ago(1), "recordedDate": ago(0.5)},
        {"resourceType": "Procedure", "id": "p1", "status": "completed", "subject": SUBJECT,
         "code": concept((LOCAL, "neuro-oncology-mdo")), "performedDateTime": ago(2),
         "performer": [{"function": concept((LOCAL, "neurosurgery"))}]},
        {"resourceType": "Procedure", "id": "p2", "status": "completed", "subject": SUBJECT,
         "code": concept((LOCAL, "brain-metastasis-resection")), "performedPeriod": {"start": ago(60)}},
        {"resourceType": "Procedure", "id": "p3", "status": "completed", "subject": SUBJECT,
         "code": concept((SCT, "720006006")), "category": concept((LOCAL, "organ-specific-mdo")),
         "performedDateTime": ago(3)},
        {"resourceType": "MedicationRequest", "id": "m1", "status": "active", "intent": "order", "subject": SUBJECT,
         "medicationCodeableConcept": concept((ATC, "H02AB02")), "authoredOn": ago(5),
         "dosageInstruction": [{"text": "4 mg", "timing": {"repeat": {"boundsPeriod": {"start": ago(5)}}},
                                "doseAndRate": [{"doseQuantity": {"value": 4, "unit": "mg"}}]}],
         "dispenseRequest": {"validityPeriod": {"end": ago(-5)}}},
        {"resourceType": "MedicationStatement", "id": "m2", "status": "active", "subject": SUBJECT,
         "medicationReference": {"reference": "#med"}, "contained": [{"resourceType": "Medication", "id": "med",
                                                                      "code": concept((ATC, "L01EB04"))}],
         "effectivePeriod": {"start": ago(40)}, "dosage": [{"text": "80 mg"}]},
        {"resourceType": "ImagingStudy", "id": "s1", "status": "available", "subject": SUBJECT, "started": ago(5),
         "modality": [{"system": DCM, "code": "MR"}],
         "series": [{"uid": "1", "modality": {"system": DCM, "code": "MR"}, "bodySite": {"system": SCT,
                                                                                          "code": "44300000"}}],
         "procedureCode": [concept((LNC, "24590-2"))]},
        {"resourceType": "ServiceRequest", "id": "r1", "status": "active", "intent": "order", "subject": SUBJECT,
         "code": concept((LOCAL, "palliative-care"))},
        {"resourceType": "Encounter", "id": "e1", "status": "finished", "subject": SUBJECT,
         "serviceType": concept((LOCAL, "neuro-oncology-referral")), "type": [concept((LOCAL, "palliative-care"))],
         "period": {"start": ago(9)}},
        {"resourceType": "BodyStructure", "id": "b1", "patient": SUBJECT, "location": concept((SCT, "15926001"))},
    ]


TEMPLATES = templates()


def _paths(value: Any, prefix: tuple = ()) -> list[tuple]:
    out = [prefix] if prefix else []
    if isinstance(value, dict):
        for k, v in value.items():
            if prefix == () and k == "resourceType":
                continue
            out.extend(_paths(v, prefix + (k,)))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out.extend(_paths(v, prefix + (i,)))
    return out


def _replace(resource: dict, path: tuple, new: Any) -> dict:
    out = copy.deepcopy(resource)
    target = out
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = new
    return out


@st.composite
def mutated(draw) -> dict:
    resource = draw(st.sampled_from(TEMPLATES))
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        paths = _paths(resource)
        if not paths:
            break
        resource = _replace(resource, draw(st.sampled_from(paths)), draw(json_value))
    if draw(st.booleans()):
        resource = dict(resource)
        resource[draw(st.sampled_from(["status", "code", "component", "focus", "bodySite", "effectivePeriod",
                                       "meta", "performer", "series", "contained"]))] = draw(json_value)
    return resource


any_entry = st.one_of(
    mutated(),
    st.dictionaries(st.sampled_from(["resourceType", "id", "status", "code", "valueInteger", "subject"]),
                    json_value, max_size=5),
    st.builds(lambda rtype, extra: {"resourceType": rtype, **extra},
              st.sampled_from(["Observation", "Condition", "Procedure", "MedicationRequest", "MedicationStatement",
                               "ImagingStudy", "Patient", "ServiceRequest", "Encounter", "Bundle"]),
              st.dictionaries(st.sampled_from(["id", "status", "code", "entry", "component", "birthDate",
                                               "medicationCodeableConcept", "series", "performer"]),
                              json_value, max_size=5)),
    json_leaf,
)


def _consistent(facts: Facts) -> None:
    for name in facts:
        fact = facts[name]
        assert fact.name == name
        if fact.status is FactStatus.KNOWN:
            assert fact.value is not None, name
        else:
            assert fact.value is None, name
            assert fact.reason, name


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(any_entry, max_size=8), st.lists(st.sampled_from(TEMPLATES), max_size=6))
def test_no_resource_shape_makes_extraction_raise(odd: list, valid: list) -> None:
    facts = extractor().extract(odd + [copy.deepcopy(v) for v in valid], now=NOW)
    _consistent(facts)


@settings(max_examples=150, deadline=None)
@given(mutated(), st.frozensets(st.sampled_from(["conditions", "observations", "procedures", "imagingStudies",
                                                 "medicationRequests", "medicationStatements", "serviceRequests",
                                                 "encounters", "patient"])))
def test_unavailable_sources_never_raise(resource: dict, unavailable: frozenset) -> None:
    facts = extractor().extract([resource, *TEMPLATES], now=NOW, unavailable_sources=unavailable)
    _consistent(facts)
    for name in facts:
        if facts[name].reason == "source unavailable":
            assert facts[name].value is None


def test_all_templates_together_produce_facts() -> None:
    facts = extractor().extract(TEMPLATES, now=NOW)
    assert facts.value("kps") == 60 and facts["kps"].derived_from == "ecog"  # ECOG 2 is newer than KPS 70
    assert facts.value("brain_metastases") is True
    assert facts.value("mdo_discussed") is True and facts.value("dexamethasone_active") is True
    assert facts.problems == ()
