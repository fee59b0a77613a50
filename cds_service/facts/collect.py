"""One pass over the resources: every record that matches a mapping becomes a candidate value.

For each usable resource the codes of its main code element are looked up in one
precompiled table per resource type. A hit is either a fact mapping (the value is
read into a :class:`Candidate`, or the resource is reported :class:`Unusable`) or
a *tag* for the structured readers (lesions, treatments, medications, primary
tumour, genomics), which get the matching resources afterwards. Choosing between
candidates (most recent, any, stale, conflicts) is :mod:`cds_service.facts.select`'s job.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable, Iterable, Mapping, Sequence

from cds_service.facts.codes import CallLookup, CodeTable, Hit, MultiTable
from cds_service.facts.mapping import Answer, FactSpec, MappingSet, MatchSpec, ValueSpec
from cds_service.facts.model import Interval, Provenance
from cds_service.fhir import parse
from cds_service.fhir.parse import ResourceIndex, as_dict, as_list, coding_pairs, codings

PRESENT = "present"
SUSPECTED = "suspected"
ABSENT = "absent"
VALUE = "value"


@dataclass
class Candidate:
    """One recorded value of a fact, with where and when it came from."""

    value: Any
    date: datetime | None
    provenance: Provenance
    state: str = VALUE
    attrs: dict[str, Any] = field(default_factory=dict)
    key: Any = None  # each-code facts: which code (symptom, SINS component)


@dataclass
class Unusable:
    """A record that matched a fact but whose value could not be read."""

    date: datetime | None
    ref: str
    why: str


@dataclass
class Collected:
    index: ResourceIndex
    candidates: dict[str, list[Candidate]] = field(default_factory=dict)
    unusable: dict[str, list[Unusable]] = field(default_factory=dict)
    tagged: dict[str, list[tuple[Mapping[str, Any], Any]]] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    # the medication concept of each medication record, followed through medicationReference (by id())
    medication_concepts: dict[int, Any] = field(default_factory=dict)

    def tag(self, name: str) -> list[tuple[Mapping[str, Any], Any]]:
        return self.tagged.get(name, [])


class _NothingRecorded(Exception):
    """The record holds no value at all (e.g. dataAbsentReason): not a candidate, not a problem."""


class _Unreadable(Exception):
    """The record's value cannot be used; the message says why."""


@dataclass(frozen=True)
class FactHandler:
    spec: FactSpec
    match: MatchSpec
    # Read from the match once at load; checked for every matching record.
    has_where: bool = field(init=False)
    code_values: CodeTable | None = field(init=False)

    def __post_init__(self) -> None:
        m = self.match
        object.__setattr__(self, "has_where", any(c is not None for c in (m.body_site, m.focus, m.focus_not)))
        object.__setattr__(self, "code_values", m.code_values if m.code_values else None)


@dataclass(frozen=True)
class Tag:
    """Hand matching resources to a structured reader; ``table`` gives the value of the matched code."""

    name: str
    table: CodeTable


def medication_concept(resource: Mapping[str, Any], index: ResourceIndex | None = None) -> Any:
    """The medication of a MedicationRequest / MedicationStatement: ``medicationCodeableConcept``, or
    the ``code`` of the Medication its ``medicationReference`` points to (contained, a Bundle entry, an
    ``_include`` or another prefetch key). None when it cannot be identified."""
    concept = resource.get("medicationCodeableConcept")
    if concept is not None:
        return concept
    ref = resource.get("medicationReference")
    if ref is None:
        return None
    if index is not None:
        target = index.resolve(ref, container=resource)
    else:
        target = ResourceIndex().resolve(ref, container=resource)  # contained only
    if target is not None and target.get("resourceType") == "Medication":
        return target.get("code")
    return None


def _medication_concepts(resource: Mapping[str, Any]) -> Sequence[Any]:
    return (medication_concept(resource),)


def _encounter_concepts(resource: Mapping[str, Any]) -> Sequence[Any]:
    return [resource.get("serviceType"), *as_list(resource.get("type"))]


def _imaging_concepts(resource: Mapping[str, Any]) -> Sequence[Any]:
    return as_list(resource.get("procedureCode"))


def _code_concept(resource: Mapping[str, Any]) -> Sequence[Any]:
    return (resource.get("code"),)


ConceptReader = Callable[[Mapping[str, Any]], Sequence[Any]]

# Where each resource type keeps the code that says what the record is (default: ``code``).
MAIN_CONCEPTS: Mapping[str, ConceptReader] = {
    "MedicationRequest": _medication_concepts,
    "MedicationStatement": _medication_concepts,
    "Encounter": _encounter_concepts,
    "ImagingStudy": _imaging_concepts,
}


def main_concepts(resource: Mapping[str, Any]) -> Sequence[Any]:
    """The CodeableConcepts that say what the record is, for its resource type."""
    rtype = resource.get("resourceType")
    read = MAIN_CONCEPTS.get(rtype, _code_concept) if isinstance(rtype, str) else _code_concept
    return read(resource)


def code_codings(resource: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The ``(system, code)`` pairs of the record's main code (see :data:`MAIN_CONCEPTS`)."""
    return [pair for concept in main_concepts(resource) for pair in coding_pairs(concept)]


class Reader:
    """The compiled dispatch tables and value readers for one :class:`MappingSet`."""

    TAG_SOURCES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
        # tag name, codeset, resource types
        ("lesion-size", "lesion-size", ("Observation",)),
        ("lesion-volume", "lesion-volume", ("Observation",)),
        ("variant-tests", "variant-tests", ("Observation",)),
        ("single-gene-tests", "single-gene-tests", ("Observation",)),
        ("primary-tumour", "primary-tumour", ("Condition",)),
        ("treatments", "treatments", ("Procedure",)),
        ("mdo", "mdo", ("Procedure",)),
        ("mdo-generic", "mdo-generic", ("Procedure",)),
        ("medications", "medications", ("MedicationRequest", "MedicationStatement")),
    )
    WHOLE_TYPES = ("Patient", "ImagingStudy")  # every resource of these types goes to its reader

    def __init__(self, ms: MappingSet) -> None:
        self.ms = ms
        self.onset_component = ms.codeset("onset-component")
        self.progressive_component = ms.codeset("progressive-component")
        self.dispatch: dict[str, MultiTable] = {}
        self.components: dict[str, MultiTable] = {}
        for spec in ms.facts.values():
            for match in spec.matches:
                handler = FactHandler(spec, match)
                for rtype in match.resources:
                    tables = [self.dispatch.setdefault(rtype, MultiTable())]
                    if match.components and rtype == "Observation":
                        tables.append(self.components.setdefault(rtype, MultiTable()))
                    for table in tables:
                        for code in match.codes:
                            table.add(code, handler)
                        for code, _answer in match.code_values:
                            table.add(code, handler)
        for name, codeset, rtypes in self.TAG_SOURCES:
            table = ms.codeset(codeset)
            tag = Tag(name, table)
            for rtype in rtypes:
                for code, _value in table:
                    self.dispatch.setdefault(rtype, MultiTable()).add(code, tag)

    # -- the pass -----------------------------------------------------------------
    def collect(self, index: ResourceIndex) -> Collected:
        out = Collected(index=index, problems=list(index.problems))
        for rtype, items in index.by_type.items():
            if rtype in self.WHOLE_TYPES:
                out.tagged[rtype] = [(r, None) for r in items]
                continue
            table = self.dispatch.get(rtype)
            if table is None:
                continue
            concepts_of = MAIN_CONCEPTS.get(rtype, _code_concept)
            if rtype in ("MedicationRequest", "MedicationStatement"):
                concepts_of = self._medication_reader(index, out)
            lookup = CallLookup(table)
            comp_table = self.components.get(rtype)
            comp_lookup = CallLookup(comp_table) if comp_table is not None else None
            for res in items:
                hits = lookup.matches(concepts_of(res))
                if hits:
                    self._handle_record(hits, res, out)
                if comp_lookup is not None and "component" in res:
                    self._handle_components(comp_lookup, res, out)
        return out

    @staticmethod
    def _medication_reader(index: ResourceIndex, out: Collected) -> ConceptReader:
        """Medication records are read through the resolver; a record whose medication cannot be
        identified (no code, or a reference that does not resolve) is tagged ``unidentified-medications``:
        "is the patient on drug X" is then unknown, never false (fhir-mapping.md, general rules)."""

        def read(res: Mapping[str, Any]) -> Sequence[Any]:
            concept = medication_concept(res, index)
            out.medication_concepts[id(res)] = concept
            if not coding_pairs(concept):
                out.tagged.setdefault("unidentified-medications", []).append((res, None))
            return (concept,)

        return read

    def _handle_record(self, hits: list[Hit], res: Mapping[str, Any], out: Collected) -> None:
        """Each handler once per record, for the first of the record's codes that names it."""
        seen: set[int] = set()
        for system, code, handlers in hits:
            for handler in handlers:
                if id(handler) in seen:
                    continue
                seen.add(id(handler))
                self._handle(handler, res, res, system, code, out)

    def _handle_components(self, lookup: CallLookup, res: Mapping[str, Any], out: Collected) -> None:
        for comp in as_list(res.get("component")):
            if not isinstance(comp, dict):
                continue
            for system, code, handlers in lookup.matches((comp.get("code"),)):
                for handler in handlers:
                    self._handle(handler, comp, res, system, code, out)

    def _handle(self, handler: Any, holder: Mapping[str, Any], res: Mapping[str, Any], system: str, code: str,
                out: Collected) -> None:
        if isinstance(handler, Tag):
            out.tagged.setdefault(handler.name, []).append((res, handler.table.get(system, code)))
            return
        spec = handler.spec
        if handler.has_where:
            where = self._where(handler.match, res, out.index)
            if where is None:  # a focus we cannot follow: which condition this is about is unknown
                ref = parse.resource_key(res)
                out.unusable.setdefault(spec.name, []).append(
                    Unusable(parse.clinical_time(res), ref, "focus reference could not be resolved"))
                out.problems.append(f"{ref}: focus reference could not be resolved")
                return
            if not where:
                return
        implied: Answer | None = handler.code_values.get(system, code) if handler.code_values is not None else None
        when = parse.clinical_time(res)
        try:
            value, state, attrs = self.read_value(spec, holder, res, implied)
        except _NothingRecorded:
            return
        except _Unreadable as exc:
            ref = parse.resource_key(res)
            out.unusable.setdefault(spec.name, []).append(Unusable(when, ref, str(exc)))
            out.problems.append(f"{ref}: {spec.name.strip('_').replace('_', ' ')}: {exc}")
            return
        if spec.attrs:
            attrs.update(self.read_attrs(spec.attrs, res))
        key = implied.value if (implied is not None and spec.select == "each-code") else None
        out.candidates.setdefault(spec.name, []).append(
            Candidate(
                value=value,
                date=when,
                provenance=Provenance(parse.as_str(res.get("resourceType")) or "Resource", parse.resource_id(res),
                                      f"{system}|{code}", when),
                state=state,
                attrs=attrs,
                key=key,
            )
        )

    # -- where clauses ----------------------------------------------------------------
    def _where(self, match: MatchSpec, res: Mapping[str, Any], index: ResourceIndex) -> bool | None:
        """Whether the record meets the mapping's where clause; None when a ``focus`` that would decide it
        cannot be resolved (unknown, never "not brain metastases")."""
        if match.body_site is not None:
            sites = res.get("bodySite")
            pairs = [p for s in (as_list(sites) if isinstance(sites, list) else [sites]) for p in codings(s)]
            if not any(p in match.body_site for p in pairs):
                return False
        if match.focus is not None or match.focus_not is not None:
            focused = False
            unresolved = False
            table = match.focus or match.focus_not
            for ref in as_list(res.get("focus")):
                target = index.resolve(ref, container=res)
                if target is None:
                    unresolved = unresolved or not isinstance(ref, dict) or "reference" in ref
                elif any(p in table for p in codings(target.get("code"))):
                    focused = True
                    break
            if unresolved and not focused:
                return None
            if match.focus is not None and not focused:
                return False
            if match.focus_not is not None and focused:
                return False
        return True

    # -- values ---------------------------------------------------------------------
    def read_value(self, spec: FactSpec, holder: Mapping[str, Any], res: Mapping[str, Any],
                   implied: Answer | None) -> tuple[Any, str, dict[str, Any]]:
        """(value, state, attrs) of one record; raises _NothingRecorded / _Unreadable."""
        vs = spec.value
        rtype = res.get("resourceType")
        each_code = spec.select == "each-code"
        if rtype == "Condition" and holder is res:
            state = parse.condition_state(res)
            if vs.type in ("boolean", "presence"):
                if state == parse.ACTIVE:
                    return vs.present, PRESENT, {}
                if state == parse.SUSPECTED:
                    return vs.suspected, SUSPECTED, {"suspected": True}
                return vs.absent, ABSENT, {}
            if state in (parse.INACTIVE, parse.REFUTED):
                if vs.type == "code":
                    return vs.absent, ABSENT, {}
                raise _NothingRecorded()
            if implied is not None and not each_code:
                return implied.value, VALUE, dict(implied.attrs)
            value, attrs = self._from_paths(vs, holder)
            return value, (ABSENT if value == vs.absent and vs.type == "code" else VALUE), attrs
        if vs.type in ("boolean", "presence") and rtype not in ("Observation", "Condition"):
            return vs.present, PRESENT, {}  # a Procedure / Encounter / ServiceRequest: the record is the fact
        if implied is not None and not each_code:
            return implied.value, VALUE, dict(implied.attrs)
        if vs.type in ("boolean", "presence"):
            if vs.type == "presence" and not any(k.startswith("value") for k in holder):
                return vs.present, PRESENT, {}  # no value[x] at all: the code is the finding
            flag, attrs = self._from_paths(vs, holder)
            if not isinstance(flag, bool):
                raise _Unreadable(f"expected yes/no, got {flag!r}")
            return (vs.present, PRESENT, attrs) if flag else (vs.absent, ABSENT, attrs)
        value, attrs = self._from_paths(vs, holder)
        state = ABSENT if (vs.type == "code" and value == vs.absent) else VALUE
        return value, state, attrs

    def _from_paths(self, vs: ValueSpec, holder: Mapping[str, Any]) -> tuple[Any, dict[str, Any]]:
        problem: str | None = None
        for path in vs.paths:
            for found in path.find(holder):
                items = found if isinstance(found, list) else [found]
                for item in items:
                    try:
                        result = self._one(vs, item)
                    except _Unreadable as exc:
                        problem = problem or str(exc)
                        continue
                    if result is not None:
                        return result
        if problem and vs.type == "code":
            expected = ", ".join(dict.fromkeys(str(a.value) for _c, a in vs.answers))
            raise _Unreadable(f"no recognised value (expected one of: {expected})")
        if problem:
            raise _Unreadable(problem)
        if "dataAbsentReason" in holder:
            raise _NothingRecorded()
        if holder.get("component") and not any(k.startswith("value") for k in holder):
            raise _NothingRecorded()  # a panel: the values are in its components
        raise _Unreadable("no value")

    def _one(self, vs: ValueSpec, item: Any) -> tuple[Any, dict[str, Any]] | None:
        """Read one found item; None = not a value of this kind (try the next path)."""
        if isinstance(item, bool):
            if vs.type in ("boolean", "presence"):
                return item, {}
            if vs.type == "code" and item is False:
                return vs.absent, {}
            return None
        if isinstance(item, dict) and ("coding" in item or "text" in item) and "value" not in item:
            pairs = list(codings(item))
            if not pairs:
                return None
            answer = vs.answers.first(pairs) if vs.answers else None
            if answer is None:
                if vs.type in ("code", "boolean", "presence") or vs.answers:
                    shown = ", ".join(f"{s}|{c}" for s, c in pairs[:3])
                    raise _Unreadable(f"value code not understood ({shown})")
                return None
            return self._number(vs, answer.value, None, dict(answer.attrs)) if vs.type in (
                "integer", "decimal") else (answer.value, dict(answer.attrs))
        if vs.type in ("integer", "decimal"):
            if isinstance(item, dict) and "value" in item:
                number = parse.as_number(item.get("value"))
                if number is None:
                    raise _Unreadable(f"quantity without a usable number ({item.get('value')!r})")
                unit = parse.as_str(item.get("code")) or parse.as_str(item.get("unit"))
                comparator = parse.as_str(item.get("comparator"))
                if comparator is not None:
                    if comparator not in BOUND_COMPARATORS:
                        raise _Unreadable(f"comparator {comparator[:10]!r} not understood")
                    shown = f"{comparator} {_fmt(number)} {parse.as_str(item.get('unit')) or unit or ''}".strip()
                    return self._number(vs, number, unit, {"recorded_as": shown}, check_unit=True,
                                        bound=comparator)
                return self._number(vs, number, unit, {}, check_unit=True)
            if isinstance(item, (int, float)):
                number = parse.as_number(item)
                if number is None:
                    raise _Unreadable(f"not a number ({item!r})")
                return self._number(vs, number, None, {})
            if isinstance(item, str):
                raise _Unreadable(f"text where a number belongs ({item[:30]!r})")
            return None
        return None

    def _number(self, vs: ValueSpec, number: Any, unit: str | None, attrs: dict[str, Any],
                check_unit: bool = False, bound: str | None = None) -> tuple[Any, dict[str, Any]]:
        if isinstance(number, bool) or not isinstance(number, (int, float)):
            raise _Unreadable(f"not a number ({number!r})")
        number = float(number)
        if check_unit and vs.units is not None:
            if unit is None:
                raise _Unreadable(f"quantity without a unit (expected one of {', '.join(vs.units)})")
            factor = vs.units.get(unit)
            if factor is None:
                factor = next((f for u, f in vs.units.items() if u.lower() == unit.lower()), None)
            if factor is None:
                raise _Unreadable(f"unit {unit!r} not understood (expected one of {', '.join(vs.units)})")
            if factor != 1:
                attrs.setdefault("recorded_as", f"{_fmt(number)} {unit}")
            number = number * factor
        if vs.range is not None:
            low, high = vs.range
            if (low is not None and number < low) or (high is not None and number > high):
                raise _Unreadable(f"value {_fmt(number)} outside {low}–{high}")
        if bound is not None:
            # Catalog *Values that are bounds*: "> 10 mm" is a bound, not the value 10. The candidate
            # carries the interval; a step is decided only when the whole interval answers it.
            interval = bound_interval(bound, round(number, 4))
            attrs["interval"] = interval
            if vs.threshold is not None:
                op, limit = vs.threshold
                result = interval.answers({"ge": ">=", "gt": ">", "le": "<=", "lt": "<"}[op], limit)
                if result is None:
                    raise _Unreadable(f"bound {attrs.get('recorded_as', '')} does not settle the threshold")
                attrs.pop("interval")
                return result, attrs
            return round(number, 4), attrs
        if vs.threshold is not None:
            op, limit = vs.threshold
            attrs["measured"] = number
            result = {"ge": number >= limit, "gt": number > limit, "le": number <= limit, "lt": number < limit}[op]
            return result, attrs
        if vs.type == "integer":
            if not float(number).is_integer():
                raise _Unreadable(f"{_fmt(number)} is not a whole number")
            return int(number), attrs
        return round(number, 4), attrs

    # -- attrs ----------------------------------------------------------------------
    def read_attrs(self, names: Iterable[str], res: Mapping[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        comps = [c for c in as_list(res.get("component")) if isinstance(c, dict)]
        for name in names:
            if name == "onset":
                onset = None
                for comp in comps:
                    if any(p in self.onset_component for p in codings(comp.get("code"))):
                        onset = parse.parse_datetime(comp.get("valueDateTime")) or parse.period_start(
                            comp.get("valuePeriod"))
                out["onset"] = onset or parse.onset_time(res)
            elif name == "recorded":
                out["recorded"] = parse.recorded_time(res)
            elif name == "progressive":
                for comp in comps:
                    if any(p in self.progressive_component for p in codings(comp.get("code"))):
                        flag = comp.get("valueBoolean")
                        if isinstance(flag, bool):
                            out["progressive"] = flag
            elif name == "focus":
                out["focus"] = tuple(k for k in (parse.reference_key(f) for f in as_list(res.get("focus"))) if k)
            elif name == "body_site":
                out["body_site"] = tuple(p for s in as_list(res.get("bodySite")) for p in codings(s))
        if "recorded" in out and out["recorded"] is None:
            out["recorded"] = out.get("onset") or parse.onset_time(res)
        return out


def _fmt(number: float) -> str:
    return f"{number:g}"


BOUND_COMPARATORS = ("<", "<=", ">", ">=")


def bound_interval(comparator: str, number: float) -> Interval:
    """The numbers a ``Quantity.comparator`` bound allows (``ad`` = "as defined" is not a bound)."""
    if comparator == ">":
        return Interval(low=number, low_open=True)
    if comparator == ">=":
        return Interval(low=number)
    if comparator == "<":
        return Interval(high=number, high_open=True)
    return Interval(high=number)
