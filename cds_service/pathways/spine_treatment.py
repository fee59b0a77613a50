"""Corticosteroids, biopsy, timelines and treatment choice (catalog 3c and 3d; seeds 003, 002).

Nodes of the 003 charts (names used in ``Finding.trace``):

- C: corticosteroids — clinical MESCC / neurological deficit: start dexamethasone now (10 mg
  IV bolus, then 8–16 mg orally once daily, optionally with a proton-pump inhibitor, taper
  fully within 1–2 weeks); primary tumour unknown or uncertain: wait until after the biopsy
  when the clinical state allows. Asymptomatic: no corticosteroids.
- B: biopsy — primary unknown, or known primary with imaging equivocal for spinal
  metastases: (PET-)CT thorax/abdomen and a biopsy of the most accessible site within 1 day
  with clinical compression (consider direct surgery with progressive deficit), within
  1 week without.
- L: maximum time to start therapy after the definitive diagnosis — clinical MESCC 24 h
  (onset ≤ 7 days) / 72 h (> 7 days), radiological MESCC only 7 days, symptoms without
  MESCC 14 days.
- D: treatment choice — symptomatic: irreversible complete transverse lesion without severe
  pain → no local treatment; life expectancy < 3 months: RT (1 × 8 Gy) when a response is
  expected, else no local treatment; > 3 months: surgery criteria (002/003), otherwise RT
  with the schedule of the radiotherapy chart. Asymptomatic: neurological deficit expected
  on short term? no → no local treatment.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from cds_service.facts.model import Facts
from cds_service.pathways.common import primary_tumour_nl, value_nl
from cds_service.pathways.model import (
    ActionSpec,
    EvalContext,
    Finding,
    SuggestionSpec,
    Text,
    le,
    tr,
    tri_and,
    tri_or,
)
from cds_service.pathways.sins import SinsScore
from cds_service.pathways.spine_picture import (
    Mescc,
    Survival,
    Symptoms,
    Wish,
    aware,
    deficit_progressive,
    mescc_timing,
    timing,
    words,
)

DEXAMETHASONE = "SM-DEXAMETHASONE"
BIOPSY = "SM-BIOPSY"
TIMELINE = "SM-TREATMENT-TIMELINE"
SURGERY = "SM-SURGERY"
RT_SCHEDULE = "SM-RT-SCHEDULE"
NO_LOCAL_TX = "SM-NO-LOCAL-TX"

WISH_NOTE = "treatment-wish-assumed"


def _wish_notes(wish: Wish) -> tuple[str, ...]:
    return (WISH_NOTE,) if wish.assumed else ()


def _create(label: str, kind: str, recommended: bool | None = None, **params: object) -> SuggestionSpec:
    return SuggestionSpec(label_key=label, is_recommended=recommended,
                          actions=(ActionSpec(type="create", resource_kind=kind, params=params),))


# -- C: corticosteroids ----------------------------------------------------------------------


def dexamethasone(facts: Facts, sym: Symptoms, compression: Mescc) -> Finding | None:
    """SM-DEXAMETHASONE when signs of cord/cauda compression (clinical MESCC), and no active dexamethasone.

    003 (catalog §3c): *start now* only for clinical MESCC — motor deficit, sensory level, (in)complete
    transverse lesion, bladder/bowel dysfunction (and a bilateral radicular deficit, read as cauda compression as in
    :func:`clinical_compression`). A one-sided radicular deficit alone, or a suspicion whose compression is
    unknown, is not clinical MESCC: there the MRI card says "determine the indication for corticosteroids".
    """
    clinical = compression.status == "clinical"
    one_sided = facts.value("radicular_deficit") != "bilateral"  # bilateral: cauda compression (as in biopsy)
    cord_signs = tuple(name for name in sym.deficit_facts if not (name == "radicular_deficit" and one_sided))
    if not (clinical or cord_signs):
        return None
    active = facts.value("dexamethasone_active")
    if active is True:
        return None
    used = tuple(dict.fromkeys((*cord_signs, *(compression.used if clinical else ()), "dexamethasone_active",
                                "primary_tumour")))
    primary = facts.value("primary_tumour")
    missing = tuple(name for name, value in (("dexamethasone_active", active), ("primary_tumour", primary))
                    if value is None)
    reason_nl = "klinische MESCC" if clinical else f"tekenen van myelum-/caudacompressie ({words(cord_signs, 'nl')})"
    reason = "clinical MESCC" if clinical else f"signs of cord/cauda compression ({words(cord_signs)})"
    trace: list[Text] = [tr(f"C1: {reason_nl} door wervelmetastasen"
                            + (", geen actieve dexamethason" if active is False else
                               ", gebruik van dexamethason onbekend"),
                            f"C1: {reason} from spinal metastases"
                            + (", no active dexamethasone" if active is False else ", dexamethasone use unknown"))]
    unknown_primary = primary in ("unknown", None)
    if unknown_primary:
        trace.append(tr("C2: primaire tumor " + ("onbekend" if primary == "unknown" else "niet vastgelegd (onzeker)")
                        + " → wacht met corticosteroïden tot na het biopt, indien de kliniek het toelaat",
                        "C2: primary tumour " + ("unknown" if primary == "unknown" else "not recorded (uncertain)")
                        + " → wait with corticosteroids until after the biopsy when the clinical state allows"))
    else:
        trace.append(tr(f"C2: primaire tumor bekend ({primary_tumour_nl(primary)}) → start direct dexamethason",
                        f"C2: primary tumour known ({primary}) → start dexamethasone now"))
    notes = ["scheme"]
    if active is None:
        notes.append("dexamethasone-unknown")
    return Finding(
        rule_id=DEXAMETHASONE,
        facts_used=used,
        facts_missing=missing,
        trace=tuple(trace),
        variant="unknown-primary" if unknown_primary else None,
        notes=tuple(notes),
        # Whether the patient is already on dexamethasone is unknown (an unreadable medication order, a list
        # that could not be fetched): no one-click start — the patient may already be on a high dose.
        suggestions=() if active is None else (
            _create("start-dexamethasone", "dexamethasone", recommended=not unknown_primary),),
    )


# -- B: biopsy and staging --------------------------------------------------------------------


def clinical_compression(facts: Facts, compression: Mescc) -> bool:
    """Clinical cord/cauda compression: clinical MESCC, a transverse lesion or a bilateral radicular deficit."""
    return (compression.status == "clinical"
            or facts.value("transverse_lesion") in ("complete", "incomplete")
            or facts.value("radicular_deficit") == "bilateral")


def biopsy(facts: Facts, compression: Mescc, ctx: EvalContext) -> tuple[Finding | None, tuple[str, ...]]:
    """SM-BIOPSY, or the facts that were missing to decide it."""
    primary = facts.value("primary_tumour")
    if primary is None:
        return None, ("primary_tumour",)
    if primary == "unknown":
        why = tr("B1: primaire tumor onbekend", "B1: primary tumour unknown")
        used = ["primary_tumour"]
    elif facts.value("spinal_imaging_equivocal") is True:
        why = tr(f"B1: bekende primaire tumor ({primary_tumour_nl(primary)}), maar beeldvorming niet eenduidig passend "
                 "bij wervelmetastasen",
                 f"B1: known primary ({primary}) but imaging equivocal for spinal metastases")
        used = ["primary_tumour", "spinal_imaging_equivocal"]
    else:
        return None, ()
    urgent = clinical_compression(facts, compression)
    window = timedelta(days=1) if urgent else timedelta(weeks=1)
    imaged = aware(facts.value("spine_imaging_date"))
    deadline = imaged + window if imaged else None
    passed = deadline is not None and deadline <= ctx.now
    progressive = deficit_progressive(facts) is True
    used += ["transverse_lesion", "radicular_deficit", *compression.used, "spine_imaging_date"]
    trace: list[Text] = [
        why,
        (tr("B2: kliniek van myelum-/caudacompressie → (PET-)CT thorax/abdomen en biopt van de meest toegankelijke "
            "plek binnen 1 dag",
            "B2: clinical cord/cauda compression → (PET-)CT thorax/abdomen and biopsy of the most accessible site "
            "within 1 day") if urgent else
         tr("B2: geen kliniek van myelum-/caudacompressie → (PET-)CT thorax/abdomen en biopt binnen 1 week",
            "B2: no clinical cord/cauda compression → (PET-)CT thorax/abdomen and biopsy within 1 week")),
        (tr("B3: gerekend vanaf de beeldvorming van de wervelkolom", "B3: counted from the spine imaging")
         if imaged else
         tr("B3: geen datum van beeldvorming van de wervelkolom vastgelegd: de termijn start na de beeldvorming",
            "B3: no spine imaging date recorded: the window starts after imaging")),
    ]
    notes = []
    if urgent and progressive:
        notes.append("direct-surgery")
        used.append("deficit_progressive")
        trace.append(tr("B4: progressieve uitval door compressie → overweeg directe operatie",
                        "B4: progressive deficit from compression → consider direct surgery"))
    notes += ["corticosteroids-wait", "ct-vertebrae"]
    variant = ("urgent" if urgent else "week") + ("" if deadline else "-nodate")
    return Finding(
        rule_id=BIOPSY,
        facts_used=tuple(dict.fromkeys(used)),
        trace=tuple(trace),
        indicator="critical" if passed else "warning",
        variant=variant,
        notes=tuple(notes),
        params={"deadline": deadline},
        suggestions=(
            _create("order-staging-ct", "ct-thorax-abdomen", priority="asap" if urgent else "urgent",
                    **({"occurrence_before": deadline} if deadline else {})),
            _create("order-biopsy", "biopsy", priority="asap" if urgent else "urgent",
                    **({"occurrence_before": deadline} if deadline else {})),
        ),
    ), ()


# -- D: the treatment choice -------------------------------------------------------------------


@dataclass(frozen=True)
class Decision:
    """Where the 003 treatment chart ends for this patient."""

    local: bool | None  # local treatment (RT and/or surgery) indicated; None = undecided
    rt: bool = False  # radiotherapy indicated (symptomatic, treated locally)
    no_local: str | None = None  # variant of SM-NO-LOCAL-TX
    trace: tuple[Text, ...] = ()
    used: tuple[str, ...] = ()
    missing: tuple[str, ...] = ()


def irreversible_complete_lesion(facts: Facts) -> bool | None:
    if facts.value("transverse_lesion") != "complete":
        return False
    return facts.value("transverse_lesion_irreversible")


def decide(facts: Facts, sym: Symptoms, surv: Survival, quiet: bool | None) -> Decision:
    """Follow the 003 treatment chart as far as the facts allow.

    ``quiet``: the 004 chart ends for this asymptomatic patient in "no local treatment needed"
    (no red flag, no possible instability, no SRE risk). The asymptomatic "no local treatment"
    of 003 is only given when 004 agrees — a reassuring card needs every fact on its path
    known, and a red flag, instability or SRE risk leads to a referral instead.
    """
    if not sym.symptomatic:
        expected = facts.value("neuro_deficit_expected_soon")
        step_nl = "D1: asymptomatisch" + (" (geen symptomen vastgelegd)" if sym.assumed else "")
        step = "D1: asymptomatic" + (" (no symptoms recorded)" if sym.assumed else "")
        if expected is None:
            return Decision(None, trace=(tr(step_nl + "; onbekend of neurologische uitval op korte termijn te "
                                            "verwachten is",
                                            step + "; whether a neurological deficit is expected on short term is "
                                            "unknown"),), missing=("neuro_deficit_expected_soon",))
        if expected:
            return Decision(True, trace=(tr(step_nl + "; neurologische uitval op korte termijn te verwachten → lokale "
                                            "behandeling",
                                            step + "; neurological deficit expected on short term → local treatment"),),
                            used=("neuro_deficit_expected_soon",))
        if quiet is not True:
            return Decision(None, trace=(tr(step_nl + "; geen uitval te verwachten, maar een rode vlag, mogelijke "
                                            "instabiliteit of SRE-risico is aanwezig of niet uitgesloten → geen advies "
                                            "'geen lokale behandeling'",
                                            step + "; no deficit expected, but a red flag, possible instability or SRE "
                                            "risk is present or not excluded → no 'no local treatment'"),),
                            used=("neuro_deficit_expected_soon",))
        return Decision(False, no_local="asymptomatic",
                        used=("neuro_deficit_expected_soon", "sre_risk"),
                        trace=(tr(step_nl + "; geen rode vlag, geen instabiliteit, geen SRE-risico, geen neurologische "
                                  "uitval op korte termijn te verwachten → geen lokale behandeling",
                                  step + "; no red flag, no instability, no SRE risk, no neurological deficit expected "
                                  "on short term → no local treatment"),))
    trace: list[Text] = [tr(f"D1: symptomatisch ({words(sym.present_facts, 'nl')})",
                            f"D1: symptomatic ({words(sym.present_facts)})")]
    used = list(sym.present_facts)
    irreversible = irreversible_complete_lesion(facts)
    if irreversible is None:
        return Decision(None, trace=(*trace, tr("D2: complete dwarslaesie; onbekend of deze irreversibel is",
                                                "D2: complete transverse lesion; whether it is irreversible is "
                                                "unknown")),
                        used=tuple(used), missing=("transverse_lesion_irreversible",))
    if irreversible:
        used += ["transverse_lesion_irreversible", "pain_severity"]
        severity = facts.value("pain_severity")
        if severity is None:
            return Decision(None, trace=(*trace, tr("D2: irreversibele complete dwarslaesie; ernst van de pijn "
                                                    "onbekend",
                                                    "D2: irreversible complete transverse lesion; pain severity "
                                                    "unknown")),
                            used=tuple(used), missing=("pain_severity",))
        if severity != "severe":
            return Decision(False, no_local="irreversible-lesion", used=tuple(used),
                            trace=(*trace, tr(f"D2: irreversibele complete dwarslaesie, pijn {value_nl(severity)} → "
                                              "geen lokale behandeling",
                                              f"D2: irreversible complete transverse lesion, pain {severity} → "
                                              "no local treatment")))
        trace.append(tr("D2: irreversibele complete dwarslaesie met hevige pijn → behandel de pijn",
                        "D2: irreversible complete transverse lesion with severe pain → treat the pain"))
    used.append("expected_survival_months")
    short = surv.lt(3)
    if short is None:
        return Decision(None, trace=(*trace, tr("D3: levensverwachting onbekend", "D3: life expectancy unknown")),
                        used=tuple(used), missing=("expected_survival_months",))
    if short:
        used.append("rt_response_expected")
        response = facts.value("rt_response_expected")
        if response is None:
            return Decision(None, trace=(*trace, tr("D3: levensverwachting < 3 maanden; kans op respons op "
                                                    "radiotherapie onbekend",
                                                    "D3: life expectancy < 3 months; chance of a response to RT "
                                                    "unknown")),
                            used=tuple(used), missing=("rt_response_expected",))
        if not response:
            return Decision(False, no_local="short-life-no-response", used=tuple(used),
                            trace=(*trace, tr("D3: levensverwachting < 3 maanden, geen kans op respons op "
                                              "radiotherapie → geen lokale behandeling",
                                              "D3: life expectancy < 3 months, no chance of a response to RT → "
                                              "no local treatment")))
        return Decision(True, rt=True, used=tuple(used),
                        trace=(*trace, tr("D3: levensverwachting < 3 maanden, respons op radiotherapie verwacht → "
                                          "radiotherapie",
                                          "D3: life expectancy < 3 months, response to RT expected → radiotherapy")))
    return Decision(True, rt=True, used=tuple(used),
                    trace=(*trace, tr("D3: levensverwachting ≥ 3 maanden → criteria voor chirurgie, anders "
                                      "radiotherapie",
                                      "D3: life expectancy ≥ 3 months → surgery criteria, otherwise radiotherapy")))


def no_local_finding(decision: Decision, sym: Symptoms, extra_used: tuple[str, ...] = ()) -> Finding:
    """SM-NO-LOCAL-TX; ``extra_used`` names the 004 facts that made the asymptomatic branch quiet."""
    asymptomatic = decision.no_local == "asymptomatic"
    notes = ("no-symptoms-recorded",) if asymptomatic and sym.assumed else ()
    used = decision.used + (extra_used if asymptomatic else ())
    return Finding(rule_id=NO_LOCAL_TX, facts_used=tuple(dict.fromkeys(used)), trace=decision.trace,
                   variant=decision.no_local, notes=notes)


# -- D: surgery --------------------------------------------------------------------------------


@dataclass(frozen=True)
class SurgeryState:
    finding: Finding | None
    missing: tuple[str, ...] = ()


def surgery(facts: Facts, sym: Symptoms, surv: Survival, sins: SinsScore, wish: Wish) -> SurgeryState:
    """SM-SURGERY: life expectancy > 3 months and (progressive deficit from compression, ≤ 3 contiguous
    vertebrae, surgery possible < 24 h, condition allows it) or an unstable spine; not for radiosensitive
    tumours; combined surgery + RT only with life expectancy > 6 months."""
    over3 = surv.gt(3)
    if over3 is None:
        return SurgeryState(None, ("expected_survival_months",))
    if not over3:
        return SurgeryState(None)
    radiosensitive = facts.value("radiosensitive_tumour")
    if radiosensitive is True:
        return SurgeryState(None)
    progressive = deficit_progressive(facts)
    levels = le(facts.value("compression_levels"), 3)
    in_24h = facts.value("surgery_possible_24h")
    condition = facts.value("condition_allows_surgery")
    compression_route = tri_and(progressive, levels, in_24h, condition)
    recorded_unstable = facts.value("spinal_instability") is True
    unstable = tri_or(recorded_unstable, sins.ge(13))
    decided = tri_or(compression_route, unstable)
    if decided is None:
        missing = []
        if compression_route is None:
            missing += [name for name, value in (("deficit_progressive", progressive),
                                                  ("compression_levels", levels),
                                                  ("surgery_possible_24h", in_24h),
                                                  ("condition_allows_surgery", condition)) if value is None]
        if unstable is None:
            missing.append("sins_total")
        return SurgeryState(None, tuple(missing))
    if not decided:
        return SurgeryState(None)
    trace: list[Text] = [tr("D4: levensverwachting > 3 maanden", "D4: life expectancy > 3 months")]
    used = ["expected_survival_months", "radiosensitive_tumour"]
    if compression_route:
        trace.append(tr("D5: progressieve neurologische uitval door compressie, ≤ 3 aaneengesloten wervels, operatie "
                        "mogelijk binnen 24 uur, conditie laat operatie toe",
                        "D5: progressive neurological deficit from compression, ≤ 3 contiguous vertebrae, surgery "
                        "possible within 24 h, condition allows surgery"))
        used += ["deficit_progressive", "compression_levels", "surgery_possible_24h", "condition_allows_surgery"]
    if unstable:
        score = f"SINS {sins.total if sins.known else f'≥ {sins.low}'} ≥ 13"
        trace.append(tr("D5: instabiele wervelkolom ("
                        + ("instabiliteit vastgelegd" if recorded_unstable else score) + ")",
                        "D5: unstable spine (" + ("instability recorded" if recorded_unstable else score) + ")"))
        used += ["spinal_instability", *sins.used]
    combined = surv.gt(6)
    trace.append(tr("D6: levensverwachting > 6 maanden → chirurgie gecombineerd met postoperatieve radiotherapie",
                    "D6: life expectancy > 6 months → surgery combined with post-operative radiotherapy")
                 if combined else
                 tr("D6: levensverwachting niet > 6 maanden → geen gecombineerde chirurgie + radiotherapie",
                    "D6: life expectancy not > 6 months → no combined surgery + radiotherapy"))
    missing = ("radiosensitive_tumour",) if radiosensitive is None else ()
    if radiosensitive is None:
        trace.append(tr("D7: niet vastgelegd of de tumor radiosensitief (hematologisch) is — chirurgie is niet bedoeld "
                        "voor radiosensitieve tumoren",
                        "D7: whether the tumour is radiosensitive (haematological) is not recorded — surgery is not "
                        "for radiosensitive tumours"))
    notes = ["radiosensitive-unknown"] if radiosensitive is None else []
    return SurgeryState(Finding(
        rule_id=SURGERY,
        facts_used=tuple(dict.fromkeys(used)),
        facts_missing=missing,
        trace=tuple(trace),
        variant="combined" if combined else "no-combined",
        notes=(*notes, *_wish_notes(wish)),
        suggestions=(SuggestionSpec(label_key="refer-spine-surgeon",
                                    actions=(ActionSpec(type="create", resource_kind="referral-spine-surgeon",
                                                        params={"priority": "asap"}),)),),
    ))


# -- D: radiotherapy schedule ------------------------------------------------------------------


def rt_schedule(facts: Facts, sym: Symptoms, surv: Survival, wish: Wish) -> Finding:
    """SM-RT-SCHEDULE: the schedule of the 003 radiotherapy chart (read with the national RT module)."""
    used = ["expected_survival_months"]
    missing: list[str] = []
    notes: list[str] = []
    trace: list[Text] = []
    recovery = facts.value("postop_neuro_recovery")
    oligo = facts.value("oligometastases")
    if recovery is not None:
        used += ["postop_neuro_recovery", "oligometastases"]
        long = surv.gt(12)
        if oligo and long:
            variant = "postop-oligo"
            trace.append(tr("P1: na chirurgie, oligometastasen en levensverwachting > 12 maanden → 10–13 × 3 Gy of "
                            "stereotactisch 1–5 fracties (18–35 Gy)",
                            "P1: after surgery, oligometastases and life expectancy > 12 months → 10–13 × 3 Gy or "
                            "stereotactic 1–5 fractions (18–35 Gy)"))
        else:
            variant = "postop"
            trace.append(tr("P1: na chirurgie → 5 × 4 Gy", "P1: after surgery → 5 × 4 Gy"))
            if oligo is None and long:
                missing.append("oligometastases")
                notes.append("oligo-unknown-postop")
        if recovery == "insufficient":
            notes.append("postop-asap")
            trace.append(tr("P2: onvoldoende neurologisch herstel na chirurgie → start radiotherapie zo snel mogelijk",
                            "P2: neurological recovery after surgery insufficient → start RT as soon as possible"))
        else:
            notes.append("postop-wait")
            trace.append(tr("P2: voldoende neurologisch herstel na chirurgie → start radiotherapie minimaal 3–4 weken "
                            "na chirurgie",
                            "P2: neurological recovery after surgery sufficient → start RT at least 3–4 weeks after "
                            "surgery"))
    elif surv.lt(3):
        variant = "lt3"
        trace.append(tr("P1: levensverwachting < 3 maanden → 1 × 8 Gy", "P1: life expectancy < 3 months → 1 × 8 Gy"))
    elif not sym.deficit:
        used.append("oligometastases")
        if oligo is True:
            variant = "no-deficit-oligo"
            trace.append(tr("P1: geen neurologische uitval, oligometastasen → 30–39 Gy in 10–13 fracties of "
                            "stereotactisch 18–35 Gy in 1–5 fracties (of 1 × 8 Gy)",
                            "P1: no neurological deficit, oligometastases → 30–39 Gy in 10–13 fractions or "
                            "stereotactic 18–35 Gy in 1–5 fractions (or 1 × 8 Gy)"))
        else:
            variant = "no-deficit"
            trace.append(tr("P1: geen neurologische uitval → 1 × 8 Gy", "P1: no neurological deficit → 1 × 8 Gy"))
            if oligo is None:
                missing.append("oligometastases")
                notes.append("oligo-unknown")
    else:
        condition = facts.value("patient_condition")
        used += list(sym.deficit_facts) + ["patient_condition"]
        if condition in ("poor", "moderate") or surv.lt(12):
            variant = "deficit-short"
            poor = condition in ("poor", "moderate")
            trace.append(tr("P1: neurologische uitval, "
                            + (f"conditie {value_nl(condition)}" if poor else "levensverwachting < 12 maanden")
                            + " → 1 × 8 Gy",
                            "P1: neurological deficit, "
                            + (f"condition {condition}" if poor else "life expectancy < 12 months") + " → 1 × 8 Gy"))
            if condition is None:
                notes.append("condition-did-not-matter")
        elif condition == "good" and surv.gt(12):
            variant = "deficit-long"
            trace.append(tr("P1: neurologische uitval, goede conditie en levensverwachting > 12 maanden → 30 Gy in "
                            "10 fracties",
                            "P1: neurological deficit, good condition and life expectancy > 12 months → 30 Gy in "
                            "10 fractions"))
        elif condition == "good" and surv.equals(12):
            variant = "deficit-boundary"
            trace.append(tr("P1: neurologische uitval, goede conditie, levensverwachting precies 12 maanden — tussen "
                            "de takken < 12 en > 12 maanden van het stroomschema: beide schema's getoond",
                            "P1: neurological deficit, good condition, life expectancy exactly 12 months — between the "
                            "chart's < 12 and > 12 months branches: both schedules shown"))
        else:
            variant = "deficit-undecided"
            missing.append("patient_condition")
            trace.append(tr("P1: neurologische uitval, levensverwachting ≥ 12 maanden, conditie onbekend → "
                            "1 × 8 Gy (slecht/matig) of 30 Gy in 10 fracties (goed)",
                            "P1: neurological deficit, life expectancy ≥ 12 months, condition unknown → "
                            "1 × 8 Gy (poor/moderate) or 30 Gy in 10 fractions (good)"))
    notes += ["pain-flare", "second-course"]
    return Finding(
        rule_id=RT_SCHEDULE,
        facts_used=tuple(dict.fromkeys(used)),
        facts_missing=tuple(missing),
        trace=tuple(trace),
        variant=variant,
        notes=(*notes, "reading-rt", *_wish_notes(wish)),
        suggestions=(_create("refer-radiation-oncologist", "referral-radiation-oncology"),),
    )


# -- L: maximum time to start therapy ---------------------------------------------------------------

TIMELINE_WINDOWS = {
    "clinical-recent": timedelta(hours=24),
    "clinical-late": timedelta(hours=72),
    "radiological": timedelta(days=7),
    "symptoms": timedelta(days=14),
}
RECENT_LIMIT = timedelta(days=7)  # "onset ≤ 7 days" vs "> 7 days"


@dataclass(frozen=True)
class TimelineState:
    finding: Finding | None
    missing: tuple[str, ...] = ()


def timeline(facts: Facts, sym: Symptoms, compression: Mescc, ctx: EvalContext, wish: Wish) -> TimelineState:
    """SM-TREATMENT-TIMELINE: the deadline to start therapy, counted from the definitive diagnosis.

    003 (catalog §3c): the clock runs from the definitive diagnosis only. When its date is not
    recorded the card gives the interval and says it runs from the definitive diagnosis; it never
    starts the clock at another moment (recording of the complaints, today).
    """
    if compression.status is None:
        return TimelineState(None, ("mescc",))
    missing: list[str] = []
    used = ["definitive_diagnosis_date", *compression.used]
    notes: list[str] = []
    trace: list[Text] = []
    if compression.status == "clinical":
        t = mescc_timing(facts)
        age = t.age(ctx.now)
        if age is None:
            key = "clinical-recent"
            missing.append("mescc_onset")
            notes.append("onset-unknown")
            trace.append(tr("L1: klinische MESCC, moment van ontstaan van de progressieve klachten onbekend → 24 uur "
                            "(de kortste termijn)",
                            "L1: clinical MESCC, onset of the progressive complaints unknown → 24 h (the shorter "
                            "window)"))
        elif age > RECENT_LIMIT:
            key = "clinical-late"
            trace.append(tr(f"L1: klinische MESCC, progressieve klachten gedurende {age.days} dagen (> 7 dagen) "
                            "→ 72 uur",
                            f"L1: clinical MESCC, progressive complaints for {age.days} days (> 7 days) → 72 h"))
        else:
            key = "clinical-recent"
            trace.append(tr("L1: klinische MESCC, progressieve klachten gedurende ≤ 7 dagen → 24 uur",
                            "L1: clinical MESCC, progressive complaints for ≤ 7 days → 24 h"))
        presented = t.start
    elif compression.status == "radiological":
        key = "radiological"
        presented = timing(facts["mescc"]).start if facts.known("mescc") else None
        trace.append(tr("L1: alleen radiologische MESCC → 7 dagen", "L1: radiological MESCC only → 7 days"))
    elif sym.symptomatic:
        key = "symptoms"
        starts = [s for s in (timing(facts[name]).start for name in sym.present_facts) if s is not None]
        presented = min(starts) if starts else None
        used += list(sym.present_facts)
        trace.append(tr("L1: symptomen zonder MESCC → 14 dagen", "L1: symptoms without MESCC → 14 days"))
    else:
        return TimelineState(None)  # asymptomatic without MESCC: no row
    diagnosis = aware(facts.value("definitive_diagnosis_date"))
    del presented  # the presentation picks the row (the interval), never the start of the clock
    deadline = diagnosis + TIMELINE_WINDOWS[key] if diagnosis else None
    if diagnosis is None:
        missing.append("definitive_diagnosis_date")
        trace.append(tr("L2: datum van de definitieve diagnose onbekend → alleen de termijn, gerekend vanaf de "
                        "definitieve diagnose",
                        "L2: date of the definitive diagnosis unknown → only the interval, counted from the "
                        "definitive diagnosis"))
    else:
        trace.append(tr("L2: gerekend vanaf de definitieve diagnose", "L2: counted from the definitive diagnosis"))
    passed = deadline is not None and deadline <= ctx.now
    return TimelineState(Finding(
        rule_id=TIMELINE,
        facts_used=tuple(dict.fromkeys(used)),
        facts_missing=tuple(missing),
        trace=tuple(trace),
        indicator="critical" if passed else "warning",
        variant=key + ("" if deadline else "-nodate"),
        notes=(*notes, *(("deadline-passed",) if passed else ()), *_wish_notes(wish)),
        params={"deadline": deadline, "diagnosis": diagnosis},
    ), tuple(missing))
