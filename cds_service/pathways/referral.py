"""Radiotherapy-referral guard (rule catalog §2; LWNO 001 §1–2, 002 "Regelgeving").

Since 1-7-2025 (Regeling bijzondere neurochirurgie, BWBR0051029) every patient
with brain metastases who is referred for stereotactic radiotherapy must have
been discussed in an MDO with a neurosurgeon, a radiation oncologist, a
neurologist and a neuroradiologist; direct referral from the treating physician
to radiotherapy is no longer allowed. On the order hooks this module looks at
the draft brain-RT orders and checks the MDO:

- R0  a draft order for radiotherapy of the brain (``rt-brain``: SRS / SRT /
      unspecified brain RT; ``rt-wbrt``: explicit whole-brain RT) — on
      order-select only the selected drafts, on order-sign all of them;
- R1  the patient has brain metastases (recorded, or the draft's own reason);
      unknown → DATA-MISSING, never silence that looks like "allowed";
- R2  a neuro-oncology MDO is recorded after the latest BM diagnosis /
      progression — no → ``RT-DIRECT-REFERRAL-BLOCKED``;
- R3  its recorded participants include the four required specialties —
      no → ``RT-MDO-INCOMPLETE`` naming them; yes → no card (no noise).

Indicator: ``critical`` on order-sign, ``warning`` on order-select; an explicit
whole-brain RT order (not covered by the law, the guideline still asks for the
MDO) is ``warning`` on both. The two rules are mutually exclusive and fire at
most once per response, naming every draft they are about; the suggestion
replaces every such draft by one referral to the neuro-oncology MDO.
"""

from __future__ import annotations

import logging
from datetime import date, datetime, timezone
from typing import Any, Callable, Iterable

from cds_service.cards.format import day_text
from cds_service.facts.model import Fact, Facts, MdoDiscussion
from cds_service.pathways.common import data_missing
from cds_service.pathways.model import (
    ActionSpec,
    DraftOrder,
    EvalContext,
    Finding,
    LocalizedText,
    SuggestionSpec,
    Text,
    tr,
)

log = logging.getLogger(__name__)

BLOCKED = "RT-DIRECT-REFERRAL-BLOCKED"
INCOMPLETE = "RT-MDO-INCOMPLETE"
RULES = (BLOCKED, INCOMPLETE)

RT_KINDS = ("rt-brain", "rt-wbrt")
LAW_KINDS = ("rt-brain",)  # stereotactic / unspecified brain RT: covered by the regulation; WBRT is not

# The specialties the regulation requires (LOCAL performer.function codes), in the order cards name them.
REQUIRED_SPECIALTIES = ("neurosurgery", "radiation-oncology", "neurology", "neuroradiology")
SPECIALTY_NAMES: dict[str, dict[str, str]] = {
    "neurosurgery": {"nl": "neurochirurg", "en": "neurosurgeon"},
    "radiation-oncology": {"nl": "radiotherapeut-oncoloog", "en": "radiation oncologist"},
    "neurology": {"nl": "neuroloog", "en": "neurologist"},
    "neuroradiology": {"nl": "neuroradioloog", "en": "neuroradiologist"},
}

# The first lines of the MDO referral's note; the MDO information summary (brain pathway) follows.
_NOTE_INTRO = {
    "nl": (
        "Verzoek om bespreking in het neuro-oncologisch MDO vóór radiotherapie van hersenmetastasen "
        "(Regeling bijzondere neurochirurgie, per 1-7-2025). Vervangt concept-aanvraag: {orders}."
    ),
    "en": (
        "Request for discussion in the neuro-oncology MDO before radiotherapy of brain metastases "
        "(Regeling bijzondere neurochirurgie, from 1-7-2025). Replaces draft order: {orders}."
    ),
}
_NOTE_INCOMPLETE = {
    "nl": "Eerdere bespreking ({date}) zonder: {missing}.",
    "en": "Earlier discussion ({date}) without: {missing}.",
}

USED = ("brain_metastases", "brain_metastases_diagnosis_date", "bm_progression_date", "mdo_discussed")


def evaluate(facts: Facts, ctx: EvalContext) -> list[Finding]:
    """The referral guard for the draft orders in ``ctx`` (empty outside the order hooks)."""
    if not ctx.is_order_hook:
        return []
    drafts = ctx.orders(*RT_KINDS)  # order-select: the selected drafts; order-sign: all
    if not drafts:
        return []
    listed = "; ".join(_name(o) for o in drafts)
    trace: list[Text] = [tr(f"R0: concept-order voor radiotherapie van de hersenen: {listed}",
                            f"R0: draft radiotherapy order for the brain: {listed}")]
    notes: list[str] = []

    # R1 — brain metastases?
    bm = facts["brain_metastases"]
    stated_by_order = any(o.reason_brain_metastases for o in drafts)
    if bm.known and bm.value:
        suspected = bool(bm.attrs.get("suspected"))
        trace.append(tr("R1: hersenmetastasen vastgelegd" + (" (verdenking)" if suspected else "")
                        + " → de MDO-eis is van toepassing",
                        "R1: brain metastases recorded" + (" (suspected)" if suspected else "")
                        + " → the MDO rule applies"))
        if suspected:
            notes.append("bm-suspected")
    elif stated_by_order:
        state = "recorded as absent" if bm.known else "not recorded"
        state_nl = "als afwezig vastgelegd" if bm.known else "niet vastgelegd"
        trace.append(tr(f"R1: hersenmetastasen {state_nl}, maar de concept-order noemt ze als reden → de MDO-eis is "
                        "van toepassing",
                        f"R1: brain metastases {state}, but the draft order gives them as its reason → the MDO rule "
                        "applies"))
        notes.append("bm-from-order-reason")
    elif bm.known:
        return []  # no brain metastases: the regulation is about brain metastases only
    else:
        trace.append(tr(
            "R1: hersenmetastasen onbekend — niet te bepalen of de MDO-eis van 1-7-2025 voor deze order geldt",
            "R1: brain metastases unknown — cannot tell whether the MDO requirement of 1-7-2025 applies to this order"
        ))
        return [data_missing(["brain_metastases"], *trace)]

    # R2 — a neuro-oncology MDO after the latest diagnosis / progression?
    reference = _reference_date(facts)
    mdo = _mdo_status(facts, reference)
    if mdo is None:
        missing = ["mdo_discussed"]
        if reference is None:
            missing.append("brain_metastases_diagnosis_date")
        trace.append(tr(
            "R2: onbekend of er na de laatste diagnose/progressie een neuro-oncologisch MDO is geweest "
            "— controleer dit vóór verwijzing",
            "R2: whether a neuro-oncology MDO was held after the latest diagnosis/progression is unknown "
            "— check it before referring"
        ))
        return [data_missing(missing, *trace, used=("brain_metastases",))]
    recorded, mdo_date, specialties, missing_specialties = mdo

    law = any(o.kind in LAW_KINDS for o in drafts)
    indicator = "critical" if ctx.hook == "order-sign" and law else "warning"
    variant = None if law else "wbrt"
    if not law:
        notes.append("wbrt-not-law")
    params: dict[str, Any] = {"orders": listed}
    if reference is not None:
        params["bm_reference_date"] = reference
    if len(drafts) > 1:
        notes.insert(0, "several-orders")

    if not recorded:
        trace.append(tr("R2: geen neuro-oncologisch MDO vastgelegd na de laatste diagnose/progressie van de "
                        "hersenmetastasen → nee",
                        "R2: no neuro-oncology MDO recorded after the latest brain-metastasis diagnosis/progression "
                        "→ no"))
        earlier = _latest_mdo(facts, before=reference)
        if earlier is not None and reference is not None:
            params["last_mdo_date"] = earlier
            notes.append("mdo-before-progression")
        rule = BLOCKED
    else:
        trace.append(tr(f"R2: neuro-oncologisch MDO vastgelegd op {_day(mdo_date, 'nl')} → ja",
                        f"R2: neuro-oncology MDO recorded on {_day(mdo_date)} → yes"))
        if not missing_specialties:
            trace.append(tr("R3: neurochirurgie, radiotherapie, neurologie en neuroradiologie namen deel → geen kaart",
                            "R3: neurosurgery, radiation oncology, neurology and neuroradiology took part → no card"))
            return []
        codes = [s for s in REQUIRED_SPECIALTIES if s in missing_specialties]
        names_nl = ", ".join(SPECIALTY_NAMES.get(c, {}).get("nl", c) for c in codes)
        trace.append(tr(f"R3: vereiste specialismen niet als deelnemer vastgelegd: {names_nl} → onvolledig",
                        f"R3: required specialties not recorded as participants: {', '.join(codes)} → incomplete"))
        params["missing"] = _specialty_names(codes)
        params["mdo_date"] = mdo_date
        if not specialties:
            notes.append("no-participants-recorded")
        rule = INCOMPLETE
    hook = "R4: order-sign" if ctx.hook == "order-sign" else "R4: order-select"
    trace.append(tr(
        hook + (" — stereotactische radiotherapie / radiotherapie van de hersenen: de wettelijke eis geldt" if law else
                " — alleen helebreinbestraling (WBRT): richtlijnadvies")
        + f" → {_INDICATOR_NL[indicator]}",
        hook + (" — stereotactic / brain RT: the law applies" if law else " — whole-brain RT only: guideline advice")
        + f" → {indicator}"
    ))

    deletable = [o for o in drafts if _has_id(o)]
    if len(deletable) < len(drafts):
        notes.append("order-without-id")
    note = _note(facts, listed, mdo_date if recorded else None, params.get("missing"))
    actions = tuple(ActionSpec(type="delete", order_id=o.id) for o in deletable) + (
        ActionSpec(type="create", resource_kind="mdo-referral", params={"note": note}),
    )
    suggestion = SuggestionSpec(
        label_key="replace-by-mdo" if deletable else "refer-mdo", actions=actions, is_recommended=True
    )
    return [
        Finding(
            rule_id=rule,
            facts_used=tuple(f for f in USED if facts.known(f)),
            trace=tuple(trace),
            indicator=indicator,
            variant=variant,
            notes=tuple(notes),
            params=params,
            suggestions=(suggestion,),
            order_id=drafts[0].id if len(drafts) == 1 else None,
        )
    ]


# -- the steps' helpers ---------------------------------------------------------------------------


def _name(order: DraftOrder) -> str:
    return order.display or order.id


def _has_id(order: DraftOrder) -> bool:
    rid = order.resource.get("id")
    return isinstance(rid, str) and bool(rid.strip()) and order.id.endswith("/" + rid)


def _as_datetime(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=timezone.utc)
    return None


_INDICATOR_NL = {"critical": "kritiek", "warning": "waarschuwing", "info": "informatie"}


def _day(value: Any, language: str = "en", clinical: bool = False) -> str:
    """A day for a trace line (ISO) or, ``clinical``, as the card's language writes it (25-11-2026 / 25 Nov 2026)."""
    dt = _as_datetime(value)
    if dt is None:
        return "onbekende datum" if language == "nl" else "unknown date"
    return day_text(dt.date(), language) if clinical else dt.date().isoformat()


def _reference_date(facts: Facts) -> datetime | None:
    """The latest brain-metastasis diagnosis or progression: an MDO must come after it."""
    dates = [
        _as_datetime(facts.value(name))
        for name in ("brain_metastases_diagnosis_date", "bm_progression_date")
    ]
    known = [d for d in dates if d is not None]
    if not known:
        attr = _as_datetime(facts["brain_metastases"].attrs.get("diagnosis_date"))
        return attr
    return max(known)


def _neuro_mdos(facts: Facts) -> list[MdoDiscussion]:
    return [m for m in facts.mdo_discussions if m.kind == "neuro-oncology" and _as_datetime(m.date) is not None]


def _latest_mdo(facts: Facts, *, before: datetime | None) -> datetime | None:
    """The latest neuro-oncology MDO before ``before`` (to say an MDO predates the progression)."""
    if before is None:
        return None
    dates = [_as_datetime(m.date) for m in _neuro_mdos(facts)]
    earlier = [d for d in dates if d is not None and d.date() < before.date()]
    return max(earlier) if earlier else None


def _mdo_status(
    facts: Facts, reference: datetime | None
) -> tuple[bool, Any, frozenset[str], frozenset[str]] | None:
    """(recorded, date, specialties, missing specialties) of the MDO after the reference date; None = unknown.

    ``mdo_discussed`` (facts layer) decides. When it is unknown the recorded
    MDO list can still show one held on/after the latest diagnosis/progression;
    its absence proves nothing then (the procedures may be unavailable).
    """
    fact: Fact = facts["mdo_discussed"]
    if fact.known:
        if not fact.value:
            return (False, None, frozenset(), frozenset(REQUIRED_SPECIALTIES))
        found = _matching_mdo(facts, fact.attrs.get("date"), reference)
        specialties = fact.attrs.get("specialties")
        if specialties is None:
            specialties = found.specialties if found is not None else frozenset()
        specialties = frozenset(specialties)
        missing = fact.attrs.get("missing_specialties")
        if missing is None:
            missing = frozenset(REQUIRED_SPECIALTIES) - specialties
        when = fact.attrs.get("date") or (found.date if found is not None else None) or fact.date
        return (True, when, specialties, frozenset(missing))
    if reference is None:
        return None
    after = [m for m in _neuro_mdos(facts) if _as_datetime(m.date).date() >= reference.date()]
    if not after:
        return None
    latest = max(after, key=lambda m: _as_datetime(m.date))
    return (True, latest.date, latest.specialties, frozenset(REQUIRED_SPECIALTIES) - latest.specialties)


def _matching_mdo(facts: Facts, when: Any, reference: datetime | None) -> MdoDiscussion | None:
    """The recorded MDO the fact refers to (same day), else the latest one on/after the reference date."""
    mdos = _neuro_mdos(facts)
    target = _as_datetime(when)
    if target is not None:
        same = [m for m in mdos if _as_datetime(m.date).date() == target.date()]
        if same:
            return same[-1]
    if reference is not None:
        after = [m for m in mdos if _as_datetime(m.date).date() >= reference.date()]
        if after:
            return max(after, key=lambda m: _as_datetime(m.date))
    return None


_AND = {"nl": "en", "en": "and"}


def _specialty_names(codes: Iterable[str]) -> LocalizedText:
    """"neurochirurg en neuroradioloog" / "neurosurgeon and neuroradiologist"."""
    codes = list(codes)
    texts = {}
    for lang in ("nl", "en"):
        names = [SPECIALTY_NAMES.get(c, {}).get(lang, c) for c in codes]
        texts[lang] = names[0] if len(names) == 1 else f"{', '.join(names[:-1])} {_AND[lang]} {names[-1]}"
    return LocalizedText(texts)


def _mdo_info_note() -> Callable[[Facts, str], str] | None:
    """``cds_service.pathways.mdo_info.note_text`` (brain pathway, catalog §1f), if installed."""
    try:
        from cds_service.pathways import mdo_info
    except ImportError:
        log.error("cds_service.pathways.mdo_info is missing: MDO referral note without the information summary")
        return None
    return getattr(mdo_info, "note_text", None)


def _note(facts: Facts, orders: str, mdo_date: Any, missing: LocalizedText | None) -> LocalizedText:
    """The MDO referral's note per language: why, which draft it replaces, and the MDO information summary."""
    note_text = _mdo_info_note()
    texts = {}
    for lang in ("nl", "en"):
        parts = [_NOTE_INTRO[lang].format(orders=orders)]
        if missing is not None:
            parts.append(_NOTE_INCOMPLETE[lang].format(date=_day(mdo_date, lang, clinical=True), missing=missing.get(lang)))
        if note_text is not None:
            summary = note_text(facts, lang)
            if summary:
                parts.append(summary.strip())
        texts[lang] = "\n\n".join(parts)
    return LocalizedText(texts)


__all__ = ["RULES", "evaluate", "REQUIRED_SPECIALTIES", "BLOCKED", "INCOMPLETE"]
