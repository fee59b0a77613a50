"""The shared state of one extraction while derived facts are computed.

Derivation modules (:mod:`derive`, :mod:`lesions`, :mod:`care`, :mod:`spine`) read
the collected candidates and the facts computed so far from a :class:`Work` and
put their results back into it, in a fixed order (see ``extract.DERIVATIONS``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Sequence

from cds_service.facts.collect import Candidate, Collected, Unusable
from cds_service.facts.mapping import MappingSet
from cds_service.facts.model import Fact, FactStatus, Lesion, MdoDiscussion, Treatment
from cds_service.facts.select import Context, unavailable, unknown


@dataclass
class Work:
    ms: MappingSet
    collected: Collected
    ctx: Context
    facts: dict[str, Fact] = field(default_factory=dict)
    lesions: list[Lesion] = field(default_factory=list)
    treatments: list[Treatment] = field(default_factory=list)
    mdo_discussions: list[MdoDiscussion] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def now(self) -> datetime:
        return self.ctx.now

    def cands(self, name: str) -> list[Candidate]:
        return self.collected.candidates.get(name, [])

    def unusable(self, name: str) -> list[Unusable]:
        return self.collected.unusable.get(name, [])

    def fact(self, name: str) -> Fact:
        return self.facts.get(name) or unknown(name)

    def value(self, name: str) -> Any:
        f = self.facts.get(name)
        return f.value if f is not None and f.known else None

    def put(self, fact: Fact) -> None:
        self.facts[fact.name] = fact

    def missing(self, *sources: str) -> list[str]:
        return self.ctx.missing_sources(sources)

    def absent(self, name: str, sources: Sequence[str], value: Any = False, **attrs: Any) -> Fact:
        """Nothing recorded: ``value`` (assumed) when every source was available, else unknown."""
        missing = self.missing(*sources)
        if missing:
            return unavailable(name, missing)
        return Fact(name=name, value=value, status=FactStatus.KNOWN, attrs={"assumed": True, **attrs},
                    notes=("nothing recorded",))

    def problem(self, text: str) -> None:
        self.problems.append(text)

