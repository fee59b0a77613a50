"""Treatments, MDO discussions, medication and imaging: the care-process facts.

- Treatments: completed Procedures (SRS, SRT, resection, WBRT) → ``Facts.treatments``,
  ``focal_treatment_date``, ``resection_done``, ``wbrt_done``.
- MDO: completed MDO Procedures with the participants' specialties → ``Facts.mdo_discussions``,
  ``mdo_discussed`` (a neuro-oncology MDO after the latest brain-metastasis diagnosis or
  progression, with the specialties that were missing), ``organ_mdo_discussed``.
- Medication: active MedicationRequest / MedicationStatement by class → ``systemic_therapy_active``,
  ``dexamethasone_active`` (dose, start), ``anticoagulation``, ``kps_on_dexamethasone``.
- Imaging: ImagingStudy → ``last_brain_mri_date``, ``spine_imaging_date``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Mapping

from cds_service.facts.collect import code_codings
from cds_service.facts.model import Fact, FactStatus, MdoDiscussion, Provenance, Treatment
from cds_service.facts.select import unavailable, unknown
from cds_service.facts.work import Work
from cds_service.fhir import parse
from cds_service.fhir.parse import as_dict, as_list, coding_pairs, codings

MEDICATION_SOURCES = ("medicationRequests", "medicationStatements")


def _prov(res: Mapping[str, Any], when: datetime | None, pair: tuple[str, str] | None = None) -> Provenance:
    code = f"{pair[0]}|{pair[1]}" if pair else None
    return Provenance(str(res.get("resourceType")), parse.resource_id(res), code, when)


def _first_pair(res: Mapping[str, Any], table: Any) -> tuple[str, str] | None:
    return next((p for p in code_codings(res) if p in table), None)


# -- treatments ---------------------------------------------------------------------


def derive_treatments(w: Work) -> None:
    table = w.ms.codeset("treatments")
    out: list[Treatment] = []
    for res, kind in w.collected.tag("treatments"):
        if parse.status(res) not in ("completed", ""):
            continue
        when = parse.clinical_time(res)
        if when is None:
            w.problem(f"{parse.resource_key(res)}: treatment without a performed date")
        out.append(Treatment(kind=kind, date=when, provenance=_prov(res, when, _first_pair(res, table))))
    out.sort(key=lambda t: (t.date is not None, t.date), reverse=True)  # type: ignore[arg-type,return-value]
    w.treatments = out
    focal = [t for t in out if t.kind in ("srs", "srt", "resection") and t.date is not None]
    if focal:
        w.put(Fact(name="focal_treatment_date", value=focal[0].date, status=FactStatus.KNOWN,
                   provenance=(focal[0].provenance,), attrs={"kind": focal[0].kind}))  # type: ignore[arg-type]
    else:
        w.put(_none_recorded(w, "focal_treatment_date", ("procedures",)))
    for name, kind in (("resection_done", "resection"), ("wbrt_done", "wbrt")):
        done = [t for t in out if t.kind == kind]
        if done:
            w.put(Fact(name=name, value=True, status=FactStatus.KNOWN,
                       provenance=tuple(t.provenance for t in done if t.provenance),
                       attrs={"date": done[0].date}))
        else:
            w.put(w.absent(name, ("procedures",)))


def _none_recorded(w: Work, name: str, sources: tuple[str, ...]) -> Fact:
    missing = w.missing(*sources)
    return unavailable(name, missing) if missing else unknown(name)


# -- MDO -------------------------------------------------------------------------------


def derive_mdo(w: Work) -> None:
    specialties = w.ms.codeset("specialties")
    kinds = w.ms.codeset("mdo")
    required = frozenset(w.ms.setting("mdo_required_specialties", list))
    found: list[MdoDiscussion] = []
    entries = list(w.collected.tag("mdo"))
    for res, _v in w.collected.tag("mdo-generic"):  # generic case review with an MDO category
        kind = None
        for cat in as_list(res.get("category")) if isinstance(res.get("category"), list) else [res.get("category")]:
            kind = kinds.first(codings(cat))
            if kind:
                break
        if kind:
            entries.append((res, kind))
    seen: set[int] = set()
    for res, kind in entries:
        if id(res) in seen or parse.status(res) not in ("completed", ""):
            continue
        seen.add(id(res))
        when = parse.clinical_time(res)
        present: set[str] = set()
        for performer in as_list(res.get("performer")):
            key = specialties.first(codings(as_dict(performer).get("function")))
            if isinstance(key, str):
                present.add(key)
        pair = _first_pair(res, kinds) or next(iter(codings(res.get("code"))), None)
        found.append(MdoDiscussion(kind=kind, date=when, specialties=frozenset(present),
                                   provenance=_prov(res, when, pair)))
    found.sort(key=lambda m: (m.date is not None, m.date), reverse=True)  # type: ignore[arg-type,return-value]
    w.mdo_discussions = found

    reference, ref_fact = _reference_date(w)
    for name, kind in (("mdo_discussed", "neuro-oncology"), ("organ_mdo_discussed", "organ-specific")):
        w.put(_mdo_fact(w, name, [m for m in found if m.kind == kind], reference, ref_fact, required, kind))


def _reference_date(w: Work) -> tuple[datetime | None, str | None]:
    """The latest brain-metastasis diagnosis or progression: an MDO must come after it."""
    options = [(w.value("brain_metastases_diagnosis_date"), "diagnosis"),
               (w.value("bm_progression_date"), "progression")]
    options = [(d, what) for d, what in options if isinstance(d, datetime)]
    if not options:
        return None, None
    return max(options, key=lambda o: o[0])


def _mdo_fact(w: Work, name: str, mdos: list[MdoDiscussion], reference: datetime | None, what: str | None,
              required: frozenset[str], kind: str) -> Fact:
    undated = [m for m in mdos if m.date is None]
    for m in undated:
        w.problem(f"{m.provenance.reference if m.provenance else 'Procedure'}: MDO without a date; not counted")
    dated = [m for m in mdos if m.date is not None]
    after = [m for m in dated if reference is None or m.date >= reference]  # type: ignore[operator]
    notes: list[str] = []
    if reference is None and after:
        notes.append("no brain-metastasis diagnosis date recorded: every MDO counted")
    if after:
        complete = [m for m in after if required <= m.specialties] if kind == "neuro-oncology" else after
        chosen = complete[0] if complete else after[0]
        attrs: dict[str, Any] = {"date": chosen.date, "specialties": chosen.specialties, "kind": chosen.kind}
        if kind == "neuro-oncology":
            attrs["missing_specialties"] = frozenset(required - chosen.specialties)
        if reference is not None:
            attrs["after"] = what
            attrs["reference_date"] = reference
        return Fact(name=name, value=True, status=FactStatus.KNOWN,
                    provenance=(chosen.provenance,) if chosen.provenance else (), notes=tuple(notes), attrs=attrs)
    missing = w.missing("procedures")
    if missing:
        return unavailable(name, missing)
    attrs = {"reference_date": reference, "after": what}
    if dated:
        notes.append(f"latest {kind} MDO ({dated[0].date.date().isoformat()}) was before the latest "  # type: ignore
                     f"brain-metastasis {what} ({reference.date().isoformat()})")  # type: ignore[union-attr]
        attrs["last_before"] = dated[0].date
    return Fact(name=name, value=False, status=FactStatus.KNOWN, notes=tuple(notes) or ("no MDO recorded",),
                attrs=attrs, provenance=(dated[0].provenance,) if dated and dated[0].provenance else ())


# -- medication ----------------------------------------------------------------------


@dataclass(frozen=True)
class MedicationRecord:
    cls: str
    status: str
    start: datetime | None
    end: datetime | None
    name: str
    dose: str | None
    provenance: Provenance

    def active_at(self, when: datetime) -> bool | None:
        """True/False, or None when the record cannot say (stopped without an end date)."""
        if self.start is not None and self.start > when:
            return False
        if self.end is not None:
            return self.end > when
        if self.status == "active":
            return True
        return None


def _dose(res: Mapping[str, Any]) -> str | None:
    dosage = as_list(res.get("dosageInstruction") if res.get("resourceType") == "MedicationRequest"
                     else res.get("dosage"))
    for d in dosage:
        d = as_dict(d)
        text = parse.as_str(d.get("text"))
        if text:
            return text
        for dr in as_list(d.get("doseAndRate")):
            q = as_dict(as_dict(dr).get("doseQuantity"))
            number = parse.as_number(q.get("value"))
            if number is not None:
                return f"{number:g} {parse.as_str(q.get('unit')) or parse.as_str(q.get('code')) or ''}".strip()
    return None


def _active_now(res: Mapping[str, Any], now: datetime) -> bool:
    """A medication record with no end before ``now`` (an unidentified one: could it be current?)."""
    if res.get("resourceType") == "MedicationRequest":
        end = parse.period_end(as_dict(res.get("dispenseRequest")).get("validityPeriod"))
    else:
        end = parse.period_end(res.get("effectivePeriod"))
    return end is None or end > now


def medication_records(w: Work) -> list[MedicationRecord]:
    table = w.ms.codeset("medications")
    out = []
    for res, cls in w.collected.tag("medications"):
        st = parse.status(res)
        if res.get("resourceType") == "MedicationRequest":
            start = parse.parse_datetime(res.get("authoredOn"))
            end = parse.period_end(as_dict(res.get("dispenseRequest")).get("validityPeriod"))
            for d in as_list(res.get("dosageInstruction")):
                bounds = as_dict(as_dict(as_dict(d).get("timing")).get("repeat")).get("boundsPeriod")
                start = parse.period_start(bounds) or start
                end = parse.period_end(bounds) or end
        else:
            start = parse.effective_time(res) or parse.parse_datetime(res.get("dateAsserted"))
            end = parse.period_end(res.get("effectivePeriod"))
        concept = w.collected.medication_concepts.get(id(res), res.get("medicationCodeableConcept"))
        pair = next((p for p in coding_pairs(concept) if p in table), None)
        name = parse.concept_text(concept) or (pair[1] if pair else cls)
        out.append(MedicationRecord(cls=cls, status=st, start=start, end=end, name=name, dose=_dose(res),
                                    provenance=_prov(res, start, pair)))
    return out


def derive_medication(w: Work) -> None:
    records = medication_records(w)
    now = w.now
    unidentified = [parse.resource_key(res) for res, _v in w.collected.tag("unidentified-medications")
                    if parse.status(res) in ("active", "on-hold", "") and _active_now(res, now)]
    for name, cls in (("systemic_therapy_active", "systemic-therapy"), ("dexamethasone_active", "dexamethasone"),
                      ("anticoagulation", "anticoagulant")):
        mine = [r for r in records if r.cls == cls]
        active = [r for r in mine if r.status == "active" and r.active_at(now)]
        if not active and unidentified:
            w.put(unknown(name, "unidentified medication", tuple(
                f"{ref}: active medication order whose medication cannot be identified" for ref in unidentified)))
            continue
        if active:
            attrs: dict[str, Any] = {"drugs": tuple(dict.fromkeys(r.name for r in active))}
            if cls == "dexamethasone":
                attrs["dose"] = next((r.dose for r in active if r.dose), None)
                starts = [r.start for r in active if r.start is not None]
                attrs["start"] = min(starts) if starts else None
            w.put(Fact(name=name, value=True, status=FactStatus.KNOWN, provenance=tuple(r.provenance for r in active),
                       attrs=attrs))
        else:
            fact = w.absent(name, MEDICATION_SOURCES)
            if fact.known and mine:
                fact = Fact(name=name, value=False, status=FactStatus.KNOWN,
                            provenance=tuple(r.provenance for r in mine[:3]),
                            notes=("only inactive / stopped records",))
            w.put(fact)
    _kps_on_dexamethasone(w, [r for r in records if r.cls == "dexamethasone"])


def _kps_on_dexamethasone(w: Work, dex: list[MedicationRecord]) -> None:
    name = "kps_on_dexamethasone"
    kps = w.fact("kps")
    when = kps.date if isinstance(kps.date, datetime) else None
    if kps.status is FactStatus.UNKNOWN or when is None:
        w.put(unknown(name, notes=("no current KPS",)))
        return
    missing = w.missing(*MEDICATION_SOURCES)
    states = [r.active_at(when) for r in dex]
    if any(s is True for s in states):
        on = [r for r, s in zip(dex, states) if s]
        w.put(Fact(name=name, value=True, status=FactStatus.KNOWN, provenance=(kps.provenance[0], on[0].provenance),
                   attrs={"kps_date": when, "dose": on[0].dose}))
    elif missing:
        w.put(unavailable(name, missing))
    elif any(s is None for s in states):
        w.put(unknown(name, notes=("a stopped dexamethasone record has no end date",)))
    else:
        w.put(Fact(name=name, value=False, status=FactStatus.KNOWN, provenance=kps.provenance,
                   attrs={"kps_date": when}))


# -- imaging ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Study:
    date: datetime
    brain_mri: bool
    spine: bool  # spine MR or CT
    provenance: Provenance


def imaging_studies(w: Work) -> list[Study]:
    sites = w.ms.codeset("body-sites")
    modalities = w.ms.codeset("imaging-modalities")
    brain_proc = w.ms.codeset("brain-imaging-procedures")
    spine_proc = w.ms.codeset("spine-imaging-procedures")
    out = []
    for res, _v in w.collected.tag("ImagingStudy"):
        when = parse.clinical_time(res)
        if when is None:
            w.problem(f"{parse.resource_key(res)}: imaging study without a start date")
            continue
        mods: set[str] = set()
        regions: set[str] = set()
        for m in as_list(res.get("modality")):
            mod = modalities.first(codings(m))
            if mod:
                mods.add(mod)
        for series in as_list(res.get("series")):
            series = as_dict(series)
            mod = modalities.first(codings(series.get("modality")))
            if mod:
                mods.add(mod)
            key = sites.first(codings(series.get("bodySite")))
            if isinstance(key, str) and key in w.ms.sites:
                regions.add(w.ms.sites[key].region)
        procs = [p for c in as_list(res.get("procedureCode")) for p in codings(c)]
        brain = any(p in brain_proc for p in procs) or ("MR" in mods and "brain" in regions)
        spine = any(p in spine_proc for p in procs) or (bool(mods & {"MR", "CT"}) and "spine" in regions)
        if brain or spine:
            pair = next(iter(procs), None)
            out.append(Study(date=when, brain_mri=brain, spine=spine, provenance=_prov(res, when, pair)))
    out.sort(key=lambda s: s.date, reverse=True)
    return out


def derive_imaging(w: Work) -> list[Study]:
    studies = imaging_studies(w)
    for name, pick in (("last_brain_mri_date", lambda s: s.brain_mri), ("spine_imaging_date", lambda s: s.spine)):
        chosen = [s for s in studies if pick(s)]
        if chosen:
            w.put(Fact(name=name, value=chosen[0].date, status=FactStatus.KNOWN, provenance=(chosen[0].provenance,)))
        else:
            w.put(_none_recorded(w, name, ("imagingStudies",)))
    return studies
