"""What every pathway shares: the DATA-MISSING finding (catalog §6).

When a pathway applies but a fact that decides a branch is unknown, it emits
:func:`data_missing` naming those facts; the engine merges all of them into
one card per response.
"""

from __future__ import annotations

from typing import Iterable

from cds_service.pathways.model import Finding

DATA_MISSING = "DATA-MISSING"
RULES = (DATA_MISSING,)


def data_missing(missing: Iterable[str], *trace: str, used: Iterable[str] = ()) -> Finding:
    """A DATA-MISSING finding: ``missing`` fact names, ``trace`` says which step needed them."""
    return Finding(
        rule_id=DATA_MISSING,
        facts_missing=tuple(dict.fromkeys(missing)),
        facts_used=tuple(dict.fromkeys(used)),
        trace=tuple(trace),
    )
