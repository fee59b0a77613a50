"""Derived facts: age, KPS from ECOG and conflicts, lesions, critical location, MDO, recurrence,
medication, symptoms, SINS, spine imaging, primary tumour, biomarkers."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from cds_service.facts.model import FactStatus, Interval, compare

from .helpers import (
    ATC,
    HGNC,
    ICD10,
    LNC,
    NOW,
    SCT,
    SUBJECT,
    ago,
    concept,
    cond,
    extract,
    local,
    med,
    obs,
    patient,
    proc,
    quantity,
)

KPS = (LNC, "89243-0")
ECOG = (LNC, "89247-1")
BM = (SCT, "94225005")


def kps(value: int, days: float, rid: str = "k") -> dict:
    return obs(KPS, {"valueInteger": value}, days=days, rid=rid)


def ecog(value: int, days: float, rid: str = "e") -> dict:
    return obs(ECOG, {"valueInteger": value}, days=days, rid=rid)


# -- age ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("birth,age,approximate", [
    ("1960-11-24", 66, False), ("1960-11-25", 65, False), ("1960-12", 65, True),
    ("2030-01-01", None, None), ("someday", None, None), (1960, None, None),
])
def test_age(birth, age, approximate) -> None:
    fact = extract(patient(birth))["age_years"]
    assert fact.value == age
    if age is not None:
        assert fact.attrs.get("approximate", False) is approximate
        assert fact.provenance[0].reference == "Patient/t1"


def test_year_only_birth_date_is_an_age_range_not_1_january() -> None:
    """Catalog *Values that are bounds*: birthDate "1960" on 2026-11-24 is age 65 or 66 — unknown, with the
    range; a step is decided only when the whole range answers it."""
    fact = extract(patient("1960"))["age_years"]
    assert fact.value is None and not fact.known
    assert fact.attrs["interval"] == Interval(65.0, 66.0)
    assert compare(fact, "<", 66) is None  # 65 or 66: the record does not say
    assert compare(fact, "<", 65) is False
    assert compare(fact, "<", 70) is True
    assert compare(fact, ">=", 65) is True


# -- performance status -----------------------------------------------------------------------------------

@pytest.mark.parametrize("grade,kps_value,band,condition", [
    (0, 80, ">=70", "good"), (1, 80, ">=70", "good"), (2, 60, "<70", "moderate"), (3, 60, "<70", "poor"),
    (4, 60, "<70", "poor"), (5, 60, "<70", "poor"),
])
def test_kps_from_ecog(grade, kps_value, band, condition) -> None:
    facts = extract(ecog(grade, 5))
    fact = facts["kps"]
    assert (fact.value, fact.derived_from, fact.attrs["kps_band"]) == (kps_value, "ecog", band)
    assert facts.value("kps_ge_70") is (grade <= 1)
    assert facts.value("patient_condition") == condition
    assert facts["patient_condition"].derived_from == "ecog"


@pytest.mark.parametrize("value,condition", [(100, "good"), (70, "good"), (60, "moderate"), (50, "moderate"),
                                             (40, "poor"), (0, "poor")])
def test_patient_condition_from_kps(value, condition) -> None:
    facts = extract(kps(value, 3))
    assert facts.value("patient_condition") == condition
    assert facts.value("kps_ge_70") is (value >= 70)


def test_recorded_patient_condition_wins() -> None:
    facts = extract(kps(90, 3), obs(local("patient-condition"), {"valueCodeableConcept": concept(local("poor"))}))
    assert facts.value("patient_condition") == "poor"
    assert facts["patient_condition"].derived_from is None


@pytest.mark.parametrize("kps_days,ecog_days,winner,note", [
    (6, 3, "ecog", "conflicts with KPS 80 (Observation/k, 2026-11-18)"),
    (3, 6, "kps", "conflicts with ECOG 3 (Observation/e, 2026-11-18)"),
    (4.1, 4.0, "kps", "conflicts with ECOG 3 (Observation/e, 2026-11-20)"),  # same day: direct wins
    (30, 3, "ecog", None),  # more than a week apart: no conflict
])
def test_kps_ecog_conflict(kps_days, ecog_days, winner, note) -> None:
    fact = extract(kps(80, kps_days), ecog(3, ecog_days))["kps"]
    assert fact.value == (60 if winner == "ecog" else 80)
    assert fact.derived_from == ("ecog" if winner == "ecog" else None)
    assert fact.notes == ((note,) if note else ())


def test_agreeing_sources_are_no_conflict() -> None:
    assert extract(kps(90, 6), ecog(1, 3))["kps"].notes == ()


def test_two_kps_within_a_week_on_either_side_of_70() -> None:
    fact = extract(kps(40, 5, rid="a"), kps(80, 2, rid="b"))["kps"]
    assert fact.value == 80 and fact.notes == ("conflicts with KPS 40 (Observation/a, 2026-11-19)",)


def test_stale_kps_with_recent_ecog_uses_ecog() -> None:
    fact = extract(kps(90, 120), ecog(2, 10))["kps"]
    assert fact.known and fact.value == 60 and fact.derived_from == "ecog"


def test_stale_ecog_gives_stale_derived_kps() -> None:
    facts = extract(ecog(1, 100))
    assert facts["kps"].status is FactStatus.STALE and facts["kps"].stale_value == 80
    assert facts["kps_ge_70"].status is FactStatus.STALE and facts["kps_ge_70"].stale_value is True


DEX = (ATC, "H02AB02")


@pytest.mark.parametrize("dex,expected", [
    ([], False),
    ([med(DEX, days=10)], True),
    ([med(DEX, days=1)], False),  # started after the KPS (2 days ago)
    ([med(DEX, status="stopped", days=20)], None),  # stopped, but when?
    ([med(DEX, status="stopped", days=20, dispenseRequest={"validityPeriod": {"end": ago(10)}})], False),
    ([med(DEX, status="completed", days=20, dispenseRequest={"validityPeriod": {"end": ago(1)}})], True),
])
def test_kps_on_dexamethasone(dex, expected) -> None:
    facts = extract(kps(60, 2), *dex)
    assert facts["kps_on_dexamethasone"].value is expected


def test_kps_on_dexamethasone_unknown_without_kps() -> None:
    assert extract(med(DEX))["kps_on_dexamethasone"].value is None


def test_dexamethasone_dose_and_start() -> None:
    fact = extract(med(DEX, days=4, dosageInstruction=[{"text": "4 mg twice daily"}]))["dexamethasone_active"]
    assert fact.attrs["dose"] == "4 mg twice daily"
    assert fact.attrs["start"].isoformat() == ago(4)


def test_systemic_therapy_drugs() -> None:
    fact = extract(med((ATC, "L01EB04", "osimertinib")), med((ATC, "L02BG04", "letrozole"), days=9))[
        "systemic_therapy_active"]
    assert fact.value is True and set(fact.attrs["drugs"]) == {"osimertinib", "letrozole"}


# -- lesions -------------------------------------------------------------------------------------------------

BRAIN = (SCT, "12738006")


def lesion(d_mm: float, site: tuple = BRAIN, days: float = 5, volume: float | None = None, rid: str | None = None,
           **extra) -> dict:
    comps = [{"code": concept((LNC, "33728-7")), **quantity(d_mm, "mm")}]
    if volume is not None:
        comps.append({"code": concept(local("lesion-volume")), **quantity(volume, "cm3")})
    return obs((LNC, "21889-1"), {}, days=days, rid=rid or f"l{d_mm}-{days}", bodySite=concept(site),
               component=comps, **extra)


def test_lesion_aggregates_use_the_current_set_only() -> None:
    facts = extract(lesion(40, days=120), lesion(12, days=5), lesion(8, days=5.5))
    assert facts.value("brain_metastasis_count") == 2
    assert facts.value("largest_diameter_mm") == 12
    assert len(facts.lesions) == 3


def test_recorded_volumes_are_summed() -> None:
    facts = extract(lesion(20, volume=4.0), lesion(10, volume=0.5))
    assert facts.value("total_volume_cm3") == 4.5 and facts.value("largest_volume_cm3") == 4.0
    assert facts["total_volume_cm3"].derived_from == "lesions"


def test_volume_estimate_is_never_the_value() -> None:
    facts = extract(lesion(20, volume=4.0), lesion(10))
    for name, estimate in (("total_volume_cm3", 4.52), ("largest_volume_cm3", 4.0)):
        fact = facts[name]
        assert fact.value is None and fact.status is FactStatus.UNKNOWN
        assert fact.attrs["estimated"] is True and fact.attrs["estimate"] == pytest.approx(estimate, abs=0.01)


def test_standalone_volume_is_matched_by_derived_from() -> None:
    size = lesion(30, rid="size1")
    volume = obs(local("lesion-volume"), quantity(9, "mL"), days=5, derivedFrom=[{"reference": "Observation/size1"}])
    facts = extract(size, volume)
    assert facts.value("brain_metastasis_count") == 1 and facts.value("total_volume_cm3") == 9


def test_unmatched_volume_is_never_a_lesion_of_its_own() -> None:
    """fhir-mapping.md lesion-volume row: a volume does not add to the lesion count."""
    facts = extract(lesion(30), lesion(12, rid="l2"),
                    obs(local("lesion-volume"), quantity(2, "mL"), days=5, rid="v1",
                        bodySite=concept((SCT, "83251001"))))
    assert facts.value("brain_metastasis_count") == 2
    assert facts["total_volume_cm3"].value is None  # one volume for two lesions: cannot be paired


def test_unpaired_volumes_count_when_as_many_as_the_lesions() -> None:
    """4 lesions with 4 volume Observations are 4 metastases (not 8), and the volumes are summed."""
    sizes = [lesion(d, rid=f"l{i}") for i, d in enumerate((12, 14, 16, 18))]
    volumes = [obs(local("lesion-volume"), quantity(v, "mL"), days=5, rid=f"v{i}")
               for i, v in enumerate((1, 2, 3, 4))]
    facts = extract(*sizes, *volumes)
    assert facts.value("brain_metastasis_count") == 4
    assert facts.value("total_volume_cm3") == 10 and facts.value("largest_volume_cm3") == 4


def test_volume_on_the_same_day_and_site_belongs_to_that_lesion() -> None:
    facts = extract(lesion(30), obs(local("lesion-volume"), quantity(2, "mL"), days=5, bodySite=concept(BRAIN)))
    assert facts.value("brain_metastasis_count") == 1 and facts.value("total_volume_cm3") == 2


def test_recorded_count_overrides_and_older_count_does_not() -> None:
    newer = extract(lesion(10), obs(local("brain-metastasis-count"), {"valueInteger": 12}, days=5))
    assert newer.value("brain_metastasis_count") == 12
    older = extract(lesion(10), obs(local("brain-metastasis-count"), {"valueInteger": 12}, days=60))
    assert older.value("brain_metastasis_count") == 1 and older["brain_metastasis_count"].derived_from == "lesions"


def test_lesion_without_site_is_not_counted_and_reported() -> None:
    res = lesion(10)
    del res["bodySite"]
    facts = extract(res)
    assert facts["brain_metastasis_count"].value is None
    assert any("without a brain or spine body site" in p for p in facts.problems)


def test_spine_lesions_are_not_brain_metastases() -> None:
    facts = extract(lesion(25, site=(SCT, "44300000")))
    assert facts.lesions[0].region == "spine" and facts["largest_diameter_mm"].value is None


@pytest.mark.parametrize("sites,recorded,expected", [
    ([(SCT, "15926001")], None, True),
    ([local("eloquent-cortex"), BRAIN], None, True),
    ([BRAIN], None, None),
    ([(SCT, "83251001")], None, None),  # a lobe does not say
    ([local("non-critical-location")], None, False),
    ([local("non-critical-location"), BRAIN], None, None),
    ([BRAIN], "none", False),
    ([(SCT, "15926001")], "none", True),  # any critical site wins; the note names the conflict
    ([BRAIN], "ventricle-3-4", True),
    ([], "none", False),
    ([], None, None),
])
def test_critical_location(sites, recorded, expected) -> None:
    resources = [lesion(10 + i, site=s, rid=f"l{i}") for i, s in enumerate(sites)]
    if recorded:
        resources.append(obs(local("critical-location"), {"valueCodeableConcept": concept(local(recorded))}))
    fact = extract(*resources)["critical_location"]
    assert fact.value is expected
    if expected is True and recorded == "none":
        assert any("conflicts with critical-location none" in n for n in fact.notes)


def test_critical_location_from_condition_body_site() -> None:
    facts = extract(cond(BM, bodySite=[concept((SCT, "18234004"))]))
    assert facts.value("critical_location") is True
    assert facts["critical_location"].attrs["sites"] == frozenset({"optic-chiasm-or-nerve"})


@pytest.mark.parametrize("sites,expected", [
    ([(SCT, "113305005")], True), ([local("posterior-fossa"), BRAIN], True), ([(SCT, "83251001")], False),
    ([(SCT, "83251001"), BRAIN], None), ([local("optic-chiasm-or-nerve")], False), ([local("ventricle-3-4")], None),
])
def test_posterior_fossa(sites, expected) -> None:
    facts = extract(*[lesion(10 + i, site=s, rid=f"l{i}") for i, s in enumerate(sites)])
    assert facts["posterior_fossa"].value is expected


def test_resected_diameter_recorded_wins() -> None:
    facts = extract(proc(local("brain-metastasis-resection"), days=10), lesion(30, days=20),
                    obs(local("resected-tumour-diameter"), quantity(2.2, "cm")))
    assert facts.value("resected_tumour_diameter_mm") == 22


def test_resected_diameter_from_preoperative_lesions() -> None:
    facts = extract(proc(local("brain-metastasis-resection"), days=10), lesion(30, days=20), lesion(12, days=20),
                    lesion(5, days=3))
    fact = facts["resected_tumour_diameter_mm"]
    assert fact.value == 30 and fact.derived_from == "lesions" and "largest of 2" in fact.notes[0]


# -- MDO, recurrence ----------------------------------------------------------------------------------------

FULL = ("neurosurgery", "radiation-oncology", "neurology", "neuroradiology")


def mdo(days: float, specialties=FULL, code: str = "neuro-oncology-mdo", rid: str | None = None) -> dict:
    return proc(local(code), days=days, rid=rid or f"mdo{days}",
                performer=[{"function": concept(local(s))} for s in specialties])


@pytest.mark.parametrize("resources,value,missing", [
    ([cond(BM, days=30), mdo(10)], True, frozenset()),
    ([cond(BM, days=30), mdo(40)], False, None),
    ([cond(BM, days=30), mdo(10, FULL[:2])], True, frozenset(FULL[2:])),
    # a complete MDO after the diagnosis counts even when a later one is incomplete
    ([cond(BM, days=30), mdo(10), mdo(2, FULL[:1])], True, frozenset()),
    ([cond(BM, days=30)], False, None),
    ([mdo(10)], True, frozenset()),  # no diagnosis date: every MDO counts (noted)
    ([cond(BM, days=30), mdo(10, code="organ-specific-mdo")], False, None),
    ([cond(BM, days=30), mdo(10, FULL + ("medical-oncology",))], True, frozenset()),
])
def test_mdo_discussed(resources, value, missing) -> None:
    fact = extract(*resources)["mdo_discussed"]
    assert fact.value is value
    if missing is not None:
        assert fact.attrs["missing_specialties"] == missing


def test_mdo_after_progression_is_required() -> None:
    facts = extract(cond(BM, days=100), mdo(20),
                    obs(local("brain-metastases-progression"), {"valueBoolean": True}, days=10))
    assert facts.value("bm_recurrence") is True
    assert facts["bm_progression_date"].value.isoformat() == ago(10)
    assert facts.value("mdo_discussed") is False
    assert "before the latest brain-metastasis progression" in facts["mdo_discussed"].notes[0]


@pytest.mark.parametrize("resources,expected", [
    ([cond(BM, days=200), proc(local("stereotactic-radiosurgery"), days=100)], False),
    ([cond(BM, days=200), proc(local("stereotactic-radiosurgery"), days=100), cond(BM, days=10, rid="new")], True),
    ([obs(local("brain-metastases-progression"), {"valueBoolean": False})], False),
    ([obs(local("brain-metastases-progression"), {"valueBoolean": True}, days=20, rid="a"),
      obs(local("brain-metastases-progression"), {"valueBoolean": False}, days=2, rid="b")], False),
    # progression before the latest treatment was treated
    ([obs(local("brain-metastases-progression"), {"valueBoolean": True}, days=50),
      proc(local("whole-brain-radiotherapy"), days=30)], False),
])
def test_recurrence(resources, expected) -> None:
    assert extract(*resources).value("bm_recurrence") is expected


def test_disease_status_focus_decides_brain_or_extracranial() -> None:
    bm = cond(BM, days=200, rid="bm")
    primary = cond((ICD10, "C34.1"), days=400, rid="prim")
    worse = obs((LNC, "97509-4"), {"valueCodeableConcept": concept((SCT, "271299001"))}, days=5, rid="w",
                focus=[{"reference": "Condition/bm"}])
    stable = obs((LNC, "97509-4"), {"valueCodeableConcept": concept((SCT, "359746009"))}, days=5, rid="s",
                 focus=[{"reference": "Condition/prim"}])
    facts = extract(bm, primary, worse, stable)
    assert facts.value("bm_recurrence") is True
    assert facts.value("extracranial_disease_status") == "stable"


# -- symptoms -------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("resources,value,assumed", [
    ([], False, True),
    ([cond((SCT, "91175000"))], True, None),
    ([obs(local("raised-intracranial-pressure"), {"valueBoolean": True})], True, None),
    ([cond((SCT, "264552009"), clinical="resolved")], False, True),
    ([cond((SCT, "264552009")), obs(local("brain-metastases-symptomatic"), {"valueBoolean": False})], False, None),
    ([obs(local("brain-metastases-symptomatic"), {"valueBoolean": True})], True, None),
])
def test_bm_symptomatic(resources, value, assumed) -> None:
    fact = extract(*resources)["bm_symptomatic"]
    assert fact.value is value
    assert fact.attrs.get("assumed") is assumed


def test_bm_symptomatic_unknown_when_conditions_unavailable() -> None:
    assert extract(unavailable=["conditions"])["bm_symptomatic"].reason == "source unavailable"


def test_newest_symptom_record_wins() -> None:
    facts = extract(cond((SCT, "264552009"), days=30), obs(local("neurological-deficit"), {"valueBoolean": False},
                                                           days=1))
    assert facts.value("neurological_deficit") is False


@pytest.mark.parametrize("resources,expected", [
    ([obs(local("neurological-deficit"), {"valueBoolean": True},
          component=[{"code": concept(local("progressive")), "valueBoolean": True}])], True),
    ([obs(local("neurological-deficit"), {"valueBoolean": False})], False),
    ([obs(local("neurological-deficit"), {"valueBoolean": True})], None),
    ([obs(local("progressive-neurological-deficit"), {"valueBoolean": False})], False),
])
def test_deficit_progressive(resources, expected) -> None:
    assert extract(*resources)["deficit_progressive"].value is expected


def test_lm_symptoms_newest_record_per_symptom() -> None:
    facts = extract(cond(local("headache"), days=10), obs(local("headache"), {"valueBoolean": False}, days=1),
                    cond((SCT, "20262006"), days=3), obs(local("radicular-pain"),
                                                         {"valueCodeableConcept": concept(local("unilateral"))}))
    assert facts.value("lm_symptoms") == frozenset({"ataxia", "radicular-pain"})


def test_csf_cytology_in_time_order() -> None:
    facts = extract(*[obs(local("csf-cytology"), {"valueCodeableConcept": concept(local(v))}, days=d, rid=v)
                      for v, d in (("inconclusive", 1), ("negative", 20), ("positive", 5))])
    assert facts.value("csf_cytology_results") == ("negative", "positive", "inconclusive")


# -- spine ----------------------------------------------------------------------------------------------------

def sins(code: str, points: int, days: float = 2) -> dict:
    return obs(local(code), {"valueInteger": points}, days=days, rid=code)


SIX = [("sins-location", 3), ("sins-pain", 1), ("sins-bone-lesion", 2), ("sins-alignment", 4), ("sins-collapse", 3),
       ("sins-posterolateral", 3)]


def test_sins_total_from_components() -> None:
    fact = extract(*[sins(c, p) for c, p in SIX])["sins_total"]
    assert fact.value == 16 and fact.derived_from == "components"


def test_sins_incomplete_components() -> None:
    facts = extract(*[sins(c, p) for c, p in SIX[:4]])
    assert facts["sins_total"].value is None and "posterolateral" in facts["sins_total"].notes[0]
    assert facts.value("sins_components") == dict((c[5:], p) for c, p in SIX[:4])


def test_recorded_sins_total_wins_unless_components_newer() -> None:
    assert extract(sins("sins-total", 5, days=1), *[sins(c, p, days=3) for c, p in SIX]).value("sins_total") == 5
    assert extract(sins("sins-total", 5, days=5), *[sins(c, p, days=1) for c, p in SIX]).value("sins_total") == 16


def test_sins_component_out_of_range_is_dropped() -> None:
    facts = extract(sins("sins-bone-lesion", 4))
    assert facts["sins_components"].value is None
    assert any("SINS bone-lesion = 4" in p for p in facts.problems)


def spine_mr(days: float) -> dict:
    return {"resourceType": "ImagingStudy", "id": f"s{days}", "status": "available", "subject": SUBJECT,
            "started": ago(days), "series": [{"uid": "1", "modality": {"system": "http://dicom.nema.org/resources/"
                                                                                   "ontology/DCM", "code": "MR"},
                                              "bodySite": {"system": SCT, "code": "44300000"}}]}


@pytest.mark.parametrize("onset_days,study_days,expected", [
    (None, 5, True), (None, 20, False), (10, 5, True), (3, 5, False), (3, 3, True), (None, None, False),
])
def test_adequate_spine_imaging(onset_days, study_days, expected) -> None:
    resources = []
    if onset_days is not None:
        resources.append(cond(local("local-back-pain"), days=onset_days))
    if study_days is not None:
        resources.append(spine_mr(study_days))
    fact = extract(*resources)["adequate_spine_imaging"]
    assert fact.value is expected


def test_presentation_onset_from_component() -> None:
    res = obs(local("radicular-pain"), {"valueCodeableConcept": concept(local("bilateral"))}, days=0.5,
              issued=ago(0.4), component=[{"code": concept(local("onset")), "valueDateTime": ago(6)}])
    fact = extract(res)["radicular_pain"]
    assert fact.value == "bilateral"
    assert fact.attrs["onset"].isoformat() == ago(6) and fact.attrs["recorded"].isoformat() == ago(0.4)


def test_spinal_metastasis_needs_spine_site() -> None:
    assert extract(cond((SCT, "94222008"), bodySite=[concept((SCT, "3572006"))])).value("spinal_metastases") is True
    assert extract(cond((SCT, "94222008"))).value("spinal_metastases") is False


# -- primary tumour and biomarkers --------------------------------------------------------------------------------

@pytest.mark.parametrize("codes,expected", [
    ([(ICD10, "C34.1"), (SCT, "254637007")], "nsclc"),
    ([(ICD10, "C34.9")], "lung"),
    ([(ICD10, "C61")], "other"),
    ([(ICD10, "C79.3")], None),
    ([(ICD10, "C61"), (ICD10, "C50.4")], "breast"),
])
def test_primary_tumour_choice(codes, expected) -> None:
    facts = extract(*[cond(c, rid=f"c{i}", days=100 + i) for i, c in enumerate(codes)])
    assert facts.value("primary_tumour") == expected


def test_refuted_primary_is_ignored() -> None:
    assert extract(cond((ICD10, "C50.9"), verification="refuted")).value("primary_tumour") is None


def test_solid_cancer_from_metastases_when_no_primary() -> None:
    fact = extract(cond(BM))["solid_cancer"]
    assert fact.value is True and fact.derived_from == "brain_metastases"


def test_driver_newest_result_per_gene() -> None:
    def egfr(answer: str, days: float, rid: str) -> dict:
        return obs((LNC, "69548-6"), {"valueCodeableConcept": concept((LNC, answer))}, days=days, rid=rid,
                   component=[{"code": concept((LNC, "48018-6")), "valueCodeableConcept": concept((HGNC, "HGNC:3236"))}])

    facts = extract(egfr("LA9633-4", 100, "a"), egfr("LA9634-2", 10, "b"))
    assert facts.value("driver_positive") == frozenset() and facts.value("driver_negative") == frozenset({"EGFR"})
    assert facts.value("driver_alteration") is False


def test_driver_test_without_gene_is_a_problem() -> None:
    facts = extract(obs((LNC, "69548-6"), {"valueCodeableConcept": concept((LNC, "LA9633-4"))}))
    assert facts["driver_alteration"].value is None and facts.problems


@pytest.mark.parametrize("er,pr,expected", [
    ("LA6576-8", None, True), ("LA6577-6", "LA6577-6", False), ("LA6577-6", None, None), (None, None, None),
    ("LA6577-6", "LA6576-8", True),
])
def test_hormone_receptors(er, pr, expected) -> None:
    res = []
    if er:
        res.append(obs((LNC, "16112-5"), {"valueCodeableConcept": concept((LNC, er))}, rid="er"))
    if pr:
        res.append(obs((LNC, "16113-3"), {"valueCodeableConcept": concept((LNC, pr))}, rid="pr"))
    assert extract(*res)["hormone_receptor_positive"].value is expected


@pytest.mark.parametrize("status,recorded,expected", [
    ("none", None, False), ("stable", None, None), ("progressive", None, None), (None, True, True),
    ("none", True, True),
])
def test_extracranial_metastases(status, recorded, expected) -> None:
    res = []
    if status:
        res.append(obs(local("extracranial-disease-status"), {"valueCodeableConcept": concept(local(status))}))
    if recorded is not None:
        res.append(obs(local("extracranial-metastases"), {"valueBoolean": recorded}))
    assert extract(*res)["extracranial_metastases"].value is expected


def test_facts_carry_now_and_no_internal_names() -> None:
    facts = extract()
    assert facts.now == NOW and not any(n.startswith("_") for n in facts)
    assert facts["no_such_fact"].value is None


def test_naive_now_is_utc() -> None:
    facts = extract(now=datetime(2026, 11, 24, 9, 0))
    assert facts.now == datetime(2026, 11, 24, 9, 0, tzinfo=timezone.utc)
