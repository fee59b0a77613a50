"""Treatment considerations for the MDO (000, flowchart "Behandeling van hersenmetastasen").

The four choices of 000 — radiotherapy (SRS or WBRT), resection, systemic
therapy, best supportive care — as *considerations for the MDO*, never orders:

- ``BM-TX-SYSTEMIC`` at any KPS (000 puts it in the KPS < 70 column too);
- ``BM-TX-RESECTION``, ``BM-TX-SRS``, ``BM-TX-WBRT`` only with KPS ≥ 70 when the
  triage does not end in ``BM-RESTRAINT`` (catalog 1c); with KPS < 70, 000 says "be restrained
  with radiotherapy in any form", which the triage card says. Exception (002):
  a low-KPS patient sent to the MDO at S2 because of mass effect, a posterior-
  fossa lesion or hydrocephalus may be considered for resection;
- ``BM-PALLIATIVE`` from the diagnosis on, unless long survival or cure is plausible.
"""

from __future__ import annotations

from cds_service.facts.model import Facts
from cds_service.pathways import brain_atoms as at
from cds_service.pathways.brain_triage import MDO_NEURO, MDO_ORGAN, Triage, wish_assumed
from cds_service.pathways.brain_walk import All, AnyOf, Atom, Expr, Not, Walk, evaluate, memoised
from cds_service.pathways.model import ActionSpec, Finding, SuggestionSpec, Text, tr

TX_SYSTEMIC = "BM-TX-SYSTEMIC"
TX_RESECTION = "BM-TX-RESECTION"
TX_SRS = "BM-TX-SRS"
TX_WBRT = "BM-TX-WBRT"
PALLIATIVE = "BM-PALLIATIVE"

RESECTION_MM = 25  # 000: "≥ 2,5 cm"
LARGE_MM = 35  # 002: neurosurgery indication "> 3,5 cm"
SRS_MAX_COUNT = 10  # 000: "≤ 10 hersenmetastasen"
SRS_MAX_TOTAL_CM3 = 30  # "totaal tumorvolume ≤ 30 cm3"
SRS_MAX_EACH_CM3 = 20  # "individueel tumorvolume ≤ 20 cm3"


def _finding(rule_id: str, facts: Facts, used: list[str], trace: list[Text], *, notes: list[str] | None = None,
             variant: str | None = None, params: dict | None = None) -> Finding:
    notes = list(notes or [])
    missing: list[str] = []
    if wish_assumed(facts):
        notes.append("treatment-wish-assumed")
        missing.append("treatment_wish")
    return Finding(
        rule_id=rule_id,
        facts_used=tuple(dict.fromkeys(used)),
        facts_missing=tuple(missing),
        trace=tuple(trace),
        variant=variant,
        notes=tuple(dict.fromkeys(notes)),
        params=dict(params or {}),
    )


# -- systemic therapy ------------------------------------------------------------------------------


@memoised
def targeted_therapy_expr(facts: Facts) -> Expr:
    """NSCLC with a driver alteration, or melanoma with BRAF: a TKI with good cerebral penetration may exist."""
    return AnyOf(
        All(at.primary_is(facts, at.LUNG, tr("longcarcinoom (NSCLC)", "lung cancer (NSCLC)")), at.lung_driver(facts)),
        All(at.primary_is(facts, frozenset({"melanoma"}), tr("melanoom", "melanoma")), at.braf_positive(facts)),
    )


def systemic(facts: Facts, walk: Walk) -> list[Finding]:
    start = len(walk.trace)
    if not walk.decide(tr("Systemische therapie (000)", "Systemic therapy (000)"),
                       tr("NSCLC met een driver-alteratie, of melanoom met een BRAF-mutatie?",
                          "NSCLC with a driver alteration, or melanoma with a BRAF mutation?"),
                       targeted_therapy_expr(facts)):
        return []
    melanoma = facts.value("primary_tumour") == "melanoma"
    used = ["primary_tumour", "driver_positive" if melanoma else "driver_alteration", "systemic_therapy_active"]
    drivers = facts.value("driver_positive") or frozenset()
    notes = ["systemic-active"] if facts.value("systemic_therapy_active") is True else []
    return [_finding(TX_SYSTEMIC, facts, used, walk.trace[start:], variant="melanoma" if melanoma else "nsclc",
                     notes=notes, params={"drivers": frozenset(drivers)})]


# -- local treatment -------------------------------------------------------------------------------


@memoised
def srs_expr(facts: Facts) -> Expr:
    return All(at.count_le(facts, SRS_MAX_COUNT), at.total_volume_le(facts, SRS_MAX_TOTAL_CM3),
               at.largest_volume_le(facts, SRS_MAX_EACH_CM3))


# What the triage means for the local-treatment considerations (one tag per triage run):
NO_LOCAL = "none"  # not (or no longer) for the neuro-oncology MDO: no considerations
LOW_KPS_S2 = "s2"  # KPS < 70, sent to the MDO at S2: only the resection exception (002)
KPS_OK = "kps-ok"  # MDO with KPS ≥ 70: resection / SRS / WBRT
KPS_LOW = "kps-low"  # MDO at S3 with KPS < 70: restraint with radiotherapy (said in the triage card)
KPS_UNKNOWN = "kps-unknown"  # MDO at S3 reached without needing the KPS: ask it now


def local_context(facts: Facts, t: Triage | None) -> str:
    """The local-treatment context of a triage outcome (``None``: no triage, e.g. radionecrosis).

    Catalog 1c: the considerations apply when KPS ≥ 70 and the triage does not end in
    ``BM-RESTRAINT`` — so after ``BM-MDO-ORGAN`` too (the organ MDO weighs them) — but
    not once the neuro-oncology MDO has been held since the latest diagnosis or progression:
    the treatment plan is then made (and recorded) there.
    """
    if t is None or t.rule_id not in (MDO_NEURO, MDO_ORGAN) or facts.value("mdo_discussed") is True:
        return NO_LOCAL
    if t.route == "S2":
        return LOW_KPS_S2
    return {True: KPS_OK, False: KPS_LOW, None: KPS_UNKNOWN}[t.kps_ge_70]


def _kps_allows_local(facts: Facts, walk: Walk, context: str) -> list[Text] | None:
    """The trace lines that open a consideration, or None when KPS < 70 (000: restraint with RT)."""
    if context not in (KPS_OK, KPS_UNKNOWN):
        return None
    if not walk.decide(tr("Keuze therapievorm (000)", "Treatment choice (000)"), "KPS ≥ 70?", at.kps_ge_70(facts)):
        return None
    return [tr("Triage: BM-MDO-NEURO — behandelopties om in het MDO af te wegen (000)",
               "Triage: BM-MDO-NEURO — treatment options to weigh in the MDO (000)"), walk.trace[-1]]


def resection(facts: Facts, walk: Walk, context: str) -> list[Finding]:
    """``BM-TX-RESECTION``: 000's two indications, or 002's exception for a low KPS from mass effect."""
    if context == LOW_KPS_S2:
        start = len(walk.trace)
        walk.note(tr("Triage: BM-MDO-NEURO bij S2 (KPS < 70 met kans op snelle verbetering)",
                     "Triage: BM-MDO-NEURO at S2 (KPS < 70 with a chance of rapid improvement)"))
        reason = AnyOf(at.flag(facts, "mass_effect", tr("massawerking / veel oedeem", "mass effect / much oedema")),
                       at.flag(facts, "posterior_fossa", tr("laesie in de fossa posterior", "posterior-fossa lesion")),
                       at.flag(facts, "hydrocephalus", tr("hydrocephalus", "hydrocephalus")))
        if walk.decide(tr("Resectie (002)", "Resection (002)"),
                       tr("lage KPS door massawerking, een laesie in de fossa posterior of hydrocephalus?",
                          "low KPS from mass effect, a posterior-fossa lesion or hydrocephalus?"),
                       reason):
            used = ["kps", "rapid_kps_improvement_possible", "mass_effect", "posterior_fossa", "hydrocephalus"]
            return [_finding(TX_RESECTION, facts, used, walk.trace[start:], variant="low-kps",
                             notes=["low-kps-exception", *_resection_notes(facts)],
                             params={"favourable_months": at.FAVOURABLE_SURVIVAL_MONTHS})]
        return []
    opening = _kps_allows_local(facts, walk, context)
    if opening is None:
        return []
    return _resection(facts, walk, list(at.kps_ge_70(facts).facts), opening)


def srs_or_wbrt(facts: Facts, walk: Walk, context: str) -> list[Finding]:
    """``BM-TX-SRS`` when suitable for stereotactic radiotherapy, else possibly ``BM-TX-WBRT``."""
    opening = _kps_allows_local(facts, walk, context)
    if opening is None:
        return []
    return _srs_and_wbrt(facts, walk, list(at.kps_ge_70(facts).facts), opening)


def _resection_notes(facts: Facts) -> list[str]:
    notes = []
    diameter = facts.value("largest_diameter_mm")
    if diameter is not None and diameter > LARGE_MM:
        notes.append("larger-than-35mm")
    for name, note in (("mass_effect", "mass-effect"), ("posterior_fossa", "posterior-fossa"),
                       ("hydrocephalus", "hydrocephalus")):
        if facts.value(name) is True:
            notes.append(note)
    return notes


def _resection(facts: Facts, walk: Walk, used: list[str], context: list[Text]) -> list[Finding]:
    start = len(walk.trace)
    single = All(at.count_eq(facts, 1), at.diameter_ge(facts, RESECTION_MM),
                 at.survival_ge(facts, at.FAVOURABLE_SURVIVAL_MONTHS),
                 at.flag(facts, "disease_burden_limited",
                         tr("beperkte extracraniële ziekte", "limited extracranial disease")),
                 at.flag(facts, "systemic_options_remaining",
                         tr("nog systemische behandelopties", "systemic options remaining")))
    multiple = All(at.count_gt(facts, 1), at.flag(facts, "dominant_lesion_accessible",
                                                   tr("dominante / symptomatische / goed toegankelijke laesie",
                                                      "dominant / symptomatic / accessible lesion")),
                   at.diameter_ge(facts, RESECTION_MM))
    months = f"{at.FAVOURABLE_SURVIVAL_MONTHS:g}"
    if not walk.decide(
        tr("Resectie (000)", "Resection (000)"),
        tr(f"1 metastase ≥ {RESECTION_MM} mm met relatief gunstige prognose (≥ {months.replace('.', ',')} maanden), "
           f"beperkte extracraniële ziekte en nog systemische behandelopties — of meerdere met een dominante laesie "
           f"≥ {RESECTION_MM} mm?",
           f"1 metastasis ≥ {RESECTION_MM} mm with favourable prognosis (≥ {months} months), "
           f"limited extracranial disease and systemic options left — or several with a dominant lesion "
           f"≥ {RESECTION_MM} mm?"),
        AnyOf(single, multiple),
    ):
        return []
    count = facts.value("brain_metastasis_count")
    if count == 1:
        used += ["brain_metastasis_count", "largest_diameter_mm", "expected_survival_months",
                 "disease_burden_limited", "systemic_options_remaining"]
    else:
        used += ["brain_metastasis_count", "largest_diameter_mm", "dominant_lesion_accessible"]
    return [_finding(TX_RESECTION, facts, used, context + walk.trace[start:],
                     variant="single" if count == 1 else "multiple",
                     notes=_resection_notes(facts),
                     params={"favourable_months": at.FAVOURABLE_SURVIVAL_MONTHS})]


def _srs_and_wbrt(facts: Facts, walk: Walk, used: list[str], context: list[Text]) -> list[Finding]:
    start = len(walk.trace)
    estimate = at.volume_estimate(facts)
    if estimate is not None:
        shown = f"{estimate:.1f}"
        walk.note(tr(f"Volume: alleen een bolschatting uit de diameter is beschikbaar (π/6·d³ ≈ "
                     f"{shown.replace('.', ',')} cm³); dit is een schatting en wordt niet gebruikt als vastgelegd "
                     "volume",
                     f"Volume: only a sphere estimate from the diameter is available (π/6·d³ ≈ {shown} cm³); "
                     "it is an estimate and is not used as a recorded volume"))
    srs = srs_expr(facts)
    volume_facts = ["brain_metastasis_count", "total_volume_cm3", "largest_volume_cm3"]
    if walk.decide("SRS (000)", tr(f"geschikt voor stereotactische radiotherapie: ≤ {SRS_MAX_COUNT} metastasen, totaal "
                                   f"tumorvolume ≤ {SRS_MAX_TOTAL_CM3} cm³ en elke metastase ≤ {SRS_MAX_EACH_CM3} cm³?",
                                   f"suitable for stereotactic radiotherapy: ≤ {SRS_MAX_COUNT} metastases, total "
                                   f"volume ≤ {SRS_MAX_TOTAL_CM3} cm³ and every metastasis ≤ {SRS_MAX_EACH_CM3} cm³?"),
                   srs):
        return [_finding(TX_SRS, facts, used + volume_facts, context + walk.trace[start:])]
    effective = AnyOf(at.switch_high_response(facts), targeted_therapy_expr(facts))
    # Catalog BM-TX-WBRT: "no systemic therapy with effect" is known when no systemic options remain at all,
    # or when BM-TX-SYSTEMIC does not apply and no switch with a high cerebral response exists.
    # An effective option (a high-response switch, a targeted therapy) is itself a remaining option.
    remaining = facts.value("systemic_options_remaining")
    if remaining is None and evaluate(effective, {}) is True:
        remaining = True
    none_left = Atom("no-systemic-options", tr("geen systemische behandelopties meer",
                                               "no systemic options remaining"),
                     None if remaining is None else not remaining, ("systemic_options_remaining",))
    if walk.decide("WBRT (000)", tr("geen systemische therapie met effect op de hersenmetastasen voorhanden?",
                                    "no systemic therapy with effect on the brain metastases available?"),
                   AnyOf(none_left, Not(effective))):
        if facts.value("systemic_options_remaining") is False:
            wbrt_used = used + volume_facts + ["systemic_options_remaining"]
        else:
            wbrt_used = used + volume_facts + ["systemic_switch_cns_response", "primary_tumour", "driver_alteration"]
        return [_finding(TX_WBRT, facts, wbrt_used, context + walk.trace[start:])]
    return []


# -- palliative care -------------------------------------------------------------------------------


def palliative(facts: Facts) -> Finding | None:
    """``BM-PALLIATIVE``: start palliative care from the diagnosis, unless long survival / cure is plausible.

    Fires on what is *not recorded*: no palliative-care involvement recorded, long survival not
    recorded as plausible, expected survival not recorded as > 12 months.
    """
    involved = facts.value("palliative_care_involved")
    long_plausible = facts.value("long_survival_or_cure_plausible")
    beyond_12 = at.survival_gt(facts, at.LONG_SURVIVAL_MONTHS).value
    if involved is True or long_plausible is True or beyond_12 is True:
        return None
    names = ("palliative_care_involved", "long_survival_or_cure_plausible", "expected_survival_months")
    months = f"{at.LONG_SURVIVAL_MONTHS:g}"
    trace = (
        tr(f"Betrokkenheid palliatieve zorg vastgelegd? → {'nee' if involved is False else 'niet vastgelegd'}",
           f"Palliative care involvement recorded? → {'no' if involved is False else 'not recorded'}"),
        tr(f"Lange overleving of curatie aannemelijk? → {'nee' if long_plausible is False else 'niet vastgelegd'}",
           f"Long survival or cure plausible? → {'no' if long_plausible is False else 'not recorded'}"),
        tr(f"Verwachte overleving > {months.replace('.', ',')} maanden? → "
           f"{'nee' if beyond_12 is False else 'onbekend'}",
           f"Expected survival > {months} months? → {'no' if beyond_12 is False else 'unknown'}"),
    )
    return Finding(
        rule_id=PALLIATIVE,
        facts_used=tuple(n for n in names if facts.known(n)),
        facts_missing=tuple(n for n in names if not facts.known(n)),
        trace=trace,
        suggestions=(SuggestionSpec("start-palliative-care", (ActionSpec("create", "palliative-care"),)),),
    )
