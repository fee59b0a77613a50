"""The guideline fact model: three-valued facts with provenance.

Pathways never see FHIR. They see :class:`Facts`: a mapping from a fact name
(``kps``, ``largest_diameter_mm``, ``mdo_discussed`` …, see
``shared/spec/fhir-mapping.md``) to a :class:`Fact`. A fact is *known* (it has
a value), *unknown* (nothing usable was recorded) or *stale* (recorded, but
older than its relevance window: reported to the clinician, never used as a
current value). Unknown is not false: pathways must treat ``Fact.value is
None`` as "could be either".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from enum import Enum
from typing import Any, Iterable, Iterator, Mapping


class FactStatus(str, Enum):
    KNOWN = "known"
    UNKNOWN = "unknown"
    STALE = "stale"


_KNOWN = FactStatus.KNOWN


@dataclass(frozen=True)
class Interval:
    """What a bound or a partial date says about a number: ``low``..``high`` (None = open).

    ``> 10 mm`` is ``Interval(10, None, low_open=True)``; ``birthDate 1961`` gives an age interval
    of two whole years. A step is decided only when the whole interval answers it (catalog:
    *Values that are bounds*); :func:`compare` does that.
    """

    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False

    def _all(self, op: str, limit: float) -> bool:
        """Whether every number in the interval satisfies ``x op limit``."""
        lo, hi = self.low, self.high
        if op in (">", ">="):
            if lo is None:
                return False
            return lo > limit or (lo == limit and (op == ">=" or self.low_open))
        if op in ("<", "<="):
            if hi is None:
                return False
            return hi < limit or (hi == limit and (op == "<=" or self.high_open))
        if op == "==":
            return lo is not None and lo == hi == limit and not (self.low_open or self.high_open)
        raise ValueError(op)

    def answers(self, op: str, limit: float) -> bool | None:
        """True/False when the whole interval answers ``x op limit`` the same, else None."""
        negation = {">": "<=", ">=": "<", "<": ">=", "<=": ">"}
        if self._all(op, limit):
            return True
        if op == "==":
            outside = (self.high is not None and (self.high < limit or (self.high == limit and self.high_open))) or (
                self.low is not None and (self.low > limit or (self.low == limit and self.low_open)))
            return False if outside else None
        if self._all(negation[op], limit):
            return False
        return None

    def text(self, unit: str = "") -> str:
        suffix = f" {unit}" if unit else ""
        fmt = lambda n: f"{n:g}"  # noqa: E731
        if self.low is not None and self.high is None:
            return f"{'>' if self.low_open else '≥'} {fmt(self.low)}{suffix}"
        if self.high is not None and self.low is None:
            return f"{'<' if self.high_open else '≤'} {fmt(self.high)}{suffix}"
        if self.low is not None and self.high is not None:
            return f"{fmt(self.low)}–{fmt(self.high)}{suffix}"
        return "?"


_OPS = {">": lambda a, b: a > b, ">=": lambda a, b: a >= b, "<": lambda a, b: a < b,
        "<=": lambda a, b: a <= b, "==": lambda a, b: a == b}


def compare(fact: "Fact | None", op: str, limit: float) -> bool | None:
    """Three-valued ``fact op limit``: the value when known; a recorded bound or range
    (``attrs.interval``) only when it settles the comparison; otherwise None (unknown)."""
    if fact is None:
        return None
    if fact.status is FactStatus.KNOWN and fact.value is not None and not isinstance(fact.value, bool):
        try:
            return _OPS[op](float(fact.value), limit)
        except (TypeError, ValueError):
            return None
    interval = fact.attrs.get("interval") if fact.attrs and fact.status is not FactStatus.STALE else None
    if isinstance(interval, Interval):
        return interval.answers(op, limit)
    return None


@dataclass(frozen=True)
class Provenance:
    """Where a value came from: enough for a card to say "KPS 60 (Observation/123, 2026-10-02)"."""

    resource_type: str
    resource_id: str | None
    code: str | None = None  # "system|code" that matched, e.g. "http://loinc.org|89243-0"
    date: datetime | date | None = None  # clinically relevant time (effective / onset / performed)

    @property
    def reference(self) -> str:
        return f"{self.resource_type}/{self.resource_id}" if self.resource_id else self.resource_type


@dataclass(frozen=True)
class Fact:
    """One guideline fact. ``value is None`` ⇔ not usable (unknown or stale).

    ``derived_from`` names the rule that produced a derived value (``"ecog"`` for
    a KPS derived from ECOG, ``"lesions"`` for an aggregate) so the card can say so.
    ``notes`` carries human-readable remarks such as a conflict between sources.
    ``attrs`` carries secondary attributes of the value (laterality, onset,
    recorded time, progressive …) that some rules need.
    """

    name: str
    value: Any = None
    status: FactStatus = FactStatus.UNKNOWN
    provenance: tuple[Provenance, ...] = ()
    derived_from: str | None = None
    notes: tuple[str, ...] = ()
    stale_value: Any = None  # the out-of-window value, for display only
    reason: str | None = None  # why unknown: "not recorded", "source unavailable", "unusable resource"
    attrs: Mapping[str, Any] = field(default_factory=dict)

    @property
    def known(self) -> bool:
        return self.status is _KNOWN

    @property
    def unknown(self) -> bool:
        return self.status is not _KNOWN

    @property
    def date(self) -> datetime | date | None:
        """The most relevant clinical time of the value (first provenance)."""
        return self.provenance[0].date if self.provenance else None

    @classmethod
    def of(cls, name: str, value: Any, *provenance: Provenance, **kw: Any) -> "Fact":
        """A known fact (tests and derivations)."""
        return cls(name=name, value=value, status=FactStatus.KNOWN, provenance=tuple(provenance), **kw)

    @classmethod
    def missing(cls, name: str, reason: str = "not recorded") -> "Fact":
        return cls(name=name, status=FactStatus.UNKNOWN, reason=reason)


@dataclass(frozen=True)
class Lesion:
    """One measured metastasis from an imaging report."""

    region: str  # "brain" | "spine" | "unknown"
    diameter_mm: float | None = None
    volume_cm3: float | None = None
    sites: tuple[str, ...] = ()  # normalised site keys, e.g. ("brainstem",) or ("posterior-fossa",)
    critical: bool | None = None  # None: site not specific enough to say
    date: datetime | date | None = None
    provenance: tuple[Provenance, ...] = ()


@dataclass(frozen=True)
class Treatment:
    """A completed treatment relevant to follow-up (SRS, SRT, resection, WBRT)."""

    kind: str  # "srs" | "srt" | "resection" | "wbrt"
    date: datetime | date | None
    provenance: Provenance | None = None


@dataclass(frozen=True)
class MdoDiscussion:
    """A recorded MDO discussion with the specialties that took part."""

    kind: str  # "neuro-oncology" | "organ-specific"
    date: datetime | date | None
    specialties: frozenset[str] = frozenset()  # LOCAL codes: neurosurgery, radiation-oncology, ...
    provenance: Provenance | None = None


@dataclass(frozen=True)
class Facts:
    """All facts of one patient at one moment (``now``), plus the lists pathways iterate.

    Indexing never raises: ``facts["kps"]`` for an absent name gives an unknown
    Fact, so a missing mapping can never be mistaken for a value.
    """

    values: Mapping[str, Fact] = field(default_factory=dict)
    lesions: tuple[Lesion, ...] = ()
    treatments: tuple[Treatment, ...] = ()
    mdo_discussions: tuple[MdoDiscussion, ...] = ()
    unavailable_sources: frozenset[str] = frozenset()  # prefetch keys that could not be had
    problems: tuple[str, ...] = ()  # resources that could not be used, as "Observation/x: why"
    now: datetime | None = None

    def __getitem__(self, name: str) -> Fact:
        fact = self.values.get(name)
        if fact is None:
            return Fact.missing(name)
        return fact

    def __contains__(self, name: object) -> bool:
        return name in self.values

    def __iter__(self) -> Iterator[str]:
        return iter(self.values)

    # value() and known() are called hundreds of times per evaluation: the status is compared
    # directly rather than through the Fact.known property.
    def value(self, name: str, default: Any = None) -> Any:
        """The current value of a fact, or ``default`` when unknown or stale."""
        fact = self.values.get(name)
        return fact.value if fact is not None and fact.status is _KNOWN else default

    def known(self, name: str) -> bool:
        fact = self.values.get(name)
        return fact is not None and fact.status is _KNOWN

    def with_values(self, *facts: Fact) -> "Facts":
        """A copy with some facts added or replaced (derivations and tests)."""
        merged = dict(self.values)
        merged.update({f.name: f for f in facts})
        return Facts(
            values=merged,
            lesions=self.lesions,
            treatments=self.treatments,
            mdo_discussions=self.mdo_discussions,
            unavailable_sources=self.unavailable_sources,
            problems=self.problems,
            now=self.now,
        )

    @classmethod
    def from_values(cls, now: datetime | None = None, **values: Any) -> "Facts":
        """Build known facts from plain values (for tests): ``Facts.from_values(kps=80)``.

        A value of ``None`` is left out (= unknown).
        """
        return cls(
            values={k: Fact.of(k, v) for k, v in values.items() if v is not None},
            now=now,
        )


def names(facts: Iterable[Fact]) -> tuple[str, ...]:
    return tuple(f.name for f in facts)
