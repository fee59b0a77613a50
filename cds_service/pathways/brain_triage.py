"""Which MDO, if any: the LWNO triage flowcharts (001, Bijlage 1 and 2).

Asymptomatic (A1–A4) and symptomatic (S1–S3) brain metastases end in one of
three outcomes: ``BM-MDO-NEURO`` (neuro-oncology MDO), ``BM-MDO-ORGAN`` (organ-
specific MDO, no local treatment needed now) or ``BM-RESTRAINT`` (restraint,
no neuro-oncology MDO). Exactly one per run, so BM-RESTRAINT and BM-MDO-NEURO
never appear together.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from cds_service.facts.model import Facts
from cds_service.pathways import brain_atoms as at
from cds_service.pathways.brain_walk import All, Walk
from cds_service.pathways.model import ActionSpec, Finding, LocalizedText, SuggestionSpec, tr

MDO_NEURO = "BM-MDO-NEURO"
MDO_ORGAN = "BM-MDO-ORGAN"
RESTRAINT = "BM-RESTRAINT"


@dataclass(frozen=True)
class Triage:
    """The triage outcome of one run.

    ``route`` names the node that decided (``A1`` … ``S3``); ``kps_ge_70`` is the
    KPS answer on this run (None when it was never needed).
    """

    rule_id: str
    route: str
    symptomatic: bool
    kps_ge_70: bool | None
    facts_used: tuple[str, ...]


def triage(facts: Facts, walk: Walk) -> Triage:
    if walk.decide(tr("Symptomen", "Symptoms"),
                   tr("hersenmetastasen symptomatisch (uitval, epilepsie, tekenen van verhoogde intracraniële druk)?",
                      "brain metastases symptomatic (deficit, seizures, raised intracranial pressure)?"),
                   at.symptomatic(facts)):
        return _symptomatic(facts, walk)
    return _asymptomatic(facts, walk)


def _asymptomatic(facts: Facts, walk: Walk) -> Triage:
    kps, survival = at.kps_ge_70(facts), at.survival_gt(facts, 3)
    used = ["bm_symptomatic", *kps.facts, "expected_survival_months"]

    def outcome(rule_id: str, route: str) -> Triage:
        return Triage(rule_id, route, False, walk.value(kps), tuple(dict.fromkeys(used)))

    if not walk.decide("A1", tr("KPS ≥ 70 en verwachte overleving > 3 maanden?",
                                "KPS ≥ 70 and expected survival > 3 months?"), All(kps, survival)):
        return outcome(RESTRAINT, "A1")
    used.append("critical_location")
    if walk.decide("A2", tr("een metastase op een kritieke locatie?", "any metastasis in a critical location?"),
                   at.critical_location(facts)):
        return outcome(MDO_NEURO, "A2")
    used.append("largest_diameter_mm")
    if walk.decide("A3", tr("diameter grootste metastase > 10 mm?", "largest metastasis diameter > 10 mm?"),
                   at.diameter_gt(facts, 10)):
        return outcome(MDO_NEURO, "A3")
    used.append("systemic_switch_cns_response")
    if walk.decide("A4", tr("optie switch systeemtherapie met hoge cerebrale responskans?",
                            "option to switch systemic therapy with a high cerebral response chance?"),
                   at.switch_high_response(facts)):
        return outcome(MDO_ORGAN, "A4")
    return outcome(MDO_NEURO, "A4-no")


def _symptomatic(facts: Facts, walk: Walk) -> Triage:
    kps, survival = at.kps_ge_70(facts), at.survival_gt(facts, 3)
    used = ["bm_symptomatic", *kps.facts, "expected_survival_months"]
    if facts.known("kps_on_dexamethasone"):
        used.append("kps_on_dexamethasone")

    def outcome(rule_id: str, route: str) -> Triage:
        return Triage(rule_id, route, True, walk.value(kps), tuple(dict.fromkeys(used)))

    if walk.decide("S1", tr("KPS (met dexamethason, indien gebruikt) ≥ 70 en verwachte overleving > 3 maanden?",
                            "KPS (on dexamethasone, if any) ≥ 70 and expected survival > 3 months?"),
                   All(kps, survival)):
        return outcome(MDO_NEURO, "S1")
    used.append("rapid_kps_improvement_possible")
    rapid = at.flag(facts, "rapid_kps_improvement_possible",
                    tr("kans op snelle verbetering KPS door behandeling",
                       "chance of rapid KPS improvement by treatment"))
    if walk.decide("S2", tr("kans op snelle verbetering KPS door behandeling en verwachte overleving > 3 maanden?",
                            "chance of rapid KPS improvement by treatment and expected survival > 3 months?"),
                   All(rapid, survival)):
        return outcome(MDO_NEURO, "S2")
    used.append("local_treatment_qol_benefit")
    qol = at.flag(facts, "local_treatment_qol_benefit",
                  tr("lokale behandeling kan de kwaliteit van leven duidelijk verbeteren",
                     "local treatment could clearly improve quality of life"))
    if walk.decide("S3", tr("kan lokale behandeling de kwaliteit van leven duidelijk verbeteren?",
                            "could local treatment clearly improve quality of life?"), qol):
        return outcome(MDO_NEURO, "S3")
    return outcome(RESTRAINT, "S3-no")


# -- the triage card ------------------------------------------------------------------------------


SPECIALTIES = {  # the four the law requires (001 §1)
    "neurosurgery": {"nl": "neurochirurg", "en": "neurosurgeon"},
    "radiation-oncology": {"nl": "radiotherapeut-oncoloog", "en": "radiation oncologist"},
    "neurology": {"nl": "neuroloog", "en": "neurologist"},
    "neuroradiology": {"nl": "neuroradioloog", "en": "neuroradiologist"},
}


def specialty_names(codes) -> LocalizedText:
    codes = sorted(codes)
    return LocalizedText({lang: ", ".join(SPECIALTIES.get(c, {}).get(lang, c) for c in codes) for lang in ("nl", "en")})


def wish_assumed(facts: Facts) -> bool:
    return not facts.known("treatment_wish")


def triage_finding(facts: Facts, t: Triage, walk: Walk,
                   mdo_suggestion: Callable[[Facts], SuggestionSpec]) -> Finding:
    """The card for the triage outcome (``mdo_suggestion`` builds the referral suggestion)."""
    towards_treatment = t.rule_id != RESTRAINT
    notes: list[str] = []
    if towards_treatment:
        notes.append(f"route-{t.route}")
    if t.kps_ge_70 is False:
        notes.append("low-kps-rt-restraint")  # 000: KPS < 70 → restraint with radiotherapy in any form
    if t.rule_id == RESTRAINT:
        if t.kps_ge_70 is not True:
            notes.append("re-enter")  # 001: if the KPS recovers to ≥ 70, triage again
        if t.symptomatic:
            notes.append("best-supportive-care")
    if t.symptomatic and facts.value("kps_on_dexamethasone") is True:
        notes.append("kps-on-dexamethasone")
    if not t.symptomatic and at.symptoms_assumed_absent(facts):
        notes.append("no-symptoms-recorded")
    missing: list[str] = []
    if towards_treatment and wish_assumed(facts):
        notes.append("treatment-wish-assumed")
        missing.append("treatment_wish")
    params: dict = {}
    used = list(t.facts_used)
    variant = None
    indicator = None
    suggestions: tuple = ()
    if t.rule_id == MDO_NEURO:
        variant = "qol-only" if t.route == "S3" else None
        mdo = facts["mdo_discussed"]
        if mdo.known:
            used.append("mdo_discussed")
        if mdo.value is True:
            params["mdo_date"] = mdo.attrs.get("date")
            absent = mdo.attrs.get("missing_specialties") or frozenset()
            if absent:
                variant, params["missing_specialties"] = "mdo-incomplete", specialty_names(absent)
            else:
                variant, indicator = "discussed", "info"
        if variant not in ("discussed",):
            suggestions = (mdo_suggestion(facts),)
    elif t.rule_id == MDO_ORGAN:
        organ = facts["organ_mdo_discussed"]
        if organ.value is True:
            used.append("organ_mdo_discussed")
            variant = "discussed"
        else:
            suggestions = (SuggestionSpec("refer-organ-mdo", (ActionSpec("create", "organ-mdo-referral"),)),)
    else:
        variant = "symptomatic" if t.symptomatic else None
    chart_nl = "symptomatische" if t.symptomatic else "asymptomatische"
    trace = (*walk.trace, tr(f"Uitkomst triage (stroomdiagram {chart_nl} hersenmetastasen, "
                             f"knoop {t.route.replace('-no', '-nee')}): {t.rule_id}",
                             f"Triage outcome ({'symptomatic' if t.symptomatic else 'asymptomatic'} flowchart, "
                             f"node {t.route}): {t.rule_id}"))
    return Finding(
        rule_id=t.rule_id,
        facts_used=tuple(dict.fromkeys(used)),
        facts_missing=tuple(missing),
        trace=trace,
        indicator=indicator,
        variant=variant,
        notes=tuple(dict.fromkeys(notes)),
        params=params,
        suggestions=suggestions,
    )
