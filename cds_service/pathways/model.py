"""What pathways return: Findings, and the context they are evaluated in.

A pathway is a pure function ``evaluate(facts, ctx) -> list[Finding]``. It
does no I/O, reads the clock only through ``ctx.now`` and never sees FHIR
JSON. A Finding names the rule that fired, the facts that decided it, the
facts that were missing, and a trace of the flowchart steps taken, so the
card, the logs and the tests can all say *why*.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Mapping, Sequence, Union

from cds_service.facts.model import Facts


@dataclass(frozen=True)
class ActionSpec:
    """A CDS suggestion action, described in domain terms; ``cards`` builds the FHIR resource.

    ``type``: ``create`` | ``update`` | ``delete``.
    ``resource_kind`` names an order template in ``mappings/orders.yaml``
    (``mdo-referral``, ``mri-spine``, ``mri-brain``, ``dexamethasone`` …) for
    create; for update/delete ``order_id`` names the draft order
    (``ServiceRequest/abc``). ``params`` fill the template (priority,
    occurrence deadline, note, reason …).
    """

    type: str
    resource_kind: str | None = None
    order_id: str | None = None
    params: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class LocalizedText:
    """A param value worded per language, chosen by the renderer (``Finding.params`` are language-free).

    Use it for text a pathway composes itself, e.g. the MDO information note of a
    ``create`` action, the names of missing specialties or a ``Finding.trace`` line:
    ``LocalizedText({"nl": "neurochirurg", "en": "neurosurgeon"})`` (or ``tr("neurochirurg", "neurosurgeon")``).
    Hashable and comparable, so trace lines can be de-duplicated; ``str()`` gives the English text.
    """

    texts: Mapping[str, str]

    def __post_init__(self) -> None:
        object.__setattr__(self, "texts", dict(self.texts))  # a private copy: the hash must not change

    def __hash__(self) -> int:  # hashable (trace lines are de-duplicated with ``dict.fromkeys``)
        return hash(tuple(sorted(self.texts.items())))

    def get(self, language: str) -> str:
        return self.texts.get(language) or self.texts.get("en") or next(iter(self.texts.values()), "")

    in_language = get  # the renderer localizes any param value that has ``in_language(language)``

    def __str__(self) -> str:
        return self.get("en")


def tr(nl: str, en: str) -> LocalizedText:
    """A text in Dutch and English, e.g. a trace line: ``tr("A2: kritieke locatie? → ja", "A2: … → yes")``."""
    text = object.__new__(LocalizedText)  # the dict is fresh: no private copy needed (tr is on the hot path)
    object.__setattr__(text, "texts", {"nl": nl, "en": en})
    return text


Text = Union[str, LocalizedText]  # a trace line: plain (the same in every language) or worded per language


def text_in(text: Text, language: str) -> str:
    """``text`` in ``language`` (a plain string is the same in every language)."""
    return text.get(language) if isinstance(text, LocalizedText) else str(text)


@dataclass(frozen=True)
class SuggestionSpec:
    """One suggestion: a label key from the rule's card template plus its actions."""

    label_key: str
    actions: tuple[ActionSpec, ...] = ()
    is_recommended: bool | None = None
    params: Mapping[str, Any] = field(default_factory=dict)  # fill the label template


@dataclass(frozen=True)
class Finding:
    """One fired rule.

    - ``rule_id``: the public rule id (``BM-MDO-NEURO``); becomes ``card.source.topic.code``.
    - ``facts_used`` / ``facts_missing``: fact *names*; the card looks up values and provenance.
    - ``trace``: the flowchart steps in order, each a :class:`LocalizedText` (nl + en, see :func:`tr`) or a
      plain string, e.g. ``(tr("A1: KPS ≥ 70 en verwachte overleving > 3 maanden? → ja",
      "A1: KPS ≥ 70 and expected survival > 3 months? → yes"), …)``. Shown in the card detail in the card's
      language, so write them for a clinician.
    - ``indicator``: overrides the template default (``info`` | ``warning`` | ``critical``).
    - ``variant``: picks an alternative summary in the template (``summary_variants``).
    - ``notes``: keys of extra detail paragraphs in the template (``notes``), in order.
    - ``params``: values for the template placeholders (deadline, missing specialties …).
    - ``order_id``: the draft order the finding is about (order hooks), ``Type/id``.
    - ``selection_behavior``: ``at-most-one`` (alternatives) or ``any`` (suggestions that combine).
    """

    rule_id: str
    facts_used: tuple[str, ...] = ()
    facts_missing: tuple[str, ...] = ()
    trace: tuple[Text, ...] = ()
    indicator: str | None = None
    variant: str | None = None
    notes: tuple[str, ...] = ()
    params: Mapping[str, Any] = field(default_factory=dict)
    suggestions: tuple[SuggestionSpec, ...] = ()
    order_id: str | None = None
    selection_behavior: str = "at-most-one"  # "any" when the suggestions may be combined ("and/or")


@dataclass(frozen=True)
class DraftOrder:
    """A draft order from ``context.draftOrders``, classified by ``mappings/orders.yaml``.

    ``kind``: ``rt-brain`` (stereotactic / unspecified brain RT), ``rt-wbrt``
    (explicit whole-brain RT), ``mri-spine``, ``mri-brain``, ``mdo-referral``,
    or ``other``. ``priority`` is the FHIR request priority or None; ``deadline``
    the occurrence time (``occurrenceDateTime`` / ``occurrencePeriod.end``).
    ``display`` is a short human label ("MRI wervelkolom, routine").
    ``resource`` is the draft as sent (for update suggestions).
    """

    id: str  # "ServiceRequest/abc"
    kind: str
    resource: Mapping[str, Any]
    selected: bool = True
    priority: str | None = None
    deadline: datetime | None = None
    display: str = ""
    reason_brain_metastases: bool | None = None
    purpose: str | None = None  # "follow-up" when the draft says so (MRI after treatment)


@dataclass(frozen=True)
class EvalContext:
    """Everything a pathway may know besides the facts: time, hook and draft orders."""

    now: datetime
    hook: str = "patient-view"
    draft_orders: tuple[DraftOrder, ...] = ()
    patient_id: str | None = None
    user_id: str | None = None
    encounter_id: str | None = None

    @property
    def is_order_hook(self) -> bool:
        return self.hook in ("order-select", "order-sign")

    def orders(self, *kinds: str, selected_only: bool | None = None) -> list[DraftOrder]:
        """Draft orders of the given kinds; on order-select only the selected ones by default."""
        only_selected = (self.hook == "order-select") if selected_only is None else selected_only
        return [
            o
            for o in self.draft_orders
            if (not kinds or o.kind in kinds) and (o.selected or not only_selected)
        ]


# -- three-valued helpers -----------------------------------------------------
# ``None`` is unknown. These keep pathway code readable: ``tri_and(ge(kps, 70), gt(survival, 3))``.


def ge(value: float | None, threshold: float) -> bool | None:
    return None if value is None else value >= threshold


def gt(value: float | None, threshold: float) -> bool | None:
    return None if value is None else value > threshold


def le(value: float | None, threshold: float) -> bool | None:
    return None if value is None else value <= threshold


def lt(value: float | None, threshold: float) -> bool | None:
    return None if value is None else value < threshold


def tri_and(*values: bool | None) -> bool | None:
    """Kleene AND: False if any is False, else None if any is None, else True."""
    if any(v is False for v in values):
        return False
    if any(v is None for v in values):
        return None
    return True


def tri_or(*values: bool | None) -> bool | None:
    """Kleene OR: True if any is True, else None if any is None, else False."""
    if any(v is True for v in values):
        return True
    if any(v is None for v in values):
        return None
    return False


def tri_not(value: bool | None) -> bool | None:
    return None if value is None else not value


Pathway = "Callable[[Facts, EvalContext], Sequence[Finding]]"

__all__ = [
    "ActionSpec",
    "LocalizedText",
    "tr",
    "Text",
    "text_in",
    "SuggestionSpec",
    "Finding",
    "DraftOrder",
    "EvalContext",
    "Facts",
    "ge",
    "gt",
    "le",
    "lt",
    "tri_and",
    "tri_or",
    "tri_not",
    "Sequence",
]
