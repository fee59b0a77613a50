"""After treatment: post-operative policy, follow-up MRI and recurrence (000, 001, 002).

- ``BM-POSTOP-SRS`` / ``BM-POSTOP-WAITSCAN`` (000 "Totale resectie op postoperatieve
  beeldvorming?"): while the post-operative decision is open (a resection in the
  last :data:`POSTOP_DECISION_WINDOW`, no radiotherapy since);
- ``BM-FOLLOWUP-MRI`` (000 "Beeldvorming follow-up"): every 4 months in the first
  2 years after focal treatment, then every 6; on systemic therapy without focal
  treatment when the last MRI is older than 4 months; never after WBRT;
- ``BM-RECURRENCE-MDO`` (000 "Recidief hersenmetastase", 001 toelichting 2).
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from typing import Callable

from cds_service.facts.model import Facts, compare
from cds_service.pathways import brain_atoms as at
from cds_service.pathways.brain_triage import MDO_NEURO, Triage, wish_assumed
from cds_service.pathways.brain_walk import Atom, Walk
from cds_service.pathways.model import ActionSpec, Finding, SuggestionSpec, tr

POSTOP_SRS = "BM-POSTOP-SRS"
POSTOP_WAITSCAN = "BM-POSTOP-WAITSCAN"
FOLLOWUP_MRI = "BM-FOLLOWUP-MRI"
RECURRENCE_MDO = "BM-RECURRENCE-MDO"

POSTOP_TUMOUR_MM = 25  # 000: "Tumorgrootte ≥ 2,5 cm"
POSTOP_DECISION_WINDOW = timedelta(days=183)  # reading: the post-operative choice is made in the first months
FOCAL_INTERVAL_MONTHS = 4  # first two years after SRS / resection
FOCAL_LATE_INTERVAL_MONTHS = 6  # after two years
FOCAL_EARLY_PERIOD_MONTHS = 24
SYSTEMIC_INTERVAL_MONTHS = 4  # upper bound of "om de 2-4 maanden"
RADIOTHERAPY = ("srs", "srt", "wbrt")


def as_datetime(value: datetime | date | None) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value if value is None or value.tzinfo else value.replace(tzinfo=timezone.utc)
    return datetime.combine(value, time(0, 0), tzinfo=timezone.utc)


def _day(value: datetime | None) -> str:
    return value.date().isoformat() if value else "?"


# -- after resection -------------------------------------------------------------------------------

POSTOP_STEP = tr("Postoperatief (000)", "Post-op (000)")
FOLLOWUP_STEP = tr("Follow-up (000)", "Follow-up (000)")


def _resection_date(facts: Facts) -> datetime | None:
    fact = facts["resection_done"]
    recorded = as_datetime(fact.attrs.get("date")) if fact.attrs else None
    if recorded is not None:
        return recorded
    dates = [as_datetime(t.date) for t in facts.treatments if t.kind == "resection" and t.date is not None]
    return max(dates) if dates else None


def postop(facts: Facts, walk: Walk, now: datetime) -> list[Finding]:
    if facts.value("resection_done") is not True:
        return []
    resected_on = _resection_date(facts)
    if resected_on is not None and now - resected_on > POSTOP_DECISION_WINDOW:
        return []  # long after the operation: the post-operative decision has been taken
    if resected_on is not None and any(
        t.kind in RADIOTHERAPY and t.date is not None and as_datetime(t.date) > resected_on for t in facts.treatments
    ):
        return []  # the cavity has been irradiated since
    walk.note(tr(f"Resectie op {_day(resected_on)}; sindsdien geen radiotherapie vastgelegd",
                 f"Resection on {_day(resected_on)}; no radiotherapy recorded since"))
    extent = facts.value("resection_extent")
    complete = Atom("resection-complete", tr("totale resectie op postoperatieve beeldvorming",
                                             "complete resection on post-operative imaging"),
                    None if extent is None else extent == "complete", ("resection_extent",))
    used = ["resection_done", "resection_extent"]
    params = {"resection_date": resected_on}
    notes = ["treatment-wish-assumed"] if wish_assumed(facts) else []
    missing = ("treatment_wish",) if wish_assumed(facts) else ()
    if not walk.decide(POSTOP_STEP, tr("totale resectie op postoperatieve beeldvorming?",
                                       "complete resection on post-operative imaging?"), complete):
        return [Finding(POSTOP_SRS, tuple(used), missing, tuple(walk.trace), variant="incomplete",
                        notes=tuple(notes), params=params)]
    large = Atom("resected>=25", tr(f"gereseceerde tumor ≥ {POSTOP_TUMOUR_MM} mm",
                                    f"resected tumour ≥ {POSTOP_TUMOUR_MM} mm"),
                 compare(facts["resected_tumour_diameter_mm"], ">=", POSTOP_TUMOUR_MM), ("resected_tumour_diameter_mm",))
    used.append("resected_tumour_diameter_mm")
    if walk.decide(POSTOP_STEP, tr(f"tumorgrootte ≥ {POSTOP_TUMOUR_MM} mm?", f"tumour size ≥ {POSTOP_TUMOUR_MM} mm?"),
                   large):
        return [Finding(POSTOP_SRS, tuple(used), missing, tuple(walk.trace), variant="complete-large",
                        notes=tuple(notes), params=params)]
    return [Finding(POSTOP_WAITSCAN, tuple(used), (), tuple(walk.trace), params=params)]


# -- follow-up MRI ---------------------------------------------------------------------------------


def _mri_suggestion() -> SuggestionSpec:
    return SuggestionSpec("order-mri", (ActionSpec("create", "mri-brain", params={"priority": "routine"}),))


def followup_mri(facts: Facts, walk: Walk, now: datetime) -> list[Finding]:
    wbrt = at.flag(facts, "wbrt_done", tr("WBRT gegeven", "whole-brain radiotherapy given"))
    if walk.decide(FOLLOWUP_STEP, tr("helebreinbestraling (WBRT) gegeven?", "whole-brain radiotherapy given?"), wbrt):
        return []  # 000: after WBRT no follow-up MRI
    last_mri = as_datetime(facts.value("last_brain_mri_date"))
    focal = as_datetime(facts.value("focal_treatment_date"))
    used = ["wbrt_done", "last_brain_mri_date"]
    if focal is not None:
        early = now < at.add_months(focal, FOCAL_EARLY_PERIOD_MONTHS)
        interval = FOCAL_INTERVAL_MONTHS if early else FOCAL_LATE_INTERVAL_MONTHS
        walk.note(tr(f"Focale behandeling (SRS / resectie) op {_day(focal)}: "
                     f"{'minder' if early else 'meer'} dan 2 jaar geleden → MRI om de {interval} maanden",
                     f"Focal treatment (SRS / resection) on {_day(focal)}: "
                     f"{'within' if early else 'more than'} 2 years ago → MRI every {interval} months"))
        reference = last_mri if last_mri is not None and last_mri >= focal else focal
        variant = "focal-early" if early else "focal-late"
        used.insert(0, "focal_treatment_date")
    else:
        walk.note(tr("Geen focale behandeling (SRS / resectie) vastgelegd",
                     "No focal treatment (SRS / resection) recorded"))
        systemic = at.flag(facts, "systemic_therapy_active", tr("systemische therapie", "on systemic therapy"))
        if not walk.decide(FOLLOWUP_STEP, tr("behandeling met systemische therapie?", "on systemic therapy?"),
                           systemic):
            return []
        interval = SYSTEMIC_INTERVAL_MONTHS
        reference = last_mri or as_datetime(facts.value("brain_metastases_diagnosis_date"))
        variant = "systemic"
        used.insert(0, "systemic_therapy_active")
    due = at.add_months(reference, interval) if reference is not None else None
    if due is not None and now <= due:
        walk.note(tr(f"Laatste MRI hersenen {_day(last_mri)}: volgende op {_day(due)} — nog niet nodig",
                     f"Latest brain MRI {_day(last_mri)}: next one due {_day(due)} — not yet due"))
        return []
    walk.note(tr(f"Laatste MRI hersenen {_day(last_mri) if last_mri else 'niet vastgelegd'}: "
                 f"ouder dan {interval} maanden → nodig{' sinds ' + _day(due) if due else ''}",
                 f"Latest brain MRI {_day(last_mri) if last_mri else 'not recorded'}: "
                 f"older than {interval} months → due{' since ' + _day(due) if due else ''}"))
    notes = ["last-mri" if last_mri is not None else "no-mri-recorded"] + (["due-since"] if due else [])
    return [Finding(FOLLOWUP_MRI, tuple(used), (), tuple(walk.trace), variant=variant, notes=tuple(notes),
                    params={"interval_months": interval, "last_mri": last_mri, "due_date": due, "focal_date": focal},
                    suggestions=(_mri_suggestion(),))]


def mri_not_needed_after_wbrt(facts: Facts, order_id: str) -> Finding:
    """Order hook: a follow-up brain MRI is being ordered after WBRT (000: not needed). Never blocking."""
    wbrt_date = as_datetime(facts["wbrt_done"].attrs.get("date"))
    return Finding(
        FOLLOWUP_MRI,
        facts_used=("wbrt_done",),
        trace=(tr(f"Concept-order MRI hersenen; helebreinbestraling (WBRT) gegeven op {_day(wbrt_date)}",
                  f"Draft brain MRI order; whole-brain radiotherapy given on {_day(wbrt_date)}"),
               tr("000: na WBRT is follow-up met MRI niet nodig",
                  "000: after WBRT follow-up with MRI is not needed")),
        indicator="info",
        variant="not-needed-after-wbrt",
        params={"wbrt_date": wbrt_date},
        order_id=order_id,
    )


# -- recurrence and radionecrosis ------------------------------------------------------------------


def recurrence(facts: Facts, walk: Walk, t: Triage | None,
               mdo_suggestion: Callable[[Facts], SuggestionSpec]) -> list[Finding]:
    recurred = facts.value("bm_recurrence") is True
    necrosis = facts.value("radionecrosis_suspected") is True
    if not (recurred or necrosis):
        return []
    used = [n for n in ("bm_recurrence", "bm_progression_date", "radionecrosis_suspected") if facts.known(n)]
    notes: list[str] = []
    params: dict = {"progression_date": as_datetime(facts.value("bm_progression_date"))}
    variant = "both" if recurred and necrosis else ("radionecrosis" if necrosis else None)
    if necrosis:
        notes.append("radionecrosis")
        if facts.known("dexamethasone_active"):
            used.append("dexamethasone_active")
        if facts.value("dexamethasone_active") is True:
            notes.append("dexamethasone-dependent")
    if recurred:
        notes.append("triage-alongside")
    mdo = facts["mdo_discussed"]
    mdo_date = as_datetime(mdo.attrs.get("date")) if mdo.attrs else None
    necrosis_date = as_datetime(facts["radionecrosis_suspected"].date)
    discussed = mdo.value is True and (
        not necrosis or (mdo_date is not None and necrosis_date is not None and mdo_date >= necrosis_date)
    )
    indicator = None
    suggestions: tuple[SuggestionSpec, ...] = ()
    if mdo.known:
        used.append("mdo_discussed")
    if discussed:
        variant, indicator, params["mdo_date"] = "discussed", "info", mdo_date
    elif necrosis or t is None or t.rule_id == MDO_NEURO:
        suggestions = (mdo_suggestion(facts),)
    else:  # the triage keeps the patient out of the neuro-oncology MDO: the oncological (organ) MDO
        variant = "organ"
        suggestions = (SuggestionSpec("refer-organ-mdo", (ActionSpec("create", "organ-mdo-referral"),)),)
    missing: tuple[str, ...] = ()
    if not discussed and wish_assumed(facts):
        notes.append("treatment-wish-assumed")
        missing = ("treatment_wish",)
    trace = [
        tr(f"Recidief / progressie / nieuwe hersenmetastasen vastgelegd? → {'ja' if recurred else 'nee'}",
           f"Recurrence / progression / new brain metastases recorded? → {'yes' if recurred else 'no'}"),
        tr(f"Verdenking radiatienecrose? → {'ja' if necrosis else 'nee'}",
           f"Radionecrosis suspected? → {'yes' if necrosis else 'no'}"),
    ]
    if t is None:
        trace.append(tr("Verdenking radiatienecrose: bespreken in het MDO, buiten de triage-stroomdiagrammen (001)",
                        "Suspected radionecrosis: discussed in the MDO outside the triage flowcharts (001)"))
    else:
        trace.append(tr(f"Triage van het recidief (001): {t.rule_id}", f"Triage of the recurrence (001): {t.rule_id}"))
    if discussed:
        trace.append(tr(f"Neuro-oncologisch MDO vastgelegd op {_day(mdo_date)}, na het recidief / de verdenking",
                        f"Neuro-oncology MDO recorded on {_day(mdo_date)}, after the recurrence / suspicion"))
    elif mdo.value is True:
        trace.append(tr(f"Laatste neuro-oncologisch MDO op {_day(mdo_date)}, vóór de verdenking op radiatienecrose",
                        f"Last neuro-oncology MDO on {_day(mdo_date)}, before the radionecrosis suspicion"))
    return [Finding(RECURRENCE_MDO, tuple(used), missing, tuple(trace), indicator=indicator, variant=variant,
                    notes=tuple(notes), params=params, suggestions=suggestions)]
