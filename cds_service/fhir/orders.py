"""Draft orders → :class:`DraftOrder`: what the clinician is about to order, in guideline terms.

The order hooks send ``context.draftOrders``: a Bundle of unsigned orders as the
EHR has them *while they are being edited*. Real clients send half-filled
drafts (``code.coding: [{}]``, no status or intent, a Bundle without ``type``),
STU3 resources (ProcedureRequest, ReferralRequest) next to R4 ones, and
references to conditions that may or may not be in the bundle. This module
reads every entry defensively and classifies it with ``mappings/orders.yaml``
(codes are data, reviewed with the rules) into the kinds the pathways know:
``rt-brain``, ``rt-wbrt``, ``mri-spine``, ``mri-brain``, ``mdo-referral`` or
``other``.

:meth:`OrderClassifier.classify` never hides a draft: an entry of a type it
does not classify is kind ``other``; an entry it fails to read (a bug, or a
shape nobody foresaw) becomes kind ``unreadable``, which the order pathway
turns into a ``DATA-MISSING`` card naming the draft and the HTTP layer counts
(``cds_unreadable_draft_orders_total``). It is never silently dropped: a
dropped radiotherapy draft would silence the critical referral guard. With
``strict=True`` (tests) such a failure raises instead.

References (``reasonReference``, ``medicationReference``) are followed with the
facts layer's resolver (:meth:`cds_service.fhir.parse.ResourceIndex.resolve`)
over the draft orders and the patient's data together: contained, ``urn:uuid``
fullUrls, relative and absolute references into any prefetch key.
"""

from __future__ import annotations

import calendar
import logging
import re
from dataclasses import dataclass, field, replace
from datetime import datetime, time
from importlib import resources
from typing import Any, Iterable, Iterator, Mapping, Sequence
from zoneinfo import ZoneInfo

import yaml

from cds_service.fhir.parse import ResourceIndex, index_resources
from cds_service.pathways.model import DraftOrder
from cds_service.yaml_load import safe_load

log = logging.getLogger(__name__)

KINDS = ("rt-brain", "rt-wbrt", "mri-spine", "mri-brain", "mdo-referral", "other")
UNREADABLE = "unreadable"  # a draft the reader failed on: never dropped, reported as DATA-MISSING
SITE_POLICIES = ("brain-unless-other", "brain-required")
PRIORITIES = ("routine", "urgent", "asap", "stat")
LANGUAGES = ("nl", "en")
FOLLOW_UP = "follow-up"

# Request resources the classifier reads (R4 and STU3); anything else in the bundle is kind ``other``.
REQUEST_TYPES = ("ServiceRequest", "ProcedureRequest", "ReferralRequest", "MedicationRequest")

Code = tuple[str, str]  # (system, code)


class OrderMappingError(ValueError):
    """``mappings/orders.yaml`` is malformed (raised at startup, naming the key)."""


@dataclass(frozen=True)
class MatchRule:
    kind: str
    codes: frozenset[Code]
    text: tuple[re.Pattern[str], ...] = ()
    site: str | None = None  # None | brain-unless-other | brain-required
    display: Mapping[str, str] | None = None


@dataclass(frozen=True)
class OrderMapping:
    """The validated content of ``mappings/orders.yaml``."""

    kinds: Mapping[str, Mapping[str, str]]
    priorities: Mapping[str, Mapping[str, str]]
    rules: tuple[MatchRule, ...]
    brain_sites: frozenset[Code]
    non_brain_sites: frozenset[Code]
    bm_reasons: frozenset[Code]
    non_brain_reasons: frozenset[Code]
    bm_reason_text: tuple[re.Pattern[str], ...]
    follow_up_codes: frozenset[Code]
    follow_up_text: tuple[re.Pattern[str], ...]
    ignore_status: frozenset[str] = field(default_factory=frozenset)


# -- loading and validation ---------------------------------------------------------------------


def _require(condition: bool, where: str, message: str) -> None:
    if not condition:
        raise OrderMappingError(f"orders.yaml: {where}: {message}")


def _names(raw: Any, where: str) -> Mapping[str, str]:
    _require(
        isinstance(raw, dict) and all(isinstance(raw.get(lang), str) and raw[lang].strip() for lang in LANGUAGES),
        where,
        "needs non-empty nl and en text",
    )
    return {lang: raw[lang] for lang in LANGUAGES}


def _codes(raw: Any, systems: Mapping[str, tuple[str, ...]], where: str) -> frozenset[Code]:
    _require(isinstance(raw, list), where, "must be a list of 'ALIAS|code' strings")
    out: set[Code] = set()
    for item in raw:
        _require(isinstance(item, str) and item.count("|") == 1, where, f"{item!r} is not 'ALIAS|code'")
        alias, code = (part.strip() for part in item.split("|"))
        _require(alias in systems, where, f"unknown system alias {alias!r} (known: {sorted(systems)})")
        _require(bool(code), where, f"{item!r} has an empty code")
        out.update((system, code) for system in systems[alias])
    return frozenset(out)


def _patterns(raw: Any, where: str) -> tuple[re.Pattern[str], ...]:
    if raw is None:
        return ()
    _require(isinstance(raw, list), where, "must be a list of regular expressions")
    out = []
    for item in raw:
        _require(isinstance(item, str) and item, where, f"{item!r} is not a regular expression")
        try:
            out.append(re.compile(item, re.IGNORECASE))
        except re.error as exc:
            raise OrderMappingError(f"orders.yaml: {where}: bad regular expression {item!r}: {exc}") from None
    return tuple(out)


def parse_mapping(data: Any) -> OrderMapping:
    """Validate the YAML content; every error names the key that is wrong."""
    _require(isinstance(data, dict), "top level", "must be a mapping")
    raw_systems = data.get("systems")
    _require(isinstance(raw_systems, dict) and raw_systems, "systems", "must map aliases to lists of URIs")
    systems: dict[str, tuple[str, ...]] = {}
    for alias, uris in raw_systems.items():
        _require(
            isinstance(uris, list) and uris and all(isinstance(u, str) and u.startswith("http") for u in uris),
            f"systems.{alias}",
            "must be a non-empty list of absolute URIs",
        )
        systems[str(alias)] = tuple(uris)

    raw_kinds = data.get("kinds")
    _require(isinstance(raw_kinds, dict), "kinds", "must map kind -> {nl, en}")
    unknown = sorted(set(raw_kinds) - set(KINDS))
    _require(not unknown, "kinds", f"unknown kinds {unknown} (known: {list(KINDS)})")
    missing = sorted(set(KINDS) - set(raw_kinds))
    _require(not missing, "kinds", f"display names missing for {missing}")
    kinds = {k: _names(v, f"kinds.{k}") for k, v in raw_kinds.items()}

    raw_prio = data.get("priorities") or {}
    _require(isinstance(raw_prio, dict), "priorities", "must map priority -> {nl, en}")
    bad = sorted(set(raw_prio) - set(PRIORITIES))
    _require(not bad, "priorities", f"unknown priorities {bad} (FHIR: {list(PRIORITIES)})")
    priorities = {p: _names(v, f"priorities.{p}") for p, v in raw_prio.items()}

    raw_rules = data.get("match")
    _require(isinstance(raw_rules, list) and raw_rules, "match", "must be a non-empty list of rules")
    rules = []
    for i, raw in enumerate(raw_rules):
        where = f"match[{i}]"
        _require(isinstance(raw, dict), where, "must be a mapping")
        extra = sorted(set(raw) - {"kind", "codes", "text", "site", "display"})
        _require(not extra, where, f"unknown keys {extra}")
        kind = raw.get("kind")
        _require(kind in KINDS and kind != "other", f"{where}.kind", f"{kind!r} is not one of {list(KINDS[:-1])}")
        site = raw.get("site")
        _require(site is None or site in SITE_POLICIES, f"{where}.site", f"{site!r} is not one of {SITE_POLICIES}")
        _require(site is None or kind == "rt-brain", f"{where}.site", "only rt-brain rules take a site policy")
        rules.append(
            MatchRule(
                kind=kind,
                codes=_codes(raw.get("codes", []), systems, f"{where}.codes"),
                text=_patterns(raw.get("text"), f"{where}.text"),
                site=site,
                display=_names(raw["display"], f"{where}.display") if raw.get("display") is not None else None,
            )
        )
        _require(bool(rules[-1].codes or rules[-1].text), where, "needs codes or text")

    follow = data.get("follow_up") or {}
    _require(isinstance(follow, dict), "follow_up", "must have codes and/or text")
    ignore = data.get("ignore_status") or []
    _require(isinstance(ignore, list) and all(isinstance(s, str) for s in ignore), "ignore_status",
             "must be a list of status codes")
    _require(not ({"draft", "active", "unknown"} & set(ignore)), "ignore_status",
             "draft, active and unknown orders must never be ignored")
    return OrderMapping(
        kinds=kinds,
        priorities=priorities,
        rules=tuple(rules),
        brain_sites=_codes(data.get("brain_sites", []), systems, "brain_sites"),
        non_brain_sites=_codes(data.get("non_brain_sites", []), systems, "non_brain_sites"),
        bm_reasons=_codes(data.get("brain_metastasis_reasons", []), systems, "brain_metastasis_reasons"),
        non_brain_reasons=_codes(data.get("non_brain_reasons", []), systems, "non_brain_reasons"),
        bm_reason_text=_patterns(data.get("brain_metastasis_reason_text"), "brain_metastasis_reason_text"),
        follow_up_codes=_codes(follow.get("codes", []), systems, "follow_up.codes"),
        follow_up_text=_patterns(follow.get("text"), "follow_up.text"),
        ignore_status=frozenset(ignore),
    )


# -- tolerant readers ---------------------------------------------------------------------------
# Every reader accepts any JSON value and returns an empty result for a shape it does not expect.


def _dict(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _list(value: Any) -> list[Any]:
    if isinstance(value, list):
        return value
    return [] if value is None else [value]


def _str(value: Any) -> str | None:
    return value.strip() if isinstance(value, str) and value.strip() else None


def _concepts(resource: Mapping[str, Any], *keys: str) -> list[Mapping[str, Any]]:
    """CodeableConcepts under ``keys`` (single or repeating elements)."""
    out = []
    for key in keys:
        out.extend(c for c in _list(resource.get(key)) if isinstance(c, Mapping))
    return out


def _codings(concepts: Iterable[Mapping[str, Any]]) -> set[Code]:
    out: set[Code] = set()
    for concept in concepts:
        for coding in _list(concept.get("coding")):
            system, code = _str(_dict(coding).get("system")), _str(_dict(coding).get("code"))
            if system and code:
                out.add((system, code))
    return out


def _texts(concepts: Iterable[Mapping[str, Any]]) -> list[str]:
    out = []
    for concept in concepts:
        if _str(concept.get("text")):
            out.append(concept["text"])
        out.extend(_dict(c)["display"] for c in _list(concept.get("coding")) if _str(_dict(c).get("display")))
    return out


def _any_match(patterns: Sequence[re.Pattern[str]], texts: Iterable[str]) -> bool:
    return any(p.search(t) for t in texts for p in patterns)


def parse_fhir_datetime(value: Any, tz: ZoneInfo) -> datetime | None:
    """A FHIR dateTime as the *latest* instant it can mean (a deadline): ``2026-11-25`` → end of that day.

    Partial dates (year, year-month) run to the end of that period; a time without zone is read in ``tz``.
    """
    text = _str(value)
    if text is None:
        return None
    try:
        if len(text) == 4:
            return datetime(int(text), 12, 31, 23, 59, 59, tzinfo=tz)
        if len(text) == 7:
            year, month = int(text[:4]), int(text[5:7])
            last = calendar.monthrange(year, month)[1]
            return datetime(year, month, last, 23, 59, 59, tzinfo=tz)
        if len(text) == 10:
            day = datetime.fromisoformat(text).date()
            return datetime.combine(day, time(23, 59, 59), tzinfo=tz)
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=tz)
    except (ValueError, OverflowError):
        return None


# -- the classifier -----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Entry:
    resource: Mapping[str, Any]
    full_url: str | None
    index: int


class OrderClassifier:
    """Classifies ``context.draftOrders`` with ``mappings/orders.yaml``; built once, then immutable."""

    def __init__(self, mapping: OrderMapping, tz: str | ZoneInfo = "Europe/Amsterdam", *,
                 strict: bool = False) -> None:
        self.mapping = mapping
        self.tz = tz if isinstance(tz, ZoneInfo) else ZoneInfo(tz)
        self.strict = strict  # tests: a draft the reader fails on raises instead of becoming "unreadable"

    @classmethod
    def load(cls, package: str = "cds_service.mappings", *, tz: str = "Europe/Amsterdam",
             strict: bool = False) -> "OrderClassifier":
        """Read and validate ``orders.yaml`` once (startup).

        Body sites: every code the facts mapping (``body-sites`` → ``sites``) reads as a brain
        structure (lobes, cerebellum, brainstem …) is a brain site for the order reader too, and every
        spine code a non-brain site, so a draft and the record are read alike.
        """
        path = resources.files(package) / "orders.yaml"
        try:
            data = safe_load(path.read_text(encoding="utf-8"))
        except yaml.YAMLError as exc:
            raise OrderMappingError(f"orders.yaml: not valid YAML: {exc}") from None
        mapping = parse_mapping(data)
        brain, other = _fact_sites(package)
        mapping = replace(mapping, brain_sites=mapping.brain_sites | brain,
                          non_brain_sites=mapping.non_brain_sites | (other - brain))
        return cls(mapping, tz=tz, strict=strict)

    # -- public -------------------------------------------------------------------------------
    def classify(
        self, draft_orders: Mapping | None, selections: Sequence[str] | None, *, language: str,
        patient_resources: Sequence[Mapping[str, Any]] = (), full_urls: Mapping[str, Any] | None = None,
    ) -> tuple[DraftOrder, ...]:
        """Every usable draft in the bundle, classified, in bundle order.

        ``selections`` (order-select) marks which drafts are selected; ``None`` (order-sign) selects all.
        Entries with a status in ``ignore_status`` (entered-in-error, revoked …) are left out.
        ``patient_resources`` / ``full_urls``: the patient's data of the call, so references from a
        draft into it resolve.
        """
        entries = list(self._entries(draft_orders))
        selected_ids = None if selections is None else {s for s in _list(selections) if isinstance(s, str)}
        resolver = _LazyIndex(entries, patient_resources, full_urls)
        orders = []
        for entry in entries:
            try:
                order = self._classify_entry(entry, selected_ids, resolver, language)
            except Exception as exc:  # never a silent drop: an unreadable draft is reported (DATA-MISSING)
                if self.strict:
                    raise
                log.warning("draft order %d could not be read (%s)", entry.index, type(exc).__name__,
                            exc_info=True)
                order = self._unreadable(entry, selected_ids, language)
            if order is not None:
                orders.append(order)
        return tuple(orders)

    # -- bundle ---------------------------------------------------------------------------------
    def _entries(self, draft_orders: Any) -> Iterator[_Entry]:
        """Bundle entries (``type`` may be missing); also a bare resource or a list of them."""
        if isinstance(draft_orders, Mapping) and draft_orders.get("resourceType") not in (None, "Bundle"):
            items: list[Any] = [{"resource": draft_orders}]
        elif isinstance(draft_orders, Mapping):
            items = _list(draft_orders.get("entry"))
        elif isinstance(draft_orders, list):
            items = [i if isinstance(i, Mapping) and "resource" in i else {"resource": i} for i in draft_orders]
        else:
            items = []
        for index, item in enumerate(items):
            item = _dict(item)
            resource = item.get("resource")
            if isinstance(resource, Mapping) and _str(resource.get("resourceType")):
                yield _Entry(resource=resource, full_url=_str(item.get("fullUrl")), index=index)

    @staticmethod
    def _order_id(entry: _Entry) -> str:
        rtype = entry.resource.get("resourceType")
        rid = _str(entry.resource.get("id"))
        if rid:
            return f"{rtype}/{rid}"
        return entry.full_url or f"{rtype}/#entry-{entry.index + 1}"

    @staticmethod
    def _is_selected(entry: _Entry, order_id: str, selected_ids: set[str] | None) -> bool:
        if selected_ids is None:
            return True
        if order_id in selected_ids or (entry.full_url and entry.full_url in selected_ids):
            return True
        # some clients select by an absolute URL ending in Type/id
        return any(s.endswith("/" + order_id) for s in selected_ids)

    # -- one entry ------------------------------------------------------------------------------
    def _classify_entry(self, entry: _Entry, selected_ids: set[str] | None,
                        resolver: "_LazyIndex", language: str) -> DraftOrder | None:
        res = entry.resource
        rtype = res.get("resourceType")
        if rtype == "Condition":
            return None  # a reason that travels with the orders, not an order
        status = _str(res.get("status"))
        if status and status in self.mapping.ignore_status:
            return None
        order_id = self._order_id(entry)
        selected = self._is_selected(entry, order_id, selected_ids)
        priority = res.get("priority") if res.get("priority") in PRIORITIES else None
        deadline = self._deadline(res)
        if rtype not in REQUEST_TYPES:
            return DraftOrder(id=order_id, kind="other", resource=res, selected=selected, priority=priority,
                              deadline=deadline, display=self._label(None, None, res, priority, language))

        code_concepts = _concepts(res, "code", "category", "serviceRequested", "type", "specialty",
                                  "medicationCodeableConcept")
        if rtype == "MedicationRequest" and res.get("medicationReference") is not None:
            medication = resolver.resolve(res.get("medicationReference"), res)
            if medication is not None and medication.get("resourceType") == "Medication":
                code_concepts += _concepts(medication, "code")
        codes = _codings(code_concepts)
        name_texts = _texts(_concepts(res, "code", "serviceRequested", "medicationCodeableConcept"))
        reason_concepts = _concepts(res, "reasonCode")
        reason_codes = _codings(reason_concepts)
        reason_texts = _texts(reason_concepts)
        unresolved_reason = False
        for ref in _list(res.get("reasonReference")):
            ref = _dict(ref)
            if _str(ref.get("display")):
                reason_texts.append(ref["display"])
            target = resolver.resolve(ref, res) if _str(ref.get("reference")) else None
            if target is not None and target.get("resourceType") in ("Condition", "Observation"):
                reason_codes |= _codings(_concepts(target, "code"))
                reason_texts.extend(_texts(_concepts(target, "code")))
            elif _str(ref.get("reference")) and not _str(ref.get("display")):
                unresolved_reason = True
        site_codes = _codings(_concepts(res, "bodySite"))

        m = self.mapping
        # a draft named for its reason ("Radiotherapie hersenmetastasen") states that reason too
        brain_reason = bool(reason_codes & m.bm_reasons) or _any_match(m.bm_reason_text, reason_texts + name_texts)
        other_reason = bool(reason_codes & m.non_brain_reasons)
        reason_bm: bool | None
        if brain_reason:
            reason_bm = True
        elif unresolved_reason:
            reason_bm = None  # a reason we could not read: unknown, never "not brain metastases"
        elif reason_codes or reason_texts:
            reason_bm = False
        else:
            reason_bm = None
        brain_site = bool(site_codes & m.brain_sites)
        other_site = bool(site_codes & m.non_brain_sites)
        brain_context = brain_reason or brain_site
        non_brain_context = other_site or (other_reason and not brain_reason)

        rule = self._match(codes, name_texts, brain_context, non_brain_context)
        kind = rule.kind if rule is not None else "other"
        follow_texts = name_texts + reason_texts + [
            n["text"] for n in _list(res.get("note")) if isinstance(n, Mapping) and _str(n.get("text"))
        ]
        purpose = None
        if (codes | reason_codes) & m.follow_up_codes or _any_match(m.follow_up_text, follow_texts):
            purpose = FOLLOW_UP
        return DraftOrder(
            id=order_id,
            kind=kind,
            resource=res,
            selected=selected,
            priority=priority,
            deadline=deadline,
            display=self._label(rule, kind, res, priority, language),
            reason_brain_metastases=reason_bm,
            purpose=purpose,
        )

    def _match(self, codes: set[Code], texts: list[str], brain: bool, non_brain: bool) -> MatchRule | None:
        """First rule matching by code; only when none does, first rule matching the draft's name."""
        for by_text in (False, True):
            for rule in self.mapping.rules:
                hit = _any_match(rule.text, texts) if by_text else bool(codes & rule.codes)
                if hit and self._site_allows(rule, brain, non_brain):
                    return rule
        return None

    @staticmethod
    def _site_allows(rule: MatchRule, brain: bool, non_brain: bool) -> bool:
        if rule.site == "brain-required":
            return brain
        if rule.site == "brain-unless-other":
            return brain or not non_brain
        return True

    def _deadline(self, res: Mapping[str, Any]) -> datetime | None:
        if res.get("occurrenceDateTime") is not None:
            return parse_fhir_datetime(res.get("occurrenceDateTime"), self.tz)
        period = _dict(res.get("occurrencePeriod"))
        return parse_fhir_datetime(period.get("end"), self.tz)

    # -- labels ---------------------------------------------------------------------------------
    def _label(self, rule: MatchRule | None, kind: str | None, res: Mapping[str, Any], priority: str | None,
               language: str) -> str:
        """"MRI wervelkolom, routine": the kind's name (or the draft's own name for ``other``) + priority."""
        lang = language if language in LANGUAGES else "en"
        if rule is not None and rule.display:
            name = rule.display[lang]
        elif kind and kind != "other":
            name = self.mapping.kinds[kind][lang]
        else:
            own = _texts(_concepts(res, "code", "serviceRequested", "medicationCodeableConcept"))
            name = own[0].strip() if own else self.mapping.kinds["other"][lang]
            name = " ".join(name.split())[:80]
        if priority:
            word = self.mapping.priorities.get(priority, {}).get(lang, priority)
            return f"{name}, {word}"
        return name

    def _unreadable(self, entry: _Entry, selected_ids: set[str] | None, language: str) -> DraftOrder:
        """A draft the reader failed on: kept, as kind ``unreadable`` (the pathway reports it)."""
        rtype = _str(entry.resource.get("resourceType")) or "Resource"
        rid = entry.resource.get("id")
        order_id = f"{rtype}/{rid}" if isinstance(rid, str) and rid.strip() else (
            entry.full_url or f"{rtype}/#entry-{entry.index + 1}")
        selected = True if selected_ids is None else (
            order_id in selected_ids or bool(entry.full_url and entry.full_url in selected_ids)
            or any(s.endswith("/" + order_id) for s in selected_ids))
        label = {"nl": "concept-order", "en": "draft order"}
        display = f"{label.get(language, label['en'])} {entry.index + 1}"
        name = _draft_name(entry.resource)
        return DraftOrder(id=order_id, kind=UNREADABLE, resource=entry.resource, selected=selected,
                          display=f"{display} ({name})" if name else display)


def _draft_name(resource: Mapping[str, Any]) -> str | None:
    """What the clinician called the draft (its code's text or first display), for a card that names it —
    read defensively: the reader already failed on this resource once."""
    try:
        texts = _texts(_concepts(resource, "code", "medicationCodeableConcept"))
    except Exception:  # noqa: BLE001 - a name is a courtesy; the card names the draft by position anyway
        return None
    return texts[0][:120] if texts else None


class _LazyIndex:
    """The resolver of one call for the order reader, built on first use.

    Most drafts name their reason by code; only a draft with a ``reasonReference`` or a
    ``medicationReference`` that is not contained needs the index of the patient's data.
    """

    def __init__(self, entries: Sequence[_Entry], patient: Sequence[Mapping[str, Any]],
                 full_urls: Mapping[str, Any] | None) -> None:
        self._entries = entries
        self._patient = patient
        self._full_urls = full_urls
        self._index: ResourceIndex | None = None

    def resolve(self, reference: Any, container: Mapping[str, Any]) -> Mapping[str, Any] | None:
        ref = reference if isinstance(reference, str) else _dict(reference).get("reference")
        if isinstance(ref, str) and ref.strip().startswith("#"):
            return ResourceIndex().resolve(ref, container=container)
        if self._index is None:
            urls: dict[str, Any] = dict(self._full_urls or {})
            for e in self._entries:
                if e.full_url:
                    urls.setdefault(e.full_url, e.resource)
            self._index = index_resources([*self._patient, *(e.resource for e in self._entries)], urls)
        return self._index.resolve(reference, container=container)


def _fact_sites(package: str) -> tuple[frozenset[Code], frozenset[Code]]:
    """Body-site codes the facts mapping reads as brain / as spine (``body-sites`` codeset + ``sites``)."""
    from cds_service.facts.mapping import load_mappings

    ms = load_mappings(package)
    brain: set[Code] = set()
    spine: set[Code] = set()
    for spec, key in ms.codeset("body-sites"):
        site = ms.sites.get(key) if isinstance(key, str) else None
        if site is None or spec.prefix:
            continue
        target = brain if site.region == "brain" else spine if site.region == "spine" else None
        if target is not None:
            target.update((system, spec.code) for system in spec.systems)
    return frozenset(brain), frozenset(spine)


__all__ = ["UNREADABLE", "OrderClassifier", "OrderMapping", "OrderMappingError", "parse_mapping", "parse_fhir_datetime", "KINDS"]
