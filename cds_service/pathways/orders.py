"""The order hooks' pathway: every order-aware check of the guidelines, in one call.

``neuro-oncology-order-select`` and ``neuro-oncology-order-sign`` run this
function. It composes

- :func:`cds_service.pathways.referral.evaluate` — the radiotherapy-referral
  guard (``RT-DIRECT-REFERRAL-BLOCKED`` / ``RT-MDO-INCOMPLETE``, catalog §2);
- ``cds_service.pathways.brain.evaluate_orders`` — brain advice on draft
  orders (``BM-FOLLOWUP-MRI`` on a follow-up brain MRI after WBRT,
  ``BM-MDO-INFO-MISSING`` on an MDO referral draft, catalog §1e/§1f);
- ``cds_service.pathways.spine.evaluate_orders`` — whole-spine MRI urgency of
  a draft (``SM-MRI-URGENCY``, with ``SM-DEXAMETHASONE``, catalog §3b/§3c).

``RULES`` is the union of what these can emit on the order hooks, so the rule
listing (``cds-service rules``) names the order services for every one of them.
"""

from __future__ import annotations

from dataclasses import replace

from typing import Callable, Sequence

from cds_service.facts.model import Facts
from cds_service.pathways import brain, referral, spine
from cds_service.pathways.common import data_missing
from cds_service.pathways.model import EvalContext, Finding, tr

UNREADABLE = "unreadable"  # DraftOrder.kind of a draft the order reader failed on (fhir/orders.py)

OrderCheck = Callable[[Facts, EvalContext], Sequence[Finding]]

# Every order-aware check, in card order (the engine sorts by severity anyway).
CHECKS: tuple[OrderCheck, ...] = (referral.evaluate, brain.evaluate_orders, spine.evaluate_orders)

RULES: tuple[str, ...] = tuple(dict.fromkeys(referral.RULES + brain.ORDER_RULES + spine.ORDER_RULES))


def evaluate(facts: Facts, ctx: EvalContext) -> list[Finding]:
    """All order-aware findings for the draft orders in ``ctx`` (nothing outside the order hooks)."""
    if not ctx.is_order_hook:
        return []
    findings: list[Finding] = [_unreadable(ctx)] if ctx.orders(UNREADABLE) else []
    for check in CHECKS:
        findings.extend(check(facts, ctx))
    return findings


def _unreadable(ctx: EvalContext) -> Finding:
    """A draft the reader could not read is never dropped in silence: DATA-MISSING names it (it might be
    the radiotherapy referral whose MDO check is critical). Named by position and the clinician's own
    words for it, never by FHIR id."""
    unreadable = ctx.orders(UNREADABLE)
    lines = [tr(f"Concept-order {o.id} kon niet worden gelezen en is niet getoetst",
                f"Draft order {o.id} could not be read and was not checked") for o in unreadable]
    finding = data_missing(["draft_order"], *lines)
    return replace(finding, notes=("unreadable-drafts",),
                   params={"unreadable_drafts": "; ".join(o.display or o.id for o in unreadable)})


__all__ = ["RULES", "evaluate", "CHECKS"]
