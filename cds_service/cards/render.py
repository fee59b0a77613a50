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
import uuid as uuid_module
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Callable, Iterable, Mapping, Sequence
from zoneinfo import ZoneInfo

from cds_service.cards.actions import OrderTemplates, build_create, build_update
from cds_service.cards.format import format_date, format_value, localize
from cds_service.cards.templates import CardTemplate, TemplateSet
from cds_service.facts.catalogue import FactCatalogue
from cds_service.facts.model import Fact, Facts, FactStatus
from cds_service.pathways.model import ActionSpec, DraftOrder, EvalContext, Finding, SuggestionSpec

log = logging.getLogger(__name__)

RULES_SYSTEM = "https://neuro-onc-cds.example.org/fhir/CodeSystem/rules"
OVERRIDE_SYSTEM = "https://neuro-onc-cds.example.org/fhir/CodeSystem/override-reasons"
SUMMARY_MAX = 139  # the spec: "<140 characters"


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
        return [self.card(f, facts, ctx, language) for f in findings]

    def card(self, finding: Finding, facts: Facts, ctx: EvalContext, language: str) -> dict:
        tpl = self.templates[finding.rule_id]
        text = tpl.text(language)
        values = self._values(finding.params, language, ctx)
        order = self._order(finding.order_id, ctx)
        if order is not None:
            values.setdefault("order", order.display or order.id)
        summary_tpl = (text.get("summary_variants") or {}).get(finding.variant or "", text["summary"])
        summary = self._fit_summary(summary_tpl.format_map(values), finding.rule_id)
        card: dict[str, Any] = {
            "uuid": self.new_uuid(),
            "summary": summary,
            "indicator": finding.indicator or tpl.indicator,
            "detail": self._detail(finding, tpl, text, values, facts, ctx, language, order),
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
        return _SafeDict({k: format_value(v, language, self.tz, ctx.now) for k, v in params.items()})

    def _order(self, order_id: str | None, ctx: EvalContext) -> DraftOrder | None:
        if not order_id:
            return None
        return next((o for o in ctx.draft_orders if o.id == order_id), None)

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
                facts: Facts, ctx: EvalContext, language: str, order: DraftOrder | None) -> str:
        parts = [text["detail"].format_map(values).strip()]
        notes = text.get("notes") or {}
        for key in finding.notes:
            if key in notes:
                parts.append(notes[key].format_map(values).strip())
            else:
                parts.append(self._phrase(key, language).format_map(values))
        if order is not None:
            parts.append(f"**{self._phrase('order', language)}:** {order.display or order.id} (`{order.id}`)")
        if finding.trace:
            steps = "\n".join(f"{i}. {localize(step, language)}" for i, step in enumerate(finding.trace, 1))
            parts.append(f"**{self._phrase('why', language)}**\n\n{steps}")
        used = self._facts_table(finding.facts_used, facts, language, ctx)
        if used:
            parts.append(f"**{self._phrase('facts-used', language)}**\n\n{used}")
        missing = self._missing_list(finding.facts_missing, facts, language)
        if missing:
            parts.append(f"**{self._phrase('facts-missing', language)}**\n\n{missing}")
        if facts.unavailable_sources:
            parts.append(
                self._phrase("sources-unavailable", language).format(
                    sources=", ".join(sorted(facts.unavailable_sources))
                )
            )
        parts.append(f"**{self._phrase('source', language)}:** {tpl.source.get(language) or tpl.source['en']}")
        return "\n\n".join(p for p in parts if p)

    def _worded(self, value: Any, language: str) -> Any:
        """Coded string values (``breast``, ``unilateral`` …) in the card's language."""
        if isinstance(value, str):
            return self.templates.word("values", value, language)
        if isinstance(value, (frozenset, set, tuple, list)) and all(isinstance(v, str) for v in value):
            items = sorted(value) if isinstance(value, (frozenset, set)) else value  # results keep their order
            return [self.templates.word("values", v, language) for v in items]
        return value

    def _fact_source(self, fact: Fact) -> str:
        refs = ", ".join(dict.fromkeys(p.reference for p in fact.provenance))
        return refs

    def _facts_table(self, fact_names: Iterable[str], facts: Facts, language: str, ctx: EvalContext) -> str:
        rows = []
        for name in dict.fromkeys(fact_names):
            fact = facts[name]
            label = self.catalogue.label(name, language)
            if fact.status is FactStatus.KNOWN:
                value = format_value(self._worded(fact.value, language), language, self.tz, ctx.now)
            elif fact.status is FactStatus.STALE:
                value = self._phrase("stale", language).format(
                    value=format_value(fact.stale_value, language, self.tz, ctx.now)
                )
            elif fact.attrs and fact.attrs.get("recorded_as") and fact.attrs.get("interval") is not None:
                value = str(fact.attrs["recorded_as"])  # a bound or disagreeing values, shown as recorded
            else:
                value = self._phrase("unknown", language)
            remarks = []
            if fact.derived_from:
                source = self.templates.word("derived_from", fact.derived_from, language)
                remarks.append(self._phrase("derived-from", language).format(source=source))
            remarks.extend(self.templates.word("notes", str(note), language) for note in fact.notes)
            if remarks:
                value = f"{value} ({'; '.join(remarks)})"
            rows.append(
                f"| {label} | {_cell(value)} | {format_date(fact.date, self.tz)} | {_cell(self._fact_source(fact))} |"
            )
        if not rows:
            return ""
        head = self._phrase("facts-table-head", language)
        return "\n".join([head, "|---|---|---|---|", *rows])

    def _missing_list(self, fact_names: Iterable[str], facts: Facts, language: str) -> str:
        lines = []
        for name in dict.fromkeys(fact_names):
            fact = facts[name]
            line = f"- **{self.catalogue.label(name, language)}**"
            why = self.catalogue.why(name, language)
            if why:
                line += f" — {why}"
            if fact.status is FactStatus.STALE:
                line += " " + self._phrase("stale-note", language).format(
                    value=format_value(fact.stale_value, language, self.tz), date=format_date(fact.date, self.tz)
                )
            elif fact.reason and fact.reason != "not recorded":
                line += f" ({self.templates.word('notes', fact.reason, language)})"
            record = self.catalogue.how_to_record(name)
            if record:
                line += f". {self._phrase('record-as', language)}: {record}"
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
                "resource": build_update(order.resource, spec.params),
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


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def now_iso(now: datetime) -> str:
    return now.isoformat(timespec="seconds")
