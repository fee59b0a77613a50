"""Catalog 3c and 3d (seeds 003, 002): dexamethasone, biopsy, timelines, surgery, RT schedule,
no local treatment — including the life-expectancy boundaries (2 weeks, 3, 6 and 12 months)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from cds_service.pathways import spine

from .spine_support import BASE, CTX, NOW, OLD, ago, at, patient  # noqa: F401

PAIN = dict(local_back_pain=at(True, **OLD))
# progressive deficit from compression, every surgery criterion met
COMPRESSION = dict(transverse_lesion=at("incomplete", **OLD), mescc=at("clinical", **OLD), deficit_progressive=True,
                   compression_levels=2, surgery_possible_24h=True, condition_allows_surgery=True)


def run(**values: Any):
    return spine.evaluate(patient(**values), CTX)


def ids(findings) -> list[str]:
    return sorted(f.rule_id for f in findings)


def get(findings, rule_id: str):
    found = [f for f in findings if f.rule_id == rule_id]
    assert len(found) <= 1
    return found[0] if found else None


# -- corticosteroids -------------------------------------------------------------------------------


def test_dexamethasone_with_a_known_primary_starts_now() -> None:
    card = get(run(bladder_bowel_dysfunction=True), "SM-DEXAMETHASONE")
    assert (card.variant, card.indicator, card.facts_missing) == (None, None, ())
    assert "scheme" in card.notes
    [suggestion] = card.suggestions
    assert (suggestion.is_recommended, suggestion.actions[0].resource_kind) == (True, "dexamethasone")


@pytest.mark.parametrize("primary, missing", [("unknown", ()), (None, ("primary_tumour",))])
def test_dexamethasone_waits_for_the_biopsy_when_the_primary_is_unknown(primary, missing) -> None:
    findings = run(neurological_deficit=True, primary_tumour=primary)
    card = get(findings, "SM-DEXAMETHASONE")
    assert card.variant == "unknown-primary" and card.facts_missing == missing
    assert card.suggestions[0].is_recommended is False
    if primary is None:
        assert "primary_tumour" in get(findings, "DATA-MISSING").facts_missing


@pytest.mark.parametrize(
    "values, fires",
    [
        (dict(mescc=at("clinical", **OLD)), True),
        (dict(transverse_lesion=at("complete", **OLD), transverse_lesion_irreversible=False), True),
        (dict(bladder_bowel_dysfunction=True), True),
        (dict(neurological_deficit=True, dexamethasone_active=True), False),
        (dict(mescc="radiological"), False),  # no clinical MESCC, no deficit
        (PAIN, False),
        ({}, False),  # asymptomatic: no corticosteroids
        # catalog §3c (003): a one-sided radicular deficit is not clinical MESCC — no start-now card; the MRI card
        # says "determine the indication for corticosteroids"
        (dict(radicular_deficit=at("unilateral", **OLD)), False),
        (dict(radicular_deficit=at("bilateral", **OLD)), True),  # cauda compression
    ],
    ids=["clinical-mescc", "transverse-lesion", "bladder-bowel", "already-on-dexamethasone", "radiological-only",
         "pain-only", "asymptomatic", "one-sided-radicular-deficit", "bilateral-radicular-deficit"],
)
def test_dexamethasone_indication(values, fires) -> None:
    assert (get(run(**values), "SM-DEXAMETHASONE") is not None) is fires


def test_dexamethasone_use_unknown_is_said() -> None:
    card = get(run(neurological_deficit=True, dexamethasone_active=None), "SM-DEXAMETHASONE")
    assert "dexamethasone_active" in card.facts_missing and "dexamethasone-unknown" in card.notes


# -- biopsy -----------------------------------------------------------------------------------------

IMAGED = ago(hours=5)


@pytest.mark.parametrize(
    "values, variant, deadline, direct_surgery",
    [
        (dict(primary_tumour="unknown", **COMPRESSION), "urgent", IMAGED + timedelta(days=1), True),
        (dict(primary_tumour="unknown", radicular_deficit=at("bilateral", **OLD)), "urgent",
         IMAGED + timedelta(days=1), False),
        (dict(primary_tumour="unknown", **PAIN), "week", IMAGED + timedelta(weeks=1), False),
        (dict(spinal_imaging_equivocal=True, **PAIN), "week", IMAGED + timedelta(weeks=1), False),
        (dict(primary_tumour="unknown", spine_imaging_date=None, **PAIN), "week-nodate", None, False),
    ],
    ids=["unknown-compression-progressive", "unknown-bilateral-deficit", "unknown-no-compression",
         "equivocal-imaging", "no-imaging-date"],
)
def test_biopsy_windows(values, variant, deadline, direct_surgery) -> None:
    card = get(run(**{"spine_imaging_date": IMAGED, **values}), "SM-BIOPSY")
    assert (card.variant, card.params["deadline"], card.indicator) == (variant, deadline, "warning")
    assert ("direct-surgery" in card.notes) is direct_surgery
    kinds = [s.actions[0].resource_kind for s in card.suggestions]
    assert kinds == ["ct-thorax-abdomen", "biopsy"]


def test_biopsy_past_its_window_is_critical() -> None:
    card = get(run(primary_tumour="unknown", spine_imaging_date=ago(days=3), **COMPRESSION), "SM-BIOPSY")
    assert card.indicator == "critical"


def test_no_biopsy_with_a_known_primary_and_conclusive_imaging() -> None:
    assert get(run(spinal_imaging_equivocal=False, **PAIN), "SM-BIOPSY") is None


# -- maximum time to start therapy --------------------------------------------------------------------

DIAG = ago(hours=1)

TIMELINES = [
    ("clinical MESCC, onset 3 days", dict(mescc=at("clinical", ago(days=3), ago(hours=2))),
     "clinical-recent", DIAG + timedelta(hours=24)),
    ("clinical MESCC, onset exactly 7 days", dict(mescc=at("clinical", ago(days=7, hours=2), ago(hours=2))),
     "clinical-recent", DIAG + timedelta(hours=24)),
    ("clinical MESCC, onset 8 days", dict(mescc=at("clinical", ago(days=8), ago(hours=2))),
     "clinical-late", DIAG + timedelta(hours=72)),
    ("clinical MESCC, onset from the deficit", dict(mescc=at("clinical", None, ago(hours=2)),
                                                    radicular_deficit=at("bilateral", ago(days=9), ago(hours=3))),
     "clinical-late", DIAG + timedelta(hours=72)),
    ("radiological MESCC only", dict(mescc=at("radiological", None, ago(hours=2))),
     "radiological", DIAG + timedelta(days=7)),
    ("symptoms without MESCC", dict(PAIN), "symptoms", DIAG + timedelta(days=14)),
    # catalog §3c (003): the clock runs from the definitive diagnosis only, never from when complaints were recorded
    ("new complaints after an old diagnosis", dict(definitive_diagnosis_date=ago(days=10),
                                                   local_back_pain=at(True, ago(days=4), ago(days=2))),
     "symptoms", ago(days=10) + timedelta(days=14)),
]


@pytest.mark.parametrize("case, values, variant, deadline", TIMELINES, ids=[t[0] for t in TIMELINES])
def test_treatment_timeline(case, values, variant, deadline) -> None:
    card = get(run(**{"definitive_diagnosis_date": DIAG, **values}), "SM-TREATMENT-TIMELINE")
    assert (card.variant, card.params["deadline"], card.indicator) == (variant, deadline, "warning")


def test_timeline_past_its_deadline_is_critical() -> None:
    card = get(run(definitive_diagnosis_date=ago(days=2), mescc=at("clinical", ago(days=3), ago(days=2))),
               "SM-TREATMENT-TIMELINE")
    assert (card.indicator, card.params["deadline"]) == ("critical", ago(days=1))
    assert "deadline-passed" in card.notes


def test_timeline_without_a_diagnosis_date() -> None:
    findings = run(definitive_diagnosis_date=None, mescc="radiological")
    card = get(findings, "SM-TREATMENT-TIMELINE")
    assert (card.variant, card.params["deadline"]) == ("radiological-nodate", None)
    assert "definitive_diagnosis_date" in get(findings, "DATA-MISSING").facts_missing


def test_timeline_with_unknown_mescc_onset_uses_24_h() -> None:
    findings = run(definitive_diagnosis_date=DIAG, mescc=at("clinical", None, ago(hours=2)))
    card = get(findings, "SM-TREATMENT-TIMELINE")
    assert (card.variant, card.params["deadline"]) == ("clinical-recent", DIAG + timedelta(hours=24))
    assert "mescc_onset" in get(findings, "DATA-MISSING").facts_missing


@pytest.mark.parametrize(
    "values",
    [{}, dict(neuro_deficit_expected_soon=True),
     dict(transverse_lesion=at("complete", **OLD), transverse_lesion_irreversible=True, pain_severity="moderate")],
    ids=["asymptomatic", "asymptomatic-deficit-expected", "no-local-treatment"],
)
def test_no_timeline(values) -> None:
    assert get(run(**values), "SM-TREATMENT-TIMELINE") is None


# -- surgery and the life-expectancy boundaries ----------------------------------------------------------

LIFE = [
    # survival (months or (value, category)), SM-SURGERY variant (None = no card), SM-RT-SCHEDULE variant
    ("2 months, RT response", (2.0, None), None, "lt3"),
    ("exactly 3 months (not > 3)", (3.0, None), None, "deficit-short"),
    ("3.5 months", (3.5, None), "no-combined", "deficit-short"),
    ("exactly 6 months (not > 6)", (6.0, None), "no-combined", "deficit-short"),
    ("6.5 months", (6.5, None), "combined", "deficit-short"),
    ("exactly 12 months", (12.0, None), "combined", "deficit-boundary"),
    ("13 months", (13.0, None), "combined", "deficit-long"),
    ("category < 3 months", (2.0, "lt-3-months"), None, "lt3"),
    ("category 3–6 months", (4.5, "3-6-months"), "no-combined", "deficit-short"),
    ("category 6–12 months", (9.0, "6-12-months"), "combined", "deficit-short"),
    ("category > 12 months", (18.0, "gt-12-months"), "combined", "deficit-long"),
]


@pytest.mark.parametrize("case, survival, surgery, rt", LIFE, ids=[c[0] for c in LIFE])
def test_surgery_and_rt_by_life_expectancy(case, survival, surgery, rt) -> None:
    value, category = survival
    fact = (value, {"category": category}) if category else value
    findings = run(expected_survival_months=fact, rt_response_expected=True, **COMPRESSION)
    card = get(findings, "SM-SURGERY")
    assert (card.variant if card else None) == surgery
    assert get(findings, "SM-RT-SCHEDULE").variant == rt
    assert get(findings, "SM-RED-FLAG").variant == "immediately"


@pytest.mark.parametrize(
    "values, fires, missing",
    [
        (dict(radiosensitive_tumour=True), False, ()),
        (dict(radiosensitive_tumour=None), True, ("radiosensitive_tumour",)),
        (dict(compression_levels=4), False, ()),
        (dict(compression_levels=3), True, ()),
        (dict(surgery_possible_24h=False), False, ()),
        (dict(condition_allows_surgery=False), False, ()),
        (dict(deficit_progressive=False), False, ()),
        (dict(deficit_progressive=False, sins_total=14), True, ()),  # unstable spine
        (dict(deficit_progressive=False, spinal_instability=True), True, ()),
    ],
    ids=["radiosensitive", "radiosensitivity-unknown", "4-levels", "3-levels", "not-within-24h",
         "condition-does-not-allow", "not-progressive", "unstable-sins-14", "instability-recorded"],
)
def test_surgery_criteria(values, fires, missing) -> None:
    card = get(run(**{**COMPRESSION, **values}), "SM-SURGERY")
    assert (card is not None) is fires
    if card is not None:
        assert card.facts_missing == missing
        assert ("radiosensitive-unknown" in card.notes) is bool(missing)
        assert card.suggestions[0].actions[0].resource_kind == "referral-spine-surgeon"


def test_unknown_surgery_criteria_go_to_data_missing() -> None:
    findings = run(**{**COMPRESSION, "compression_levels": None, "surgery_possible_24h": None})
    assert get(findings, "SM-SURGERY") is None
    assert {"compression_levels", "surgery_possible_24h"} <= set(get(findings, "DATA-MISSING").facts_missing)


def test_progressive_radicular_deficit_counts_as_progressive() -> None:
    values = {**COMPRESSION, "deficit_progressive": None,
              "radicular_deficit": at("unilateral", **OLD, progressive=True)}
    assert get(run(**values), "SM-SURGERY") is not None


# -- radiotherapy schedule ----------------------------------------------------------------------------

SCHEDULES = [
    ("no deficit", dict(PAIN), "no-deficit", ()),
    ("no deficit, oligometastases", dict(PAIN, oligometastases=True), "no-deficit-oligo", ()),
    ("no deficit, oligometastases unknown", dict(PAIN, oligometastases=None), "no-deficit", ("oligometastases",)),
    ("deficit, poor condition, 18 months", dict(neurological_deficit=True, deficit_progressive=False,
                                                patient_condition="poor", expected_survival_months=18.0),
     "deficit-short", ()),
    ("deficit, moderate condition, 18 months", dict(neurological_deficit=True, deficit_progressive=False,
                                                    patient_condition="moderate", expected_survival_months=18.0),
     "deficit-short", ()),
    ("deficit, condition unknown, 18 months", dict(neurological_deficit=True, deficit_progressive=False,
                                                   patient_condition=None, expected_survival_months=18.0),
     "deficit-undecided", ("patient_condition",)),
    ("deficit, condition unknown, 9 months", dict(neurological_deficit=True, deficit_progressive=False,
                                                  patient_condition=None), "deficit-short", ()),
    ("post-operative, insufficient recovery", dict(PAIN, postop_neuro_recovery="insufficient"), "postop", ()),
    ("post-operative, oligometastases, 18 months", dict(PAIN, postop_neuro_recovery="sufficient",
                                                        oligometastases=True, expected_survival_months=18.0),
     "postop-oligo", ()),
    ("post-operative, oligometastases, exactly 12 months", dict(PAIN, postop_neuro_recovery="sufficient",
                                                               oligometastases=True, expected_survival_months=12.0),
     "postop", ()),
    ("severe pain with an irreversible complete lesion", dict(transverse_lesion=at("complete", **OLD),
                                                              transverse_lesion_irreversible=True,
                                                              pain_severity="severe"), "deficit-short", ()),
]


@pytest.mark.parametrize("case, values, variant, missing", SCHEDULES, ids=[s[0] for s in SCHEDULES])
def test_rt_schedule(case, values, variant, missing) -> None:
    card = get(run(**values), "SM-RT-SCHEDULE")
    assert (card.variant, card.facts_missing, card.indicator) == (variant, missing, None)
    assert {"pain-flare", "second-course", "reading-rt"} <= set(card.notes)


def test_rt_schedule_timing_after_surgery() -> None:
    assert "postop-asap" in get(run(postop_neuro_recovery="insufficient", **PAIN), "SM-RT-SCHEDULE").notes
    assert "postop-wait" in get(run(postop_neuro_recovery="sufficient", **PAIN), "SM-RT-SCHEDULE").notes


def test_condition_that_did_not_matter_is_said() -> None:
    card = get(run(neurological_deficit=True, deficit_progressive=False, patient_condition=None), "SM-RT-SCHEDULE")
    assert "condition-did-not-matter" in card.notes


# -- no local treatment -------------------------------------------------------------------------------

NO_LOCAL = [
    ("< 3 months without RT response", dict(PAIN, expected_survival_months=2.0, rt_response_expected=False),
     "short-life-no-response",
     ["PROG-SINS", "SM-MRI-URGENCY", "SM-NO-LOCAL-TX", "SM-PAIN", "SM-TEAM"]),
    ("irreversible complete lesion, moderate pain", dict(transverse_lesion=at("complete", **OLD),
                                                         transverse_lesion_irreversible=True, pain_severity="moderate"),
     "irreversible-lesion",
     ["PROG-SINS", "SM-DEXAMETHASONE", "SM-MRI-URGENCY", "SM-NO-LOCAL-TX", "SM-RED-FLAG", "SM-TEAM"]),
    ("irreversible complete lesion, no pain", dict(transverse_lesion=at("complete", **OLD),
                                                   transverse_lesion_irreversible=True, pain_severity="none"),
     "irreversible-lesion",
     ["PROG-SINS", "SM-DEXAMETHASONE", "SM-MRI-URGENCY", "SM-NO-LOCAL-TX", "SM-RED-FLAG", "SM-TEAM"]),
    ("asymptomatic, no deficit expected", {}, "asymptomatic",
     ["PROG-SINS", "SM-ASYMPTOMATIC-SRE", "SM-NO-LOCAL-TX", "SM-TEAM"]),
]


@pytest.mark.parametrize("case, values, variant, expected", NO_LOCAL, ids=[n[0] for n in NO_LOCAL])
def test_no_local_treatment(case, values, variant, expected) -> None:
    findings = run(**values)
    assert ids(findings) == sorted(expected)
    card = get(findings, "SM-NO-LOCAL-TX")
    assert (card.variant, card.facts_missing) == (variant, ())


@pytest.mark.parametrize(
    "values, missing",
    [
        (dict(PAIN, expected_survival_months=2.0, rt_response_expected=None), "rt_response_expected"),
        (dict(transverse_lesion=at("complete", **OLD), transverse_lesion_irreversible=True), "pain_severity"),
        (dict(transverse_lesion=at("complete", **OLD)), "transverse_lesion_irreversible"),
        (dict(neuro_deficit_expected_soon=None), "neuro_deficit_expected_soon"),
    ],
    ids=["rt-response-unknown", "pain-severity-unknown", "irreversibility-unknown", "expected-deficit-unknown"],
)
def test_reassuring_no_local_treatment_needs_known_facts(values, missing) -> None:
    findings = run(**values)
    assert get(findings, "SM-NO-LOCAL-TX") is None
    assert get(findings, "SM-RT-SCHEDULE") is None
    assert missing in get(findings, "DATA-MISSING").facts_missing


def test_seed_002_case_68_years_sins_14_progressive_deficit() -> None:
    """Seed 002: 68-year-old, pain between the shoulder blades for 3 months, progressive ascending
    hypaesthesia from Th4 for a week with proximal weakness, SINS 14, no primary found on CT."""
    values = dict(
        transverse_lesion=at("incomplete", ago(days=7), ago(hours=3)),
        deficit_progressive=True,
        local_back_pain=at(True, ago(days=90), ago(hours=3)),
        mescc=at("clinical", ago(days=7), ago(hours=2)),
        sins_total=14,
        primary_tumour="unknown",
        expected_survival_months=(9.0, {"category": "6-12-months"}),
        spine_imaging_date=ago(hours=2),
        definitive_diagnosis_date=ago(hours=2),
        compression_levels=1, surgery_possible_24h=True, condition_allows_surgery=True,
    )
    findings = run(**values)
    assert ids(findings) == sorted([
        "PROG-SINS", "SM-RED-FLAG", "SM-SPINE-SURGEON", "SM-DEXAMETHASONE", "SM-BIOPSY", "SM-MRI-URGENCY",
        "SM-TEAM", "SM-SURGERY", "SM-RT-SCHEDULE", "SM-TREATMENT-TIMELINE"])
    assert get(findings, "SM-RED-FLAG").variant == "immediately"
    assert get(findings, "SM-DEXAMETHASONE").variant == "unknown-primary"
    assert get(findings, "SM-MRI-URGENCY").variant == "not-necessary"
    assert get(findings, "SM-BIOPSY").params["deadline"] == ago(hours=2) + timedelta(days=1)
    assert get(findings, "SM-TREATMENT-TIMELINE").params["deadline"] == ago(hours=2) + timedelta(hours=24)
    assert get(findings, "SM-SURGERY").variant == "combined"
    assert get(findings, "PROG-SINS").variant == "unstable"
