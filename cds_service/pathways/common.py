"""What every pathway shares: the DATA-MISSING finding (catalog §6).

When a pathway applies but a fact that decides a branch is unknown, it emits
:func:`data_missing` naming those facts; the engine merges all of them into
one card per response.
"""

from __future__ import annotations

from typing import Iterable

from cds_service.facts.model import Facts
from cds_service.pathways.model import Finding, Text

DATA_MISSING = "DATA-MISSING"
RULES = (DATA_MISSING,)

# Words several pathways put in Dutch trace lines (the English lines show the recorded code itself).
PRIMARY_TUMOUR_NL = {  # LOCAL primary-tumour codes
    "nsclc": "niet-kleincellig longcarcinoom (NSCLC)",
    "lung": "longcarcinoom",
    "breast": "mammacarcinoom",
    "melanoma": "melanoom",
    "renal": "niercelcarcinoom",
    "colorectal": "colorectaal carcinoom",
    "haematological": "hematologische maligniteit",
    "other": "andere solide tumor",
    "unknown": "onbekend",
}
VALUE_NL = {  # pain severity, patient condition, MESCC status
    "none": "afwezig", "mild": "licht", "moderate": "matig", "severe": "hevig",
    "poor": "slecht", "good": "goed",
    "clinical": "klinisch", "radiological": "radiologisch",
}


def primary_tumour_nl(code: object) -> str:
    """A recorded primary-tumour code as a Dutch trace line says it (``breast`` → ``mammacarcinoom``)."""
    return PRIMARY_TUMOUR_NL.get(str(code), str(code))


def value_nl(code: object) -> str:
    """A recorded category (``moderate``, ``clinical`` …) in Dutch, for a trace line."""
    return VALUE_NL.get(str(code), str(code))


def no_cancer_recorded(facts: Facts) -> bool:
    """Catalog *Population*: the Condition list (the record of diagnoses) holds no cancer at all — no
    primary tumour and no metastases. Such a patient is outside the population of the metastasis
    services: no card, not a ``DATA-MISSING`` card asking to record a cancer."""
    if facts.value("primary_tumour") is not None or facts.value("solid_cancer") is not False:
        return False
    return not any(facts.value(name) not in (None, False, "none") for name in (
        "brain_metastases", "spinal_metastases", "leptomeningeal_metastases"))


def data_missing(missing: Iterable[str], *trace: Text, used: Iterable[str] = ()) -> Finding:
    """A DATA-MISSING finding: ``missing`` fact names, ``trace`` (``tr(nl, en)`` lines) says which step needed them."""
    return Finding(
        rule_id=DATA_MISSING,
        facts_missing=tuple(dict.fromkeys(missing)),
        facts_used=tuple(dict.fromkeys(used)),
        trace=tuple(trace),
    )
