"""Findings → CDS Hooks cards.

Wording comes from the templates (``cards/*.yaml``); this module fills in the
values and always appends the same evidence block, so every card tells a
clinician *why* it fired: the flowchart steps taken, the facts used (value,
date, source resource), the facts that were missing (why they matter and how
to record them) and the guideline source. The result is checked against the
CDS Hooks card rules in :mod:`cds_service.cards.validate`.
"""

from __future__ import annotations

import logging
import re
import uuid as uuid_module
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any, Callable, Iterable, Mapping, Sequence
from zoneinfo import ZoneInfo

from cds_service.cards.actions import OrderTemplates, build_create, build_update
from cds_service.cards.format import format_date, format_value, iso_day_text, localizable, localize
from cds_service.cards.templates import CardTemplate, TemplateSet
from cds_service.facts.catalogue import FactCatalogue
from cds_service.facts.model import Fact, Facts, FactStatus
from cds_service.pathways.model import ActionSpec, DraftOrder, EvalContext, Finding, SuggestionSpec

log = logging.getLogger(__name__)

RULES_SYSTEM = "https://neuro-onc-cds.example.org/fhir/CodeSystem/rules"
OVERRIDE_SYSTEM = "https://neuro-onc-cds.example.org/fhir/CodeSystem/override-reasons"
# Note keys that explain how an ambiguous source was read: kept with the templates as rule documentation,
# never shown to a clinician (issue 15).
_DOCUMENTATION_NOTES = ("reading-", "reading:")
SUMMARY_MAX = 139
_UNDATED_FACTS = frozenset({"age_years"})  # its date is the birth date: not a date the reader needs  # the spec: "<140 characters"


class _SafeDict(dict):
    """str.format_map that leaves unknown placeholders visible instead of crashing."""

    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


@dataclass
class Renderer:
    templates: TemplateSet
    catalogue: FactCatalogue
    order_templates: OrderTemplates
    tz: ZoneInfo = field(default_factory=lambda: ZoneInfo("Europe/Amsterdam"))
    new_uuid: Callable[[], str] = field(default=lambda: str(uuid_module.uuid4()))

    # -- public ----------------------------------------------------------------
    def render(self, findings: Sequence[Finding], facts: Facts, ctx: EvalContext, language: str) -> list[dict]:
        rows: dict[str, str] = {}  # a fact's line is the same on every card of the call: worded once
        return [self.card(f, facts, ctx, language, rows) for f in findings]

    def card(self, finding: Finding, facts: Facts, ctx: EvalContext, language: str,
             rows: dict[str, str] | None = None) -> dict:
        tpl = self.templates[finding.rule_id]
        text = tpl.text(language)
        values = self._values(finding.params, language, ctx)
        order = self._order(finding.order_id, ctx)
        if order is not None:
            values.setdefault("order", order.display or self._phrase("draft-order", language))
        if finding.facts_missing:
            values.setdefault("missing_facts", self._fact_names(finding.facts_missing, language))
        summary_tpl = (text.get("summary_variants") or {}).get(finding.variant or "", text["summary"])
        summary = self._fit_summary(summary_tpl.format_map(values), finding.rule_id)
        card: dict[str, Any] = {
            "uuid": self.new_uuid(),
            "summary": summary,
            "indicator": finding.indicator or tpl.indicator,
            "detail": self._detail(finding, tpl, text, values, facts, ctx, language, order, rows),
            "source": self._source(tpl, language),
        }
        suggestions = [self._suggestion(s, text, values, ctx, language) for s in finding.suggestions]
        if suggestions:
            card["suggestions"] = suggestions
            card["selectionBehavior"] = finding.selection_behavior
        if tpl.override_reasons and card["indicator"] != "info":
            card["overrideReasons"] = [
                {
                    "system": OVERRIDE_SYSTEM,
                    "code": key,
                    "display": self.templates.override_reasons[key].get(language)
                    or self.templates.override_reasons[key]["en"],
                }
                for key in tpl.override_reasons
            ]
        links = [
            {"label": link["label"].get(language) or link["label"]["en"], "url": link["url"], "type": "absolute"}
            for link in tpl.links
        ]
        if links:
            card["links"] = links
        return card

    # -- pieces ----------------------------------------------------------------
    def _values(self, params: Mapping[str, Any], language: str, ctx: EvalContext) -> _SafeDict:
        unknown = self._phrase("unknown", language)
        return _SafeDict({k: unknown if v is None else format_value(v, language, self.tz, ctx.now)
                          for k, v in params.items()})

    def _order(self, order_id: str | None, ctx: EvalContext) -> DraftOrder | None:
        if not order_id:
            return None
        return next((o for o in ctx.draft_orders if o.id == order_id), None)

    def _fact_names(self, names: Sequence[str], language: str, shown: int = 3) -> str:
        """"KPS, verwachte overleving en 2 andere": the missing facts a summary can name in < 140 characters."""
        labels = [self.catalogue.label(n, language) for n in dict.fromkeys(names)]
        # mid-sentence in lower case, unless the label holds a name or abbreviation ("Karnofsky-score (KPS)")
        labels = [lab if any(ch.isupper() for ch in lab[1:]) else lab[:1].lower() + lab[1:] for lab in labels]
        more = len(labels) - shown
        if more > 0:
            rest = self._phrase("and-more", language).format(count=more)
            return ", ".join(labels[:shown]) + " " + rest
        word = " en " if language == "nl" else " and "
        return labels[0] if len(labels) == 1 else ", ".join(labels[:-1]) + word + labels[-1]

    def _fit_summary(self, summary: str, rule_id: str) -> str:
        summary = " ".join(summary.split())
        if len(summary) > SUMMARY_MAX:
            log.warning("summary of %s too long (%d chars), shortened", rule_id, len(summary))
            summary = summary[: SUMMARY_MAX - 1].rstrip() + "…"
        return summary

    def _source(self, tpl: CardTemplate, language: str) -> dict:
        source: dict[str, Any] = {
            "label": tpl.source.get(language) or tpl.source["en"],
            "topic": {"system": RULES_SYSTEM, "code": tpl.rule_id, "display": tpl.title},
        }
        if tpl.links:
            source["url"] = tpl.links[0]["url"]
        return source

    def _phrase(self, key: str, language: str) -> str:
        return self.templates.phrase(key, language)

    def _detail(self, finding: Finding, tpl: CardTemplate, text: Mapping[str, Any], values: Mapping[str, str],
                facts: Facts, ctx: EvalContext, language: str, order: DraftOrder | None,
                rows: dict[str, str] | None = None) -> str:
        """Advice first, then the deciding facts and the missing ones; the source is in ``source``."""
        values = _SafeDict({k: markdown_text(v) if isinstance(finding.params.get(k), str)
                            or localizable(finding.params.get(k)) else v for k, v in values.items()})
        if order is not None:
            values["order"] = markdown_text(order.display or self._phrase("draft-order", language))
        detail_tpl = (text.get("detail_variants") or {}).get(finding.variant or "", text["detail"])
        parts = [detail_tpl.format_map(values).strip()]
        notes = text.get("notes") or {}
        for key in finding.notes:
            if key.startswith(_DOCUMENTATION_NOTES):
                continue  # how an ambiguous source was read: rule documentation, not card text
            if key in notes:
                parts.append(notes[key].format_map(values).strip())
            else:
                parts.append(self._phrase(key, language).format_map(values))
        used = self._facts_list(finding.facts_used, facts, language, ctx, rows)
        if used:
            parts.append(f"**{self._phrase('facts-used', language)}**\n\n{used}")
        missing = self._missing_list(finding.facts_missing, facts, language)
        if missing:
            parts.append(f"**{self._phrase('facts-missing', language)}**\n\n{missing}")
        if facts.unavailable_sources:
            names = sorted({self.templates.word("sources", s, language) for s in facts.unavailable_sources})
            parts.append(self._phrase("sources-unavailable", language).format(sources=", ".join(names)))
        return "\n\n".join(p for p in parts if p)

    def _word(self, value: str, language: str) -> str:
        """A coded value in the card's language; an unknown one (text from the record) made inert Markdown."""
        if value in self.templates.words.get("values", {}):
            return self.templates.word("values", value, language)
        return markdown_text(value)

    def _worded(self, value: Any, language: str) -> Any:
        """Coded string values (``breast``, ``unilateral`` …) in the card's language."""
        if isinstance(value, str):
            return self._word(value, language)
        if isinstance(value, (frozenset, set, tuple, list)) and all(isinstance(v, str) for v in value):
            items = sorted(value) if isinstance(value, (frozenset, set)) else value  # results keep their order
            return [self._word(v, language) for v in items]
        return value

    def _fact_value(self, name: str, value: Any, language: str, now: datetime | None) -> str:
        """A fact value as a clinician reads it: worded codes, decimal comma, unit, local date."""
        if isinstance(value, Mapping):  # SINS components: "locatie 2, pijn 1 …"
            return ", ".join(f"{self.templates.word('sins', markdown_text(k), language)} "
                             f"{format_value(v, language, self.tz, now)}" for k, v in value.items())
        text = format_value(self._worded(value, language), language, self.tz, now)
        unit = self.templates.word("units", name, language) if name in self.templates.words.get("units", {}) else ""
        if unit and isinstance(value, (int, float)) and not isinstance(value, bool):
            text = f"{text} {unit}"
        return text

    def _facts_list(self, fact_names: Iterable[str], facts: Facts, language: str, ctx: EvalContext,
                    known_rows: dict[str, str] | None = None) -> str:
        """One line per deciding fact: ``- KPS: 80 (0–100) — 17-11-2026``; remarks in brackets.

        ``known_rows``: lines already worded for these facts, language and call (filled in here).
        """
        if known_rows is None:
            known_rows = {}
        rows = []
        for name in dict.fromkeys(fact_names):
            row = known_rows.get(name)
            if row is None:
                row = known_rows[name] = self._fact_row(name, facts, language, ctx)
            rows.append(row)
        return "\n".join(rows)

    def _fact_row(self, name: str, facts: Facts, language: str, ctx: EvalContext) -> str:
        """One deciding fact as a list line (the same on every card of a call)."""
        fact = facts[name]
        label = self.catalogue.label(name, language)
        if fact.status is FactStatus.KNOWN:
            value = self._fact_value(name, fact.value, language, ctx.now)
        elif fact.status is FactStatus.STALE:
            value = self._phrase("stale", language).format(
                value=self._fact_value(name, fact.stale_value, language, ctx.now))
        elif fact.attrs and fact.attrs.get("recorded_as") and fact.attrs.get("interval") is not None:
            value = markdown_text(str(fact.attrs["recorded_as"]))  # a bound or disagreeing values, as recorded
        else:
            value = self._phrase("unknown", language)
        remarks = []
        if fact.derived_from:
            source = self.templates.word("derived_from", fact.derived_from, language)
            remarks.append(self._phrase("derived-from", language).format(source=source))
        remarks.extend(markdown_text(self._note(str(note), language)) for note in fact.notes)
        if remarks:
            value = f"{value} ({'; '.join(remarks)})"
        when = format_date(fact.date, self.tz, language)
        shows_date = (isinstance(fact.value, (datetime, date)) and fact.status is FactStatus.KNOWN
                      or name in _UNDATED_FACTS)
        return f"- {label}: {value}" + (f" — {when}" if when and not shows_date else "")

    def _note(self, note: str, language: str) -> str:
        return self.templates.note(note, language, fill=lambda g: iso_day_text(g, language))

    def _missing_list(self, fact_names: Iterable[str], facts: Facts, language: str) -> str:
        """One line per missing fact: what, why it matters, what to record (in clinical words)."""
        lines = []
        for name in dict.fromkeys(fact_names):
            fact = facts[name]
            line = f"- **{self.catalogue.label(name, language)}**"
            why = self.catalogue.why(name, language)
            if why:
                line += f" — {why}"
            if fact.status is FactStatus.STALE:
                line += " " + self._phrase("stale-note", language).format(
                    value=self._fact_value(name, fact.stale_value, language, None),
                    date=format_date(fact.date, self.tz, language))
            elif fact.reason and fact.reason != "not recorded":
                line += f" ({markdown_text(self._note(fact.reason, language))})"
            window = _record_window(self.catalogue.how_to_record(name), language)
            line += ". " + self._phrase("record-hint" if not window else "record-hint-window", language).format(
                window=window)
            lines.append(line)
        return "\n".join(lines)

    def _suggestion(self, spec: SuggestionSpec, text: Mapping[str, Any], values: Mapping[str, str],
                    ctx: EvalContext, language: str) -> dict:
        label_tpl = (text.get("suggestions") or {}).get(spec.label_key, spec.label_key)
        merged = _SafeDict(values)
        merged.update({k: format_value(v, language, self.tz, ctx.now) for k, v in spec.params.items()})
        suggestion: dict[str, Any] = {"label": label_tpl.format_map(merged), "uuid": self.new_uuid()}
        if spec.is_recommended is not None:
            suggestion["isRecommended"] = spec.is_recommended
        actions = [self._action(a, ctx, language) for a in spec.actions]
        if actions:
            suggestion["actions"] = actions
        return suggestion

    def _action(self, spec: ActionSpec, ctx: EvalContext, language: str) -> dict:
        spec = replace(spec, params={k: localize(v, language) for k, v in spec.params.items()})
        if spec.type == "delete":
            order = self._order(spec.order_id, ctx)
            name = order.display if order is not None and order.display else spec.order_id
            return {
                "type": "delete",
                "description": self._phrase("action-delete", language).format(order=name),
                "resourceId": spec.order_id,
            }
        if spec.type == "update":
            order = self._order(spec.order_id, ctx)
            if order is None:
                raise ValueError(f"update action for unknown draft order {spec.order_id!r}")
            return {
                "type": "update",
                "description": self._phrase("action-update", language).format(order=order.display or order.id),
                "resource": build_update(order.resource, spec.params, ctx.patient_id),
            }
        if spec.type == "create":
            kind = spec.resource_kind or ""
            return {
                "type": "create",
                "description": self._phrase("action-create", language).format(
                    order=self.order_templates.display(kind, language)
                ),
                "resource": build_create(kind, spec.params, ctx, self.order_templates, language, self.new_uuid),
            }
        raise ValueError(f"unknown action type {spec.type!r}")


_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]#!|<>~])")  # links, images, HTML, emphasis, code, tables
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029]")
_WINDOW = re.compile(r"not older than (\d+) (month|week|day|hour)s?")
_WINDOW_UNITS = {"nl": {"month": ("maand", "maanden"), "week": ("week", "weken"), "day": ("dag", "dagen"),
                        "hour": ("uur", "uur")},
                 "en": {"month": ("month", "months"), "week": ("week", "weeks"), "day": ("day", "days"),
                        "hour": ("hour", "hours")}}


def markdown_text(text: Any) -> str:
    """Text from the record (ids, display texts, free text) made inert in card Markdown.

    The Markdown punctuation that makes links, images, HTML, emphasis, code and tables is backslash-escaped
    (CommonMark), so ``![t](http://…)`` shows as those characters and never becomes an image or a link;
    control characters and line breaks go (no headings or lists either).
    """
    flat = " ".join(_CONTROL.sub(" ", str(text)).split())
    return _MARKDOWN_SPECIAL.sub(r"\\\1", flat)


def _record_window(record: str, language: str) -> str:
    """"3 maanden" from the catalogue's "not older than 3 months" (the codes stay in the docs)."""
    match = _WINDOW.search(record or "")
    if not match:
        return ""
    count = int(match.group(1))
    one, many = _WINDOW_UNITS[language if language in _WINDOW_UNITS else "en"][match.group(2)]
    return f"{count} {one if count == 1 else many}"


def now_iso(now: datetime) -> str:
    return now.isoformat(timespec="seconds")
