"""Tolerant reading of FHIR R4 JSON: index resources, read codes, dates and statuses.

EHRs send partial and odd resources (``code.coding: [{}]``, a date string with
only a year, a number where a string belongs). Nothing in here raises on an
unexpected shape: a value that cannot be read is ``None``, a resource that
cannot be used is skipped and described in ``ResourceIndex.problems`` as
``"Observation/x: why"``, so the fact it would have fed stays unknown.

Why plain dicts and not ``fhir.resources`` models: the top-level classes are R5
and drop R4 fields, and validating every resource with the R4B pydantic models
costs far more than the whole extraction (see ``benchmarks/bench_extract.py``)
while the extractor only reads a handful of paths per resource, each of them
type-checked here. The R4 version lives in one constant
(:data:`cds_service.services.FHIR_VERSION`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from functools import lru_cache
from typing import Any, Iterable, Iterator, Mapping

# -- statuses -----------------------------------------------------------------

ENTERED_IN_ERROR = "entered-in-error"

# Which statuses make a resource count as a record of something that happened or is ongoing.
# Anything else (cancelled, revoked, draft, not-done, planned …) is ignored.
COUNTING_STATUS: Mapping[str, frozenset[str] | None] = {
    "Observation": frozenset({"final", "amended", "corrected", "preliminary", "unknown", ""}),
    "Procedure": frozenset({"completed", "in-progress", ""}),
    "ServiceRequest": frozenset({"active", "completed", ""}),
    "Encounter": frozenset({"in-progress", "finished", "arrived", "triaged", "onleave", ""}),
    "MedicationRequest": frozenset({"active", "completed", "stopped", "on-hold", ""}),
    "MedicationStatement": frozenset({"active", "completed", "stopped", "on-hold", "intended", ""}),
    "ImagingStudy": frozenset({"available", "unknown", ""}),
    "Condition": None,  # conditions are judged by clinical/verification status, see condition_state
    "Patient": None,
}

CONDITION_INACTIVE = frozenset({"inactive", "resolved", "remission"})
CONDITION_SUSPECTED = frozenset({"provisional", "differential", "unconfirmed"})

# Condition states returned by condition_state
ACTIVE = "active"
SUSPECTED = "suspected"
INACTIVE = "inactive"
REFUTED = "refuted"


# -- small tolerant accessors ---------------------------------------------------


def as_dict(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, dict) else {}


def as_list(value: Any) -> list:
    """A FHIR array; a single object where an array belongs is accepted as a one-element list."""
    if isinstance(value, list):
        return value
    if isinstance(value, dict):
        return [value]
    return []


def as_str(value: Any) -> str | None:
    if isinstance(value, str):
        value = value.strip()
        return value or None
    return None


def as_number(value: Any) -> float | None:
    """A JSON number (not a bool); numeric strings are accepted, NaN/inf are not."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.strip().replace(",", "."))
        except ValueError:
            return None
    else:
        return None
    if number != number or number in (float("inf"), float("-inf")):
        return None
    return number


def coding_dicts(concept: Any) -> list:
    """The Coding objects of a CodeableConcept (or of a bare Coding), not yet checked.

    A single Coding where a list belongs and a Coding where a CodeableConcept belongs
    are accepted. Items may still be anything: callers check each one.
    """
    if not isinstance(concept, dict):
        return []
    raw = concept.get("coding")
    if isinstance(raw, list):
        return raw
    if isinstance(raw, dict):  # one Coding where a list belongs
        return [raw]
    if raw is None and "code" in concept and "system" in concept:  # a Coding where a CodeableConcept belongs
        return [concept]
    return []


def coding_pairs(concept: Any) -> list[tuple[str, str]]:
    """The ``(system, code)`` pairs of a CodeableConcept (or a bare Coding); partial codings are skipped.

    The hot path of the derivations: a plain loop, no generator.
    """
    out = []
    for c in coding_dicts(concept):
        if isinstance(c, dict):
            system = c.get("system")
            code = c.get("code")
            if isinstance(system, str) and isinstance(code, str):
                code = code.strip()
                if code:
                    out.append((system.strip(), code))
    return out


def codings(concept: Any) -> Iterator[tuple[str, str]]:
    """Iterate :func:`coding_pairs`."""
    return iter(coding_pairs(concept))


def concept_text(concept: Any) -> str | None:
    concept = as_dict(concept)
    text = as_str(concept.get("text"))
    if text:
        return text
    for c in as_list(concept.get("coding")):
        if isinstance(c, dict) and as_str(c.get("display")):
            return as_str(c.get("display"))
    return None


def resource_key(resource: Mapping[str, Any]) -> str:
    """``Type/id`` for messages and provenance (``Type`` alone when the id is missing)."""
    rtype = resource.get("resourceType") if isinstance(resource.get("resourceType"), str) else "Resource"
    rid = resource.get("id")
    return f"{rtype}/{rid}" if isinstance(rid, (str, int)) and str(rid) else rtype


def resource_id(resource: Mapping[str, Any]) -> str | None:
    rid = resource.get("id")
    return str(rid) if isinstance(rid, (str, int)) and not isinstance(rid, bool) and str(rid) else None


# -- dates ------------------------------------------------------------------------

_PARTIAL = re.compile(r"^(\d{4})(?:-(\d{2}))?$")


@lru_cache(maxsize=4096)
def _parse_datetime(text: str) -> datetime | None:
    m = _PARTIAL.match(text)
    if m:  # FHIR allows "2026" and "2026-11": take the first day
        try:
            return datetime(int(m.group(1)), int(m.group(2) or 1), 1, tzinfo=timezone.utc)
        except ValueError:
            return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        try:
            value = datetime.combine(date.fromisoformat(text), datetime.min.time())
        except ValueError:
            return None
    if value.tzinfo is None:  # FHIR requires a zone with a time; a bare date is read as UTC midnight
        value = value.replace(tzinfo=timezone.utc)
    return value


def parse_datetime(value: Any) -> datetime | None:
    """An aware datetime from a FHIR date/dateTime/instant string, or None."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=timezone.utc)
    if not isinstance(value, str) or len(value) > 40:
        return None
    return _parse_datetime(value.strip())


def period_start(value: Any) -> datetime | None:
    return parse_datetime(as_dict(value).get("start"))


def period_end(value: Any) -> datetime | None:
    return parse_datetime(as_dict(value).get("end"))


def effective_time(resource: Mapping[str, Any]) -> datetime | None:
    """Observation-like ``effective[x]`` (a period counts from its start)."""
    when = parse_datetime(resource.get("effectiveDateTime")) or parse_datetime(resource.get("effectiveInstant"))
    if when is None and "effectivePeriod" in resource:
        when = period_start(resource.get("effectivePeriod")) or period_end(resource.get("effectivePeriod"))
    return when


def last_updated(resource: Mapping[str, Any]) -> datetime | None:
    return parse_datetime(as_dict(resource.get("meta")).get("lastUpdated"))


def clinical_time(resource: Mapping[str, Any]) -> datetime | None:
    """The clinically relevant time of a record, per resource type (fhir-mapping.md, general rules)."""
    rtype = resource.get("resourceType")
    when: datetime | None = None
    if rtype == "Observation":
        when = effective_time(resource) or parse_datetime(resource.get("issued"))
    elif rtype == "Condition":
        when = (
            parse_datetime(resource.get("onsetDateTime"))
            or period_start(resource.get("onsetPeriod"))
            or parse_datetime(resource.get("recordedDate"))
        )
    elif rtype == "Procedure":
        when = (
            parse_datetime(resource.get("performedDateTime"))
            or period_end(resource.get("performedPeriod"))
            or period_start(resource.get("performedPeriod"))
        )
    elif rtype == "ImagingStudy":  # study start, else the first series' start (PACS feeds often fill only that)
        when = parse_datetime(resource.get("started")) or min(
            (t for t in (parse_datetime(s.get("started")) for s in as_list(resource.get("series"))
                         if isinstance(s, Mapping)) if t is not None), default=None)
    elif rtype == "MedicationRequest":
        when = parse_datetime(resource.get("authoredOn"))
    elif rtype == "MedicationStatement":
        when = effective_time(resource) or parse_datetime(resource.get("dateAsserted"))
    elif rtype == "ServiceRequest":
        when = (
            parse_datetime(resource.get("occurrenceDateTime"))
            or period_start(resource.get("occurrencePeriod"))
            or parse_datetime(resource.get("authoredOn"))
        )
    elif rtype == "Encounter":
        when = period_start(resource.get("period")) or period_end(resource.get("period"))
    return when or last_updated(resource)


def recorded_time(resource: Mapping[str, Any]) -> datetime | None:
    """When a presentation was recorded (deadlines run from here): recordedDate / issued."""
    if resource.get("resourceType") == "Condition":
        return parse_datetime(resource.get("recordedDate"))
    return parse_datetime(resource.get("issued"))


def onset_time(resource: Mapping[str, Any]) -> datetime | None:
    if resource.get("resourceType") == "Condition":
        return (
            parse_datetime(resource.get("onsetDateTime"))
            or period_start(resource.get("onsetPeriod"))
        )
    return effective_time(resource)


def add_months(moment: datetime, months: int) -> datetime:
    """Calendar month arithmetic (31 Jan − 1 month = 31 Dec; 31 Mar − 1 month = 28/29 Feb)."""
    total = moment.year * 12 + (moment.month - 1) + months
    year, month = divmod(total, 12)
    month += 1
    days_in_month = (datetime(year + (month == 12), month % 12 + 1, 1) - timedelta(days=1)).day
    return moment.replace(year=year, month=month, day=min(moment.day, days_in_month))


# -- statuses -------------------------------------------------------------------


def status(resource: Mapping[str, Any]) -> str:
    value = resource.get("status")
    return value.strip() if isinstance(value, str) else ""


def _status_code(concept: Any) -> str | None:
    for _system, code in codings(concept):
        return code
    return None


def condition_state(resource: Mapping[str, Any]) -> str:
    """``active`` | ``suspected`` | ``inactive`` | ``refuted`` for a Condition.

    refuted verification ⇒ refuted; inactive/resolved/remission clinical status ⇒ inactive;
    an ``abatement[x]`` without a clinicalStatus ⇒ inactive (R4 invariant con-4: a Condition with an
    abatement is not active); provisional/differential/unconfirmed ⇒ suspected; otherwise a missing
    clinicalStatus counts as active (many EHRs leave it out on problem-list entries).
    """
    verification = _status_code(resource.get("verificationStatus"))
    clinical = _status_code(resource.get("clinicalStatus"))
    if verification == REFUTED:
        return REFUTED
    if clinical in CONDITION_INACTIVE:
        return INACTIVE
    if clinical is None and any(k.startswith("abatement") and resource.get(k) not in (None, False, "", {})
                                for k in resource):
        return INACTIVE
    if verification in CONDITION_SUSPECTED:
        return SUSPECTED
    return ACTIVE


def reference_key(reference: Any) -> str | None:
    """``Type/id`` from a Reference (relative or absolute URL, history suffix stripped).

    ``#id`` (contained) and ``urn:uuid:`` / ``urn:oid:`` references are returned as they are: they
    name a resource only together with their container or Bundle (see :meth:`ResourceIndex.resolve`).
    """
    ref = as_str(as_dict(reference).get("reference"))
    if not ref:
        return None
    if ref.startswith("#") or ref.startswith("urn:"):
        return ref
    if "/_history/" in ref:
        ref = ref.split("/_history/")[0]
    parts = ref.rstrip("/").split("/")
    if len(parts) >= 2:
        return f"{parts[-2]}/{parts[-1]}"
    return ref


def _version_key(resource: Mapping[str, Any]) -> tuple:
    """How new a copy of a record is: ``meta.versionId`` (numerically when it is a number), then
    ``meta.lastUpdated``. A copy without either is older than one that has it."""
    meta = as_dict(resource.get("meta"))
    vid = meta.get("versionId")
    vid = str(vid).strip() if isinstance(vid, (str, int)) and not isinstance(vid, bool) else ""
    if vid.isdigit():
        version: tuple = (2, int(vid), "")
    elif vid:
        version = (1, 0, vid)
    else:
        version = (0, 0, "")
    updated = parse_datetime(meta.get("lastUpdated"))
    return version + ((1, updated.timestamp()) if updated is not None else (0, 0.0),)


def _is_entered_in_error(resource: Mapping[str, Any]) -> bool:
    st = resource.get("status")
    if isinstance(st, str) and st.strip() == ENTERED_IN_ERROR:
        return True
    return (resource.get("resourceType") == "Condition"
            and _status_code(resource.get("verificationStatus")) == ENTERED_IN_ERROR)


def _canonical(resource: Mapping[str, Any]) -> str:
    import json

    try:
        return json.dumps(resource, sort_keys=True, default=str)
    except (TypeError, ValueError):
        return repr(resource)


def newest_copy(copies: list[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    """The record among several copies of one ``Type/id`` (catalog: *Disagreeing values*).

    The newest version wins (``meta.versionId``, then ``meta.lastUpdated``); the order of the copies
    never decides. Copies that are equally new but differ: an entered-in-error copy among them
    withdraws the record (None: the EHR itself says one of them is wrong, and we cannot tell which);
    otherwise the choice is made on the content, so it is the same for every order.
    """
    if len(copies) == 1:
        return copies[0]
    best = max(_version_key(c) for c in copies)
    newest = [c for c in copies if _version_key(c) == best]
    if len(newest) == 1:
        return newest[0]
    if any(_is_entered_in_error(c) for c in newest):
        return None
    return max(newest, key=_canonical)


# -- the index ----------------------------------------------------------------


def _id_of(resource: Mapping[str, Any]) -> str | None:
    """The id a reference would name (``str`` or a non-bool ``int``), or None."""
    rid = resource.get("id")
    if isinstance(rid, str):
        return rid or None
    if isinstance(rid, int) and not isinstance(rid, bool):
        return str(rid)
    return None


@dataclass
class ResourceIndex:
    """The usable resources of one call, by type and by ``Type/id``, and what was dropped and why.

    Only ``by_type`` is built while indexing. Few calls resolve a reference (lesion focus,
    ``derivedFrom``), and those only into small types, so the id map of a type is built the
    first time a reference into that type is resolved.
    """

    by_type: dict[str, list[Mapping[str, Any]]] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    ignored: int = 0  # entered-in-error and non-counting statuses
    # Every record of the call by the names a reference may use: ``Type/id`` and Bundle ``fullUrl``
    # (``urn:uuid:…``, absolute URLs). Records that do not count (cancelled …) are here too, so a
    # reference to them resolves (and the reader decides); entered-in-error records are not.
    all_ids: dict[str, Mapping[str, Any]] = field(default_factory=dict)
    full_urls: dict[str, Mapping[str, Any]] = field(default_factory=dict)
    _ids: dict[str, dict[str, Mapping[str, Any]]] = field(default_factory=dict, init=False, repr=False,
                                                           compare=False)

    def of_type(self, rtype: str) -> list[Mapping[str, Any]]:
        return self.by_type.get(rtype, [])

    def ids_of(self, rtype: str) -> dict[str, Mapping[str, Any]]:
        """id → resource for one type (one record per id: see :func:`newest_copy`)."""
        ids = self._ids.get(rtype)
        if ids is None:
            ids = self._ids[rtype] = {}
            for res in self.by_type.get(rtype, ()):
                rid = _id_of(res)
                if rid is not None:
                    ids[rid] = res
        return ids

    def get(self, key: str) -> Mapping[str, Any] | None:
        """The resource for a ``Type/id`` key (or a fullUrl), or None."""
        found = self.all_ids.get(key)
        if found is not None:
            return found
        found = self.full_urls.get(key)
        if found is not None:
            return found
        rtype, _, rid = key.partition("/")
        return self.ids_of(rtype).get(rid) if rid else None

    def resolve(self, reference: Any, container: Mapping[str, Any] | None = None) -> Mapping[str, Any] | None:
        """Follow a Reference wherever it points in the data of the call (fhir-mapping.md, general rules).

        ``#id`` → a contained resource of ``container``; ``urn:uuid:`` and absolute URLs → the Bundle
        entry with that ``fullUrl``; relative and absolute REST URLs → ``Type/id`` (``_history``
        stripped) among every resource of the call (any prefetch key, ``_include`` entries, draft
        orders). None when it cannot be resolved: what depends on it is then unknown, never false.
        """
        raw = reference if isinstance(reference, str) else as_str(as_dict(reference).get("reference"))
        raw = as_str(raw)
        if not raw:
            return None
        if raw.startswith("#"):
            holder = container if isinstance(container, dict) else {}
            for item in as_list(holder.get("contained")):
                if isinstance(item, dict) and _id_of(item) == raw[1:] and not _is_entered_in_error(item):
                    return item
            return None
        found = self.full_urls.get(raw)
        if found is not None:
            return found
        if raw.startswith("urn:"):
            return None
        key = reference_key({"reference": raw})
        return self.get(key) if key else None

    @property
    def by_ref(self) -> dict[str, Mapping[str, Any]]:
        """Every indexed resource with an id, by ``Type/id`` (built on each access: for tests and tools)."""
        return {f"{rtype}/{rid}": res for rtype in self.by_type for rid, res in self.ids_of(rtype).items()}


def index_resources(resources: Iterable[Any], full_urls: Mapping[str, Any] | None = None) -> ResourceIndex:
    """Index usable resources; one record per ``Type/id`` (newest version); drop entered-in-error and
    non-counting statuses. ``full_urls`` maps Bundle ``fullUrl`` values to their resources. Never raises."""
    index = ResourceIndex()
    try:
        items = list(resources or ())
    except TypeError:
        index.problems.append("resources: not a list")
        return index
    flat: list[Mapping[str, Any]] = []
    urls: dict[str, Mapping[str, Any]] = {}
    _flatten_into(flat, urls, index, items, "resource")
    # one record per Type/id: the newest version; the order of the entries never decides
    copies: dict[tuple[str, str], list[Mapping[str, Any]]] = {}
    for res in flat:
        rid = _id_of(res)
        if rid is not None:
            copies.setdefault((res["resourceType"], rid), []).append(res)
    chosen: dict[tuple[str, str], Mapping[str, Any] | None] = {
        key: newest_copy(group) for key, group in copies.items()}
    withdrawn: set[int] = set()
    for key, group in copies.items():
        if len(group) > 1:
            winner = chosen[key]
            withdrawn.update(id(c) for c in group if c is not winner)
    for url, res in (full_urls or {}).items():
        if isinstance(url, str) and isinstance(res, dict):
            urls.setdefault(url, res)
    by_type, all_ids = index.by_type, index.all_ids
    gone: set[int] = set(withdrawn)
    for res in flat:
        if id(res) in withdrawn:
            continue
        rtype = res["resourceType"]
        if _is_entered_in_error(res):
            index.ignored += 1
            gone.add(id(res))
            continue
        rid = _id_of(res)
        if rid is not None:
            all_ids[f"{rtype}/{rid}"] = res
        if not _counts(res, rtype):
            index.ignored += 1
            continue
        bucket = by_type.get(rtype)
        if bucket is None:
            bucket = by_type[rtype] = []
        bucket.append(res)
    index.full_urls = {u: r for u, r in urls.items() if id(r) not in gone and not _is_entered_in_error(r)}
    return index


def _counts(res: Mapping[str, Any], rtype: str) -> bool:
    """Whether a resource is a record of something that happened or is ongoing (see COUNTING_STATUS)."""
    st = res.get("status")
    st = st.strip() if isinstance(st, str) else ""
    if st == ENTERED_IN_ERROR:
        return False
    allowed = COUNTING_STATUS.get(rtype)
    if allowed is not None:
        return st in allowed
    return rtype != "Condition" or _status_code(res.get("verificationStatus")) != ENTERED_IN_ERROR


def _flatten_into(out: list[Mapping[str, Any]], urls: dict[str, Mapping[str, Any]], index: ResourceIndex,
                  items: Iterable[Any], label: str) -> None:
    """Resources, with Bundles opened (their ``fullUrl`` values noted); shapes that are not resources
    are described in ``index.problems``."""
    for i, res in enumerate(items):
        if not isinstance(res, dict):
            index.problems.append(f"{label} #{i}: not a JSON object ({type(res).__name__})")
            continue
        rtype = res.get("resourceType")
        if rtype == "Bundle":  # a search result or transaction where single resources were expected
            inner = []
            for e in as_list(res.get("entry")):
                if not isinstance(e, dict) or not isinstance(e.get("resource"), dict):
                    continue
                entry_res = e["resource"]
                search = e.get("search")
                if (entry_res.get("resourceType") == "OperationOutcome" and isinstance(search, dict)
                        and search.get("mode") == "outcome"):
                    continue
                url = as_str(e.get("fullUrl"))
                if url:
                    urls.setdefault(url, entry_res)
                inner.append(entry_res)
            _flatten_into(out, urls, index, inner, "Bundle entry")
            continue
        if not isinstance(rtype, str) or not rtype:
            index.problems.append(f"{label} #{i}: no resourceType")
            continue
        if rtype == "OperationOutcome":
            continue  # a message about the search, not a record of the patient
        out.append(res)
