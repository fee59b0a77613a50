"""FHIR resources → :class:`Facts`: the entry point of the facts layer.

:meth:`FactExtractor.load` reads and validates ``mappings/*.yaml`` once (code
tables, jsonpath expressions, windows); :meth:`FactExtractor.extract` is then a
pure function of the resources, ``now`` and the prefetch keys that could not be
had. Steps: index and filter the resources (:mod:`cds_service.fhir.parse`), one
pass collecting candidate values (:mod:`collect`), a selection policy per
mapped fact (:mod:`select`), then the derived facts in a fixed order
(:mod:`derive`, :mod:`care`, :mod:`lesions`).

Every fact of ``docs/facts-contract.md`` is present in the result — known,
stale or unknown with a reason — so a card can always say why a fact is missing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable, Iterable, Mapping

from cds_service.facts import care, derive, lesions
from cds_service.facts.codes import MappingError
from cds_service.facts.collect import Reader
from cds_service.facts.mapping import MappingSet, load_mappings
from cds_service.facts.model import Facts
from cds_service.facts.select import Context, frozen_fact, select, unknown
from cds_service.facts.work import Work
from cds_service.fhir.parse import index_resources

log = logging.getLogger(__name__)

Derivation = Callable[[Work], Any]


def _imaging(w: Work) -> None:
    derive.derive_spine_imaging(w, care.derive_imaging(w))


# (function, facts it produces) in the order they must run.
DERIVATIONS: tuple[tuple[Derivation, tuple[str, ...]], ...] = (
    (derive.derive_age, ("age_years", "deceased")),
    (derive.derive_brain_metastases, ("brain_metastases", "brain_metastases_diagnosis_date")),
    (care.derive_treatments, ("focal_treatment_date", "resection_done", "wbrt_done")),
    (derive.derive_recurrence, ("bm_recurrence", "bm_progression_date")),
    (derive.derive_spinal_diagnosis, ("definitive_diagnosis_date",)),
    (care.derive_mdo, ("mdo_discussed", "organ_mdo_discussed")),
    (derive.derive_primary, ("primary_tumour", "solid_cancer", "lung_histology")),
    (derive.derive_drivers, ("driver_positive", "driver_negative", "driver_alteration")),
    (derive.derive_hormone_receptors, ("hormone_receptor_positive",)),
    (derive.derive_extracranial, ("extracranial_metastases",)),
    (derive.derive_performance, ("kps", "kps_ge_70", "patient_condition")),
    (care.derive_medication, ("systemic_therapy_active", "dexamethasone_active", "anticoagulation",
                              "kps_on_dexamethasone")),
    (lesions.derive_lesions, ("brain_metastasis_count", "largest_diameter_mm", "total_volume_cm3",
                              "largest_volume_cm3", "critical_location", "posterior_fossa",
                              "resected_tumour_diameter_mm")),
    (derive.derive_symptoms, ("deficit_progressive", "bm_symptomatic", "lm_symptoms")),
    (derive.derive_sins, ("sins_total", "sins_components")),
    (_imaging, ("last_brain_mri_date", "spine_imaging_date", "adequate_spine_imaging")),
)

DERIVED_FACTS: tuple[str, ...] = tuple(n for _f, names in DERIVATIONS for n in names)


_NO_TIME = datetime(2000, 1, 1, tzinfo=timezone.utc)


@dataclass
class FactExtractor:
    """Compiled mappings; immutable after :meth:`load` and safe to share between threads."""

    mappings: MappingSet
    reader: Reader = field(init=False)
    strict: bool = False  # tests: let a failing derivation raise instead of making its facts unknown

    def __post_init__(self) -> None:
        self.reader = Reader(self.mappings)
        self._check()
        mapped = [n for n in self.mappings.facts if not n.startswith("_")]
        self._fact_names: tuple[str, ...] = tuple(dict.fromkeys([*mapped, *DERIVED_FACTS]))
        self._labels = {name: name.strip("_").replace("_", " ") for name in self.mappings.facts}
        self._nothing_recorded = {spec.name: frozen_fact(select(spec, (), (), Context(now=_NO_TIME)))
                                  for spec in self.mappings.facts.values()}
        self._unknown = {name: frozen_fact(unknown(name)) for name in self._fact_names}

    @classmethod
    def load(cls, package: str = "cds_service.mappings", *, strict: bool = False) -> "FactExtractor":
        return cls(load_mappings(package), strict=strict)

    @property
    def fact_names(self) -> tuple[str, ...]:
        """Every public fact this extractor produces (mapped and derived)."""
        return self._fact_names

    def _check(self) -> None:
        """Fail at startup when a derivation's codesets or settings are missing (MappingError)."""
        ms = self.mappings
        for name in ("body-sites", "lesion-diameter-component", "lesion-volume", "treatments", "mdo", "mdo-generic",
                     "specialties", "medications", "imaging-modalities", "brain-imaging-procedures",
                     "spine-imaging-procedures", "lung-histology", "primary-tumour", "genes", "gene-component",
                     "variant-answers", "single-gene-tests", "variant-tests"):
            ms.codeset(name)
        for name in ("kps_good_from", "kps_moderate_from", "ecog_kps_ge_70_up_to", "ecog_derived_kps_high",
                     "ecog_derived_kps_low", "conflict_days", "lesion_set_days"):
            ms.setting(name)
        for name in ("lesion_diameter_units", "lesion_volume_units", "sins_component_max"):
            ms.setting(name, dict)
        ms.setting("mdo_required_specialties", list)
        ms.window("spine_imaging_window")
        needed = ("_brain_metastases", "_kps_recorded", "ecog", "_patient_condition_recorded", "_lm_symptoms",
                  "_sins_component", "_sins_total_recorded", "_critical_location_recorded", "brain_metastasis_count",
                  "_resected_tumour_diameter_recorded", "_er_positive", "_pr_positive", "_hormone_receptor_status",
                  "_extracranial_metastases_recorded", "extracranial_disease_status", "_bm_progression_observed",
                  "_bm_disease_status", "_deficit_progressive_recorded", "_bm_symptomatic_recorded",
                  "neurological_deficit", "seizures", "raised_icp", "spinal_metastases")
        missing = [n for n in needed if n not in ms.facts]
        if missing:
            raise MappingError(f"mappings: facts {missing} are required by the derivations but not mapped")

    def extract(self, resources: Iterable[Mapping[str, Any]], *, now: datetime,
                unavailable_sources: frozenset[str] = frozenset(),
                full_urls: Mapping[str, Mapping[str, Any]] | None = None) -> Facts:
        if now.tzinfo is None:
            now = now.replace(tzinfo=timezone.utc)
        unavailable_sources = frozenset(unavailable_sources or ())
        ctx = Context(now=now, unavailable=unavailable_sources, conflict_days=self.mappings.settings["conflict_days"])
        collected = self.reader.collect(index_resources(resources, full_urls))
        w = Work(ms=self.mappings, collected=collected, ctx=ctx)
        self._select_mapped(w)
        for fn, produced in DERIVATIONS:
            try:
                fn(w)
            except Exception as exc:  # a bug must not turn into a reassuring card: its facts become unknown
                if self.strict:
                    raise
                log.exception("derivation %s failed", fn.__name__)
                w.problem(f"derivation {fn.__name__} failed: {type(exc).__name__}")
                for name in produced:
                    w.put(unknown(name, "extraction error"))
        values = {}
        for name in self._fact_names:
            fact = w.facts.get(name)
            values[name] = fact if fact is not None else self._unknown[name]
        return Facts(
            values=values,
            lesions=tuple(w.lesions),
            treatments=tuple(w.treatments),
            mdo_discussions=tuple(w.mdo_discussions),
            unavailable_sources=unavailable_sources,
            problems=tuple(dict.fromkeys(collected.problems + w.problems)),
            now=now,
        )

    def _select_mapped(self, w: Work) -> None:
        """The fact of every mapping, by its selection policy.

        Most mappings match nothing in a record. With every source available, such a fact depends
        only on its mapping, so it was built once at load (:attr:`_nothing_recorded`); only the
        mappings that matched a record are selected here.
        """
        collected, ctx, specs = w.collected, w.ctx, self.mappings.facts
        if ctx.unavailable:
            chosen = list(specs.values())
        else:
            w.facts.update(self._nothing_recorded)
            matched = collected.candidates.keys() | collected.unusable.keys()
            chosen = [specs[name] for name in matched]
        for spec in chosen:
            w.put(select(spec, collected.candidates.get(spec.name, ()), collected.unusable.get(spec.name, ()), ctx,
                         label=self._labels[spec.name]))


__all__ = ["FactExtractor", "DERIVED_FACTS"]
