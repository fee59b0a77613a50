"""Selection policies: from the candidate values of a fact to one :class:`Fact`.

- ``most-recent``: the newest record wins (``effective[x]``, else ``issued``, else
  ``meta.lastUpdated``); older than the fact's window ⇒ *stale*; another value
  within ``conflict_days`` before it ⇒ a conflict note; a newer record that could
  not be read ⇒ unknown (never silently fall back to an older value).
- ``any``: present if any record is present (active conditions), suspected if only
  suspected ones, else absent when recorded absent or when every source was
  available and nothing was recorded (``when_absent``).
- ``all``: every value, oldest first (CSF cytology: first vs repeat).
- ``each-code``: the newest record per code (symptoms, SINS components).

Unknown always carries a reason: ``not recorded``, ``source unavailable``,
``unusable resource`` or ``out of date``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import Any, Iterable, Sequence

from cds_service.facts.collect import ABSENT, PRESENT, SUSPECTED, Candidate, Unusable
from cds_service.facts.mapping import FactSpec, Window
from cds_service.facts.model import Fact, FactStatus, Interval
from cds_service.fhir.parse import add_months

NOT_RECORDED = "not recorded"
SOURCE_UNAVAILABLE = "source unavailable"
UNUSABLE = "unusable resource"
OUT_OF_DATE = "out of date"


@dataclass(frozen=True)
class Context:
    now: datetime
    unavailable: frozenset[str] = frozenset()
    conflict_days: float = 7

    def missing_sources(self, sources: Iterable[str]) -> list[str]:
        if not self.unavailable:  # the usual case: every source was sent or fetched
            return []
        return sorted(s for s in sources if s in self.unavailable)


def window_start(now: datetime, window: Window) -> datetime:
    if window.unit == "months":
        return add_months(now, -window.amount)
    if window.unit == "years":
        return add_months(now, -12 * window.amount)
    days = window.amount * (7 if window.unit == "weeks" else 1)
    return now - timedelta(days=days)


def is_stale(when: datetime | None, window: Window | None, now: datetime) -> bool:
    return window is not None and when is not None and when < window_start(now, window)


def newest_first(cands: Iterable[Candidate]) -> list[Candidate]:
    """Dated candidates newest first, undated ones after (in record order)."""
    cands = list(cands)
    dated = sorted((c for c in cands if c.date is not None), key=lambda c: c.date, reverse=True)  # type: ignore
    return dated + [c for c in cands if c.date is None]


def show(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def day(when: datetime | None) -> str:
    return when.date().isoformat() if when is not None else "no date"


def conflict_note(label: str, cand: Candidate) -> str:
    """``conflicts with ECOG 3 (Observation/x, 2026-11-20)``."""
    what = f"{label} {show(cand.value)}".strip()
    return f"conflicts with {what} ({cand.provenance.reference}, {day(cand.date)})"


def frozen_fact(fact: Fact) -> Fact:
    """``fact`` with read-only ``attrs``, so one instance can be shared by every call (and thread)."""
    attrs = {k: MappingProxyType(v) if isinstance(v, dict) else v for k, v in fact.attrs.items()}
    return replace(fact, attrs=MappingProxyType(attrs))


def unknown(name: str, reason: str = NOT_RECORDED, notes: Sequence[str] = (), **attrs: Any) -> Fact:
    return Fact(name=name, status=FactStatus.UNKNOWN, reason=reason, notes=tuple(notes), attrs=attrs)


def unavailable(name: str, sources: Sequence[str]) -> Fact:
    return unknown(name, SOURCE_UNAVAILABLE, (f"could not be retrieved: {', '.join(sources)}",))


def known(name: str, value: Any, cands: Sequence[Candidate] = (), *, derived_from: str | None = None,
          notes: Sequence[str] = (), attrs: dict[str, Any] | None = None) -> Fact:
    return Fact(
        name=name,
        value=value,
        status=FactStatus.KNOWN,
        provenance=tuple(c.provenance for c in cands),
        derived_from=derived_from,
        notes=tuple(dict.fromkeys(notes)),
        attrs=attrs or {},
    )


def stale(name: str, value: Any, cand: Candidate, window: Window, *, derived_from: str | None = None,
          notes: Sequence[str] = (), attrs: dict[str, Any] | None = None) -> Fact:
    return Fact(
        name=name,
        status=FactStatus.STALE,
        stale_value=value,
        provenance=(cand.provenance,),
        derived_from=derived_from,
        notes=tuple(notes),
        reason=f"{OUT_OF_DATE} (older than {window.text})",
        attrs=attrs or {},
    )


def newer_unusable(unusable: Sequence[Unusable], than: datetime | None) -> Unusable | None:
    """An unreadable record newer than the chosen value (or any, when there is no dated value)."""
    pool = [u for u in unusable if than is None or (u.date is not None and u.date > than)]
    if not pool:
        return None
    dated = [u for u in pool if u.date is not None]
    return max(dated, key=lambda u: u.date) if dated else pool[0]  # type: ignore[arg-type,return-value]


def select(spec: FactSpec, cands: Sequence[Candidate], unusable: Sequence[Unusable], ctx: Context,
           label: str = "") -> Fact:
    """The Fact of a plain mapping according to its ``select`` policy."""
    missing = ctx.missing_sources(spec.sources)
    if spec.select == "any":
        return _any(spec, cands, unusable, ctx, missing)
    if spec.select == "all":
        return _all(spec, cands, unusable, ctx, missing)
    if spec.select == "each-code":
        return _each_code(spec, cands, unusable, ctx, missing)
    return most_recent(spec.name, cands, unusable, ctx, window=spec.window, missing=missing,
                       conflict_days=spec.conflict_days, when_absent=spec.when_absent
                       if spec.has_absent_default else _NO_DEFAULT, label=label)


_NO_DEFAULT = object()


def _from_absence(name: str, value: Any, missing: Sequence[str]) -> Fact:
    if missing:
        return unavailable(name, missing)
    return Fact(name=name, value=value, status=FactStatus.KNOWN, attrs={"assumed": True},
                notes=("nothing recorded",))


def most_recent(name: str, cands: Sequence[Candidate], unusable: Sequence[Unusable], ctx: Context, *,
                window: Window | None = None, missing: Sequence[str] = (), conflict_days: float | None = 7,
                when_absent: Any = _NO_DEFAULT, label: str = "", derived_from: str | None = None) -> Fact:
    ordered = newest_first(cands)
    if not ordered:
        bad = newer_unusable(unusable, None)
        if bad is not None:
            return unknown(name, UNUSABLE, (f"{bad.ref}: {bad.why}",))
        if when_absent is not _NO_DEFAULT:
            return _from_absence(name, when_absent, missing)
        return unavailable(name, missing) if missing else unknown(name)
    winner = ordered[0]
    bad = newer_unusable(unusable, winner.date)
    if bad is not None and bad.date is not None:
        return unknown(name, UNUSABLE, (f"{bad.ref}: {bad.why}",
                                        f"an older value {show(winner.value)} ({winner.provenance.reference}) "
                                        "was not used"))
    if window is not None and winner.date is None:
        return unknown(name, UNUSABLE, (f"{winner.provenance.reference}: no date, cannot tell whether it is "
                                        "current",))
    same_time = [c for c in ordered[1:] if winner.date is not None and c.date == winner.date
                 and (c.value != winner.value or c.attrs.get("interval") != winner.attrs.get("interval"))]
    if same_time:
        return _disagreeing(name, [winner, *same_time], window, ctx, missing, derived_from)
    if "interval" in winner.attrs:
        return _bound(name, winner, window, ctx, missing, derived_from)
    notes: list[str] = []
    numeric = isinstance(winner.value, (int, float)) and not isinstance(winner.value, bool)
    if not numeric:  # numbers are re-measured all the time; a changed value is no conflict
        notes.extend(conflicts(winner, ordered[1:], conflict_days, label))
    if missing:
        notes.append(f"could not be retrieved: {', '.join(missing)} (a newer record may be missing)")
    attrs = dict(winner.attrs)
    if is_stale(winner.date, window, ctx.now):
        return stale(name, winner.value, winner, window, notes=notes, attrs=attrs,  # type: ignore[arg-type]
                     derived_from=derived_from)
    return known(name, winner.value, [winner], notes=notes, attrs=attrs, derived_from=derived_from)


DISAGREEING = "disagreeing values"
BOUND = "recorded as a bound"


def _shown(c: Candidate) -> str:
    return str(c.attrs.get("recorded_as") or show(c.value))


def _interval_of(c: Candidate) -> Interval | None:
    """The numbers a candidate allows: its bound, or its exact value (None for a non-number)."""
    interval = c.attrs.get("interval")
    if isinstance(interval, Interval):
        return interval
    if isinstance(c.value, (int, float)) and not isinstance(c.value, bool):
        return Interval(float(c.value), float(c.value))
    return None


def _hull(intervals: Sequence[Interval]) -> Interval:
    lows = [i for i in intervals if i.low is not None]
    highs = [i for i in intervals if i.high is not None]
    low = min(lows, key=lambda i: (i.low, not i.low_open)) if len(lows) == len(intervals) else None
    high = max(highs, key=lambda i: (i.high, i.high_open)) if len(highs) == len(intervals) else None
    return Interval(low.low if low else None, high.high if high else None,
                    low_open=bool(low and low.low_open), high_open=bool(high and high.high_open))


def _disagreeing(name: str, cands: Sequence[Candidate], window: Window | None, ctx: Context,
                 missing: Sequence[str], derived_from: str | None) -> Fact:
    """Catalog *Disagreeing values*: current values of one fact recorded at the same time that differ.

    Which is right cannot be told (the order of a Bundle never decides), so the fact is unknown and
    names both sources. Numbers keep the range they span (``attrs.interval``): a step both values
    answer the same is still decided (KPS 80 and 90 both say "KPS ≥ 70"); one they answer
    differently is unknown.
    """
    winner = cands[0]
    both = " and ".join(f"{_shown(c)} ({c.provenance.reference})" for c in cands)
    notes = [f"disagreeing values recorded at the same time ({day(winner.date)}): {both}"]
    if missing:
        notes.append(f"could not be retrieved: {', '.join(missing)} (a newer record may be missing)")
    provenance = tuple(dict.fromkeys(c.provenance for c in cands))
    if is_stale(winner.date, window, ctx.now):
        return Fact(name=name, status=FactStatus.STALE, provenance=provenance, notes=tuple(notes),
                    reason=f"{OUT_OF_DATE} (older than {window.text})", derived_from=derived_from)  # type: ignore
    attrs: dict[str, Any] = {"disagreeing": tuple(c.provenance.reference for c in cands)}
    intervals = [_interval_of(c) for c in cands]
    if all(i is not None for i in intervals):
        attrs["interval"] = _hull(intervals)  # type: ignore[arg-type]
        attrs["recorded_as"] = " / ".join(_shown(c) for c in cands)
    return Fact(name=name, status=FactStatus.UNKNOWN, reason=DISAGREEING, provenance=provenance,
                notes=tuple(notes), attrs=attrs, derived_from=derived_from)


def _bound(name: str, winner: Candidate, window: Window | None, ctx: Context, missing: Sequence[str],
           derived_from: str | None) -> Fact:
    """Catalog *Values that are bounds*: the newest record is a bound (``> 10 mm``): not a value.

    The fact is unknown but carries the interval and the value as recorded, so a step the whole
    interval answers is decided (:func:`cds_service.facts.model.compare`) and the card shows "> 10 mm".
    """
    notes = [f"recorded as {_shown(winner)} ({winner.provenance.reference}): a bound, not a value"]
    if missing:
        notes.append(f"could not be retrieved: {', '.join(missing)} (a newer record may be missing)")
    if is_stale(winner.date, window, ctx.now):
        return stale(name, winner.value, winner, window, notes=notes,  # type: ignore[arg-type]
                     derived_from=derived_from, attrs=dict(winner.attrs))
    return Fact(name=name, status=FactStatus.UNKNOWN, reason=BOUND, provenance=(winner.provenance,),
                notes=tuple(notes), attrs=dict(winner.attrs), derived_from=derived_from)


def conflicts(winner: Candidate, others: Iterable[Candidate], days: float | None, label: str = "") -> list[str]:
    """Notes for older records within ``days`` of the winner that say something else."""
    if days is None or winner.date is None:
        return []
    limit = winner.date - timedelta(days=days)
    return [
        conflict_note(label, c)
        for c in others
        if c.date is not None and c.date >= limit and c.value != winner.value
    ]


def _any(spec: FactSpec, cands: Sequence[Candidate], unusable: Sequence[Unusable], ctx: Context,
         missing: Sequence[str]) -> Fact:
    name = spec.name
    ordered = newest_first(cands)
    present = [c for c in ordered if c.state == PRESENT]
    suspected = [c for c in ordered if c.state == SUSPECTED]
    chosen = present or suspected
    if chosen:
        attrs = dict(chosen[0].attrs)
        attrs["suspected"] = not present
        if spec.window is not None and all(is_stale(c.date, spec.window, ctx.now) for c in chosen):
            return stale(name, chosen[0].value, chosen[0], spec.window, attrs=attrs)
        return known(name, chosen[0].value, chosen, attrs=attrs)
    if missing:
        return unavailable(name, missing)
    bad = newer_unusable(unusable, ordered[0].date if ordered else None)
    if bad is not None:
        return unknown(name, UNUSABLE, (f"{bad.ref}: {bad.why}",))
    absent = [c for c in ordered if c.state == ABSENT]
    if absent:
        return known(name, absent[0].value, absent[:1], attrs=dict(absent[0].attrs))
    if spec.has_absent_default:
        return _from_absence(name, spec.when_absent, missing)
    return unknown(name)


def _all(spec: FactSpec, cands: Sequence[Candidate], unusable: Sequence[Unusable], ctx: Context,
         missing: Sequence[str]) -> Fact:
    ordered = list(reversed(newest_first(c for c in cands if c.date is not None)))
    ordered += [c for c in cands if c.date is None]
    notes = [f"{u.ref}: {u.why}" for u in unusable]
    if missing:
        notes.append(f"could not be retrieved: {', '.join(missing)} (records may be missing)")
    if not ordered:
        if unusable:
            return unknown(spec.name, UNUSABLE, notes)
        if spec.has_absent_default:
            return _from_absence(spec.name, tuple(spec.when_absent or ()), missing)
        return unavailable(spec.name, missing) if missing else unknown(spec.name)
    return known(spec.name, tuple(c.value for c in ordered), ordered, notes=notes,
                 attrs={"dates": tuple(c.date for c in ordered)})


def _each_code(spec: FactSpec, cands: Sequence[Candidate], unusable: Sequence[Unusable], ctx: Context,
               missing: Sequence[str]) -> Fact:
    """Newest record per key; presence facts give the set of present keys, valued ones a dict."""
    latest: dict[Any, Candidate] = {}
    for c in newest_first(cands):
        latest.setdefault(c.key, c)
    notes = [f"{u.ref}: {u.why}" for u in unusable]
    presence = spec.value.type in ("boolean", "presence")
    if presence:
        chosen = [c for c in latest.values() if c.state in (PRESENT, SUSPECTED)]
        if not latest and (missing or not spec.has_absent_default):
            if unusable:
                return unknown(spec.name, UNUSABLE, notes)
            return unavailable(spec.name, missing) if missing else unknown(spec.name)
        if missing and not chosen:
            return unavailable(spec.name, missing)
        if missing:
            notes.append(f"could not be retrieved: {', '.join(missing)} (more may be present)")
        return known(spec.name, frozenset(c.key for c in chosen), chosen, notes=notes,
                     attrs={"by_key": {c.key: c for c in chosen}})
    if not latest:
        if unusable:
            return unknown(spec.name, UNUSABLE, notes)
        return unavailable(spec.name, missing) if missing else unknown(spec.name)
    return known(spec.name, {k: c.value for k, c in latest.items()}, list(latest.values()), notes=notes,
                 attrs={"by_key": dict(latest)})
