"""Code specs and precompiled code tables.

A code is written in the mappings as ``"ALIAS code"`` (``"LNC 89243-0"``),
``"ALIAS prefix*"`` (``"ATC L01*"``: every code starting with ``L01``) or
``"http://system|code"``. An alias may stand for several systems (``ICD10``
covers ``…/icd-10`` and ``…/icd-10-nl``). ICD-10 codes are compared without
dots and in upper case, so ``C79.3``, ``C793`` and ``c79.3`` are the same code.

Tables are built once at load: exact codes in a dict keyed by
``(system, code)``, prefixes per system by length, so a lookup costs one or
two dict probes — the hot loop of extraction.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Generic, Iterable, Iterator, Mapping, Sequence, TypeVar

from cds_service.fhir.parse import coding_dicts

T = TypeVar("T")


class MappingError(ValueError):
    """The mappings are malformed; raised at startup with the file and the entry that is wrong."""


def normalise(system: str, code: str) -> str:
    code = code.strip()
    if "icd-10" in system or "icd10" in system:
        return code.replace(".", "").upper()
    return code


@dataclass(frozen=True)
class CodeSpec:
    systems: tuple[str, ...]
    code: str  # normalised; without the trailing * for a prefix
    prefix: bool = False
    text: str = ""  # as written in the YAML, for docs and messages

    def matches(self, system: str, code: str) -> bool:
        if system not in self.systems:
            return False
        code = normalise(system, code)
        return code.startswith(self.code) if self.prefix else code == self.code


def parse_code(text: Any, systems: Mapping[str, tuple[str, ...]], where: str) -> CodeSpec:
    """``"LNC 89243-0"`` / ``"ATC L01*"`` / ``"http://loinc.org|89243-0"`` → CodeSpec."""
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        text = str(text)
    if not isinstance(text, str) or not text.strip():
        raise MappingError(f"{where}: a code must be a string like 'LNC 89243-0', got {text!r}")
    raw = text.strip()
    if "|" in raw:
        system, _, code = raw.partition("|")
        urls: tuple[str, ...] = (system.strip(),)
    else:
        alias, _, code = raw.partition(" ")
        if alias not in systems:
            known = ", ".join(sorted(systems))
            raise MappingError(f"{where}: unknown code system alias {alias!r} in {raw!r} (known: {known})")
        urls = systems[alias]
    code = code.strip()
    if any(ch in code for ch in "\"' \t"):
        raise MappingError(f"{where}: {raw!r}: a code cannot contain quotes or spaces (quote the whole "
                           "string in YAML: \"LOCAL 0\")")
    if not code or not all(urls):
        raise MappingError(f"{where}: {raw!r} needs a system and a code")
    prefix = code.endswith("*")
    if prefix:
        code = code[:-1]
        if not code:
            raise MappingError(f"{where}: {raw!r}: a prefix needs at least one character before *")
    return CodeSpec(systems=urls, code=normalise(urls[0], code), prefix=prefix, text=raw)


@dataclass
class CodeTable(Generic[T]):
    """``(system, code)`` → value, with prefix codes (the longest matching prefix wins)."""

    exact: dict[tuple[str, str], T] = field(default_factory=dict)
    prefixes: dict[str, dict[str, T]] = field(default_factory=dict)
    _lengths: dict[str, tuple[int, ...]] = field(default_factory=dict)
    specs: list[tuple[CodeSpec, T]] = field(default_factory=list)

    def add(self, spec: CodeSpec, value: T) -> None:
        self.specs.append((spec, value))
        for system in spec.systems:
            if spec.prefix:
                self.prefixes.setdefault(system, {})[spec.code] = value
                self._lengths[system] = tuple(sorted({len(p) for p in self.prefixes[system]}, reverse=True))
            else:
                self.exact[(system, spec.code)] = value

    def get(self, system: str, code: str, default: Any = None) -> T | Any:
        code = normalise(system, code) if ("icd" in system) else code
        hit = self.exact.get((system, code))
        if hit is not None:
            return hit
        table = self.prefixes.get(system)
        if table:
            for n in self._lengths[system]:
                hit = table.get(code[:n])
                if hit is not None:
                    return hit
        return default

    def first(self, pairs: Iterable[tuple[str, str]], default: Any = None) -> T | Any:
        """The value of the first coding that is in the table."""
        for system, code in pairs:
            hit = self.get(system, code)
            if hit is not None:
                return hit
        return default

    def __contains__(self, pair: object) -> bool:
        if not isinstance(pair, tuple) or len(pair) != 2:
            return False
        return self.get(*pair) is not None

    def __bool__(self) -> bool:
        return bool(self.exact or self.prefixes)

    def __iter__(self) -> Iterator[tuple[CodeSpec, T]]:
        return iter(self.specs)


@dataclass
class MultiTable:
    """``(system, code)`` → every handler registered for it (exact and all matching prefixes)."""

    exact: dict[tuple[str, str], list] = field(default_factory=dict)
    prefixes: dict[str, dict[str, list]] = field(default_factory=dict)
    _lengths: dict[str, tuple[int, ...]] = field(default_factory=dict)

    def add(self, spec: CodeSpec, handler: Any) -> None:
        for system in spec.systems:
            if spec.prefix:
                bucket = self.prefixes.setdefault(system, {}).setdefault(spec.code, [])
                self._lengths[system] = tuple(sorted({len(p) for p in self.prefixes[system]}, reverse=True))
            else:
                bucket = self.exact.setdefault((system, spec.code), [])
            if handler not in bucket:
                bucket.append(handler)

    def lookup(self, system: str, code: str) -> list:
        if "icd" in system:
            code = normalise(system, code)
        hits = self.exact.get((system, code))
        table = self.prefixes.get(system)
        if not table:
            return hits or []
        out = list(hits) if hits else []
        for n in self._lengths[system]:
            more = table.get(code[:n])
            if more:
                out.extend(h for h in more if h not in out)
        return out


Hit = tuple[str, str, list]  # (system, code) as read (stripped) and the handlers registered for it
_UNSEEN = object()


class CallLookup:
    """One call's view of a :class:`MultiTable`: each raw ``(system, code)`` is stripped, normalised
    and looked up once.

    A long record repeats a handful of codes (the same laboratory tests and vital signs, over and
    over) that no mapping mentions. After the first time, such a coding costs one dict probe and no
    string work, so the resources no rule reads cost almost nothing. Built per call and dropped
    with it: nothing is kept between calls.
    """

    __slots__ = ("table", "_seen")

    def __init__(self, table: MultiTable) -> None:
        self.table = table
        self._seen: dict[tuple[str, str], Hit | None] = {}

    def matches(self, concepts: Sequence[Any]) -> list[Hit]:
        """The hits of every Coding of ``concepts`` (CodeableConcepts or bare Codings), in order."""
        out: list[Hit] = []
        seen = self._seen
        for concept in concepts:
            for coding in coding_dicts(concept):
                if not isinstance(coding, dict):
                    continue
                system = coding.get("system")
                code = coding.get("code")
                if not isinstance(system, str) or not isinstance(code, str):
                    continue
                hit = seen.get((system, code), _UNSEEN)
                if hit is _UNSEEN:
                    hit = seen[(system, code)] = self._look_up(system, code)
                if hit is not None:
                    out.append(hit)
        return out

    def _look_up(self, system: str, code: str) -> Hit | None:
        code = code.strip()
        if not code:
            return None
        system = system.strip()
        handlers = self.table.lookup(system, code)
        return (system, code, handlers) if handlers else None
