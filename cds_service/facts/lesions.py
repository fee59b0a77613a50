"""Brain lesions: read lesion measurements, then count, size, volume and location of the current set.

A lesion is a tumour-size Observation (LOINC 21889-1, longest dimension in a
component) or a LOCAL ``lesion-volume`` Observation. Its region (brain / spine)
and sites come from ``bodySite``, a ``focus`` BodyStructure, or the ImagingStudy
it is ``derivedFrom``. "The current imaging set" is every brain lesion measured
within ``settings.lesion_set_days`` of the newest brain lesion measurement;
aggregates are computed over that set only.

Volumes are used only when recorded. When some lesion has only a diameter, the
volume facts stay unknown and carry the sphere estimate π/6·d³ in
``attrs.estimate`` (with ``attrs.estimated = True``), never as the value.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, Iterable, Mapping

from cds_service.facts.collect import BOUND_COMPARATORS, bound_interval
from cds_service.facts.model import Fact, FactStatus, Interval, Lesion, Provenance
from cds_service.facts.select import unavailable, unknown
from cds_service.facts.work import Work
from cds_service.fhir import parse
from cds_service.fhir.parse import as_dict, as_list, codings


@dataclass
class _Lesion:
    region: str
    diameter_mm: float | None
    volume_cm3: float | None
    sites: tuple[str, ...]
    date: datetime | None
    provenance: list[Provenance] = field(default_factory=list)
    refs: frozenset[str] = frozenset()  # Observation/x of the measurement, focus BodyStructures
    focus: frozenset[str] = frozenset()
    diameter_bound: Interval | None = None  # "> 10 mm": the diameter is only known to lie in this interval
    recorded_as: str | None = None


@dataclass
class _Volume:
    """A LOCAL lesion-volume Observation that could not be paired with a measured lesion."""

    volume_cm3: float
    region: str
    date: datetime | None
    provenance: Provenance


class LesionReader:
    def __init__(self, w: Work) -> None:
        self.w = w
        self.ms = w.ms
        self.sites_table = self.ms.codeset("body-sites")
        self.diameter_component = self.ms.codeset("lesion-diameter-component")
        self.volume_codes = self.ms.codeset("lesion-volume")
        self.brain_metastasis_codes = self.ms.codeset("brain-metastases")
        self.spinal_metastasis_codes = self.ms.codeset("spinal-metastasis-conditions")
        self.brain_procedures = self.ms.codeset("brain-imaging-procedures")
        self.spine_procedures = self.ms.codeset("spine-imaging-procedures")
        self.diameter_units: Mapping[str, float] = self.ms.setting("lesion_diameter_units", dict)
        self.volume_units: Mapping[str, float] = self.ms.setting("lesion_volume_units", dict)

    # -- reading ------------------------------------------------------------------
    def site_keys(self, concepts: Iterable[Any]) -> tuple[str, ...]:
        keys: list[str] = []
        for concept in concepts:
            for pair in codings(concept):
                key = self.sites_table.get(*pair)
                if isinstance(key, str) and key not in keys:
                    keys.append(key)
        return tuple(keys)

    def _sites_of(self, res: Mapping[str, Any]) -> tuple[str, ...]:
        concepts: list[Any] = as_list(res.get("bodySite")) if isinstance(res.get("bodySite"), list) else [
            res.get("bodySite")]
        metastasis_regions: list[str] = []
        for ref in as_list(res.get("focus")):
            target = self.w.collected.index.resolve(ref, container=res)
            if target is not None and target.get("resourceType") == "BodyStructure":
                concepts.append(target.get("location"))
                concepts.extend(as_list(target.get("includedStructure")))
                concepts.extend(as_dict(s).get("structure") for s in as_list(target.get("includedStructure")))
            elif target is not None and target.get("resourceType") == "Condition":
                # mCODE tumor-size: focus on the (secondary) cancer Condition the lesion belongs to
                concepts.extend(as_list(target.get("bodySite")))
                pairs = list(codings(target.get("code")))
                if any(p in self.brain_metastasis_codes for p in pairs):
                    metastasis_regions.append("brain")
                elif any(p in self.spinal_metastasis_codes for p in pairs):
                    metastasis_regions.append("spine")
        keys = self.site_keys(concepts)
        if not keys and metastasis_regions:
            keys = tuple(dict.fromkeys(metastasis_regions))
        if not keys:
            for ref in as_list(res.get("derivedFrom")):
                study = self.w.collected.index.resolve(ref, container=res)
                if study is not None and study.get("resourceType") == "ImagingStudy":
                    keys = self.site_keys(as_dict(s).get("bodySite") for s in as_list(study.get("series")))
                    keys = keys or self._procedure_sites(study)
                    if keys:
                        break
        return keys

    def _procedure_sites(self, study: Mapping[str, Any]) -> tuple[str, ...]:
        """Region of an ImagingStudy without series bodySite, from its procedureCode (brain / spine MRI LOINC)."""
        pairs = [p for c in as_list(study.get("procedureCode")) for p in codings(c)]
        if any(p in self.brain_procedures for p in pairs):
            return ("brain",)
        if any(p in self.spine_procedures for p in pairs):
            return ("spine",)
        return ()

    def region(self, sites: Iterable[str]) -> str:
        regions = {self.ms.sites[s].region for s in sites if s in self.ms.sites}
        if "brain" in regions:
            return "brain"
        if "spine" in regions:
            return "spine"
        return "unknown"

    def _quantity(self, holder: Mapping[str, Any], units: Mapping[str, float], what: str, ref: str) -> float | None:
        q = holder.get("valueQuantity")
        if not isinstance(q, dict):
            return None
        if parse.as_str(q.get("comparator")) is not None:
            self.w.problem(f"{ref}: {what} recorded as a bound ({q.get('comparator')}); not used as a value")
            return None
        number = parse.as_number(q.get("value"))
        unit = parse.as_str(q.get("code")) or parse.as_str(q.get("unit"))
        if number is None or number <= 0:
            self.w.problem(f"{ref}: {what} without a usable positive number")
            return None
        factor = units.get(unit or "") or next((f for u, f in units.items() if unit and u.lower() == unit.lower()),
                                               None)
        if factor is None:
            self.w.problem(f"{ref}: {what} unit {unit!r} not understood (expected one of {', '.join(units)})")
            return None
        return round(number * factor, 4)

    def _bound(self, holder: Mapping[str, Any], units: Mapping[str, float]) -> tuple[Interval, str] | None:
        """A diameter recorded with a comparator (``> 10 mm``), in mm, and as recorded; None otherwise."""
        q = holder.get("valueQuantity")
        if not isinstance(q, dict):
            return None
        comparator = parse.as_str(q.get("comparator"))
        number = parse.as_number(q.get("value"))
        unit = parse.as_str(q.get("code")) or parse.as_str(q.get("unit"))
        if comparator not in BOUND_COMPARATORS or number is None or number < 0:
            return None
        factor = units.get(unit or "") or next((f for u, f in units.items() if unit and u.lower() == unit.lower()),
                                               None)
        if factor is None:
            return None
        shown = f"{comparator} {number:g} {parse.as_str(q.get('unit')) or unit}"
        return bound_interval(comparator, round(number * factor, 4)), shown

    def read(self) -> list[_Lesion]:
        lesions, _volumes = self.read_all()
        return lesions

    def read_all(self) -> tuple[list[_Lesion], list[_Volume]]:
        """Measured lesions, and the volume Observations that could not be paired with one.

        fhir-mapping.md: a volume is a property of a lesion, never a lesion of its own.
        """
        out: list[_Lesion] = []
        loose: list[_Volume] = []
        sizes = self.w.collected.tag("lesion-size")
        volumes = self.w.collected.tag("lesion-volume")
        by_ref: dict[str, _Lesion] = {}
        for res, _v in sizes:
            ref = parse.resource_key(res)
            diameter = volume = None
            bound: tuple[Interval, str] | None = None
            for comp in as_list(res.get("component")):
                if not isinstance(comp, dict):
                    continue
                pairs = list(codings(comp.get("code")))
                if any(p in self.diameter_component for p in pairs):
                    bound = bound or self._bound(comp, self.diameter_units)
                    if bound is None:
                        diameter = self._quantity(comp, self.diameter_units, "lesion diameter", ref)
                elif any(p in self.volume_codes for p in pairs):
                    volume = self._quantity(comp, self.volume_units, "lesion volume", ref)
            if diameter is None and bound is None and "valueQuantity" in res:
                bound = self._bound(res, self.diameter_units)
                if bound is None:
                    diameter = self._quantity(res, self.diameter_units, "lesion diameter", ref)
            if diameter is None and volume is None and bound is None:
                self.w.problem(f"{ref}: lesion size without a usable diameter")
                continue
            when = parse.clinical_time(res)
            sites = self._sites_of(res)
            lesion = _Lesion(region=self.region(sites), diameter_mm=diameter, volume_cm3=volume, sites=sites,
                             date=when, provenance=[_prov(res, when)], refs=frozenset({ref}),
                             focus=frozenset(k for k in (parse.reference_key(f) for f in as_list(res.get("focus")))
                                             if k),
                             diameter_bound=bound[0] if bound else None, recorded_as=bound[1] if bound else None)
            out.append(lesion)
            by_ref[ref] = lesion
        for res, _v in volumes:
            if res.get("resourceType") != "Observation":
                continue
            ref = parse.resource_key(res)
            volume = self._quantity(res, self.volume_units, "lesion volume", ref)
            if volume is None:
                if "valueQuantity" not in res:
                    self.w.problem(f"{ref}: lesion volume without valueQuantity")
                continue
            when = parse.clinical_time(res)
            target = self._associate(res, when, out, by_ref)
            if target is not None and target.volume_cm3 is None:
                target.volume_cm3 = volume
                target.provenance.append(_prov(res, when))
                continue
            sites = self._sites_of(res)
            loose.append(_Volume(volume_cm3=volume, region=self.region(sites) if sites else "brain", date=when,
                                 provenance=_prov(res, when)))
        return out, loose

    def _associate(self, res: Mapping[str, Any], when: datetime | None, lesions: list[_Lesion],
                   by_ref: dict[str, _Lesion]) -> _Lesion | None:
        """The measured lesion a volume belongs to: derivedFrom it, same focus, or the only same-day same-site one."""
        for ref in as_list(res.get("derivedFrom")):
            target = self.w.collected.index.resolve(ref, container=res)
            key = parse.resource_key(target) if target is not None else parse.reference_key(ref)
            if key in by_ref:
                return by_ref[key]
        focus = frozenset(k for k in (parse.reference_key(f) for f in as_list(res.get("focus"))) if k)
        if focus:
            same = [l for l in lesions if l.focus & focus]
            if len(same) == 1:
                return same[0]
        sites = self._sites_of(res)
        if when is not None and sites:
            same = [l for l in lesions if l.date is not None and l.date.date() == when.date() and l.sites == sites
                    and l.volume_cm3 is None]
            if len(same) == 1:
                return same[0]
        return None

    # -- facts ----------------------------------------------------------------------
    def critical(self, sites: Iterable[str], flag: str) -> bool | None:
        values = [getattr(self.ms.sites[s], flag) for s in sites if s in self.ms.sites]
        if any(v is True for v in values):
            return True
        if any(v is False for v in values):
            return False
        return None


def _prov(res: Mapping[str, Any], when: datetime | None) -> Provenance:
    code = next(iter(codings(res.get("code"))), None)
    return Provenance(str(res.get("resourceType")), parse.resource_id(res), f"{code[0]}|{code[1]}" if code else None,
                      when)


def _sphere_cm3(diameter_mm: float) -> float:
    d_cm = diameter_mm / 10
    return math.pi / 6 * d_cm ** 3


def derive_lesions(w: Work) -> None:
    reader = LesionReader(w)
    raw, loose_volumes = reader.read_all()
    bounds = {id(l.provenance[0]): (l.diameter_bound, l.recorded_as) for l in raw if l.diameter_bound is not None}
    lesions = [
        Lesion(region=l.region, diameter_mm=l.diameter_mm, volume_cm3=l.volume_cm3, sites=l.sites,
               critical=reader.critical(l.sites, "critical") if l.region == "brain" else None, date=l.date,
               provenance=tuple(l.provenance))
        for l in raw
    ]
    lesions.sort(key=lambda l: (l.date is not None, l.date), reverse=True)  # type: ignore[arg-type,return-value]
    w.lesions = lesions
    brain = [l for l in lesions if l.region == "brain" and l.date is not None]
    unplaced = [l for l in lesions if l.region == "unknown"]
    for l in unplaced:
        w.problem(f"{l.provenance[0].reference}: lesion without a brain or spine body site; not counted")
    sources = ("observations",)
    days = w.ms.setting("lesion_set_days")
    current: list[Lesion] = []
    if brain:
        newest = brain[0].date
        current = [l for l in brain if l.date >= newest - timedelta(days=days)]  # type: ignore[operator]
    set_date = current[0].date if current else None
    provs = tuple(p for l in current for p in l.provenance)
    not_placed = [f"{len(unplaced)} lesion measurement(s) without a brain/spine site were not counted"] \
        if unplaced else []

    # count: a recorded count overrides counting measurements, unless the measurements are newer
    recorded = w.fact("brain_metastasis_count")
    count_fact: Fact
    if recorded.known and (set_date is None or recorded.date is None
                           or recorded.date >= set_date - timedelta(days=days)):
        notes = list(recorded.notes)
        if current and recorded.value < len(current):
            notes.append(f"conflicts with {len(current)} lesions measured ({set_date.date().isoformat()})")  # type: ignore[union-attr]
        count_fact = replace(recorded, notes=tuple(notes))
    elif current:
        notes = list(not_placed)
        if recorded.known:
            notes.append(f"recorded count {recorded.value} ({recorded.provenance[0].reference}) is older than "
                         "the lesion measurements")
        count_fact = Fact(name="brain_metastasis_count", value=len(current), status=FactStatus.KNOWN,
                          provenance=provs, derived_from="lesions", notes=tuple(notes))
    else:
        count_fact = recorded if recorded.name == "brain_metastasis_count" else unknown("brain_metastasis_count")
        if not count_fact.known and w.missing(*sources):
            count_fact = _unavailable(w, "brain_metastasis_count", sources)
    w.put(count_fact)
    count = count_fact.value if count_fact.known else None
    complete = bool(current) and (count is None or count == len(current))

    _largest_diameter(w, current, count, provs, bounds, sources)

    # volumes: recorded only; otherwise an estimate in attrs. Volume Observations that could not be paired
    # with a measured lesion are used only when their number equals the number of lesions (fhir-mapping.md).
    volumes = [l.volume_cm3 for l in current]
    loose = _loose_in_set(loose_volumes, set_date, days)
    if current and loose and all(v is None for v in volumes) and len(loose) == (count or len(current)) \
            and count is not None:
        each = [v.volume_cm3 for v in loose]
        vprovs = provs + tuple(v.provenance for v in loose)
        note = (f"{len(loose)} volume(s) recorded without a link to a lesion; paired by number",)
        w.put(Fact(name="total_volume_cm3", value=round(sum(each), 3), status=FactStatus.KNOWN, provenance=vprovs,
                   derived_from="lesions", notes=note))
        w.put(Fact(name="largest_volume_cm3", value=max(each), status=FactStatus.KNOWN, provenance=vprovs,
                   derived_from="lesions", notes=note))
    elif current and all(v is not None for v in volumes) and complete:
        w.put(Fact(name="total_volume_cm3", value=round(sum(volumes), 3), status=FactStatus.KNOWN,  # type: ignore
                   provenance=provs, derived_from="lesions"))
        w.put(Fact(name="largest_volume_cm3", value=max(volumes), status=FactStatus.KNOWN,  # type: ignore
                   provenance=provs, derived_from="lesions"))
    elif current and all(l.volume_cm3 is not None or l.diameter_mm is not None for l in current):
        each = [l.volume_cm3 if l.volume_cm3 is not None else _sphere_cm3(l.diameter_mm) for l in current]  # type: ignore
        note = ("volume not recorded for every lesion; estimate π/6·d³ from the diameters",)
        if loose:
            note += (f"{len(loose)} volume(s) recorded without a link to a lesion, not as many as the lesions: "
                     "not used",)
        if complete:
            w.put(_estimate("total_volume_cm3", round(sum(each), 2), provs, note))
        else:
            w.put(unknown("total_volume_cm3", notes=(f"only {len(current)} of {count} lesions measured",)))
        w.put(_estimate("largest_volume_cm3", round(max(each), 2), provs, note))
    else:
        w.put(_missing(w, "total_volume_cm3", sources))
        w.put(_missing(w, "largest_volume_cm3", sources))

    _critical_location(w, reader, current, complete, provs)
    _posterior_fossa(w, reader, current, complete, provs)
    _resected_diameter(w, brain, bounds)


def _loose_in_set(loose: list[_Volume], set_date: datetime | None, days: float) -> list[_Volume]:
    """Unpaired brain volume Observations of the current imaging set."""
    if set_date is None:
        return []
    return [v for v in loose if v.region == "brain" and v.date is not None
            and abs((v.date - set_date).total_seconds()) <= days * 86400]


def _largest_diameter(w: Work, current: list[Lesion], count: int | None, provs: tuple[Provenance, ...],
                      bounds: Mapping[int, tuple[Interval | None, str | None]], sources: tuple[str, ...]) -> None:
    """The largest diameter of the current set (see :func:`_max_diameter`)."""
    name = "largest_diameter_mm"
    measured = [l for l in current if l.diameter_mm is not None or id(l.provenance[0]) in bounds]
    if not measured:
        w.put(_missing(w, name, sources))
        return
    notes = []
    if len(measured) < len(current):
        notes.append(f"{len(current) - len(measured)} lesion(s) without a diameter")
    if count is not None and count > len(current):
        notes.append(f"{len(current)} of {count} lesions measured")
    w.put(_max_diameter(name, measured, bounds, provs, notes))


def _max_diameter(name: str, lesions: list[Lesion], bounds: Mapping[int, tuple[Interval | None, str | None]],
                  provs: tuple[Provenance, ...], notes: list[str]) -> Fact:
    """The largest diameter of ``lesions``. A lesion recorded as a bound (``> 10 mm``) makes it an interval:
    low = the largest lower limit, high = the largest upper limit (open when any lesion has none)."""
    exact = [l.diameter_mm for l in lesions if l.diameter_mm is not None]
    bounded = [bounds[id(l.provenance[0])] for l in lesions if id(l.provenance[0]) in bounds]
    if not bounded:
        return Fact(name=name, value=max(exact), status=FactStatus.KNOWN, provenance=provs,  # type: ignore
                    derived_from="lesions", notes=tuple(notes))
    intervals = [b for b, _shown in bounded if b is not None] + [Interval(d, d) for d in exact]  # type: ignore
    low_candidates = [(i.low, i.low_open) for i in intervals if i.low is not None]
    low = max(low_candidates) if low_candidates else (0.0, False)
    high: tuple[float, bool] | None = None
    if all(i.high is not None for i in intervals):
        high = max((i.high, i.high_open) for i in intervals)  # type: ignore[type-var]
    interval = Interval(low[0], high[0] if high else None, low_open=low[1], high_open=bool(high and high[1]))
    shown = [s for _b, s in bounded if s]
    recorded = ", ".join(shown + [f"{d:g} mm" for d in exact])
    return Fact(name=name, status=FactStatus.UNKNOWN, reason="recorded as a bound", provenance=provs,
                derived_from="lesions", notes=(f"recorded as {recorded}: a bound, not a value", *notes),
                attrs={"interval": interval, "recorded_as": recorded})


def _estimate(name: str, value: float, provs: tuple[Provenance, ...], notes: tuple[str, ...]) -> Fact:
    return Fact(name=name, status=FactStatus.UNKNOWN, provenance=provs, derived_from="lesions",
                reason="estimate only", notes=notes, attrs={"estimated": True, "estimate": value})


def _unavailable(w: Work, name: str, sources: Iterable[str]) -> Fact:
    return unavailable(name, w.missing(*sources))


def _missing(w: Work, name: str, sources: Iterable[str]) -> Fact:
    return _unavailable(w, name, sources) if w.missing(*sources) else unknown(name)


def _bm_condition_sites(w: Work, reader: LesionReader) -> list[tuple[str, Provenance]]:
    out = []
    for cand in w.cands("_brain_metastases"):
        if cand.state == "absent":
            continue
        res = w.collected.index.get(cand.provenance.reference)
        if res is None:
            continue
        for key in reader.site_keys(as_list(res.get("bodySite"))):
            out.append((key, cand.provenance))
    return out


def _critical_location(w: Work, reader: LesionReader, current: list[Lesion], complete: bool,
                       provs: tuple[Provenance, ...]) -> None:
    name = "critical_location"
    recorded = w.fact("_critical_location_recorded")
    hits: list[tuple[str, Provenance]] = []
    for lesion in current:
        for s in lesion.sites:
            if s in w.ms.sites and w.ms.sites[s].critical:
                hits.append((s, lesion.provenance[0]))
    for s, prov in _bm_condition_sites(w, reader):
        if s in w.ms.sites and w.ms.sites[s].critical:
            hits.append((s, prov))
    rec_value = recorded.value if recorded.known else None
    if isinstance(rec_value, str) and rec_value in w.ms.sites and w.ms.sites[rec_value].critical:
        hits.append((rec_value, recorded.provenance[0]))
    if hits:
        notes = []
        if rec_value == "none":
            notes.append(f"conflicts with critical-location none ({recorded.provenance[0].reference}, "
                         f"{_day(recorded.date)})")
        w.put(Fact(name=name, value=True, status=FactStatus.KNOWN,
                   provenance=tuple(dict.fromkeys(p for _s, p in hits)), notes=tuple(notes),
                   attrs={"sites": frozenset(s for s, _p in hits)}))
        return
    if rec_value == "none":
        w.put(replace(recorded, name=name, value=False, attrs={"sites": frozenset()}))
        return
    if current and complete and all(l.critical is False for l in current):
        w.put(Fact(name=name, value=False, status=FactStatus.KNOWN, provenance=provs, derived_from="lesions",
                   attrs={"sites": frozenset()}))
        return
    if current:
        vague = sorted({s for l in current if l.critical is None for s in (l.sites or ("no site",))})
        notes = [f"site not specific enough: {', '.join(vague)}"] if vague else []
        if not complete:
            notes.append("not every lesion was measured")
        w.put(unknown(name, notes=notes))
        return
    w.put(_missing(w, name, ("observations",)))


def _posterior_fossa(w: Work, reader: LesionReader, current: list[Lesion], complete: bool,
                     provs: tuple[Provenance, ...]) -> None:
    name = "posterior_fossa"
    hits = [l.provenance[0] for l in current if reader.critical(l.sites, "posterior_fossa") is True]
    hits += [p for s, p in _bm_condition_sites(w, reader) if s in w.ms.sites and w.ms.sites[s].posterior_fossa]
    if hits:
        w.put(Fact(name=name, value=True, status=FactStatus.KNOWN, provenance=tuple(dict.fromkeys(hits))))
    elif current and complete and all(reader.critical(l.sites, "posterior_fossa") is False for l in current):
        w.put(Fact(name=name, value=False, status=FactStatus.KNOWN, provenance=provs, derived_from="lesions"))
    else:
        w.put(_missing(w, name, ("observations",)))


def _resected_diameter(w: Work, brain: list[Lesion],
                       bounds: Mapping[int, tuple[Interval | None, str | None]]) -> None:
    name = "resected_tumour_diameter_mm"
    recorded = w.fact("_resected_tumour_diameter_recorded")
    if recorded.known or recorded.status is FactStatus.STALE or recorded.reason in ("recorded as a bound",
                                                                                    "disagreeing values"):
        w.put(replace(recorded, name=name))
        return
    resections = [t for t in w.treatments if t.kind == "resection" and t.date is not None]
    if not resections:
        w.put(unknown(name, notes=recorded.notes))
        return
    when = max(t.date for t in resections)  # type: ignore[type-var]
    before = [l for l in brain if l.date is not None and l.date <= when
              and (l.diameter_mm is not None or id(l.provenance[0]) in bounds)]
    if not before:
        w.put(unknown(name, notes=("no lesion measured before the resection",)))
        return
    days = w.ms.setting("lesion_set_days")
    newest = before[0].date
    pre_set = [l for l in before if l.date >= newest - timedelta(days=days)]  # type: ignore[operator]
    notes = []
    if len(pre_set) > 1:
        notes.append(f"largest of {len(pre_set)} lesions measured before the resection (assumed the resected one)")
    if all(id(l.provenance[0]) not in bounds for l in pre_set):
        largest = max(pre_set, key=lambda l: l.diameter_mm)  # type: ignore[arg-type,return-value]
        w.put(Fact(name=name, value=largest.diameter_mm, status=FactStatus.KNOWN, provenance=largest.provenance,
                   derived_from="lesions", notes=tuple(notes)))
        return
    w.put(_max_diameter(name, pre_set, bounds, tuple(p for l in pre_set for p in l.provenance), notes))


def _day(when: Any) -> str:
    return when.date().isoformat() if isinstance(when, datetime) else str(when or "no date")

