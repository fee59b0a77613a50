"""RPA class (002; RTOG recursive partitioning analysis, Gaspar 1997).

Class 1: KPS ≥ 70, age < 65, controlled primary and no extracranial metastases
(median survival 7.1 months); class 2: KPS ≥ 70 otherwise (4.2 months); class 3:
KPS < 70 (2.3 months). 002 writes "KPS > 70" / "KPS < 70"; the catalog follows
the original definition (classes 1–2 KPS ≥ 70).
"""

from __future__ import annotations

from cds_service.facts.model import Facts
from cds_service.pathways import brain_atoms as at
from cds_service.pathways.brain_walk import All, Walk
from cds_service.pathways.model import Finding, tr

PROG_RPA = "PROG-RPA"
MEDIAN_MONTHS = {1: 7.1, 2: 4.2, 3: 2.3}
RPA_AGE = 65


def rpa(facts: Facts, walk: Walk) -> list[Finding]:
    kps = at.kps_ge_70(facts)
    used = [*kps.facts]
    if not walk.decide("RPA", "KPS ≥ 70?", kps):
        rpa_class = 3
    else:
        young, no_disease = at.age_lt(facts, RPA_AGE), at.no_extracranial_disease(facts)
        used += [*young.facts, *no_disease.facts]
        if facts.known("extracranial_metastases"):
            used.append("extracranial_metastases")
        rpa_class = 1 if walk.decide(
            "RPA", tr(f"leeftijd < {RPA_AGE}, gecontroleerde primaire tumor en geen extracraniële metastasen?",
                      f"age < {RPA_AGE}, controlled primary and no extracranial metastases?"), All(young, no_disease)
        ) else 2
    median = MEDIAN_MONTHS[rpa_class]
    walk.note(tr(f"RPA-klasse {rpa_class}: mediane overleving {str(median).replace('.', ',')} maanden",
                 f"RPA class {rpa_class}: median survival {median} months"))
    return [Finding(PROG_RPA, tuple(dict.fromkeys(used)), (), tuple(walk.trace), variant=f"class-{rpa_class}",
                    params={"rpa_class": rpa_class, "median_months": MEDIAN_MONTHS[rpa_class]})]
