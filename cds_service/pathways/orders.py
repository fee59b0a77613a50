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

``RULES`` lists only the rule ids this module itself adds (the referral
guard's); the brain and spine modules declare theirs, and the service's rule
listing is the union.
"""

from __future__ import annotations

import importlib
import logging
from typing import Callable, Sequence

from cds_service.facts.model import Facts
from cds_service.pathways import referral
from cds_service.pathways.model import EvalContext, Finding

log = logging.getLogger(__name__)

RULES = referral.RULES

OrderCheck = Callable[[Facts, EvalContext], Sequence[Finding]]

# The order-aware functions of the other pathways, in card order (the engine sorts by severity anyway).
ORDER_CHECKS = (
    "cds_service.pathways.brain:evaluate_orders",
    "cds_service.pathways.spine:evaluate_orders",
)


def _resolve(path: str) -> OrderCheck | None:
    """Import ``module:function``. A module that is not installed at all is logged and skipped
    (partial deployments, development); a module without the function is a bug and raises."""
    module_name, _, name = path.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name != module_name:
            raise
        log.error("order check %s is not installed; its cards cannot fire", path)
        return None
    return getattr(module, name)


CHECKS: tuple[OrderCheck, ...] = (referral.evaluate,) + tuple(
    fn for fn in (_resolve(p) for p in ORDER_CHECKS) if fn is not None
)


def evaluate(facts: Facts, ctx: EvalContext) -> list[Finding]:
    """All order-aware findings for the draft orders in ``ctx`` (nothing outside the order hooks)."""
    if not ctx.is_order_hook:
        return []
    findings: list[Finding] = []
    for check in CHECKS:
        findings.extend(check(facts, ctx))
    return findings


__all__ = ["RULES", "evaluate", "CHECKS"]
