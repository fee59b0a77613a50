"""The declarative FHIR → fact mappings: load ``mappings/*.yaml``, validate, compile once.

A mapping file is recognised by its first key ``format: neuro-onc-cds/fact-mapping/v1``
(other YAML files in ``mappings/`` — the fact catalogue, order templates — are not
mappings). Each file may have these sections; they are merged over all files:

``systems``
    alias → system URL (or a list of URLs): ``LNC: http://loinc.org``.
``codesets``
    name → ``{description, codes}``; ``codes`` is a list of code specs (membership)
    or a mapping code spec → value (lookup, e.g. site code → site key). Codesets are
    used by ``facts`` (``"@name"`` in a code list) and by the extractors of lesions,
    treatments, medications, imaging and the primary tumour.
``sites``
    body-site key → ``{region, critical, posterior_fossa}`` (true / false / null = says nothing).
``settings``
    name → number or text (windows and limits of derived facts).
``facts``
    fact name → a fact mapping (below). Names starting with ``_`` are intermediate
    facts used by derivations and not shown to pathways.
``extend``
    fact name → ``{codes: [...]}`` or codeset name → ``{codes: ...}``: adds codes to a
    mapping defined in another file (for local codes in a separate file).

A fact mapping::

    kps:
      resources: [Observation]          # where to look
      codes: ["LNC 89243-0"]            # code specs or "@codeset"; several = value set
      code_values: {"SCT 425389002": 0} # codes that carry the value themselves
      match: [...]                      # instead of resources/codes: several match blocks,
                                        #   each {resources, codes, code_values, where, components}
      where: {body_site: "@spine-sites", focus: "@brain-metastases", focus_not: ...}
      components: true                  # also match Observation.component codes
      value:
        type: integer                   # boolean | presence | integer | decimal | code
        paths: [valueInteger, valueQuantity.value]   # jsonpath-ng, first hit wins
        answers: {"LNC LA29175-9": 100} # coded answers → value (or {value, attrs})
        units: {mm: 1, cm: 10}          # unit → factor to the fact's unit
        range: [0, 100]                 # outside ⇒ the record is unusable
        threshold: {ge: 1}              # number → boolean
        present: true / suspected: true / absent: false   # values of presence states
      select: most-recent               # most-recent | any | all | each-code
      window: 3 months                  # older ⇒ stale
      when_absent: false                # value when every source was available and nothing recorded
      conflict_days: 7                  # most-recent: note other values within this many days
      attrs: [onset, recorded, progressive]   # secondary values kept with the value

Everything is checked at load; a mistake raises :class:`MappingError` naming the
file and the entry, so a broken local edit stops the service at startup instead
of silently losing a fact.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from importlib import resources as importlib_resources
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

import yaml
from jsonpath_ng import parse as jsonpath_parse
from jsonpath_ng.jsonpath import Child, Fields, Index, Root

from cds_service.facts.codes import CodeSpec, CodeTable, MappingError, parse_code
from cds_service.yaml_load import safe_load

FORMAT = "neuro-onc-cds/fact-mapping/v1"

RESOURCE_SOURCES: Mapping[str, str] = {
    "Patient": "patient",
    "Condition": "conditions",
    "Observation": "observations",
    "Procedure": "procedures",
    "ImagingStudy": "imagingStudies",
    "MedicationRequest": "medicationRequests",
    "MedicationStatement": "medicationStatements",
    "ServiceRequest": "serviceRequests",
    "Encounter": "encounters",
}

VALUE_TYPES = ("boolean", "presence", "integer", "decimal", "code")
SELECT_POLICIES = ("most-recent", "any", "all", "each-code")
ATTRS = ("onset", "recorded", "progressive", "focus", "body_site")
_DEFAULT_PATHS = {
    "boolean": ("valueBoolean", "valueCodeableConcept"),
    "presence": ("valueBoolean", "valueCodeableConcept"),
    "integer": ("valueInteger", "valueQuantity", "valueCodeableConcept"),
    "decimal": ("valueQuantity", "valueInteger", "valueCodeableConcept"),
    "code": ("valueCodeableConcept", "valueBoolean"),
}
_UNSET = object()


# -- paths -----------------------------------------------------------------------


@dataclass(frozen=True)
class ValuePath:
    """A jsonpath-ng expression compiled once; simple chains (``a.b[0].c``) get a fast getter.

    jsonpath-ng's ``find`` costs a few microseconds per call; a field/index chain is
    walked directly with the same semantics (a field on a list finds nothing).
    """

    text: str
    expr: Any
    steps: tuple[str | int, ...] | None

    def find(self, data: Any) -> list[Any]:
        if self.steps is None:
            try:
                return [m.value for m in self.expr.find(data)]
            except Exception:  # jsonpath-ng raises on some odd shapes; an odd shape is "not found"
                return []
        current = data
        for step in self.steps:
            if isinstance(step, str):
                if not isinstance(current, dict) or step not in current:
                    return []
                current = current[step]
            else:
                if not isinstance(current, list) or not -len(current) <= step < len(current):
                    return []
                current = current[step]
        return [current]


def _chain(node: Any) -> list[str | int] | None:
    if isinstance(node, Root):
        return []
    if isinstance(node, Fields) and len(node.fields) == 1 and node.fields[0] != "*":
        return [node.fields[0]]
    if isinstance(node, Index) and len(getattr(node, "indices", ())) == 1:
        return [node.indices[0]]
    if isinstance(node, Child):
        left, right = _chain(node.left), _chain(node.right)
        if left is None or right is None:
            return None
        return left + right
    return None


def compile_path(text: Any, where: str) -> ValuePath:
    if not isinstance(text, str) or not text.strip():
        raise MappingError(f"{where}: a value path must be a jsonpath string, got {text!r}")
    try:
        expr = jsonpath_parse(text)
    except Exception as exc:  # jsonpath-ng raises several exception types
        raise MappingError(f"{where}: invalid jsonpath {text!r}: {exc}") from None
    steps = _chain(expr)
    return ValuePath(text=text, expr=expr, steps=tuple(steps) if steps is not None else None)


# -- windows ------------------------------------------------------------------------

_WINDOW_UNITS = {"day": "days", "days": "days", "week": "weeks", "weeks": "weeks",
                 "month": "months", "months": "months", "year": "years", "years": "years"}


@dataclass(frozen=True)
class Window:
    amount: int
    unit: str  # days | weeks | months | years

    @property
    def text(self) -> str:
        return f"{self.amount} {self.unit if self.amount != 1 else self.unit[:-1]}"


def parse_window(value: Any, where: str) -> Window | None:
    if value is None:
        return None
    parts = str(value).split()
    if len(parts) != 2 or not parts[0].isdigit() or parts[1] not in _WINDOW_UNITS:
        raise MappingError(f"{where}: window must look like '3 months' / '14 days', got {value!r}")
    return Window(int(parts[0]), _WINDOW_UNITS[parts[1]])


# -- compiled specs ----------------------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    value: Any
    attrs: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ValueSpec:
    type: str
    paths: tuple[ValuePath, ...]
    answers: CodeTable
    units: Mapping[str, float] | None = None
    range: tuple[float | None, float | None] | None = None
    threshold: tuple[str, float] | None = None
    present: Any = True
    suspected: Any = True
    absent: Any = False


@dataclass(frozen=True)
class MatchSpec:
    resources: frozenset[str]
    codes: tuple[CodeSpec, ...]
    code_values: CodeTable
    components: bool = False
    body_site: CodeTable | None = None
    focus: CodeTable | None = None
    focus_not: CodeTable | None = None


@dataclass(frozen=True)
class FactSpec:
    name: str
    matches: tuple[MatchSpec, ...]
    value: ValueSpec
    select: str = "most-recent"
    window: Window | None = None
    when_absent: Any = _UNSET
    conflict_days: float | None = 7
    attrs: tuple[str, ...] = ()
    description: str = ""
    file: str = ""

    @property
    def internal(self) -> bool:
        return self.name.startswith("_")

    @property
    def has_absent_default(self) -> bool:
        return self.when_absent is not _UNSET

    resources: frozenset[str] = field(init=False)
    sources: frozenset[str] = field(init=False)  # prefetch keys that feed this fact

    def __post_init__(self) -> None:
        types = frozenset(r for m in self.matches for r in m.resources)
        object.__setattr__(self, "resources", types)
        object.__setattr__(self, "sources", frozenset(RESOURCE_SOURCES[r] for r in types if r in RESOURCE_SOURCES))


@dataclass(frozen=True)
class Site:
    key: str
    region: str  # brain | spine | other
    critical: bool | None
    posterior_fossa: bool | None
    description: str = ""


@dataclass
class MappingSet:
    """Everything read from ``mappings/``: aliases, codesets, sites, settings, fact mappings."""

    systems: dict[str, tuple[str, ...]] = field(default_factory=dict)
    codesets: dict[str, CodeTable] = field(default_factory=dict)
    codeset_info: dict[str, dict[str, Any]] = field(default_factory=dict)
    sites: dict[str, Site] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)
    facts: dict[str, FactSpec] = field(default_factory=dict)
    files: tuple[str, ...] = ()

    def codeset(self, name: str) -> CodeTable:
        try:
            return self.codesets[name]
        except KeyError:
            raise MappingError(f"mappings: codeset {name!r} is required but not defined") from None

    def setting(self, name: str, kind: type | tuple[type, ...] = (int, float)) -> Any:
        if name not in self.settings:
            raise MappingError(f"mappings: setting {name!r} is required but not defined")
        value = self.settings[name]
        if not isinstance(value, kind) or isinstance(value, bool):
            raise MappingError(f"mappings: setting {name!r} has the wrong type ({value!r})")
        return value

    def window(self, name: str) -> Window:
        return parse_window(self.setting(name, str), f"settings.{name}")  # type: ignore[return-value]


# -- loading ---------------------------------------------------------------------------------


def _files(package: str) -> list[tuple[str, str]]:
    root = importlib_resources.files(package)
    out = []
    for entry in sorted(root.iterdir(), key=lambda p: p.name):
        if entry.name.endswith(".yaml") and entry.is_file():
            out.append((entry.name, entry.read_text(encoding="utf-8")))
    return out


def load_mappings(package: str = "cds_service.mappings", texts: Iterable[tuple[str, str]] | None = None) -> MappingSet:
    """Read every mapping file of ``package`` (or the given ``(name, text)`` pairs) and compile it."""
    docs: list[tuple[str, dict]] = []
    for name, text in texts if texts is not None else _files(package):
        try:
            data = safe_load(text)
        except yaml.YAMLError as exc:
            raise MappingError(f"{name}: not valid YAML: {exc}") from None
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            continue  # not a fact mapping (catalogue, order templates …)
        unknown = set(data) - {"format", "systems", "codesets", "sites", "settings", "facts", "extend"}
        if unknown:
            raise MappingError(f"{name}: unknown top-level keys {sorted(unknown)}")
        docs.append((name, data))
    if not docs:
        raise MappingError(f"{package}: no mapping files with 'format: {FORMAT}'")
    return _compile(docs)


def _section(name: str, data: dict, key: str) -> dict:
    value = data.get(key) or {}
    if not isinstance(value, dict):
        raise MappingError(f"{name}: '{key}' must be a mapping")
    return value


def _compile(docs: list[tuple[str, dict]]) -> MappingSet:
    ms = MappingSet(files=tuple(n for n, _ in docs))
    raw_codesets: dict[str, tuple[str, Any, str]] = {}
    raw_facts: dict[str, tuple[str, dict]] = {}
    extensions: list[tuple[str, str, dict]] = []
    for name, data in docs:
        for alias, urls in _section(name, data, "systems").items():
            urls = urls if isinstance(urls, list) else [urls]
            if not urls or not all(isinstance(u, str) and u for u in urls):
                raise MappingError(f"{name}: systems.{alias} must be a URL or a list of URLs")
            if alias in ms.systems and ms.systems[alias] != tuple(urls):
                raise MappingError(f"{name}: system alias {alias!r} already defined differently")
            ms.systems[alias] = tuple(urls)
        for key, raw in _section(name, data, "settings").items():
            if key in ms.settings:
                raise MappingError(f"{name}: setting {key!r} defined twice")
            ms.settings[key] = raw
        for key, raw in _section(name, data, "sites").items():
            if key in ms.sites:
                raise MappingError(f"{name}: site {key!r} defined twice")
            ms.sites[key] = _site(name, key, raw)
        for key, raw in _section(name, data, "codesets").items():
            if key in raw_codesets:
                raise MappingError(f"{name}: codeset {key!r} defined twice ({raw_codesets[key][0]})")
            if not isinstance(raw, dict) or "codes" not in raw:
                raise MappingError(f"{name}: codeset {key!r} needs 'codes'")
            raw_codesets[key] = (name, raw["codes"], str(raw.get("description") or ""))
        for key, raw in _section(name, data, "facts").items():
            if key in raw_facts:
                raise MappingError(f"{name}: fact {key!r} already mapped in {raw_facts[key][0]}; use 'extend'")
            if not isinstance(raw, dict):
                raise MappingError(f"{name}: facts.{key} must be a mapping")
            raw_facts[key] = (name, raw)
        for key, raw in _section(name, data, "extend").items():
            if not isinstance(raw, dict) or "codes" not in raw:
                raise MappingError(f"{name}: extend.{key} needs 'codes'")
            extensions.append((name, key, raw))

    for fname, key, raw in extensions:  # local additions, applied before compiling
        if key in raw_codesets:
            base_file, codes, desc = raw_codesets[key]
            raw_codesets[key] = (base_file, _merge_codes(codes, raw["codes"], f"{fname}: extend.{key}"), desc)
        elif key in raw_facts:
            base_file, fact = raw_facts[key]
            merged = dict(fact)
            merged["codes"] = _merge_codes(fact.get("codes") or [], raw["codes"], f"{fname}: extend.{key}")
            raw_facts[key] = (base_file, merged)
        else:
            raise MappingError(f"{fname}: extend.{key}: no fact or codeset of that name")

    compiling: list[str] = []

    def compile_codeset(key: str) -> CodeTable:
        if key in ms.codesets:
            return ms.codesets[key]
        if key not in raw_codesets:
            raise MappingError(f"{raw_codesets[compiling[-1]][0]}: codesets.{compiling[-1]}: includes codeset "
                               f"{key!r}, which is not defined")
        if key in compiling:
            raise MappingError(f"{raw_codesets[key][0]}: codesets include each other in a loop: "
                               f"{' → '.join(compiling + [key])}")
        compiling.append(key)
        fname, codes, desc = raw_codesets[key]
        where = f"{fname}: codesets.{key}"
        table: CodeTable = CodeTable()
        items = [(c, True) for c in codes] if isinstance(codes, list) else list(codes.items()) \
            if isinstance(codes, dict) else None
        if items is None:
            raise MappingError(f"{where}: codes must be a list or a mapping")
        for c, v in items:
            if isinstance(c, str) and c.startswith("@"):  # include another codeset (null keeps its values)
                for spec, value in compile_codeset(c[1:]):
                    table.add(spec, value if v is None or v is True and isinstance(codes, list) else v)
                continue
            if v is None:
                raise MappingError(f"{where}: {c!r} has no value")
            table.add(parse_code(c, ms.systems, where), v)
        compiling.pop()
        ms.codesets[key] = table
        ms.codeset_info[key] = {"file": fname, "description": desc}
        return table

    for key in raw_codesets:
        compile_codeset(key)

    for key, (fname, raw) in raw_facts.items():
        ms.facts[key] = _fact(ms, fname, key, raw)
    return ms


def _merge_codes(base: Any, extra: Any, where: str) -> Any:
    if isinstance(base, list) and isinstance(extra, list):
        return base + extra
    if isinstance(base, dict) and isinstance(extra, dict):
        return {**base, **extra}
    raise MappingError(f"{where}: codes must have the same form (list or mapping) as the original")


def _site(fname: str, key: str, raw: Any) -> Site:
    where = f"{fname}: sites.{key}"
    if not isinstance(raw, dict):
        raise MappingError(f"{where} must be a mapping with region/critical/posterior_fossa")
    for flag in ("critical", "posterior_fossa"):
        if raw.get(flag) not in (True, False, None):
            raise MappingError(f"{where}.{flag} must be true, false or null")
    if raw.get("region", "other") not in ("brain", "spine", "other"):
        raise MappingError(f"{where}.region must be brain, spine or other")
    return Site(key=key, region=str(raw.get("region") or "other"), critical=raw.get("critical"),
                posterior_fossa=raw.get("posterior_fossa"), description=str(raw.get("description") or ""))


def _codeset(ms: MappingSet, name: str, where: str) -> CodeTable:
    if name not in ms.codesets:
        raise MappingError(f"{where}: codeset {name!r} is required but not defined")
    return ms.codesets[name]


def _codes(ms: MappingSet, raw: Any, where: str) -> list[CodeSpec]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise MappingError(f"{where}: codes must be a list")
    out: list[CodeSpec] = []
    for c in raw:
        if isinstance(c, str) and c.startswith("@"):
            out.extend(spec for spec, _v in _codeset(ms, c[1:], where))
        else:
            out.append(parse_code(c, ms.systems, where))
    return out


def _table(ms: MappingSet, raw: Any, where: str, convert: Callable[[Any], Any] = lambda v: v) -> CodeTable:
    table: CodeTable = CodeTable()
    if raw is None:
        return table
    if isinstance(raw, str) and raw.startswith("@"):
        for spec, value in _codeset(ms, raw[1:], where):
            table.add(spec, convert(value))
        return table
    if not isinstance(raw, dict):
        raise MappingError(f"{where}: must be a mapping code → value (or '@codeset')")
    for c, v in raw.items():
        if isinstance(c, str) and c.startswith("@"):  # a whole codeset; null keeps its own values
            for spec, value in _codeset(ms, c[1:], where):
                table.add(spec, convert(value if v is None else v))
        else:
            table.add(parse_code(c, ms.systems, where), convert(v))
    return table


def _answer(value: Any) -> Answer:
    if isinstance(value, dict) and "value" in value:
        attrs = {k: tuple(v) if isinstance(v, list) else v for k, v in (value.get("attrs") or {}).items()}
        return Answer(value=value["value"], attrs=attrs)
    return Answer(value=value)


def _match(ms: MappingSet, raw: dict, where: str) -> MatchSpec:
    unknown = set(raw) - {"resources", "codes", "code_values", "where", "components"}
    if unknown:
        raise MappingError(f"{where}: unknown keys {sorted(unknown)}")
    resources = raw.get("resources")
    if isinstance(resources, str):
        resources = [resources]
    if not resources or not isinstance(resources, list):
        raise MappingError(f"{where}: 'resources' must list resource types")
    bad = [r for r in resources if r not in RESOURCE_SOURCES]
    if bad:
        raise MappingError(f"{where}: unsupported resource types {bad} (supported: {sorted(RESOURCE_SOURCES)})")
    codes = _codes(ms, raw.get("codes"), f"{where}.codes")
    code_values = _table(ms, raw.get("code_values"), f"{where}.code_values", _answer)
    if not codes and not code_values:
        raise MappingError(f"{where}: needs 'codes' or 'code_values'")
    cond = raw.get("where") or {}
    if not isinstance(cond, dict) or set(cond) - {"body_site", "focus", "focus_not"}:
        raise MappingError(f"{where}.where: only body_site, focus, focus_not are supported")

    def codeset_ref(key: str) -> CodeTable | None:
        ref = cond.get(key)
        if ref is None:
            return None
        if not isinstance(ref, str) or not ref.startswith("@"):
            raise MappingError(f"{where}.where.{key}: must name a codeset as '@name'")
        return _codeset(ms, ref[1:], f"{where}.where.{key}")

    return MatchSpec(
        resources=frozenset(resources),
        codes=tuple(codes),
        code_values=code_values,
        components=bool(raw.get("components", False)),
        body_site=codeset_ref("body_site"),
        focus=codeset_ref("focus"),
        focus_not=codeset_ref("focus_not"),
    )


def _value(ms: MappingSet, raw: Any, where: str) -> ValueSpec:
    raw = raw or {}
    if not isinstance(raw, dict):
        raise MappingError(f"{where}: must be a mapping")
    unknown = set(raw) - {"type", "paths", "answers", "units", "range", "threshold", "present", "suspected", "absent"}
    if unknown:
        raise MappingError(f"{where}: unknown keys {sorted(unknown)}")
    vtype = raw.get("type", "boolean")
    if vtype not in VALUE_TYPES:
        raise MappingError(f"{where}.type: {vtype!r} is not one of {VALUE_TYPES}")
    paths_raw = raw.get("paths") or _DEFAULT_PATHS[vtype]
    if isinstance(paths_raw, str):
        paths_raw = [paths_raw]
    paths = tuple(compile_path(p, f"{where}.paths") for p in paths_raw)
    answers_raw = raw.get("answers")
    if answers_raw is None and vtype in ("boolean", "presence"):
        answers_raw = "@yes-no" if "yes-no" in ms.codesets else None
    answers = _table(ms, answers_raw, f"{where}.answers", _answer)
    if vtype == "code" and not answers:
        raise MappingError(f"{where}: a coded value needs 'answers'")
    units = raw.get("units")
    if units is not None:
        if not isinstance(units, dict) or not units:
            raise MappingError(f"{where}.units must map unit → factor")
        for unit, factor in units.items():
            if isinstance(factor, bool) or not isinstance(factor, (int, float)) or factor <= 0:
                raise MappingError(f"{where}.units.{unit}: factor must be a positive number")
        units = {str(k): float(v) for k, v in units.items()}
    rng = raw.get("range")
    if rng is not None:
        if not (isinstance(rng, list) and len(rng) == 2 and all(x is None or isinstance(x, (int, float)) for x in rng)):
            raise MappingError(f"{where}.range must be [low, high] (null for open)")
        rng = (rng[0], rng[1])
    threshold = raw.get("threshold")
    if threshold is not None:
        if not (isinstance(threshold, dict) and len(threshold) == 1
                and next(iter(threshold)) in ("ge", "gt", "le", "lt")
                and isinstance(next(iter(threshold.values())), (int, float))):
            raise MappingError(f"{where}.threshold must be one of ge/gt/le/lt: number")
        threshold = next(iter(threshold.items()))
    if vtype == "decimal" and units is None and any("Quantity" in p.text for p in paths):
        raise MappingError(f"{where}: a decimal read from a Quantity needs 'units'")
    return ValueSpec(
        type=vtype,
        paths=paths,
        answers=answers,
        units=units,
        range=rng,
        threshold=threshold,
        present=raw.get("present", True),
        suspected=raw.get("suspected", raw.get("present", True)),
        absent=raw.get("absent", False),
    )


def _fact(ms: MappingSet, fname: str, key: str, raw: dict) -> FactSpec:
    where = f"{fname}: facts.{key}"
    allowed = {"resources", "codes", "code_values", "where", "components", "match", "value", "select", "window",
               "when_absent", "conflict_days", "attrs", "description"}
    unknown = set(raw) - allowed
    if unknown:
        raise MappingError(f"{where}: unknown keys {sorted(unknown)}")
    if "match" in raw:
        if not isinstance(raw["match"], list) or not raw["match"]:
            raise MappingError(f"{where}.match must be a non-empty list")
        if any(k in raw for k in ("resources", "codes", "code_values")):
            raise MappingError(f"{where}: use either 'match' or resources/codes, not both")
        matches = tuple(_match(ms, m if isinstance(m, dict) else {}, f"{where}.match[{i}]")
                        for i, m in enumerate(raw["match"]))
    else:
        block = {k: raw[k] for k in ("resources", "codes", "code_values", "where", "components") if k in raw}
        matches = (_match(ms, block, where),)
    select = raw.get("select", "most-recent")
    if select not in SELECT_POLICIES:
        raise MappingError(f"{where}.select: {select!r} is not one of {SELECT_POLICIES}")
    attrs = raw.get("attrs") or []
    if not isinstance(attrs, list) or set(attrs) - set(ATTRS):
        raise MappingError(f"{where}.attrs: allowed are {ATTRS}")
    conflict = raw.get("conflict_days", 7)
    if conflict is not None and (isinstance(conflict, bool) or not isinstance(conflict, (int, float)) or conflict < 0
                                 or math.isnan(conflict)):
        raise MappingError(f"{where}.conflict_days must be a number of days or null")
    when_absent = raw.get("when_absent", _UNSET)
    if select == "each-code" and when_absent is not _UNSET:
        when_absent = frozenset(when_absent or ())
    return FactSpec(
        name=key,
        matches=matches,
        value=_value(ms, raw.get("value"), f"{where}.value"),
        select=select,
        window=parse_window(raw.get("window"), f"{where}.window"),
        when_absent=when_absent,
        conflict_days=conflict,
        attrs=tuple(attrs),
        description=str(raw.get("description") or ""),
        file=fname,
    )


def mapping_files_dir(package: str = "cds_service.mappings") -> Path:
    return Path(str(importlib_resources.files(package)))
