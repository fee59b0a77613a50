"""Reading values: units, windows (stale), entered-in-error, statuses, malformed records, unavailable sources."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from cds_service.facts.model import FactStatus

from .helpers import (
    LNC,
    LOCAL,
    NOW,
    SCT,
    concept,
    cond,
    extract,
    local,
    med,
    obs,
    proc,
    quantity,
)

HB = (LNC, "718-7")


# -- units ----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("code,value,unit,expected", [
    ((LNC, "718-7"), 12.5, "g/dL", 12.5),
    ((LNC, "718-7"), 7.5, "mmol/L", 12.0825),
    ((LNC, "59260-0"), 6.0, "mmol/L", 9.666),
    ((LNC, "718-7"), 125, "g/L", 12.5),
    ((LNC, "718-7"), 12500, "mg/dL", 12.5),
    ((LNC, "718-7"), 7.5, "MMOL/L", 12.0825),  # unit matched case-insensitively
])
def test_hemoglobin_units(code, value, unit, expected) -> None:
    fact = extract(obs(code, quantity(value, unit), days=3))["hemoglobin_g_dl"]
    assert fact.known and fact.value == pytest.approx(expected, abs=1e-3)


@pytest.mark.parametrize("value,unit,expected", [
    (6, "mo", 6.0), (8, "wk", 1.8412), (30, "d", 0.9857), (2, "a", 24.0), (10, "weeks", 2.3015),
])
def test_expected_survival_units(value, unit, expected) -> None:
    fact = extract(obs(local("expected-survival"), quantity(value, unit)))["expected_survival_months"]
    assert fact.value == pytest.approx(expected, abs=1e-3)
    assert "category" not in fact.attrs


@pytest.mark.parametrize("category,value,bounds", [
    ("lt-2-weeks", 0.25, (None, 0.5)), ("lt-3-months", 2.0, (None, 3)), ("3-6-months", 4.5, (3, 6)),
    ("6-12-months", 9.0, (6, 12)), ("gt-12-months", 18.0, (12, None)),
])
def test_expected_survival_categories(category, value, bounds) -> None:
    fact = extract(obs(local("expected-survival"), {"valueCodeableConcept": concept(local(category))}))[
        "expected_survival_months"]
    assert fact.value == value
    assert fact.attrs["category"] == category and fact.attrs["bounds"] == bounds


@pytest.mark.parametrize("diameter,unit,expected_mm", [(12, "mm", 12.0), (1.2, "cm", 12.0), (2.55, "cm", 25.5)])
def test_lesion_diameter_units(diameter, unit, expected_mm) -> None:
    lesion = obs((LNC, "21889-1"), {}, bodySite=concept((SCT, "12738006")),
                 component=[{"code": concept((LNC, "33728-7")), **quantity(diameter, unit)}])
    assert extract(lesion).value("largest_diameter_mm") == pytest.approx(expected_mm)


@pytest.mark.parametrize("unit", ["cm3", "mL", "ml", "cm^3"])
def test_lesion_volume_units(unit) -> None:
    lesion = obs((LNC, "21889-1"), {}, bodySite=concept((SCT, "12738006")),
                 component=[{"code": concept((LNC, "33728-7")), **quantity(20, "mm")},
                            {"code": concept(local("lesion-volume")), **quantity(4.2, unit)}])
    facts = extract(lesion)
    assert facts.value("total_volume_cm3") == pytest.approx(4.2)
    assert facts.value("largest_volume_cm3") == pytest.approx(4.2)


def test_pd_l1_threshold() -> None:
    assert extract(obs(local("pd-l1-tps"), quantity(1, "%"))).value("pd_l1_positive") is True
    fact = extract(obs(local("pd-l1-tps"), quantity(0.5, "%")))["pd_l1_positive"]
    assert fact.value is False and fact.attrs["measured"] == 0.5


# -- windows: stale --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("fact,resource,days,value", [
    ("kps", lambda d: obs((LNC, "89243-0"), {"valueInteger": 70}, days=d), 3 * 30 + 3, 70),
    ("ecog", lambda d: obs((LNC, "89247-1"), {"valueInteger": 1}, days=d), 95, 1),
    ("hemoglobin_g_dl", lambda d: obs(HB, quantity(12, "g/dL"), days=d), 32, 12.0),
    ("expected_survival_months", lambda d: obs(local("expected-survival"), quantity(6, "mo"), days=d), 93, 6.0),
    ("extracranial_disease_status",
     lambda d: obs(local("extracranial-disease-status"), {"valueCodeableConcept": concept(local("stable"))}, days=d),
     93, "stable"),
])
def test_stale_outside_window(fact, resource, days, value) -> None:
    stale = extract(resource(days))[fact]
    assert stale.status is FactStatus.STALE
    assert stale.value is None and stale.stale_value == value
    assert stale.reason.startswith("out of date")
    fresh = extract(resource(days - 5))[fact]
    assert fresh.known and fresh.value == value


def test_window_is_calendar_months() -> None:
    """KPS window 3 months at 24 Nov: 24 Aug is inside, 23 Aug is not."""
    inside = obs((LNC, "89243-0"), {"valueInteger": 80}, effectiveDateTime="2026-08-24T10:00:00+00:00")
    outside = obs((LNC, "89243-0"), {"valueInteger": 80}, effectiveDateTime="2026-08-23T10:00:00+00:00")
    assert extract(inside)["kps"].known
    assert extract(outside)["kps"].status is FactStatus.STALE


def test_newest_wins_even_when_older_is_different() -> None:
    facts = extract(obs((LNC, "89243-0"), {"valueInteger": 50}, days=40, rid="a"),
                    obs((LNC, "89243-0"), {"valueInteger": 90}, days=2, rid="b"))
    assert facts.value("kps") == 90
    assert facts["kps"].provenance[0].reference == "Observation/b"
    assert facts["kps"].provenance[0].code == "http://loinc.org|89243-0"


def test_effective_else_issued_else_last_updated() -> None:
    a = obs((LNC, "89243-0"), {"valueInteger": 50}, rid="a")
    del a["effectiveDateTime"]
    a["issued"] = (NOW - timedelta(days=1)).isoformat()
    b = obs((LNC, "89243-0"), {"valueInteger": 90}, rid="b")
    del b["effectiveDateTime"]
    b["meta"] = {"lastUpdated": (NOW - timedelta(days=3)).isoformat()}
    assert extract(a, b).value("kps") == 50


# -- statuses ----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("status,counts", [("final", True), ("amended", True), ("preliminary", True),
                                           ("entered-in-error", False), ("cancelled", False),
                                           ("registered", False)])
def test_observation_status(status, counts) -> None:
    facts = extract(obs((LNC, "89243-0"), {"valueInteger": 60}, status=status))
    assert (facts.value("kps") == 60) is counts


def test_entered_in_error_newest_is_ignored() -> None:
    facts = extract(obs((LNC, "89243-0"), {"valueInteger": 80}, days=5, rid="a"),
                    obs((LNC, "89243-0"), {"valueInteger": 30}, days=1, rid="b", status="entered-in-error"))
    assert facts.value("kps") == 80


@pytest.mark.parametrize("clinical,verification,expected,suspected", [
    ("active", "confirmed", True, False),
    ("recurrence", "confirmed", True, False),
    (None, None, True, False),
    ("active", "provisional", True, True),
    ("active", "differential", True, True),
    ("active", "refuted", False, None),
    ("inactive", "confirmed", False, None),
    ("resolved", "confirmed", False, None),
    ("remission", "confirmed", False, None),
    ("active", "entered-in-error", False, None),
])
def test_condition_states(clinical, verification, expected, suspected) -> None:
    fact = extract(cond((SCT, "94225005"), clinical=clinical, verification=verification))["brain_metastases"]
    assert fact.value is expected
    if suspected is not None:
        assert fact.attrs["suspected"] is suspected


@pytest.mark.parametrize("status,counts", [("completed", True), ("not-done", False), ("entered-in-error", False),
                                           ("stopped", False), ("preparation", False)])
def test_procedure_status(status, counts) -> None:
    facts = extract(proc(local("stereotactic-radiosurgery"), status=status))
    assert bool(facts.treatments) is counts


@pytest.mark.parametrize("status,active", [("active", True), ("on-hold", False), ("cancelled", False),
                                           ("completed", False), ("stopped", False), ("draft", False),
                                           ("entered-in-error", False)])
def test_medication_request_status(status, active) -> None:
    assert extract(med(("http://www.whocc.no/atc", "H02AB02"), status=status)).value("dexamethasone_active") is active


def test_medication_statement_ended_is_not_active() -> None:
    stopped = med(("http://www.whocc.no/atc", "H02AB02"), rtype="MedicationStatement",
                  effectivePeriod={"start": "2026-10-01", "end": "2026-11-01"})
    assert extract(stopped).value("dexamethasone_active") is False


@pytest.mark.parametrize("status,counts", [("active", True), ("completed", True), ("revoked", False),
                                           ("draft", False), ("entered-in-error", False)])
def test_service_request_status(status, counts) -> None:
    sr = {"resourceType": "ServiceRequest", "id": "s", "status": status, "intent": "order",
          "subject": {"reference": "Patient/t1"}, "code": concept(local("palliative-care"))}
    assert extract(sr).value("palliative_care_involved") is counts


# -- malformed records --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("value", [
    {"valueInteger": "eighty"},
    {"valueInteger": 180},
    {"valueInteger": 75.5},
    {"valueQuantity": {"value": "x"}},
    {"valueCodeableConcept": concept((LNC, "LA0000-0"))},
    {"valueString": "80"},
    {},
])
def test_unusable_newest_kps_makes_it_unknown(value) -> None:
    older = obs((LNC, "89243-0"), {"valueInteger": 80}, days=10, rid="old")
    bad = obs((LNC, "89243-0"), value, days=1, rid="bad")
    facts = extract(older, bad)
    fact = facts["kps"]
    assert fact.value is None and fact.reason == "unusable resource"
    assert any(n.startswith("Observation/bad:") for n in fact.notes)
    assert any(p.startswith("Observation/bad:") for p in facts.problems)


def test_unusable_older_record_does_not_matter() -> None:
    facts = extract(obs((LNC, "89243-0"), {"valueInteger": 80}, days=1, rid="new"),
                    obs((LNC, "89243-0"), {"valueInteger": "x"}, days=10, rid="old"))
    assert facts.value("kps") == 80
    assert facts.problems  # still reported


def test_data_absent_reason_is_not_a_problem() -> None:
    facts = extract(obs((LNC, "89243-0"), {"dataAbsentReason": concept(("http://x", "asked-unknown"))}))
    assert facts["kps"].reason == "not recorded" and not facts.problems


@pytest.mark.parametrize("resource", [
    {"resourceType": "Observation", "code": {"coding": [{}]}},
    {"resourceType": "Observation", "code": {"coding": [{"system": LNC}]}, "valueInteger": 3},
    {"resourceType": "Observation", "code": "89243-0"},
    {"resourceType": "Observation", "code": {"coding": {"system": LNC, "code": "89243-0"}}, "valueInteger": 70,
     "effectiveDateTime": "2026-11-20"},
    {"resourceType": "Condition", "code": None, "clinicalStatus": "active"},
    {"resourceType": "Patient", "birthDate": 1960},
    {"resourceType": 5},
    {"no": "type"},
    "Observation",
    None,
])
def test_odd_shapes_never_raise(resource) -> None:
    facts = extract(resource, obs((LNC, "89247-1"), {"valueInteger": 1}, days=2))
    assert facts.value("ecog") == 1


def test_single_coding_object_is_accepted() -> None:
    """``coding`` as an object instead of a list (seen in EHR exports)."""
    res = {"resourceType": "Observation", "id": "x", "status": "final",
           "code": {"coding": {"system": LNC, "code": "89243-0"}}, "valueInteger": 70,
           "effectiveDateTime": (NOW - timedelta(days=1)).isoformat()}
    assert extract(res).value("kps") == 70


def test_partial_dates() -> None:
    facts = extract(cond((SCT, "94225005"), onsetDateTime="2026-10"))
    assert facts["brain_metastases_diagnosis_date"].value == datetime(2026, 10, 1, tzinfo=timezone.utc)


def test_undated_windowed_value_is_unknown() -> None:
    res = obs((LNC, "89243-0"), {"valueInteger": 70})
    del res["effectiveDateTime"]
    fact = extract(res)["kps"]
    assert fact.value is None and "no date" in " ".join(fact.notes)


# -- unavailable sources ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("sources,fact", [
    (["medicationRequests"], "dexamethasone_active"),
    (["medicationStatements"], "systemic_therapy_active"),
    (["medicationRequests", "medicationStatements"], "anticoagulation"),
    (["procedures"], "resection_done"),
    (["procedures"], "wbrt_done"),
    (["procedures"], "mdo_discussed"),
    (["procedures"], "palliative_care_involved"),
    (["encounters"], "neurology_involved"),
    (["imagingStudies"], "adequate_spine_imaging"),
    (["imagingStudies"], "last_brain_mri_date"),
    (["conditions"], "brain_metastases"),
    (["conditions"], "leptomeningeal_metastases"),
    (["conditions"], "bm_symptomatic"),
    (["observations"], "lm_symptoms"),
    (["patient"], "age_years"),
])
def test_unavailable_source_gives_unknown_not_false(sources, fact) -> None:
    facts = extract(unavailable=sources)
    assert facts[fact].value is None, facts[fact]
    assert facts[fact].reason == "source unavailable"
    assert facts.unavailable_sources == frozenset(sources)
    available = extract()
    assert available[fact].value is not None or fact in ("last_brain_mri_date", "age_years")


def test_a_value_found_in_an_available_source_stays_known() -> None:
    facts = extract(med(("http://www.whocc.no/atc", "H02AB02")), unavailable=["medicationStatements"])
    assert facts.value("dexamethasone_active") is True


def test_a_found_value_notes_the_missing_source() -> None:
    facts = extract(proc(local("palliative-care")), unavailable=["encounters"])
    assert facts.value("palliative_care_involved") is True


# -- conflicts in plain mappings -----------------------------------------------------------------------------

def test_conflicting_boolean_within_a_week_is_noted() -> None:
    facts = extract(obs(local("treatment-wish"), {"valueBoolean": True}, days=6, rid="a"),
                    obs(local("treatment-wish"), {"valueBoolean": False}, days=1, rid="b"))
    fact = facts["treatment_wish"]
    assert fact.value is False
    assert fact.notes == ("conflicts with treatment wish yes (Observation/a, 2026-11-18)",)


def test_older_than_a_week_is_no_conflict() -> None:
    facts = extract(obs(local("treatment-wish"), {"valueBoolean": True}, days=20),
                    obs(local("treatment-wish"), {"valueBoolean": False}, days=1))
    assert facts["treatment_wish"].notes == ()


def test_local_code_for_local_fact_without_value_is_unusable() -> None:
    facts = extract(obs(local("mass-effect"), {"valueBoolean": True}),
                    obs(local("treatment-wish"), {"valueInteger": 1}, rid="tw"))
    assert facts.value("mass_effect") is True
    assert facts["treatment_wish"].reason == "unusable resource"


def test_mass_effect_as_condition() -> None:
    assert extract(cond(local("mass-effect"))).value("mass_effect") is True


def test_hydrocephalus_snomed_condition() -> None:
    assert extract(cond((SCT, "230745008"))).value("hydrocephalus") is True


def test_code_values_component_of_panel() -> None:
    panel = obs(local("sins-total"), {}, component=[{"code": concept(local("sins-pain")), "valueInteger": 3}])
    facts = extract(panel)
    assert facts.value("sins_components") == {"pain": 3}
    assert facts["sins_total"].value is None
    assert not facts.problems


def test_boolean_coded_yes_no() -> None:
    facts = extract(obs(local("oligometastases"), {"valueCodeableConcept": concept((SCT, "373067005"))}))
    assert facts.value("oligometastases") is False


def test_icd10_without_dot_and_lowercase() -> None:
    assert extract(cond(("http://hl7.org/fhir/sid/icd-10", "c793"))).value("brain_metastases") is True


def test_local_system_constant() -> None:
    assert LOCAL == "https://neuro-onc-cds.example.org/fhir/CodeSystem/facts"
