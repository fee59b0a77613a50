"""The conditions the brain-metastasis flowcharts ask about, as three-valued atoms.

Each function reads facts and returns an :class:`Atom` (true / false / unknown
plus the fact names it rests on). Thresholds are written exactly as the
catalog does (``KPS ≥ 70``, ``> 3 months``, ``≤ 10 metastases`` …).

Expected survival may be recorded as a number of months or as a category
(``3-6-months`` …, fact ``attrs.bounds`` = (low, high)). A category is read as
the clinician meant it: "3–6 months" is *more than* 3 months and *less than*
6; a comparison the category cannot settle stays unknown.
"""

from __future__ import annotations

import calendar
from datetime import datetime

from cds_service.facts.model import Facts, compare
from cds_service.pathways.brain_walk import Atom, memoised
from cds_service.pathways.model import Text, text_in, tr

FAVOURABLE_SURVIVAL_MONTHS = 6.0  # BM-TX-RESECTION "relatively favourable prognosis" (configurable reading)
LONG_SURVIVAL_MONTHS = 12.0  # BM-PALLIATIVE: long survival plausible when expected survival > 12 months
LUNG = frozenset({"nsclc", "lung"})


def _fmt(number: float) -> str:
    return f"{number:g}"


def _fmt_nl(number: float) -> str:
    return _fmt(number).replace(".", ",")


# -- performance status and prognosis --------------------------------------------------------------


@memoised
def kps_ge_70(facts: Facts) -> Atom:
    kps = facts.value("kps")
    if kps is not None:
        return Atom("kps>=70", "KPS ≥ 70", kps >= 70, ("kps",))
    band = facts.value("kps_ge_70")
    if band is not None:
        return Atom("kps>=70", "KPS ≥ 70", bool(band), ("kps_ge_70",))
    # a bound ("> 70") or two disagreeing same-time values: decided only when the whole range answers it
    return Atom("kps>=70", "KPS ≥ 70", compare(facts["kps"], ">=", 70), ("kps",))


def kps_derived_from_ecog(facts: Facts) -> bool:
    return facts.known("kps") and facts["kps"].derived_from == "ecog"


def _survival_compare(facts: Facts, months: float, strict: bool) -> bool | None:
    fact = facts["expected_survival_months"]
    if not fact.known:  # "> 3 mo" (a bound) answers "> 3 months" but not "≥ 6 months"
        return compare(fact, ">" if strict else ">=", months)
    bounds = fact.attrs.get("bounds") if fact.attrs else None
    if bounds:
        low, high = bounds
        if low is not None and low >= months:
            return True
        if high is not None and high <= months:
            return False
        return None
    value = float(fact.value)
    return value > months if strict else value >= months


@memoised
def survival_gt(facts: Facts, months: float) -> Atom:
    return Atom(f"survival>{_fmt(months)}",
                tr(f"verwachte overleving > {_fmt_nl(months)} maanden", f"expected survival > {_fmt(months)} months"),
                _survival_compare(facts, months, strict=True), ("expected_survival_months",))


@memoised
def survival_ge(facts: Facts, months: float) -> Atom:
    return Atom(f"survival>={_fmt(months)}",
                tr(f"verwachte overleving ≥ {_fmt_nl(months)} maanden", f"expected survival ≥ {_fmt(months)} months"),
                _survival_compare(facts, months, strict=False), ("expected_survival_months",))


@memoised
def age_lt(facts: Facts, years: int) -> Atom:
    return Atom(f"age<{years}", tr(f"leeftijd < {years}", f"age < {years}"), compare(facts["age_years"], "<", years),
                ("age_years",))


NO_EXTRACRANIAL_DISEASE = tr("gecontroleerde primaire tumor en geen extracraniële metastasen",
                             "controlled primary and no extracranial metastases")


@memoised
def no_extracranial_disease(facts: Facts) -> Atom:
    """RPA class 1: controlled primary and no extracranial metastases."""
    status = facts.value("extracranial_disease_status")
    if status is not None:
        return Atom("no-extracranial-disease", NO_EXTRACRANIAL_DISEASE,
                    status == "none", ("extracranial_disease_status",))
    if facts.value("extracranial_metastases") is True:
        return Atom("no-extracranial-disease", NO_EXTRACRANIAL_DISEASE, False,
                    ("extracranial_metastases",))
    return Atom("no-extracranial-disease", NO_EXTRACRANIAL_DISEASE, None,
                ("extracranial_disease_status",))


# -- symptoms --------------------------------------------------------------------------------------


@memoised
def symptomatic(facts: Facts) -> Atom:
    return Atom("symptomatic", tr("hersenmetastasen symptomatisch", "brain metastases symptomatic"),
                facts.value("bm_symptomatic"), ("bm_symptomatic",))


def symptoms_assumed_absent(facts: Facts) -> bool:
    fact = facts["bm_symptomatic"]
    return fact.known and fact.value is False and bool(fact.attrs.get("assumed"))


# -- lesions ---------------------------------------------------------------------------------------


@memoised
def critical_location(facts: Facts) -> Atom:
    return Atom("critical-location", tr("metastase op een kritieke locatie", "metastasis in a critical location"),
                facts.value("critical_location"), ("critical_location",))


@memoised
def diameter_gt(facts: Facts, mm: float) -> Atom:
    return Atom(f"diameter>{_fmt(mm)}",
                tr(f"grootste diameter > {_fmt_nl(mm)} mm", f"largest diameter > {_fmt(mm)} mm"),
                compare(facts["largest_diameter_mm"], ">", mm), ("largest_diameter_mm",))


@memoised
def diameter_ge(facts: Facts, mm: float) -> Atom:
    return Atom(f"diameter>={_fmt(mm)}",
                tr(f"grootste diameter ≥ {_fmt_nl(mm)} mm", f"largest diameter ≥ {_fmt(mm)} mm"),
                compare(facts["largest_diameter_mm"], ">=", mm), ("largest_diameter_mm",))


@memoised
def count_eq(facts: Facts, n: int) -> Atom:
    return Atom(f"count=={n}", tr(f"precies {n} metastase", f"exactly {n} metastasis"),
                compare(facts["brain_metastasis_count"], "==", n), ("brain_metastasis_count",))


@memoised
def count_gt(facts: Facts, n: int) -> Atom:
    return Atom(f"count>{n}", tr(f"meer dan {n} metastase" + ("" if n == 1 else "n"), f"more than {n} metastases"),
                compare(facts["brain_metastasis_count"], ">", n), ("brain_metastasis_count",))


@memoised
def count_le(facts: Facts, n: int) -> Atom:
    return Atom(f"count<={n}", tr(f"≤ {n} metastasen", f"≤ {n} metastases"),
                compare(facts["brain_metastasis_count"], "<=", n), ("brain_metastasis_count",))


def _with_estimate(nl: str, en: str, facts: Facts, name: str) -> Text:
    """A volume label, with the sphere estimate (when there is one) said not to be a recorded volume."""
    fact = facts[name]
    estimate = fact.attrs.get("estimate") if not fact.known and fact.attrs else None
    if estimate is None:
        return tr(nl, en)
    shown = f"{float(estimate):.1f}"
    return tr(f"{nl} (alleen een bolschatting uit de diameter: ≈ {shown.replace('.', ',')} cm³, niet gebruikt als "
              "vastgelegd volume)",
              f"{en} (only a sphere estimate from the diameter: ≈ {shown} cm³, not used as a recorded volume)")


@memoised
def total_volume_le(facts: Facts, cm3: float) -> Atom:
    # recorded volumes only (an estimate leaves the value unknown); a recorded bound decides when it settles it
    return Atom(f"total-volume<={_fmt(cm3)}",
                _with_estimate(f"totaal tumorvolume ≤ {_fmt_nl(cm3)} cm³", f"total tumour volume ≤ {_fmt(cm3)} cm³",
                               facts, "total_volume_cm3"),
                compare(facts["total_volume_cm3"], "<=", cm3), ("total_volume_cm3",))


@memoised
def largest_volume_le(facts: Facts, cm3: float) -> Atom:
    """Every metastasis ≤ ``cm3``: the largest volume, or a total that is itself ≤ ``cm3``."""
    label = tr(f"elke metastase ≤ {_fmt_nl(cm3)} cm³", f"every metastasis ≤ {_fmt(cm3)} cm³")
    v = facts.value("largest_volume_cm3")
    if v is not None:
        return Atom(f"largest-volume<={_fmt(cm3)}", label, v <= cm3, ("largest_volume_cm3",))
    total = facts.value("total_volume_cm3")
    if total is not None and (total <= cm3 or facts.value("brain_metastasis_count") == 1):
        return Atom(f"largest-volume<={_fmt(cm3)}", label, total <= cm3, ("total_volume_cm3",))
    return Atom(f"largest-volume<={_fmt(cm3)}",
                _with_estimate(label.get("nl"), label.get("en"), facts, "largest_volume_cm3"), None,
                ("largest_volume_cm3",))


def volume_estimate(facts: Facts) -> float | None:
    """A sphere estimate (π/6·d³) the extractor computed from a diameter, for display only."""
    for name in ("total_volume_cm3", "largest_volume_cm3"):
        fact = facts[name]
        if not fact.known and fact.attrs and fact.attrs.get("estimate") is not None:
            return float(fact.attrs["estimate"])
    return None


def flag(facts: Facts, name: str, label: Text) -> Atom:
    """A recorded yes/no fact as an atom (``label``: ``tr(nl, en)`` for the trace)."""
    value = facts.value(name)
    return Atom(name, label, None if value is None else bool(value), (name,))


# -- systemic options ------------------------------------------------------------------------------


@memoised
def switch_high_response(facts: Facts) -> Atom:
    """A4: a systemic switch option with a high cerebral response chance (``low``/``unknown``/``none`` = no)."""
    value = facts.value("systemic_switch_cns_response")
    return Atom("switch-high", tr("switch naar systeemtherapie met hoge cerebrale responskans",
                                  "systemic switch with a high cerebral response chance"),
                None if value is None else value == "high", ("systemic_switch_cns_response",))


def primary_is(facts: Facts, categories: frozenset[str], label: Text) -> Atom:
    primary = facts.value("primary_tumour")
    return Atom(f"primary:{text_in(label, 'en')}",
                tr(f"primaire tumor {text_in(label, 'nl')}", f"primary tumour {text_in(label, 'en')}"),
                None if primary is None else primary in categories, ("primary_tumour",))


@memoised
def lung_driver(facts: Facts) -> Atom:
    """A driver alteration (EGFR, ALK, ROS1 …) recorded; in lung cancer it implies NSCLC."""
    return Atom("driver", tr("driver-alteratie", "driver alteration"), facts.value("driver_alteration"),
                ("driver_alteration",))


@memoised
def braf_positive(facts: Facts) -> Atom:
    positive = facts.value("driver_positive")
    negative = facts.value("driver_negative")
    value: bool | None = None
    if positive is not None and "BRAF" in positive:
        value = True
    elif negative is not None and "BRAF" in negative:
        value = False
    return Atom("braf", tr("BRAF-mutatie", "BRAF mutation"), value, ("driver_positive",))


# -- dates -----------------------------------------------------------------------------------------


def add_months(moment: datetime, months: int) -> datetime:
    """Calendar months later (the day is clamped to the end of a shorter month)."""
    month_index = moment.month - 1 + months
    year = moment.year + month_index // 12
    month = month_index % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)
