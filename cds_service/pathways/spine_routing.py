"""Red flags and routing for established spinal metastases (catalog 3a; seed 004, FMS 2026).

The 004 chart, node by node (names used in ``Finding.trace``):

- R: red flags (separate box) — new neurological deficit incl. bladder/bowel function;
  MESCC grade 3 / Bilsky 2–3 / cord or cauda compression / absolute canal stenosis by
  tumour; SINS > 12 → consult the executing centre: immediately with neurological deficit
  (incl. radicular), as soon as possible without.
- A1: very short life expectancy (≤ 2 weeks) or no treatment wish → radiation oncologist;
  the routing below then does not apply (red flags still do).
- A2: radiological cord/cauda compression (MESCC) → the red-flag consult above.
- A3: pain on loading (evaluation of spinal stability) — read together with a recorded
  instability and 002's local protocol "SINS ≥ 7 always a spine-surgeon consult" → spine surgeon.
- A4: pain → radiation oncologist and/or pain specialist and/or oncology and/or
  interventional radiologist.
- A5: asymptomatic: risk of a skeletal-related event? yes → radiation oncologist;
  no → no local treatment, monitoring by the organ specialist or GP.
- T: the plan is made in a team (organ specialist, radiation oncologist, neurologist
  with deficit, spine surgeon).

Each function returns a small state (three-valued) so the orchestrator in
:mod:`cds_service.pathways.spine` can apply the chart's precedence.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from cds_service.facts.model import Facts
from cds_service.pathways.common import value_nl
from cds_service.pathways.model import ActionSpec, Finding, LocalizedText, SuggestionSpec, Text, text_in, tr
from cds_service.pathways.sins import SinsScore
from cds_service.pathways.spine_picture import TWO_WEEKS, Mescc, Survival, Symptoms, Wish, words

RED_FLAG = "SM-RED-FLAG"
SHORT_LIFE = "SM-SHORT-LIFE"
SPINE_SURGEON = "SM-SPINE-SURGEON"
PAIN = "SM-PAIN"
ASYMPTOMATIC_SRE = "SM-ASYMPTOMATIC-SRE"
TEAM = "SM-TEAM"

WISH_NOTE = "treatment-wish-assumed"


def _wish_notes(wish: Wish) -> tuple[str, ...]:
    return (WISH_NOTE,) if wish.assumed else ()


def _refer(label: str, kind: str, **params: object) -> SuggestionSpec:
    return SuggestionSpec(label_key=label, actions=(ActionSpec(type="create", resource_kind=kind, params=params),))


# -- red flags -----------------------------------------------------------------------


@dataclass(frozen=True)
class RedFlag:
    present: bool | None
    deficit: bool
    trace: tuple[Text, ...]
    used: tuple[str, ...]
    missing: tuple[str, ...]


def red_flag(facts: Facts, sym: Symptoms, compression: Mescc, sins: SinsScore) -> RedFlag:
    """The 004 red-flag box: any flag present → True; none present but one unknown → None."""
    trace: list[Text] = []
    used: list[str] = []
    if sym.deficit:
        trace.append(tr(f"R1: nieuwe neurologische uitval vastgelegd ({words(sym.deficit_facts, 'nl')})",
                        f"R1: new neurological deficit recorded ({words(sym.deficit_facts)})"))
        used += sym.deficit_facts
    grade = facts.value("escc_grade")
    if compression.present:
        bilsky = f" (Bilsky {grade})" if grade is not None else ""
        trace.append(tr(f"R2: myelum-/caudacompressie: MESCC {value_nl(compression.status)}{bilsky}",
                        f"R2: cord/cauda compression: MESCC {compression.status}{bilsky}"))
        used += compression.used
    elif grade in ("2", "3"):  # a recorded MESCC "none" contradicting a high Bilsky grade: the grade is a flag
        trace.append(tr(f"R2: Bilsky-graad {grade} (hooggradige epidurale compressie)",
                        f"R2: Bilsky grade {grade} (high-grade epidural compression)"))
        used.append("escc_grade")
    over_12 = sins.gt(12)
    if over_12:
        trace.append(f"R3: SINS {sins.total if sins.known else f'≥ {sins.low}'} > 12")  # the same in nl and en
        used += sins.used
    if trace:
        return RedFlag(True, sym.deficit, tuple(trace), tuple(dict.fromkeys(used)), ())
    missing: list[str] = []
    if compression.status is None:
        missing.append("mescc")
    if over_12 is None:
        missing.append("sins_total")
    used += compression.used + sins.used
    if missing:
        unknown_nl = words(missing, "nl").replace(", ", " en ")
        return RedFlag(None, False, (tr(f"R: geen rode vlag vastgelegd, maar {unknown_nl} "
                                        "onbekend — een rode vlag (MESCC, SINS > 12) is niet uit te sluiten",
                                        f"R: no red flag recorded, but {words(missing).replace(', ', ' and ')} "
                                        "unknown — a red flag (MESCC, SINS > 12) cannot be excluded"),),
                       tuple(used), tuple(missing))
    return RedFlag(False, False, (tr("R: geen rode vlag (geen uitval, geen myelum-/caudacompressie, SINS ≤ 12)",
                                     "R: no red flag (no deficit, no cord/cauda compression, SINS ≤ 12)"),),
                   tuple(dict.fromkeys(used)), ())


def _flags_fired(trace: tuple[Text, ...]) -> LocalizedText:
    """The red flags that fired, for the card ("nieuwe neurologische uitval …; SINS 13 > 12"), without step codes."""
    def line(text: Text, language: str) -> str:
        return re.sub(r"^[A-Z]\d*: ", "", text_in(text, language))
    return LocalizedText({lang: "; ".join(line(t, lang) for t in trace) for lang in ("nl", "en")})


def red_flag_finding(flag: RedFlag, sym: Symptoms) -> Finding:
    immediately = flag.deficit
    step = (tr("R4: neurologische uitval (inclusief radiculaire uitval) → overleg direct met het uitvoerend centrum",
               "R4: neurological deficit (incl. radicular) → consult the executing centre immediately")
            if immediately else
            tr("R4: geen neurologische uitval → overleg zo snel mogelijk met het uitvoerend centrum",
               "R4: no neurological deficit → consult the executing centre as soon as possible"))
    return Finding(
        rule_id=RED_FLAG,
        facts_used=flag.used,
        trace=(*flag.trace, step),
        indicator="critical",
        variant="immediately" if immediately else "asap",
        notes=("reading-red-flag",),
        params={"flags": _flags_fired(flag.trace)},
        suggestions=(_refer("consult-executing-centre", "referral-executing-centre",
                            priority="stat" if immediately else "asap"),),
    )


# -- A1: very short life expectancy or no treatment wish -------------------------------


@dataclass(frozen=True)
class ShortLife:
    applies: bool | None
    finding: Finding | None
    missing: tuple[str, ...] = ()
    trace: tuple[Text, ...] = ()


def short_life(wish: Wish, surv: Survival) -> ShortLife:
    if not wish.present:
        return ShortLife(True, Finding(
            rule_id=SHORT_LIFE,
            facts_used=("treatment_wish",),
            trace=(tr("A1: geen behandelwens (vastgelegd) → verwijs naar of overleg met de radiotherapeut; "
                      "de verdere verwijsroute is niet van toepassing",
                      "A1: no treatment wish recorded → refer to / consult the radiation oncologist; "
                      "the further routing does not apply"),),
            variant="no-wish",
            notes=("reading-short-life",),
            suggestions=(_refer("refer-radiation-oncologist", "referral-radiation-oncology"),),
        ))
    very_short = surv.le(TWO_WEEKS)
    if very_short:
        return ShortLife(True, Finding(
            rule_id=SHORT_LIFE,
            facts_used=("expected_survival_months", "treatment_wish"),
            trace=(tr("A1: levensverwachting ≤ 2 weken → verwijs naar of overleg met de radiotherapeut "
                      "(symptoombestrijding); de verdere verwijsroute is niet van toepassing",
                      "A1: life expectancy ≤ 2 weeks → refer to / consult the radiation oncologist (symptom relief); "
                      "the further routing does not apply"),),
            notes=("reading-short-life", *_wish_notes(wish)),
            suggestions=(_refer("refer-radiation-oncologist", "referral-radiation-oncology"),),
        ))
    if very_short is None:
        return ShortLife(None, None, ("expected_survival_months",),
                         (tr("A1: levensverwachting onbekend — of deze ≤ 2 weken is, bepaalt de verwijsroute "
                             "(eerst de radiotherapeut, of de verdere verwijsroute)",
                             "A1: life expectancy unknown — whether it is ≤ 2 weeks decides the routing "
                             "(radiation oncologist first, or the further routing)"),))
    return ShortLife(False, None, (), (tr("A1: levensverwachting > 2 weken en behandelwens "
                                          + ("aangenomen" if wish.assumed else "vastgelegd")
                                          + " → verdere verwijsroute",
                                          "A1: life expectancy > 2 weeks and treatment wish "
                                          + ("assumed" if wish.assumed else "recorded") + " → further routing"),))


# -- A3: possible instability → spine surgeon -----------------------------------------


@dataclass(frozen=True)
class Instability:
    possible: bool | None
    trace: tuple[Text, ...]
    used: tuple[str, ...]
    missing: tuple[str, ...]
    by_sins: bool = False


def instability(facts: Facts, sym: Symptoms, sins: SinsScore) -> Instability:
    trace: list[Text] = []
    used: list[str] = []
    if sym.mechanical_pain:
        trace.append(tr("A3: pijn bij belasten (mechanische pijn) → mogelijke instabiliteit",
                        "A3: pain on loading (mechanical pain) → possible instability"))
        used.append("mechanical_pain")
    if facts.value("spinal_instability") is True:
        trace.append(tr("A3: instabiliteit van de wervelkolom vastgelegd", "A3: spinal instability recorded"))
        used.append("spinal_instability")
    seven = sins.ge(7)
    if seven:
        label = sins.total if sins.known else f"≥ {sins.low}"
        unstable = bool(sins.ge(13))
        trace.append(tr(f"A3: SINS {label} ≥ 7 ({'instabiel' if unstable else 'potentieel instabiel'}); "
                        "lokaal protocol (002): bij SINS ≥ 7 altijd een consult wervelkolomchirurg",
                        f"A3: SINS {label} ≥ 7 ({'unstable' if unstable else 'potentially unstable'}); "
                        "002 local protocol: SINS ≥ 7 always a spine-surgeon consult"))
        used += sins.used
    if trace:
        return Instability(True, tuple(trace), tuple(dict.fromkeys(used)), (), by_sins=bool(seven))
    if seven is None:
        return Instability(None, (tr("A3: geen pijn bij belasten of instabiliteit vastgelegd; SINS onbekend — "
                                     "bij SINS ≥ 7 is een wervelkolomchirurg aangewezen",
                                     "A3: no pain on loading or instability recorded; SINS unknown — "
                                     "SINS ≥ 7 would call for a spine surgeon"),),
                           ("mechanical_pain", "spinal_instability"), ("sins_total",))
    return Instability(False, (tr(f"A3: geen pijn bij belasten, geen instabiliteit vastgelegd, SINS {sins.total} < 7",
                                  f"A3: no pain on loading, no instability recorded, SINS {sins.total} < 7"),),
                       ("mechanical_pain", "spinal_instability", *sins.used), ())


def spine_surgeon_finding(state: Instability, sins: SinsScore, wish: Wish) -> Finding:
    return Finding(
        rule_id=SPINE_SURGEON,
        facts_used=state.used,
        trace=(*state.trace, tr("A3: → verwijs naar of overleg met een wervelkolomchirurg",
                                "A3: → refer to / consult a spine surgeon")),
        notes=(*(("sins-local-protocol",) if state.by_sins else ()), "reading-stability", *_wish_notes(wish)),
        params={"sins": sins.total if sins.known else None},
        suggestions=(_refer("refer-spine-surgeon", "referral-spine-surgeon"),),
    )


# -- A4: pain ------------------------------------------------------------------------------


def pain_finding(sym: Symptoms, flag: RedFlag, wish: Wish) -> Finding:
    return Finding(
        rule_id=PAIN,
        facts_used=(*sym.pain_facts, *flag.used),
        trace=(*flag.trace, tr(f"A4: pijn door de wervelmetastasen ({words(sym.pain_facts, 'nl')}) en geen rode vlag "
                               "→ radiotherapeut en/of pijnspecialist en/of oncologie en/of interventieradioloog",
                               f"A4: pain from the spinal metastases ({words(sym.pain_facts)}) and no red flag "
                               "→ radiation oncologist and/or pain specialist and/or oncology and/or interventional "
                               "radiologist")),
        notes=_wish_notes(wish),
        suggestions=(
            _refer("refer-radiation-oncologist", "referral-radiation-oncology"),
            _refer("refer-pain-specialist", "referral-pain-specialist"),
            _refer("refer-medical-oncology", "referral-medical-oncology"),
            _refer("refer-interventional-radiology", "referral-interventional-radiology"),
        ),
        selection_behavior="any",  # "and/or": the referrals combine
    )


# -- A5: asymptomatic -------------------------------------------------------------------


def asymptomatic_finding(facts: Facts, sym: Symptoms, flag: RedFlag, state: Instability, wish: Wish) -> Finding:
    """A5, for a known SRE risk. The "no risk" branch (no local treatment needed) is only reached when
    A3 found no possible instability; the caller checks that."""
    risk = facts.value("sre_risk") is True
    notes = ("no-symptoms-recorded",) if sym.assumed else ()
    step_nl = "A5: asymptomatisch" + (" (geen symptomen vastgelegd)" if sym.assumed else "")
    step = "A5: asymptomatic" + (" (no symptoms recorded)" if sym.assumed else "")
    if risk:
        return Finding(
            rule_id=ASYMPTOMATIC_SRE,
            facts_used=("sre_risk", *flag.used),
            trace=(*flag.trace, tr(step_nl + ", risico op een skeletgerelateerde complicatie (SRE) → verwijs naar of "
                                   "overleg met de radiotherapeut",
                                   step + ", risk of a skeletal-related event → refer to / consult the radiation "
                                   "oncologist")),
            variant="risk",
            notes=(*notes, *_wish_notes(wish)),
            suggestions=(_refer("refer-radiation-oncologist", "referral-radiation-oncology"),),
        )
    return Finding(
        rule_id=ASYMPTOMATIC_SRE,
        facts_used=tuple(dict.fromkeys(("sre_risk", *flag.used, *state.used))),
        trace=(*flag.trace, *state.trace,
               tr(step_nl + ", geen SRE-risico → geen lokale behandeling nodig; monitoring door de orgaanspecialist "
                  "of huisarts",
                  step + ", no SRE risk → no local treatment; monitoring by the organ specialist or GP")),
        variant="no-risk",
        notes=notes,
    )


# -- T: the team ------------------------------------------------------------------------------


def team_finding(sym: Symptoms) -> Finding:
    return Finding(
        rule_id=TEAM,
        facts_used=sym.deficit_facts,
        trace=(tr("T: het behandelplan voor wervelmetastasen wordt in een team opgesteld"
                  + (" — met een neuroloog, omdat neurologische uitval is vastgelegd" if sym.deficit else ""),
                  "T: a plan for spinal metastases is made in a team"
                  + (" — with a neurologist, as a neurological deficit is recorded" if sym.deficit else "")),),
        variant="with-neurologist" if sym.deficit else None,
    )
