"""SM-MRI-URGENCY: whole-spine MRI deadlines on (suspected) spinal metastases (catalog 3b; seed 003).

The 003 chart "Diagnostiek bij klinische verdenking wervelmetastasen" asks, in order:
transverse lesion (complete < 48 h / > 48 h, incomplete) → Lhermitte sign → radicular
deficit (bilateral / unilateral ≤ 7 days / > 7 days) → radicular pain (bilateral /
unilateral) → local back pain. Every recorded complaint is matched to its row; the
earliest deadline wins, because meeting it satisfies every other row as well. A complete
transverse lesion present > 48 h is the chart's first node and ends the urgent branch
(national guideline: no reason left for emergency diagnostics; decide in the MDO).

Time: the window runs from the moment the presentation was recorded (the clinical
suspicion), else from its onset; the onset only selects the row. Imaging counts as
adequate when it was made on or after the (Dutch calendar) day the presentation began;
then "MRI not necessary" — but only when both dates are known.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Sequence

from cds_service.facts.model import Facts
from cds_service.pathways.model import ActionSpec, DraftOrder, EvalContext, Finding, SuggestionSpec, Text, text_in, tr
from cds_service.pathways.spine_picture import Timing, aware, local_day, timing

RULE = "SM-MRI-URGENCY"

PRIORITY_RANK = {"routine": 0, "urgent": 1, "asap": 2, "stat": 3}
URGENT_WINDOW = timedelta(hours=48)  # up to 48 h the priority decides; beyond, the occurrence date


@dataclass(frozen=True)
class MriRow:
    """One row of the 3b table."""

    key: str
    window: timedelta | None  # None: no urgent imaging
    priority: str | None  # the FHIR request priority that meets the window
    corticosteroids: bool  # "decide on corticosteroids before imaging"
    label: str  # suggestion label key in cards/spine.yaml
    text: Text  # for the trace (nl + en)


ROWS = {
    row.key: row
    for row in (
        MriRow("cord-compression", timedelta(hours=12), "stat", True, "mri-12h",
               tr("kliniek van myelum-/caudacompressie → MRI binnen 12 uur, bepaal eerst de indicatie voor "
                  "corticosteroïden",
                  "clinical cord/cauda compression → MRI within 12 h, decide on corticosteroids first")),
        MriRow("lhermitte-bilateral-pain", timedelta(hours=12), "stat", False, "mri-12h",
               tr("symptoom van Lhermitte / bilaterale radiculaire pijn → MRI binnen 12 uur",
                  "Lhermitte sign / bilateral radicular pain → MRI within 12 h")),
        MriRow("unilateral-deficit-recent", timedelta(hours=24), "asap", True, "mri-24h",
               tr("unilaterale radiculaire uitval, ontstaan ≤ 7 dagen geleden → MRI binnen 24 uur, bepaal eerst de "
                  "indicatie voor corticosteroïden",
                  "unilateral radicular deficit, onset ≤ 7 days → MRI within 24 h, decide on corticosteroids first")),
        MriRow("unilateral-deficit-late", timedelta(hours=48), "urgent", True, "mri-48h",
               tr("unilaterale radiculaire uitval, ontstaan > 7 dagen geleden → MRI binnen 48 uur, bepaal eerst de "
                  "indicatie voor corticosteroïden",
                  "unilateral radicular deficit, onset > 7 days → MRI within 48 h, decide on corticosteroids first")),
        MriRow("unilateral-pain", timedelta(days=7), "routine", False, "mri-1w",
               tr("unilaterale radiculaire pijn → MRI binnen 1 week", "unilateral radicular pain → MRI within 1 week")),
        MriRow("local-back-pain", timedelta(days=14), "routine", False, "mri-2w",
               tr("alleen lokale rugpijn → MRI binnen 2 weken", "local back pain only → MRI within 2 weeks")),
        MriRow("complete-lesion-late", None, None, False, "",
               tr("complete dwarslaesie > 48 uur aanwezig → geen spoedbeeldvorming; besluit in het MDO",
                  "complete transverse lesion present > 48 h → no urgent imaging; decide in the MDO")),
    )
}

COMPLETE_LESION_LIMIT = timedelta(hours=48)  # "< 48 h" vs "> 48 h"; exactly 48 h is not "> 48 h"
RECENT_DEFICIT_LIMIT = timedelta(days=7)  # "≤ 7 days" vs "> 7 days"


@dataclass(frozen=True)
class Match:
    """A recorded complaint and the row it selects."""

    row: MriRow
    fact: str
    timing: Timing
    trace: Text
    missing: tuple[str, ...] = ()  # e.g. the onset that would have selected a slower row

    def deadline(self, now: datetime) -> datetime | None:
        if self.row.window is None:
            return None
        return (self.timing.start or now) + self.row.window


def _hours(delta: timedelta, language: str = "en") -> str:
    hours = delta.total_seconds() / 3600
    if language == "nl":
        return f"{hours:.0f} uur" if hours < 72 else f"{hours / 24:.1f} dagen".replace(".", ",")
    return f"{hours:.0f} h" if hours < 72 else f"{hours / 24:.1f} days"


def matches(facts: Facts, now: datetime) -> list[Match]:
    """Every recorded complaint from the 3b table with its row, in the chart's order."""
    found: list[Match] = []
    lesion = facts.value("transverse_lesion")
    if lesion == "incomplete":
        t = timing(facts["transverse_lesion"])
        found.append(Match(ROWS["cord-compression"], "transverse_lesion", t,
                           tr("M1: incomplete dwarslaesie → kliniek van myelum-/caudacompressie",
                              "M1: incomplete transverse lesion → clinical cord/cauda compression")))
    elif lesion == "complete":
        t = timing(facts["transverse_lesion"])
        age = t.age(now)
        if age is None:
            found.append(Match(ROWS["cord-compression"], "transverse_lesion", t,
                               tr("M1: complete dwarslaesie, moment van ontstaan onbekend → de rij < 48 uur (de meest "
                                  "urgente) wordt gebruikt",
                                  "M1: complete transverse lesion, onset unknown → the < 48 h row (the more urgent) "
                                  "is used"), missing=("transverse_lesion_onset",)))
        elif age > COMPLETE_LESION_LIMIT:
            found.append(Match(ROWS["complete-lesion-late"], "transverse_lesion", t,
                               tr(f"M1: complete dwarslaesie {_hours(age, 'nl')} aanwezig (> 48 uur)",
                                  f"M1: complete transverse lesion present {_hours(age)} (> 48 h)")))
        else:
            found.append(Match(ROWS["cord-compression"], "transverse_lesion", t,
                               tr(f"M1: complete dwarslaesie {_hours(age, 'nl')} aanwezig (< 48 uur)",
                                  f"M1: complete transverse lesion present {_hours(age)} (< 48 h)")))
    if facts.value("radicular_deficit") == "bilateral":
        found.append(Match(ROWS["cord-compression"], "radicular_deficit", timing(facts["radicular_deficit"]),
                           tr("M3: bilaterale radiculaire uitval → kliniek van myelum-/caudacompressie",
                              "M3: bilateral radicular deficit → clinical cord/cauda compression")))
    if facts.value("mescc") == "clinical":
        found.append(Match(ROWS["cord-compression"], "mescc", timing(facts["mescc"]),
                           tr("M1: klinische MESCC vastgelegd → kliniek van myelum-/caudacompressie",
                              "M1: clinical MESCC recorded → clinical cord/cauda compression")))
    if facts.value("lhermitte_sign") is True:
        found.append(Match(ROWS["lhermitte-bilateral-pain"], "lhermitte_sign", timing(facts["lhermitte_sign"]),
                           tr("M2: symptoom van Lhermitte", "M2: Lhermitte sign")))
    if facts.value("radicular_deficit") == "unilateral":
        t = timing(facts["radicular_deficit"])
        age = t.age(now)
        if age is None:
            found.append(Match(ROWS["unilateral-deficit-recent"], "radicular_deficit", t,
                               tr("M3: unilaterale radiculaire uitval, moment van ontstaan onbekend → de rij ≤ 7 dagen "
                                  "(de meest urgente) wordt gebruikt",
                                  "M3: unilateral radicular deficit, onset unknown → the ≤ 7 days row (the more "
                                  "urgent) is used"), missing=("radicular_deficit_onset",)))
        elif age > RECENT_DEFICIT_LIMIT:
            found.append(Match(ROWS["unilateral-deficit-late"], "radicular_deficit", t,
                               tr(f"M3: unilaterale radiculaire uitval, progressieve klachten gedurende "
                                  f"{_hours(age, 'nl')} (> 7 dagen)",
                                  f"M3: unilateral radicular deficit, progressive complaints for {_hours(age)} "
                                  "(> 7 days)")))
        else:
            found.append(Match(ROWS["unilateral-deficit-recent"], "radicular_deficit", t,
                               tr(f"M3: unilaterale radiculaire uitval, progressieve klachten gedurende "
                                  f"{_hours(age, 'nl')} (≤ 7 dagen)",
                                  f"M3: unilateral radicular deficit, progressive complaints for {_hours(age)} "
                                  "(≤ 7 days)")))
    pain = facts.value("radicular_pain")
    if pain == "bilateral":
        found.append(Match(ROWS["lhermitte-bilateral-pain"], "radicular_pain", timing(facts["radicular_pain"]),
                           tr("M4: bilaterale radiculaire pijn", "M4: bilateral radicular pain")))
    elif pain == "unilateral":
        found.append(Match(ROWS["unilateral-pain"], "radicular_pain", timing(facts["radicular_pain"]),
                           tr("M4: unilaterale radiculaire pijn", "M4: unilateral radicular pain")))
    for name, label_nl, label in (("local_back_pain", "lokale rugpijn", "local back pain"),
                                  ("mechanical_pain", "pijn bij belasten", "pain on loading")):
        if facts.value(name) is True:
            found.append(Match(ROWS["local-back-pain"], name, timing(facts[name]),
                               tr(f"M5: {label_nl}", f"M5: {label}")))
    return found


# -- adequate imaging -------------------------------------------------------------


def imaging_date(facts: Facts) -> datetime | None:
    return aware(facts.value("spine_imaging_date")) or aware((facts["adequate_spine_imaging"].attrs or {}).get("date"))


def covered(facts: Facts, match: Match) -> bool | None:
    """Is there spine imaging made on or after the day this complaint began?"""
    img = imaging_date(facts)
    began = match.timing.onset or match.timing.fallback
    if img is not None and began is not None:
        return local_day(img) >= local_day(began)
    if img is not None and match.timing.recorded is not None and local_day(img) >= local_day(match.timing.recorded):
        return True  # made after the suspicion was recorded, so after the complaint began
    if img is None:
        return facts.value("adequate_spine_imaging")  # False when no spine imaging exists at all
    return None


# -- the plan ---------------------------------------------------------------------


@dataclass(frozen=True)
class MriPlan:
    """What 3b asks for this patient now."""

    matches: tuple[Match, ...]
    deciding: Match | None  # the complaint whose row gives the deadline (or the late complete lesion)
    deadline: datetime | None
    corticosteroids: bool
    imaging: bool | None  # True: adequate imaging covers every complaint
    missing: tuple[str, ...]
    trace: tuple[Text, ...]

    @property
    def row(self) -> MriRow | None:
        return self.deciding.row if self.deciding else None

    @property
    def outcome(self) -> str:
        """``none`` | ``no-urgent`` | ``not-necessary`` | ``mri``."""
        if not self.matches:
            return "none"
        if self.row is not None and self.row.window is None:
            return "no-urgent"
        if self.imaging is True:
            return "not-necessary"
        return "mri"

    @property
    def used(self) -> tuple[str, ...]:
        names = [m.fact for m in self.matches]
        if self.outcome in ("mri", "not-necessary"):
            names += ["spine_imaging_date", "adequate_spine_imaging"]
        return tuple(dict.fromkeys(names))


def plan(facts: Facts, now: datetime) -> MriPlan:
    ms = matches(facts, now)
    trace: list[Text] = [m.trace for m in ms]
    if not ms:
        return MriPlan((), None, None, False, None, (), ())
    late = next((m for m in ms if m.row.window is None), None)
    if late is not None:
        trace.append(tr("M1: de knoop dwarslaesie beslist: geen spoedbeeldvorming",
                        "M1: the transverse-lesion node decides: no urgent imaging"))
        return MriPlan(tuple(ms), late, None, False, None, (), tuple(trace))
    coverage = [(m, covered(facts, m)) for m in ms]
    open_ = [m for m, c in coverage if c is not True]
    img = imaging_date(facts)
    if not open_:
        day = local_day(img) if img else "?"
        trace.append(tr(f"M6: de beeldvorming van de wervelkolom van {day} is gemaakt op of na de dag waarop elke "
                        "klacht begon → MRI niet noodzakelijk",
                        f"M6: spine imaging of {day} was made on or after the day every "
                        "complaint began → MRI not necessary"))
        deciding = min(ms, key=lambda m: (m.deadline(now), not m.row.corticosteroids))
        return MriPlan(tuple(ms), deciding, None, False, True, (), tuple(trace))
    deciding = min(open_, key=lambda m: (m.deadline(now), not m.row.corticosteroids))
    unknown = any(c is None for m, c in coverage if m in open_)
    missing = [name for m in open_ for name in m.missing]
    if unknown:
        missing.append("adequate_spine_imaging")
        trace.append(tr("M6: onbekend of er sinds het begin van de klachten adequate beeldvorming van de wervelkolom "
                        "is → MRI geadviseerd",
                        "M6: whether adequate spine imaging exists since the complaints began is unknown → MRI "
                        "advised"))
    else:
        trace.append(tr("M6: geen beeldvorming van de wervelkolom sinds het begin van de klachten",
                        "M6: no spine imaging since the complaints began") if img is None else
                     tr(f"M6: de laatste beeldvorming van de wervelkolom ({local_day(img)}) is van vóór de klachten",
                        f"M6: the latest spine imaging ({local_day(img)}) predates the complaints"))
    start = deciding.timing.start
    if start is None:
        missing.append("spinal_presentation_time")
    deadline = deciding.deadline(now)
    t = deciding.timing
    origin = (tr("het moment waarop de verdenking is vastgelegd", "the moment the suspicion was recorded")
              if t.recorded is not None and t.recorded != t.onset else
              tr("het ontstaan van de klachten (geen apart vastgelegd tijdstip)",
                 "symptom onset (no separate recorded time)") if t.onset is not None else
              tr("de datum van de registratie", "the date of the record") if t.fallback is not None else
              tr("nu (geen tijdstip vastgelegd)", "now (no time recorded)"))
    row_text = deciding.row.text
    trace.append(tr(f"M7: {text_in(row_text, 'nl')}; de termijn loopt vanaf {origin.get('nl')}",
                    f"M7: {text_in(row_text, 'en')}; the window runs from {origin.get('en')}"))
    return MriPlan(
        matches=tuple(ms),
        deciding=deciding,
        deadline=deadline,
        corticosteroids=any(m.row.corticosteroids for m in open_),
        imaging=None if unknown else False,
        missing=tuple(dict.fromkeys(missing)),
        trace=tuple(trace),
    )


def order_suggestion(p: MriPlan) -> SuggestionSpec:
    row = p.row
    if row is None or row.priority is None or p.deadline is None:
        raise ValueError("an MRI suggestion needs a row with a deadline")
    return SuggestionSpec(
        label_key=row.label,
        is_recommended=True,
        actions=(ActionSpec(type="create", resource_kind="mri-spine",
                            params={"priority": row.priority, "occurrence_before": p.deadline}),),
    )


def finding(p: MriPlan, facts: Facts, ctx: EvalContext, *, notes: Sequence[str] = ()) -> Finding | None:
    """The patient-view card for the plan (None when no complaint from the table is recorded)."""
    outcome = p.outcome
    if outcome == "none":
        return None
    if outcome == "no-urgent":
        return Finding(rule_id=RULE, facts_used=p.used, trace=p.trace, variant="no-urgent", indicator="info",
                       notes=("reading-complete-lesion", *notes))
    if outcome == "not-necessary":
        return Finding(rule_id=RULE, facts_used=p.used, trace=p.trace, variant="not-necessary", indicator="info",
                       params={"imaging_date": imaging_date(facts)}, notes=tuple(notes))
    row = p.row
    passed = p.deadline is not None and p.deadline <= ctx.now
    note_keys = [f"row-{row.key}"] if row else []
    if p.corticosteroids:
        note_keys.append("corticosteroids-first")
    if "adequate_spine_imaging" in p.missing:
        note_keys.append("imaging-unknown")
    if any(n.endswith("_onset") for n in p.missing):
        note_keys.append("onset-unknown")
    return Finding(
        rule_id=RULE,
        facts_used=p.used,
        facts_missing=p.missing,
        trace=p.trace,
        indicator="critical" if passed else "warning",
        variant="passed" if passed else None,
        notes=(*note_keys, "reading-mri", *notes),
        params={"deadline": p.deadline},
        suggestions=(order_suggestion(p),),
    )


# -- order hooks --------------------------------------------------------------------


def fast_enough(draft: DraftOrder, row: MriRow, deadline: datetime) -> bool:
    """Does the draft meet the row? ≤ 48 h: priority (or an occurrence deadline within the limit);
    1–2 weeks: the occurrence deadline when given, otherwise any priority."""
    on_time = draft.deadline is not None and aware(draft.deadline) <= deadline  # type: ignore[operator]
    if row.window is not None and row.window <= URGENT_WINDOW:
        rank = PRIORITY_RANK.get(draft.priority or "routine", 0)
        return rank >= PRIORITY_RANK[row.priority or "routine"] or on_time
    return draft.deadline is None or on_time


def order_finding(p: MriPlan, draft: DraftOrder, ctx: EvalContext) -> Finding | None:
    """A warning on a draft spine MRI slower than the plan's deadline (None when fast enough)."""
    row = p.row
    if p.outcome != "mri" or row is None or row.window is None or p.deadline is None:
        return None
    if fast_enough(draft, row, p.deadline):
        return None
    required = row.priority or "routine"
    current = draft.priority or "routine"
    priority = required if PRIORITY_RANK[required] >= PRIORITY_RANK.get(current, 0) else current
    passed = p.deadline <= ctx.now
    name = draft.display or draft.id
    trace = (*p.trace, tr(f"O1: concept-order {name}: prioriteit {draft.priority or 'geen'}"
                          + (f", uitvoeren vóór {draft.deadline.isoformat()}" if draft.deadline else
                             ", geen uitvoerdatum")
                          + f" — trager dan vereist ({required}, vóór {p.deadline.isoformat()})",
                          f"O1: draft {name}: priority {draft.priority or 'none'}"
                          + (f", occurrence by {draft.deadline.isoformat()}" if draft.deadline else
                             ", no occurrence date")
                          + f" — slower than required ({required}, by {p.deadline.isoformat()})"))
    return Finding(
        rule_id=RULE,
        facts_used=p.used,
        facts_missing=p.missing,
        trace=trace,
        indicator="critical" if passed else "warning",
        variant="order",
        notes=(f"row-{row.key}", *(("corticosteroids-first",) if p.corticosteroids else ()), "reading-mri"),
        params={"deadline": p.deadline},
        order_id=draft.id,
        suggestions=(
            SuggestionSpec(
                label_key=row.label,
                is_recommended=True,
                actions=(ActionSpec(type="update", order_id=draft.id,
                                    params={"priority": priority, "occurrence_before": p.deadline}),),
            ),
        ),
    )
