"""PROG-SINS: the Spinal Instability Neoplastic Score (catalog §5; seed 002).

SINS (Spine Oncology Study Group) adds six components to a score of 0–18:
0–6 stable, 7–12 potentially unstable, 13–18 unstable. It feeds the spinal routing:
SINS ≥ 7 → spine surgeon (002's local protocol), SINS > 12 → red flag (004).

The score is computed from its six components when all are recorded; otherwise a
recorded total is accepted. With only some components recorded the score is not
known, but its bounds still are (recorded points … plus the maximum of the missing
components), which is enough to answer "≥ 7?" or "> 12?" when the bounds agree.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from cds_service.facts.model import Facts
from cds_service.pathways.model import EvalContext, Finding, LocalizedText, Text, tr

RULE = "PROG-SINS"
RULES = (RULE,)

# Allowed points per component (Fisher et al., Spine 2010).
COMPONENTS: Mapping[str, tuple[int, ...]] = {
    "location": (0, 1, 2, 3),  # junctional 3, mobile 2, semi-rigid 1, rigid 0
    "pain": (0, 1, 3),  # mechanical 3, occasional non-mechanical 1, pain-free 0
    "bone_lesion": (0, 1, 2),  # lytic 2, mixed 1, blastic 0
    "alignment": (0, 2, 4),  # subluxation/translation 4, de novo deformity 2, normal 0
    "collapse": (0, 1, 2, 3),  # > 50 % 3, < 50 % 2, none with > 50 % involved 1, none 0
    "posterolateral": (0, 1, 3),  # bilateral 3, unilateral 1, none 0
}
MAX_SCORE = sum(max(points) for points in COMPONENTS.values())  # 18
COMPONENT_NAMES_NL = {  # as cards/spine.yaml names them
    "location": "locatie",
    "pain": "pijn",
    "bone_lesion": "botlaesie",
    "alignment": "uitlijning",
    "collapse": "inzakking",
    "posterolateral": "posterolaterale aantasting",
}
CATEGORY_NL = {"stable": "stabiel", "potentially-unstable": "potentieel instabiel", "unstable": "instabiel"}

CATEGORIES = (  # (lowest score, key)
    (13, "unstable"),
    (7, "potentially-unstable"),
    (0, "stable"),
)


def category(total: int) -> str:
    """``stable`` (0–6) | ``potentially-unstable`` (7–12) | ``unstable`` (13–18)."""
    return next(key for low, key in CATEGORIES if total >= low)


def _component_key(raw: str) -> str:
    key = raw.lower().replace("-", "_").strip()
    if key.startswith("sins_"):
        key = key[5:]
    return {"bone": "bone_lesion", "lesion": "bone_lesion", "bonelesion": "bone_lesion",
            "vertebral_body_collapse": "collapse", "posterolateral_involvement": "posterolateral",
            "radiographic_alignment": "alignment"}.get(key, key)


@dataclass(frozen=True)
class SinsScore:
    """The score as far as it is known: ``total`` when exact, else ``low``–``high`` bounds."""

    total: int | None
    low: int
    high: int
    components: Mapping[str, int]
    source: str | None  # "components" | "recorded" | "partial" | None (nothing recorded)
    notes: tuple[Text, ...] = ()  # trace lines (nl + en) on values that were not usable

    @property
    def known(self) -> bool:
        return self.total is not None

    @property
    def category(self) -> str | None:
        return None if self.total is None else category(self.total)

    @property
    def missing_components(self) -> tuple[str, ...]:
        return tuple(name for name in COMPONENTS if name not in self.components)

    def ge(self, threshold: int) -> bool | None:
        if self.low >= threshold:
            return True
        if self.high < threshold:
            return False
        return None

    def gt(self, threshold: int) -> bool | None:
        return self.ge(threshold + 1)

    @property
    def used(self) -> tuple[str, ...]:
        if self.source == "components":
            return ("sins_components", "sins_total") if self.notes else ("sins_components",)
        if self.source == "recorded":
            return ("sins_total",)
        if self.source == "partial":
            return ("sins_components",)
        return ()


def _components(raw: Any) -> tuple[dict[str, int], tuple[Text, ...]]:
    """Valid components by canonical name, plus notes on values that were not usable."""
    found: dict[str, int] = {}
    notes: list[Text] = []
    if not isinstance(raw, Mapping):
        return found, ()
    for name, value in raw.items():
        key = _component_key(str(name))
        if key not in COMPONENTS:
            notes.append(tr(f"onbekende SINS-component {name!r} genegeerd", f"unknown SINS component {name!r} ignored"))
            continue
        if isinstance(value, bool) or not isinstance(value, int) or value not in COMPONENTS[key]:
            allowed = '/'.join(map(str, COMPONENTS[key]))
            notes.append(tr(f"SINS {COMPONENT_NAMES_NL[key]} = {value!r} is geen geldige score ({allowed})",
                            f"SINS {key} = {value!r} is not a valid score ({allowed})"))
            continue
        found[key] = value
    return found, tuple(notes)


def score(facts: Facts) -> SinsScore:
    """SINS from six components when all recorded, else a recorded total, else bounds."""
    total_fact = facts["sins_total"]
    raw = facts.value("sins_components")
    if raw is None and total_fact.known:
        raw = (total_fact.attrs or {}).get("components")
    comps, notes = _components(raw)
    recorded_total = total_fact.value if total_fact.known and total_fact.derived_from != "components" else None
    if isinstance(recorded_total, bool) or not isinstance(recorded_total, int) or not 0 <= recorded_total <= MAX_SCORE:
        recorded_total = None
    if len(comps) == len(COMPONENTS):
        total = sum(comps.values())
        if recorded_total is not None and recorded_total != total:
            notes += (tr(f"vastgelegd SINS-totaal {recorded_total} wijkt af van de som van de componenten ({total}); "
                         "de som wordt gebruikt",
                         f"recorded SINS total {recorded_total} differs from the sum of the components ({total}); "
                         "the sum is used"),)
        return SinsScore(total=total, low=total, high=total, components=comps, source="components", notes=notes)
    if recorded_total is None and total_fact.known and total_fact.derived_from == "components":
        value = total_fact.value  # the facts layer summed all six components itself
        if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_SCORE:
            recorded_total = value
    if recorded_total is not None:
        return SinsScore(total=recorded_total, low=recorded_total, high=recorded_total, components=comps,
                         source="recorded", notes=notes)
    if comps:
        low = sum(comps.values())
        high = low + sum(max(COMPONENTS[name]) for name in COMPONENTS if name not in comps)
        return SinsScore(total=None, low=low, high=high, components=comps, source="partial", notes=notes)
    return SinsScore(total=None, low=0, high=MAX_SCORE, components={}, source=None, notes=notes)


def evaluate(facts: Facts, ctx: EvalContext) -> list[Finding]:
    """PROG-SINS (info) with the score, its category and its inputs — only when the score is known."""
    sins = score(facts)
    if sins.total is None:
        return []
    inputs_en = ", ".join(f"{name.replace('_', ' ')} {points}" for name, points in sins.components.items())
    inputs_nl = ", ".join(f"{COMPONENT_NAMES_NL[name]} {points}" for name, points in sins.components.items())
    inputs = LocalizedText({"nl": inputs_nl, "en": inputs_en}) if inputs_en else None
    components = sins.source == "components"
    trace = [
        tr(f"S1: SINS = {sins.total}"
           + (f" (som van de zes componenten: {inputs_nl})" if components else " (vastgelegd totaal)"),
           f"S1: SINS = {sins.total}"
           + (f" (sum of the six components: {inputs_en})" if components else " (recorded total)")),
        tr(f"S2: 0–6 stabiel, 7–12 potentieel instabiel, 13–18 instabiel → {CATEGORY_NL[sins.category]}",
           f"S2: 0–6 stable, 7–12 potentially unstable, 13–18 unstable → {sins.category}"),
        *sins.notes,
    ]
    return [
        Finding(
            rule_id=RULE,
            facts_used=sins.used,
            trace=tuple(trace),
            variant=sins.category,
            params={
                "sins": sins.total,
                "inputs": inputs or "—",
                "category": sins.category,
            },
        )
    ]
