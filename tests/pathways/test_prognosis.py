"""PROG-GPA (catalog §5): every cut-off on both sides, a worked example per variant, DATA-MISSING."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from cds_service.cards.actions import load_order_templates
from cds_service.cards.render import Renderer
from cds_service.cards.templates import load_templates
from cds_service.cards.validate import check_response
from cds_service.facts.catalogue import load_fact_catalogue
from cds_service.facts.model import Fact, Facts, FactStatus
from cds_service.pathways import prognosis
from cds_service.pathways.model import EvalContext
from cds_service.pathways.prognosis import BREAST, LUNG_ADENO, LUNG_NON_ADENO, MELANOMA, RENAL, score

NOW = datetime(2026, 11, 24, 9, 0, tzinfo=timezone.utc)
CTX = EvalContext(now=NOW, patient_id="gpa-test")

# A complete base record per variant; tests override single inputs.
BASE = {
    "lung-adenocarcinoma": dict(brain_metastases=True, primary_tumour="nsclc", lung_histology="adenocarcinoma",
                                age_years=60, kps=80, extracranial_metastases=True, brain_metastasis_count=3,
                                driver_positive=frozenset(), driver_negative=frozenset({"EGFR", "ALK"})),
    "lung-non-adenocarcinoma": dict(brain_metastases=True, primary_tumour="nsclc",
                                    lung_histology="non-adenocarcinoma", age_years=60, kps=80,
                                    extracranial_metastases=True, brain_metastasis_count=3),
    "melanoma": dict(brain_metastases=True, primary_tumour="melanoma", age_years=60, kps=80,
                     extracranial_metastases=True, brain_metastasis_count=3, driver_positive=frozenset(),
                     driver_negative=frozenset({"BRAF"})),
    "breast": dict(brain_metastases=True, primary_tumour="breast", age_years=55, kps=80, extracranial_metastases=True,
                   brain_metastasis_count=3, her2_positive=False, hormone_receptor_positive=True),
    "renal": dict(brain_metastases=True, primary_tumour="renal", age_years=60, kps=80, extracranial_metastases=True,
                  brain_metastasis_count=3, hemoglobin_g_dl=12.0),
}
TABLES = {t.key: t for t in (LUNG_ADENO, LUNG_NON_ADENO, MELANOMA, BREAST, RENAL)}


def facts_for(variant: str, **overrides) -> Facts:
    values = {**BASE[variant], **overrides}
    return Facts.from_values(now=NOW, **{k: v for k, v in values.items() if v is not None})


def gpa(facts: Facts):
    findings = prognosis.evaluate(facts, CTX)
    assert [f.rule_id for f in findings] == ["PROG-GPA"], findings
    return findings[0]


# -- every cut-off, both sides -----------------------------------------------------------------------

CUTOFFS = [
    # (variant, factor, fact, value, expected points)
    # Lung-molGPA: age ≥ 70 / < 70; KPS ≤ 70 / 80 / 90–100; ≤ 4 / > 4 metastases
    *[("lung-adenocarcinoma", "age", "age_years", v, p) for v, p in ((69, 0.5), (70, 0.0))],
    *[("lung-adenocarcinoma", "kps", "kps", v, p) for v, p in ((60, 0.0), (70, 0.0), (80, 0.5), (90, 1.0), (100, 1.0))],
    *[("lung-adenocarcinoma", "count", "brain_metastasis_count", v, p) for v, p in ((1, 0.5), (4, 0.5), (5, 0.0))],
    *[("lung-adenocarcinoma", "ecm", "extracranial_metastases", v, p) for v, p in ((True, 0.0), (False, 1.0))],
    *[("lung-non-adenocarcinoma", "age", "age_years", v, p) for v, p in ((69, 0.5), (70, 0.0))],
    *[("lung-non-adenocarcinoma", "kps", "kps", v, p) for v, p in ((70, 0.0), (80, 0.5), (90, 1.0))],
    *[("lung-non-adenocarcinoma", "count", "brain_metastasis_count", v, p) for v, p in ((4, 0.5), (5, 0.0))],
    *[("lung-non-adenocarcinoma", "ecm", "extracranial_metastases", v, p) for v, p in ((True, 0.0), (False, 1.0))],
    # Melanoma-molGPA: age; KPS ≤ 70 / 80 / 90–100; 1 / 2–4 / > 4 metastases
    *[("melanoma", "age", "age_years", v, p) for v, p in ((69, 0.5), (70, 0.0))],
    *[("melanoma", "kps", "kps", v, p) for v, p in ((70, 0.0), (80, 0.5), (90, 1.0))],
    *[("melanoma", "count", "brain_metastasis_count", v, p) for v, p in ((1, 1.0), (2, 0.5), (4, 0.5), (5, 0.0))],
    *[("melanoma", "ecm", "extracranial_metastases", v, p) for v, p in ((True, 0.0), (False, 1.0))],
    # Breast GPA 2020: age ≥ 60 / < 60; KPS ≤ 60 / 70–80 / 90–100; 1 / > 1 metastases; ECM 0 / 0.5
    *[("breast", "age", "age_years", v, p) for v, p in ((59, 0.5), (60, 0.0))],
    *[("breast", "kps", "kps", v, p) for v, p in ((60, 0.0), (70, 0.5), (80, 0.5), (90, 1.0), (100, 1.0))],
    *[("breast", "count", "brain_metastasis_count", v, p) for v, p in ((1, 0.5), (2, 0.0))],
    *[("breast", "ecm", "extracranial_metastases", v, p) for v, p in ((True, 0.0), (False, 0.5))],
    # Renal GPA 2018: KPS < 80 / 80 / 90–100; Hb ≤ 11.1 / 11.2–12.5 / ≥ 12.6; 1–4 / ≥ 5; ECM 0 / 0.5
    *[("renal", "kps", "kps", v, p) for v, p in ((70, 0.0), (80, 1.0), (90, 2.0), (100, 2.0))],
    *[("renal", "hemoglobin", "hemoglobin_g_dl", v, p)
      for v, p in ((11.1, 0.0), (11.14, 0.0), (11.15, 0.5), (11.2, 0.5), (12.5, 0.5), (12.54, 0.5), (12.55, 1.0),
                   (12.6, 1.0))],
    *[("renal", "count", "brain_metastasis_count", v, p) for v, p in ((4, 0.5), (5, 0.0))],
    *[("renal", "ecm", "extracranial_metastases", v, p) for v, p in ((True, 0.0), (False, 0.5))],
]


@pytest.mark.parametrize("variant,factor,fact,value,expected", CUTOFFS,
                         ids=[f"{c[0]}-{c[1]}-{c[3]}" for c in CUTOFFS])
def test_cutoffs(variant, factor, fact, value, expected):
    scored = score(facts_for(variant, **{fact: value}), TABLES[variant])
    assert scored.missing == []
    assert scored.points[factor] == expected


MARKERS = [
    # (variant, positive, negative, expected points, untested genes named on the card)
    ("lung-adenocarcinoma", {"EGFR"}, set(), 1.0, None),
    ("lung-adenocarcinoma", {"ALK"}, {"EGFR"}, 1.0, None),
    ("lung-adenocarcinoma", set(), {"EGFR", "ALK"}, 0.0, None),
    ("lung-adenocarcinoma", set(), {"EGFR"}, 0.0, "ALK"),
    ("lung-adenocarcinoma", None, None, 0.0, "EGFR, ALK"),  # no driver test at all
    ("lung-adenocarcinoma", {"KRAS"}, set(), 0.0, "EGFR, ALK"),  # other drivers do not count
    ("melanoma", {"BRAF"}, set(), 0.5, None),
    ("melanoma", set(), {"BRAF"}, 0.0, None),
    ("melanoma", None, None, 0.0, "BRAF"),
]


@pytest.mark.parametrize("variant,positive,negative,expected,untested", MARKERS)
def test_biomarkers_negative_or_unknown_score_zero(variant, positive, negative, expected, untested):
    facts = facts_for(variant, driver_positive=frozenset(positive) if positive is not None else None,
                      driver_negative=frozenset(negative) if negative is not None else None)
    finding = gpa(facts)
    assert finding.params["marker_points"] == expected
    assert finding.params.get("untested") == untested
    assert ("markers-untested" in finding.notes) == (untested is not None)


SUBTYPES = [
    # (hormone receptor positive, HER2 positive, points)
    (False, False, 0.0),  # basal / triple-negative
    (True, False, 0.5),  # luminal A
    (False, True, 1.5),  # HER2
    (True, True, 1.5),  # luminal B
    (None, True, 1.5),  # HER2+ with unknown HR: both branches score 1.5
]


@pytest.mark.parametrize("hr,her2,expected", SUBTYPES)
def test_breast_subtypes(hr, her2, expected):
    finding = gpa(facts_for("breast", hormone_receptor_positive=hr, her2_positive=her2))
    assert finding.params["subtype_points"] == expected
    assert ("subtype-hr-did-not-matter" in finding.notes) == (hr is None)


@pytest.mark.parametrize("hr,her2,missing", [
    (None, False, ["hormone_receptor_positive"]),  # basal 0 vs luminal A 0.5
    (True, None, ["her2_positive"]),  # luminal A 0.5 vs luminal B 1.5
    (None, None, ["her2_positive", "hormone_receptor_positive"]),
])
def test_breast_subtype_unknown_when_it_matters(hr, her2, missing):
    findings = prognosis.evaluate(facts_for("breast", hormone_receptor_positive=hr, her2_positive=her2), CTX)
    assert [f.rule_id for f in findings] == ["DATA-MISSING"]
    assert list(findings[0].facts_missing) == missing


# -- bands: each boundary on both sides --------------------------------------------------------------

BANDS = [
    # (variant, score, band, median survival in months)
    ("lung-adenocarcinoma", 1.0, "0.0-1.0", 6.9), ("lung-adenocarcinoma", 1.5, "1.5-2.0", 13.7),
    ("lung-adenocarcinoma", 2.0, "1.5-2.0", 13.7), ("lung-adenocarcinoma", 2.5, "2.5-3.0", 26.5),
    ("lung-adenocarcinoma", 3.0, "2.5-3.0", 26.5), ("lung-adenocarcinoma", 3.5, "3.5-4.0", 46.8),
    ("lung-non-adenocarcinoma", 0.0, "0.0-1.0", 5.3), ("lung-non-adenocarcinoma", 1.0, "0.0-1.0", 5.3),
    ("lung-non-adenocarcinoma", 1.5, "1.5-2.0", 9.8), ("lung-non-adenocarcinoma", 2.0, "1.5-2.0", 9.8),
    ("lung-non-adenocarcinoma", 2.5, "2.5-3.0", 12.8), ("lung-non-adenocarcinoma", 3.0, "2.5-3.0", 12.8),
    ("melanoma", 1.0, "0.0-1.0", 4.9), ("melanoma", 1.5, "1.5-2.0", 8.3), ("melanoma", 2.0, "1.5-2.0", 8.3),
    ("melanoma", 2.5, "2.5-3.0", 15.8), ("melanoma", 3.0, "2.5-3.0", 15.8), ("melanoma", 3.5, "3.5-4.0", 34.1),
    ("breast", 1.0, "0.0-1.0", 6.0), ("breast", 1.5, "1.5-2.0", 12.9), ("breast", 2.0, "1.5-2.0", 12.9),
    ("breast", 2.5, "2.5-3.0", 23.5), ("breast", 3.0, "2.5-3.0", 23.5), ("breast", 3.5, "3.5-4.0", 36.3),
    ("renal", 1.0, "0.0-1.0", 4.0), ("renal", 1.5, "1.5-2.0", 12.0), ("renal", 2.0, "1.5-2.0", 12.0),
    ("renal", 2.5, "2.5-3.0", 17.0), ("renal", 3.0, "2.5-3.0", 17.0), ("renal", 3.5, "3.5-4.0", 35.0),
]


@pytest.mark.parametrize("variant,total,band,median", BANDS, ids=[f"{b[0]}-{b[1]}" for b in BANDS])
def test_band_boundaries(variant, total, band, median):
    found = prognosis.band_for(TABLES[variant], total)
    assert (found.label, found.median_months) == (band, median)


def test_lung_non_adenocarcinoma_maximum_is_three():
    finding = gpa(facts_for("lung-non-adenocarcinoma", age_years=50, kps=100, extracranial_metastases=False,
                            brain_metastasis_count=1))
    assert (finding.params["score"], finding.params["band"]) == (3.0, "2.5-3.0")


# -- worked examples (one per variant; arithmetic written out) ------------------------------------------

WORKED = [
    # Lung-molGPA adenocarcinoma: age 62 (<70) 0.5 + KPS 90 1.0 + no ECM 1.0 + 2 BM 0.5 + EGFR+ 1.0 = 4.0
    ("lung-adenocarcinoma", dict(age_years=62, kps=90, extracranial_metastases=False, brain_metastasis_count=2,
                                 driver_positive=frozenset({"EGFR"}), driver_negative=frozenset({"ALK"})),
     4.0, "3.5-4.0", 46.8),
    # Lung-molGPA adenocarcinoma: age 72 0 + KPS 80 0.5 + ECM 0 + 6 BM 0 + EGFR/ALK negative 0 = 0.5
    ("lung-adenocarcinoma", dict(age_years=72, kps=80, extracranial_metastases=True, brain_metastasis_count=6),
     0.5, "0.0-1.0", 6.9),
    # Lung-molGPA non-adenocarcinoma: age 66 0.5 + KPS 80 0.5 + ECM 0 + 3 BM 0.5 = 1.5
    ("lung-non-adenocarcinoma", dict(age_years=66, kps=80, extracranial_metastases=True, brain_metastasis_count=3),
     1.5, "1.5-2.0", 9.8),
    # Melanoma-molGPA: age 58 0.5 + KPS 90 1.0 + ECM 0 + 1 BM 1.0 + BRAF+ 0.5 = 3.0
    ("melanoma", dict(age_years=58, kps=90, extracranial_metastases=True, brain_metastasis_count=1,
                      driver_positive=frozenset({"BRAF"}), driver_negative=frozenset()), 3.0, "2.5-3.0", 15.8),
    # Breast GPA: KPS 80 0.5 + luminal B 1.5 + age 52 0.5 + 1 BM 0.5 + ECM 0 = 3.0
    ("breast", dict(kps=80, hormone_receptor_positive=True, her2_positive=True, age_years=52,
                    brain_metastasis_count=1, extracranial_metastases=True), 3.0, "2.5-3.0", 23.5),
    # Breast GPA: KPS 60 0 + triple-negative 0 + age 64 0 + 3 BM 0 + ECM 0 = 0.0
    ("breast", dict(kps=60, hormone_receptor_positive=False, her2_positive=False, age_years=64,
                    brain_metastasis_count=3, extracranial_metastases=True), 0.0, "0.0-1.0", 6.0),
    # Renal GPA: KPS 90 2.0 + no ECM 0.5 + Hb 13.1 1.0 + 2 BM 0.5 = 4.0
    ("renal", dict(kps=90, extracranial_metastases=False, hemoglobin_g_dl=13.1, brain_metastasis_count=2),
     4.0, "3.5-4.0", 35.0),
    # Renal GPA: KPS 80 1.0 + ECM 0 + Hb 11.8 0.5 + 7 BM 0 = 1.5
    ("renal", dict(kps=80, extracranial_metastases=True, hemoglobin_g_dl=11.8, brain_metastasis_count=7),
     1.5, "1.5-2.0", 12.0),
]


@pytest.mark.parametrize("variant,inputs,total,band,median", WORKED)
def test_worked_examples(variant, inputs, total, band, median):
    finding = gpa(facts_for(variant, **inputs))
    assert finding.variant == variant
    assert (finding.params["score"], finding.params["band"], finding.params["median_months"]) == (total, band, median)
    assert finding.notes[0] == f"table-{variant}"
    assert finding.facts_missing == ()


# -- which table, and when the rule stays silent ------------------------------------------------------

@pytest.mark.parametrize("primary,histology,expected", [
    ("nsclc", "adenocarcinoma", "lung-adenocarcinoma"),
    ("lung", "adenocarcinoma", "lung-adenocarcinoma"),
    ("nsclc", "non-adenocarcinoma", "lung-non-adenocarcinoma"),
    ("breast", None, "breast"),
    ("melanoma", None, "melanoma"),
    ("renal", None, "renal"),
])
def test_table_selection(primary, histology, expected):
    table, missing, _ = prognosis.select_table(Facts.from_values(primary_tumour=primary, lung_histology=histology))
    assert (table.key, missing) == (expected, [])


@pytest.mark.parametrize("values,expected", [
    (dict(brain_metastases=False), []),
    (dict(brain_metastases=None), []),
    (dict(primary_tumour="colorectal"), []),  # GI-GPA not implemented: silent, no DATA-MISSING
    (dict(primary_tumour="other"), []),
    (dict(primary_tumour="unknown"), []),
])
def test_silent(values, expected):
    assert prognosis.evaluate(facts_for("melanoma", **values), CTX) == expected


def test_silent_for_suspected_brain_metastases_only():
    facts = facts_for("melanoma").with_values(
        Fact(name="brain_metastases", value=True, status=FactStatus.KNOWN, attrs={"suspected": True}))
    assert prognosis.evaluate(facts, CTX) == []


@pytest.mark.parametrize("variant,unknown,missing", [
    ("lung-adenocarcinoma", "kps", ["kps"]),
    ("lung-adenocarcinoma", "age_years", ["age_years"]),
    ("lung-adenocarcinoma", "extracranial_metastases", ["extracranial_metastases"]),
    ("lung-adenocarcinoma", "brain_metastasis_count", ["brain_metastasis_count"]),
    ("lung-adenocarcinoma", "lung_histology", ["lung_histology"]),
    ("melanoma", "primary_tumour", ["primary_tumour"]),
    ("breast", "extracranial_metastases", ["extracranial_metastases"]),
    ("renal", "hemoglobin_g_dl", ["hemoglobin_g_dl"]),
    ("renal", "kps", ["kps"]),
])
def test_data_missing(variant, unknown, missing):
    findings = prognosis.evaluate(facts_for(variant, **{unknown: None}), CTX)
    assert [f.rule_id for f in findings] == ["DATA-MISSING"]
    assert list(findings[0].facts_missing) == missing


def test_data_missing_primary_lists_unknown_common_inputs():
    findings = prognosis.evaluate(facts_for("melanoma", primary_tumour=None, kps=None), CTX)
    assert list(findings[0].facts_missing) == ["primary_tumour", "kps"]


def _derived_kps(band: str) -> Fact:
    return Fact(name="kps", value=80 if band == ">=70" else 60, status=FactStatus.KNOWN, derived_from="ecog",
                attrs={"kps_band": band})


@pytest.mark.parametrize("variant", sorted(BASE))
def test_derived_kps_band_ge_70_is_too_coarse(variant):
    findings = prognosis.evaluate(facts_for(variant).with_values(_derived_kps(">=70")), CTX)
    assert [f.rule_id for f in findings] == ["DATA-MISSING"]
    assert findings[0].facts_missing == ("kps",)
    assert any("too coarse" in str(t) for t in findings[0].trace)


@pytest.mark.parametrize("variant", sorted(BASE))
def test_derived_kps_band_below_70_scores_zero_in_every_table(variant):
    finding = gpa(facts_for(variant).with_values(_derived_kps("<70")))
    assert finding.params["kps_points"] == 0.0
    assert "kps-derived-enough" in finding.notes


# -- cards in both languages ------------------------------------------------------------------------

@pytest.fixture(scope="module")
def renderer() -> Renderer:
    return Renderer(load_templates(), load_fact_catalogue(), load_order_templates(), new_uuid=lambda: "u-1")


@pytest.mark.parametrize("variant,inputs,total,band,median", WORKED)
@pytest.mark.parametrize("language", ["nl", "en"])
def test_cards_render_and_validate(renderer, variant, inputs, total, band, median, language):
    facts = facts_for(variant, **inputs)
    cards = renderer.render(prognosis.evaluate(facts, CTX), facts, CTX, language)
    check_response({"cards": cards})
    card = cards[0]
    assert card["source"]["topic"]["code"] == "PROG-GPA"
    assert card["links"][0]["url"] == "https://brainmetgpa.com"
    sep = "," if language == "nl" else "."
    months = f"{median:g}".replace(".", sep)
    group = f"{float(band.split('-')[0]):.1f}–{float(band.split('-')[1]):.1f}".replace(".", sep)
    assert f"{total:.1f}".replace(".", sep) in card["summary"]
    assert f"{group}, " in card["summary"] and months in card["summary"]
    assert "Sperduto" in card["detail"]
    assert "{" not in card["summary"] and "{" not in card["detail"]


def test_card_names_untested_markers(renderer):
    facts = facts_for("lung-adenocarcinoma", driver_positive=None, driver_negative=None)
    card = renderer.render(prognosis.evaluate(facts, CTX), facts, CTX, "nl")[0]
    assert "Niet getest: **EGFR, ALK**" in card["detail"]
