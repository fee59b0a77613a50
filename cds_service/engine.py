"""One hook call, one pass: resources → facts → pathways → cards.

:class:`Engine` is built once at startup (mappings compiled, templates
validated, pathways resolved) and is then immutable and thread-safe; every
call of :meth:`Engine.evaluate` is a pure function of its arguments. The HTTP
layer, the CLI ``evaluate`` command and the tests all go through here.
"""

from __future__ import annotations

import importlib
import inspect
import logging
import uuid as uuid_module
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any, Callable, Iterable, Mapping, Sequence
from zoneinfo import ZoneInfo

from cds_service.cards.actions import OrderTemplates, load_order_templates
from cds_service.cards.render import Renderer
from cds_service.cards.templates import TemplateSet, load_templates
from cds_service.cards.validate import check_response
from cds_service.facts.catalogue import FactCatalogue, load_fact_catalogue
from cds_service.facts.model import Facts
from cds_service.pathways.model import EvalContext, Finding
from cds_service.services import SERVICES, Service

if TYPE_CHECKING:  # the concrete classes are imported in Engine.load (tests may inject their own)
    from cds_service.facts.extract import FactExtractor
    from cds_service.fhir.orders import OrderClassifier

log = logging.getLogger(__name__)

DATA_MISSING = "DATA-MISSING"
_SEVERITY = {"critical": 0, "warning": 1, "info": 2}

PathwayFn = Callable[[Facts, EvalContext], Sequence[Finding]]


@dataclass(frozen=True)
class PatientData:
    """The FHIR resources of one call, flattened, and the prefetch keys that could not be had."""

    resources: tuple[Mapping[str, Any], ...] = ()
    unavailable: frozenset[str] = frozenset()
    full_urls: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)  # Bundle fullUrl → resource


@dataclass(frozen=True)
class Evaluation:
    facts: Facts
    findings: tuple[Finding, ...]
    response: dict
    context: EvalContext


def _resolve(path: str) -> PathwayFn:
    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)


def merge_findings(findings: Iterable[Finding]) -> list[Finding]:
    """At most one card per rule; all ``DATA-MISSING`` findings become one (catalog §6)."""
    merged: list[Finding] = []
    by_rule: dict[str, int] = {}
    for f in findings:
        if f.rule_id in by_rule:
            i = by_rule[f.rule_id]
            if f.rule_id == DATA_MISSING:
                prev = merged[i]
                merged[i] = replace(
                    prev,
                    facts_missing=tuple(dict.fromkeys(prev.facts_missing + f.facts_missing)),
                    facts_used=tuple(dict.fromkeys(prev.facts_used + f.facts_used)),
                    trace=tuple(dict.fromkeys(prev.trace + f.trace)),
                    notes=tuple(dict.fromkeys(prev.notes + f.notes)),
                    params={**f.params, **prev.params},
                )
            else:
                log.debug("rule %s fired twice; keeping the first", f.rule_id)
            continue
        by_rule[f.rule_id] = len(merged)
        merged.append(f)
    return merged


def _accepts(fn: Callable[..., Any], name: str) -> bool:
    try:
        return name in inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False


def new_card_uuid() -> str:
    return str(uuid_module.uuid4())


@dataclass
class Engine:
    extractor: "FactExtractor"
    classifier: "OrderClassifier"
    templates: TemplateSet
    catalogue: FactCatalogue
    order_templates: OrderTemplates
    tz: ZoneInfo
    pathways: Mapping[str, tuple[PathwayFn, ...]] = field(default_factory=dict)
    renderer: Renderer = field(init=False, repr=False)

    def __post_init__(self) -> None:
        # Built once: the renderer only holds the (immutable) templates, catalogue and order templates.
        self.renderer = Renderer(templates=self.templates, catalogue=self.catalogue,
                                 order_templates=self.order_templates, tz=self.tz, new_uuid=new_card_uuid)
        # Test doubles of the extractor / classifier may not take the resolver's inputs.
        self._extract_takes_urls = _accepts(self.extractor.extract, "full_urls")
        self._classify_takes_data = _accepts(self.classifier.classify, "patient_resources")

    @classmethod
    def load(cls, tz: str = "Europe/Amsterdam", services: Sequence[Service] = SERVICES) -> "Engine":
        """Compile mappings, validate templates and resolve pathways — once, at startup."""
        from cds_service.facts.extract import FactExtractor
        from cds_service.fhir.orders import OrderClassifier

        return cls(
            extractor=FactExtractor.load(),
            classifier=OrderClassifier.load(),
            templates=load_templates(),
            catalogue=load_fact_catalogue(),
            order_templates=load_order_templates(),
            tz=ZoneInfo(tz),
            pathways={s.id: tuple(_resolve(p) for p in s.pathways) for s in services},
        )

    def evaluate(
        self,
        service: Service,
        context: Mapping[str, Any],
        data: PatientData,
        *,
        now: datetime,
        language: str = "nl",
        new_uuid: Callable[[], str] | None = None,
    ) -> Evaluation:
        facts = self.extract(data, now=now)
        ctx = self.eval_context(service, context, now=now, language=language, data=data)
        findings = self.findings(service, facts, ctx)
        response = self.respond(findings, facts, ctx, language, new_uuid=new_uuid)
        return Evaluation(facts=facts, findings=tuple(findings), response=response, context=ctx)

    # -- the stages of one call (separate so the benchmark can time each) ---------------------------
    def extract(self, data: PatientData, *, now: datetime) -> Facts:
        """FHIR resources → facts."""
        if self._extract_takes_urls:
            return self.extractor.extract(data.resources, now=now, unavailable_sources=data.unavailable,
                                          full_urls=data.full_urls)
        return self.extractor.extract(data.resources, now=now, unavailable_sources=data.unavailable)

    def eval_context(self, service: Service, context: Mapping[str, Any], *, now: datetime,
                     language: str, data: PatientData | None = None) -> EvalContext:
        """What the pathways know about the call: the hook, the user, the draft orders (order hooks).

        The order reader resolves references (``reasonReference``, ``medicationReference``) through
        the same resolver as the facts layer, over the patient's data and the draft orders together.
        """
        draft_orders = ()
        if service.hook in ("order-select", "order-sign"):
            extra: dict[str, Any] = {}
            if self._classify_takes_data and data is not None:
                extra = {"patient_resources": data.resources, "full_urls": data.full_urls}
            draft_orders = self.classifier.classify(
                context.get("draftOrders"), context.get("selections"), language=language, **extra)
        return EvalContext(
            now=now,
            hook=service.hook,
            draft_orders=draft_orders,
            patient_id=context.get("patientId"),
            user_id=context.get("userId"),
            encounter_id=context.get("encounterId"),
        )

    def findings(self, service: Service, facts: Facts, ctx: EvalContext) -> list[Finding]:
        """Run the service's pathways; one finding per rule, most severe first.

        A deceased patient gets no cards from any service (catalog: *Deceased patients*): charts of
        deceased patients are opened for audits and letters, and treatment advice there is wrong.
        """
        if facts.value("deceased") is True:
            return []
        found: list[Finding] = []
        for pathway in self.pathways[service.id]:
            found.extend(pathway(facts, ctx))
        findings = merge_findings(found)
        findings.sort(key=lambda f: _SEVERITY.get(f.indicator or self.templates[f.rule_id].indicator, 3))
        return findings

    def respond(self, findings: Sequence[Finding], facts: Facts, ctx: EvalContext, language: str, *,
                new_uuid: Callable[[], str] | None = None) -> dict:
        """Findings → the CDS Hooks response, checked against the card rules."""
        renderer = self.renderer if new_uuid is None else replace(self.renderer, new_uuid=new_uuid)
        response = {"cards": renderer.render(findings, facts, ctx, language)}
        check_response(response)
        return response
