"""The clinical picture the spinal-metastasis flowcharts ask about, read once from the facts.

The flowcharts of 004 (FMS 2026) and 003 (IKNL) keep asking the same questions:
are the spinal metastases established or suspected, is there a treatment wish, how
long is the life expectancy, which complaints are present (and since when), is there
metastatic epidural spinal cord compression (MESCC). This module answers them in one
place, three-valued (``None`` = unknown), so the rule modules stay short.

Conventions applied here (catalog "Conventions"):

- Symptoms are recorded as conditions/observations; a symptom that is not recorded
  counts as absent, and when no symptom at all is recorded the cards say "no symptoms
  recorded" (``Symptoms.assumed``).
- The treatment wish is assumed present unless recorded as absent (``Wish.assumed``).
- Life expectancy recorded as a category is compared by its bin, read as an open
  interval between the guideline's own boundaries (``lt-3-months`` = more than 2 weeks
  and less than 3 months; ``3-6-months`` = more than 3 and less than 6 months …).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

from cds_service.facts.model import Fact, Facts

LOCAL_TZ = ZoneInfo("Europe/Amsterdam")  # "the day the presentation began" is a Dutch calendar day

WEEKS_PER_MONTH = 4.345  # the facts layer converts weeks to months with the same factor
TWO_WEEKS = 2 / WEEKS_PER_MONTH  # months
_TOLERANCE = 0.005  # months (~3.6 h): absorbs unit-conversion rounding at a boundary

# Life-expectancy categories (LOCAL expected-survival codes) as open intervals in months.
SURVIVAL_BINS: dict[str, tuple[float, float]] = {
    "lt-2-weeks": (0.0, TWO_WEEKS),
    "lt-3-months": (TWO_WEEKS, 3.0),
    "3-6-months": (3.0, 6.0),
    "6-12-months": (6.0, 12.0),
    "gt-12-months": (12.0, math.inf),
}

# Facts that are complaints of the spine (present = symptomatic).
SYMPTOM_FACTS = (
    "neurological_deficit",
    "bladder_bowel_dysfunction",
    "transverse_lesion",
    "radicular_deficit",
    "radicular_pain",
    "lhermitte_sign",
    "local_back_pain",
    "mechanical_pain",
    "pain_severity",
)

# The presentations of 3b (whole-spine MRI urgency): spine-specific, unlike a generic neurological deficit.
SPINE_3B_FACTS = ("transverse_lesion", "radicular_deficit", "radicular_pain", "lhermitte_sign", "local_back_pain")

# How the traces name facts (traces are read by clinicians).
FACT_WORDS = {
    "neurological_deficit": "neurological deficit",
    "bladder_bowel_dysfunction": "bladder/bowel dysfunction",
    "transverse_lesion": "transverse lesion",
    "radicular_deficit": "radicular deficit",
    "radicular_pain": "radicular pain",
    "lhermitte_sign": "Lhermitte sign",
    "local_back_pain": "local back pain",
    "mechanical_pain": "pain on loading",
    "pain_severity": "pain",
    "mescc": "MESCC",
    "sins_total": "SINS",
}


FACT_WORDS_NL = {
    "neurological_deficit": "neurologische uitval",
    "bladder_bowel_dysfunction": "blaas-/darmfunctiestoornis",
    "transverse_lesion": "dwarslaesie",
    "radicular_deficit": "radiculaire uitval",
    "radicular_pain": "radiculaire pijn",
    "lhermitte_sign": "symptoom van Lhermitte",
    "local_back_pain": "lokale rugpijn",
    "mechanical_pain": "pijn bij belasten",
    "pain_severity": "pijn",
    "mescc": "MESCC",
    "sins_total": "SINS",
}


def words(names: tuple[str, ...] | list[str], language: str = "en") -> str:
    """Fact names as clinical words for a trace line: ``transverse lesion, clinical MESCC`` (nl: ``dwarslaesie …``)."""
    table = FACT_WORDS_NL if language == "nl" else FACT_WORDS
    return ", ".join(table.get(n, FACT_WORDS.get(n, n.replace("_", " "))) for n in names)


# Facts whose presence suggests a spinal problem even when spinal metastases are not recorded.
PRESENTATION_FACTS = SYMPTOM_FACTS + ("mescc", "escc_grade", "sins_total")


def aware(value: Any) -> datetime | None:
    """A timezone-aware datetime, or None for anything else (dates become midnight UTC)."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    if value is not None and hasattr(value, "year") and hasattr(value, "month"):
        return datetime(value.year, value.month, value.day, tzinfo=timezone.utc)
    return None


def local_day(value: datetime):
    return value.astimezone(LOCAL_TZ).date()


# -- timing of a presentation --------------------------------------------------


@dataclass(frozen=True)
class Timing:
    """When a complaint began (``onset``) and when the clinical suspicion was recorded (``recorded``).

    Deadlines run from ``start`` = recorded, else onset (catalog 3b). The age of the
    complaint that selects a table row (≤ 7 days, < 48 h …) is measured at the moment
    the suspicion was recorded — the moment the clinician asked the flowchart's question,
    so a deadline does not move while its window runs. Without a recorded time of its own
    (the facts layer then repeats the onset) it is measured now.
    """

    onset: datetime | None
    recorded: datetime | None
    fallback: datetime | None = None  # the fact's own date when neither attr is present

    @property
    def start(self) -> datetime | None:
        return self.recorded or self.onset or self.fallback

    def age(self, now: datetime) -> timedelta | None:
        if self.onset is None:
            return None
        asked = self.recorded if self.recorded is not None and self.recorded != self.onset else now
        return asked - self.onset


def timing(fact: Fact) -> Timing:
    attrs = fact.attrs or {}
    return Timing(onset=aware(attrs.get("onset")), recorded=aware(attrs.get("recorded")), fallback=aware(fact.date))


# -- scope ----------------------------------------------------------------------


def spinal_status(facts: Facts) -> str | None:
    """``confirmed`` | ``suspected`` | ``none`` (recorded as absent) | None (unknown).

    Catalog *Population*: a cancer patient with the spinal symptoms of 3b is in the population even
    when no spinal metastasis is recorded — the symptoms are the clinical suspicion (``suspected``).
    A spinal metastasis recorded as absent (refuted, resolved) stays ``none``.
    """
    fact = facts["spinal_metastases"]
    if not fact.known:
        return None
    if fact.value is True:
        return "suspected" if (fact.attrs or {}).get("suspected") else "confirmed"
    if (fact.attrs or {}).get("assumed") and cancer_recorded(facts) and has_spine_symptoms(facts):
        return "suspected"
    return "none"


def cancer_recorded(facts: Facts) -> bool:
    return facts.value("primary_tumour") is not None or facts.value("solid_cancer") is True


def has_spine_symptoms(facts: Facts) -> bool:
    """A spinal symptom of 3b recorded as present (deficit, radicular pain, Lhermitte, back pain …)."""
    return any(_present(facts, name) for name in SPINE_3B_FACTS)


def has_spine_presentation(facts: Facts) -> bool:
    """Any spine complaint or finding recorded as present."""
    return any(_present(facts, name) for name in PRESENTATION_FACTS)


def _present(facts: Facts, name: str) -> bool:
    value = facts.value(name)
    if value is None or value is False:
        return False
    if isinstance(value, str):
        return value not in ("none", "0")
    return True


# -- treatment wish -------------------------------------------------------------


@dataclass(frozen=True)
class Wish:
    present: bool
    assumed: bool  # not recorded: assumed present, cards say "confirm with the patient"


def treatment_wish(facts: Facts) -> Wish:
    value = facts.value("treatment_wish")
    if value is None:
        return Wish(present=True, assumed=True)
    return Wish(present=bool(value), assumed=False)


# -- life expectancy --------------------------------------------------------------


@dataclass(frozen=True)
class Survival:
    """Life expectancy in months, compared three-valued (category bins or a number)."""

    months: float | None
    category: str | None

    @property
    def known(self) -> bool:
        return self.months is not None or self.category in SURVIVAL_BINS

    def _bin(self) -> tuple[float, float] | None:
        return SURVIVAL_BINS.get(self.category or "")

    def le(self, months: float) -> bool | None:
        rng = self._bin()
        if rng is not None:
            return True if rng[1] <= months + _TOLERANCE else False if rng[0] >= months - _TOLERANCE else None
        return None if self.months is None else self.months <= months + _TOLERANCE

    def lt(self, months: float) -> bool | None:
        rng = self._bin()
        if rng is not None:
            return True if rng[1] <= months + _TOLERANCE else False if rng[0] >= months - _TOLERANCE else None
        return None if self.months is None else self.months < months - _TOLERANCE

    def gt(self, months: float) -> bool | None:
        rng = self._bin()
        if rng is not None:
            return True if rng[0] >= months - _TOLERANCE else False if rng[1] <= months + _TOLERANCE else None
        return None if self.months is None else self.months > months + _TOLERANCE

    def equals(self, months: float) -> bool:
        """Exactly on a boundary (a number recorded, not a category)."""
        return self._bin() is None and self.months is not None and abs(self.months - months) <= _TOLERANCE


def survival(facts: Facts) -> Survival:
    fact = facts["expected_survival_months"]
    if not fact.known:
        return Survival(months=None, category=None)
    category = (fact.attrs or {}).get("category")
    value = fact.value
    return Survival(months=float(value) if isinstance(value, (int, float)) else None,
                    category=category if category in SURVIVAL_BINS else None)


# -- symptoms --------------------------------------------------------------------


@dataclass(frozen=True)
class Symptoms:
    """Which spine complaints are present. Not recorded = absent (catalog convention)."""

    deficit: bool  # any neurological deficit incl. bladder/bowel, radicular, transverse lesion
    deficit_facts: tuple[str, ...]
    pain: bool  # local or radicular pain, or pain severity moderate/severe (pain not on loading)
    pain_facts: tuple[str, ...]
    mechanical_pain: bool  # pain on loading (004 "evaluation of spinal stability")
    lhermitte: bool
    assumed: bool  # no symptom fact recorded at all: "no symptoms recorded"

    @property
    def symptomatic(self) -> bool:
        return self.deficit or self.pain or self.mechanical_pain or self.lhermitte

    @property
    def present_facts(self) -> tuple[str, ...]:
        pairs = (("mechanical_pain", self.mechanical_pain), ("lhermitte_sign", self.lhermitte))
        extra = tuple(name for name, on in pairs if on)
        return tuple(dict.fromkeys(self.deficit_facts + self.pain_facts + extra))


def symptoms(facts: Facts) -> Symptoms:
    deficit_facts = tuple(
        name
        for name, present in (
            ("neurological_deficit", facts.value("neurological_deficit") is True),
            ("bladder_bowel_dysfunction", facts.value("bladder_bowel_dysfunction") is True),
            ("transverse_lesion", facts.value("transverse_lesion") in ("complete", "incomplete")),
            ("radicular_deficit", facts.value("radicular_deficit") in ("unilateral", "bilateral")),
            ("mescc", facts.value("mescc") == "clinical"),  # clinical MESCC is a deficit by definition
        )
        if present
    )
    pain_facts = tuple(
        name
        for name, present in (
            ("local_back_pain", facts.value("local_back_pain") is True),
            ("radicular_pain", facts.value("radicular_pain") in ("unilateral", "bilateral")),
            ("pain_severity", facts.value("pain_severity") in ("moderate", "severe")),
        )
        if present
    )
    return Symptoms(
        deficit=bool(deficit_facts),
        deficit_facts=deficit_facts,
        pain=bool(pain_facts),
        pain_facts=pain_facts,
        mechanical_pain=facts.value("mechanical_pain") is True,
        lhermitte=facts.value("lhermitte_sign") is True,
        assumed=not deficit_facts and not any(facts.known(name) for name in SYMPTOM_FACTS),
    )


def deficit_progressive(facts: Facts) -> bool | None:
    """Progressive neurological deficit: the deficit fact, or the radicular deficit's ``progressive`` attr."""
    if facts.value("deficit_progressive") is True:
        return True
    if facts["radicular_deficit"].attrs.get("progressive") is True:
        return True
    if not symptoms(facts).deficit:
        return False  # no deficit recorded: no progressive deficit
    if facts.value("deficit_progressive") is False:
        return False
    return None


# -- MESCC -------------------------------------------------------------------------

ESCC_COMPRESSION = ("2", "3")  # Bilsky 2–3: cord compression (004 "MESCC graad 3 (bilsky 2/3)")
ESCC_NO_COMPRESSION = ("0", "1a", "1b", "1c")


@dataclass(frozen=True)
class Mescc:
    """Metastatic epidural spinal cord compression: ``clinical`` | ``radiological`` | ``none`` | None."""

    status: str | None
    used: tuple[str, ...]
    from_escc: bool = False  # derived from the Bilsky grade (reading stated on the card)

    @property
    def present(self) -> bool | None:
        return None if self.status is None else self.status in ("clinical", "radiological")


def mescc(facts: Facts) -> Mescc:
    """The recorded MESCC status; else derived from the Bilsky (ESCC) grade.

    Bilsky 2–3 is cord compression: ``clinical`` when a neurological deficit is recorded,
    otherwise ``radiological``; Bilsky 0–1c is no compression.
    """
    value = facts.value("mescc")
    if value in ("clinical", "radiological", "none"):
        return Mescc(status=value, used=("mescc",))
    grade = facts.value("escc_grade")
    if grade in ESCC_COMPRESSION:
        sym = symptoms(facts)
        return Mescc(status="clinical" if sym.deficit else "radiological",
                     used=("escc_grade",) + sym.deficit_facts, from_escc=True)
    if grade in ESCC_NO_COMPRESSION:
        return Mescc(status="none", used=("escc_grade",), from_escc=True)
    return Mescc(status=None, used=())


def mescc_timing(facts: Facts) -> Timing:
    """Onset of the progressive complaints of MESCC: the MESCC fact, else the earliest deficit."""
    own = timing(facts["mescc"])
    if own.onset is not None:
        return own
    onsets = [t for t in (timing(facts[n]) for n in symptoms(facts).deficit_facts) if t.onset is not None]
    if onsets:
        first = min(onsets, key=lambda t: t.onset)  # type: ignore[arg-type, return-value]
        return Timing(onset=first.onset, recorded=own.recorded or first.recorded, fallback=own.fallback)
    return own
