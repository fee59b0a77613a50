"""Derived facts: what the guideline needs but no single record says.

Each function reads candidates and facts from the :class:`Work` and puts its
facts back. The order matters and is fixed in :data:`cds_service.facts.extract.DERIVATIONS`
(e.g. the MDO needs the diagnosis and progression dates, ``kps_on_dexamethasone``
needs the chosen KPS).
"""

from __future__ import annotations

import calendar
from dataclasses import replace
from datetime import date, datetime, timedelta
from typing import Any, Iterable, Mapping

from cds_service.facts.collect import ABSENT, PRESENT, SUSPECTED, Candidate
from cds_service.facts.model import Fact, FactStatus, Interval, Provenance
from cds_service.facts.select import (
    UNUSABLE,
    conflict_note,
    is_stale,
    known,
    most_recent,
    newest_first,
    stale,
    unavailable,
    unknown,
)
from cds_service.facts.work import Work
from cds_service.fhir import parse
from cds_service.fhir.parse import as_dict, as_list, codings

# -- patient ---------------------------------------------------------------------------


def _age_on(now: datetime, born: date) -> int:
    return now.year - born.year - ((now.month, now.day) < (born.month, born.day))


def _birth_range(raw: str) -> tuple[date, date] | None:
    """The first and last day a (partial) FHIR ``birthDate`` can mean: ``1961`` → 1 Jan … 31 Dec 1961."""
    text = raw.strip()
    try:
        if len(text) == 4 and text.isdigit():
            return date(int(text), 1, 1), date(int(text), 12, 31)
        if len(text) == 7 and text[4] == "-":
            year, month = int(text[:4]), int(text[5:7])
            return date(year, month, 1), date(year, month, calendar.monthrange(year, month)[1])
    except ValueError:
        return None
    return None


def derive_age(w: Work) -> None:
    """``age_years`` from ``birthDate``, and ``deceased`` (catalog: *Deceased patients*).

    A partial birthDate is a range of birthdays: the age is known only when every day of the range
    gives the same age; otherwise the fact is unknown and carries the age range (``attrs.interval``),
    so a step such as "age < 65" is decided only when the whole range answers it.
    """
    patients = w.collected.tag("Patient")
    if not patients:
        missing = w.missing("patient")
        w.put(unavailable("age_years", missing) if missing else unknown("age_years"))
        w.put(unavailable("deceased", missing) if missing else unknown("deceased"))
        return
    res = patients[0][0]
    _deceased(w, res)
    raw = res.get("birthDate")
    born = parse.parse_datetime(raw)
    ref = parse.resource_key(res)
    if born is None:
        if raw is not None:
            w.problem(f"{ref}: birthDate {str(raw)[:30]!r} not understood")
            w.put(unknown("age_years", UNUSABLE, (f"{ref}: birthDate not understood",)))
        else:
            w.put(unknown("age_years"))
        return
    now = w.now
    span = _birth_range(raw) if isinstance(raw, str) else None
    first, last = span if span else (born.date(), born.date())
    oldest, youngest = _age_on(now, first), _age_on(now, last)
    if youngest < 0 or oldest > 130:
        w.problem(f"{ref}: birthDate {raw!r} gives an impossible age")
        w.put(unknown("age_years", UNUSABLE, (f"{ref}: impossible birthDate",)))
        return
    prov = (Provenance("Patient", parse.resource_id(res), None, born),)
    attrs: dict[str, Any] = {"birth_date": born.date()}
    if span:
        attrs["approximate"] = True
        attrs["recorded_as"] = f"birthDate {raw.strip()}"
    if oldest == youngest:
        w.put(Fact(name="age_years", value=oldest, status=FactStatus.KNOWN, provenance=prov, attrs=attrs))
        return
    attrs["interval"] = Interval(float(max(youngest, 0)), float(oldest))
    w.put(Fact(name="age_years", status=FactStatus.UNKNOWN, provenance=prov, attrs=attrs,
               reason="partial birthDate",
               notes=(f"birthDate {raw.strip()} ({ref}): age {max(youngest, 0)}–{oldest}",)))


def _deceased(w: Work, res: Mapping[str, Any]) -> None:
    ref = parse.resource_key(res)
    prov = (Provenance("Patient", parse.resource_id(res), None, None),)
    flag = res.get("deceasedBoolean")
    if flag is True:
        w.put(Fact(name="deceased", value=True, status=FactStatus.KNOWN, provenance=prov))
        return
    when_raw = res.get("deceasedDateTime")
    if when_raw is not None:
        when = parse.parse_datetime(when_raw)
        if when is None:
            w.problem(f"{ref}: deceasedDateTime not understood")
            w.put(unknown("deceased", UNUSABLE, (f"{ref}: deceasedDateTime not understood",)))
            return
        w.put(Fact(name="deceased", value=when <= w.now, status=FactStatus.KNOWN,
                   provenance=(Provenance("Patient", parse.resource_id(res), None, when),)))
        return
    w.put(Fact(name="deceased", value=False, status=FactStatus.KNOWN, provenance=prov,
               attrs={"assumed": flag is not False}))


# -- disease ---------------------------------------------------------------------------


def derive_brain_metastases(w: Work) -> None:
    base = w.fact("_brain_metastases")
    active = [c for c in w.cands("_brain_metastases") if c.state in (PRESENT, SUSPECTED)]
    dated = newest_first(c for c in active if c.date is not None)
    attrs = dict(base.attrs)
    if base.known and base.value:
        if dated:
            attrs["diagnosis_date"] = dated[0].date
    elif base.known:
        attrs["suspected"] = False
    w.put(replace(base, name="brain_metastases", attrs=attrs))
    if dated:
        w.put(Fact(name="brain_metastases_diagnosis_date", value=dated[0].date, status=FactStatus.KNOWN,
                   provenance=(dated[0].provenance,)))
    else:
        missing = w.missing("conditions")
        w.put(unavailable("brain_metastases_diagnosis_date", missing) if missing
              else unknown("brain_metastases_diagnosis_date"))


def derive_recurrence(w: Work) -> None:
    """Recurrence / progression / new brain metastases after the latest treatment (needs Facts.treatments)."""
    treated = max((t.date for t in w.treatments if t.date is not None), default=None)
    positives: list[Candidate] = []
    negatives: list[Candidate] = []
    if treated is not None:  # a brain-metastasis condition first recorded after a treatment = new metastases
        for c in w.cands("_brain_metastases"):
            if c.state in (PRESENT, SUSPECTED) and c.date is not None and c.date > treated:
                positives.append(c)
    for c in w.cands("_bm_progression_observed"):
        (positives if c.value is True else negatives).append(c)
    for c in w.cands("_bm_disease_status"):
        (positives if c.value == "progressive" else negatives).append(c)
    if treated is not None:
        positives = [c for c in positives if c.date is None or c.date > treated]
    positives = newest_first(positives)
    negatives = newest_first(negatives)
    pos_date = positives[0].date if positives else None
    neg_date = negatives[0].date if negatives else None
    if positives and (neg_date is None or (pos_date is not None and pos_date >= neg_date)):
        w.put(Fact(name="bm_recurrence", value=True, status=FactStatus.KNOWN,
                   provenance=tuple(c.provenance for c in positives),
                   attrs={"date": pos_date, "after_treatment": treated}))
    elif negatives:
        w.put(Fact(name="bm_recurrence", value=False, status=FactStatus.KNOWN, provenance=(negatives[0].provenance,),
                   attrs={"date": neg_date}))
    else:
        w.put(w.absent("bm_recurrence", ("conditions", "observations", "procedures")))
    dated = [c for c in positives if c.date is not None]
    if dated and (neg_date is None or dated[0].date >= neg_date):  # type: ignore[operator]
        w.put(Fact(name="bm_progression_date", value=dated[0].date, status=FactStatus.KNOWN,
                   provenance=(dated[0].provenance,)))
    else:
        missing = w.missing("observations", "conditions", "procedures")
        w.put(unavailable("bm_progression_date", missing) if missing else unknown("bm_progression_date"))


def derive_spinal_diagnosis(w: Work) -> None:
    confirmed = newest_first(c for c in w.cands("spinal_metastases") if c.state == PRESENT and c.date is not None)
    if confirmed:
        w.put(Fact(name="definitive_diagnosis_date", value=confirmed[0].date, status=FactStatus.KNOWN,
                   provenance=(confirmed[0].provenance,)))
    else:
        missing = w.missing("conditions")
        w.put(unavailable("definitive_diagnosis_date", missing) if missing else unknown("definitive_diagnosis_date"))


_SPECIFIC = ("nsclc", "breast", "melanoma", "renal", "colorectal")
_RANK = {**{k: 0 for k in _SPECIFIC}, "lung": 1, "other": 2, "unknown": 3, "haematological": 4}  # solid first


def derive_primary(w: Work) -> None:
    histology = w.ms.codeset("lung-histology")
    found: list[tuple[str, datetime | None, Provenance, Mapping[str, Any]]] = []
    for res, category in w.collected.tag("primary-tumour"):
        if category == "none" or parse.condition_state(res) == parse.REFUTED:
            continue  # a primary tumour in remission is still the primary tumour
        when = parse.clinical_time(res)
        pair = next((p for p in codings(res.get("code")) if p in w.ms.codeset("primary-tumour")), None)
        found.append((category, when, Provenance("Condition", parse.resource_id(res),
                                                 f"{pair[0]}|{pair[1]}" if pair else None, when), res))
    missing = w.missing("conditions")
    if not found:
        w.put(unavailable("primary_tumour", missing) if missing else unknown("primary_tumour"))
        w.put(unavailable("lung_histology", missing) if missing else unknown("lung_histology"))
        metastases = [n for n in ("brain_metastases", "spinal_metastases") if w.value(n) is True]
        if metastases:
            w.put(Fact(name="solid_cancer", value=True, status=FactStatus.KNOWN, derived_from=metastases[0],
                       provenance=w.fact(metastases[0]).provenance, notes=("metastases recorded",)))
        elif w.value("leptomeningeal_metastases") in ("confirmed", "suspected"):
            w.put(Fact(name="solid_cancer", value=True, status=FactStatus.KNOWN,
                       derived_from="leptomeningeal_metastases", notes=("metastases recorded",)))
        else:
            w.put(w.absent("solid_cancer", ("conditions",)))
        return
    found.sort(key=lambda f: (_RANK.get(f[0], 2), -(f[1].timestamp() if f[1] else 0)))
    category, _when, prov, _res = found[0]
    categories = frozenset(f[0] for f in found)
    notes = []
    specific = {c for c in categories if c in _SPECIFIC}
    if len(specific) > 1:
        notes.append(f"several primary tumours recorded: {', '.join(sorted(specific))}")
    public = "other" if category == "haematological" else category
    w.put(Fact(name="primary_tumour", value=public, status=FactStatus.KNOWN, provenance=(prov,), notes=tuple(notes),
               attrs={"categories": categories}))
    solid = [f for f in found if f[0] != "haematological"]
    if solid:
        w.put(Fact(name="solid_cancer", value=True, status=FactStatus.KNOWN, provenance=(solid[0][2],)))
    else:
        w.put(Fact(name="solid_cancer", value=False, status=FactStatus.KNOWN, provenance=(found[0][2],),
                   notes=("only haematological malignancy recorded",)))
    hist = []
    for _c, when, prov_, res in found:
        value = histology.first(codings(res.get("code")))
        if value:
            hist.append((value, when, prov_))
    if hist:
        hist.sort(key=lambda h: h[1].timestamp() if h[1] else 0, reverse=True)
        w.put(Fact(name="lung_histology", value=hist[0][0], status=FactStatus.KNOWN, provenance=(hist[0][2],)))
    else:
        w.put(unknown("lung_histology"))


def derive_drivers(w: Work) -> None:
    genes = w.ms.codeset("genes")
    gene_component = w.ms.codeset("gene-component")
    answers = w.ms.codeset("variant-answers")
    results: dict[str, list[tuple[bool, datetime | None, Provenance]]] = {}

    def add(gene: str, result: bool, res: Mapping[str, Any]) -> None:
        when = parse.clinical_time(res)
        pair = next(iter(codings(res.get("code"))), None)
        results.setdefault(gene, []).append(
            (result, when, Provenance("Observation", parse.resource_id(res), f"{pair[0]}|{pair[1]}" if pair else None,
                                      when)))

    def result_of(res: Mapping[str, Any]) -> bool | None:
        value = answers.first(codings(res.get("valueCodeableConcept")))
        return value if isinstance(value, bool) else None

    for res, _v in w.collected.tag("variant-tests"):
        ref = parse.resource_key(res)
        found_genes: list[str] = []
        for comp in as_list(res.get("component")):
            comp = as_dict(comp)
            if not any(p in gene_component for p in codings(comp.get("code"))):
                continue
            gene = genes.first(codings(comp.get("valueCodeableConcept")))
            if gene is None:  # the gene symbol / HGNC id as a code without a system (the gene component says it)
                gene = next((g for c in as_list(as_dict(comp.get("valueCodeableConcept")).get("coding"))
                             if not as_dict(c).get("system") and isinstance(as_dict(c).get("code"), str)
                             for g in [genes.get("http://www.genenames.org", as_dict(c)["code"].strip().upper())]
                             if isinstance(g, str)), None)
            if gene is None:
                text = parse.as_str(comp.get("valueString")) or parse.concept_text(comp.get("valueCodeableConcept"))
                gene = genes.get("http://www.genenames.org", text.upper()) if text else None
            if isinstance(gene, str):
                found_genes.append(gene)
        result = result_of(res)
        if not found_genes or result is None:
            w.problem(f"{ref}: variant test without a recognised gene or result")
            continue
        for gene in found_genes:
            add(gene, result, res)
    for res, gene in w.collected.tag("single-gene-tests"):
        result = result_of(res)
        if result is None:
            w.problem(f"{parse.resource_key(res)}: gene test without a recognised positive/negative result")
            continue
        add(gene, result, res)
    if not results:
        missing = w.missing("observations")
        for name in ("driver_positive", "driver_negative", "driver_alteration"):
            w.put(unavailable(name, missing) if missing else unknown(name))
        return
    latest = {g: max(rs, key=lambda r: r[1].timestamp() if r[1] else 0) for g, rs in results.items()}
    positive = frozenset(g for g, r in latest.items() if r[0])
    negative = frozenset(g for g, r in latest.items() if not r[0])
    provs = tuple(r[2] for r in latest.values())
    w.put(Fact(name="driver_positive", value=positive, status=FactStatus.KNOWN, provenance=provs))
    w.put(Fact(name="driver_negative", value=negative, status=FactStatus.KNOWN, provenance=provs))
    w.put(Fact(name="driver_alteration", value=bool(positive), status=FactStatus.KNOWN,
               provenance=tuple(latest[g][2] for g in sorted(positive)) or provs,
               attrs={"positive": positive, "negative": negative}))


def derive_hormone_receptors(w: Work) -> None:
    name = "hormone_receptor_positive"
    er, pr, status = w.fact("_er_positive"), w.fact("_pr_positive"), w.fact("_hormone_receptor_status")
    positive = [f for f in (er, pr) if f.known and f.value is True]
    if positive:
        w.put(Fact(name=name, value=True, status=FactStatus.KNOWN, provenance=tuple(p for f in positive
                                                                                     for p in f.provenance),
                   attrs={"er": er.value, "pr": pr.value}))
    elif status.known:
        w.put(replace(status, name=name))
    elif er.known and pr.known:
        w.put(Fact(name=name, value=False, status=FactStatus.KNOWN, provenance=er.provenance + pr.provenance,
                   attrs={"er": False, "pr": False}))
    else:
        notes = [f"{label} not recorded" for label, f in (("ER", er), ("PR", pr)) if not f.known]
        if er.known or pr.known:
            w.put(unknown(name, notes=notes))
        else:
            missing = w.missing("observations")
            w.put(unavailable(name, missing) if missing else unknown(name))


def derive_extracranial(w: Work) -> None:
    recorded = w.fact("_extracranial_metastases_recorded")
    status = w.fact("extracranial_disease_status")
    if recorded.known:
        w.put(replace(recorded, name="extracranial_metastases"))
    elif status.known and status.value == "none":
        w.put(Fact(name="extracranial_metastases", value=False, status=FactStatus.KNOWN, provenance=status.provenance,
                   derived_from="extracranial_disease_status"))
    else:
        notes = recorded.notes
        if status.known:
            notes += (f"extracranial disease status is {status.value}: does not say whether metastases exist",)
        missing = w.missing("observations")
        w.put(unavailable("extracranial_metastases", missing) if missing and not recorded.known
              else unknown("extracranial_metastases", recorded.reason or "not recorded", notes))


# -- performance -------------------------------------------------------------------------


def derive_performance(w: Work) -> None:
    """KPS directly or from ECOG (the most recent wins; a direct KPS wins on the same day), with conflicts."""
    ms = w.ms
    good = ms.setting("kps_good_from")
    ecog_high = ms.setting("ecog_kps_ge_70_up_to")
    window = ms.facts["_kps_recorded"].window
    kps_cands = newest_first(c for c in w.cands("_kps_recorded"))
    ecog_cands = newest_first(c for c in w.cands("ecog"))
    direct = most_recent("kps", kps_cands, w.unusable("_kps_recorded"), w.ctx, window=window,
                         missing=w.missing("observations"), conflict_days=None)
    k = kps_cands[0] if kps_cands and kps_cands[0].date is not None else None
    e = ecog_cands[0] if ecog_cands and ecog_cands[0].date is not None else None
    days = ms.setting("conflict_days")

    def band_kps(v: int) -> bool:
        return v >= good

    def band_ecog(v: int) -> bool:
        return v <= ecog_high

    use_ecog = e is not None and (k is None or e.date.date() > k.date.date()) and direct.reason != UNUSABLE  # type: ignore[union-attr]
    if not use_ecog:
        kps = direct
        if k is not None and kps.status is not FactStatus.UNKNOWN:
            notes = list(kps.notes)
            limit = k.date - timedelta(days=days)  # type: ignore[operator]
            for other in kps_cands[1:]:
                if other.date is not None and other.date >= limit and band_kps(other.value) != band_kps(k.value):
                    notes.append(conflict_note("KPS", other))
            for other in ecog_cands:
                if other.date is not None and other.date >= limit and band_ecog(other.value) != band_kps(k.value):
                    notes.append(conflict_note("ECOG", other))
            kps = replace(kps, notes=tuple(dict.fromkeys(notes)), attrs={**kps.attrs,
                                                                         "kps_band": ">=70" if band_kps(k.value) else "<70"})
    else:
        high = band_ecog(e.value)  # type: ignore[union-attr]
        value = ms.setting("ecog_derived_kps_high") if high else ms.setting("ecog_derived_kps_low")
        attrs = {"kps_band": ">=70" if high else "<70", "ecog": e.value}  # type: ignore[union-attr]
        notes = []
        limit = e.date - timedelta(days=days)  # type: ignore[union-attr]
        for other in kps_cands:
            if other.date is not None and other.date >= limit and band_kps(other.value) != high:
                notes.append(conflict_note("KPS", other))
        for other in ecog_cands[1:]:
            if other.date is not None and other.date >= limit and band_ecog(other.value) != high:
                notes.append(conflict_note("ECOG", other))
        if is_stale(e.date, window, w.now):  # type: ignore[union-attr]
            kps = stale("kps", value, e, window, derived_from="ecog", notes=notes, attrs=attrs)  # type: ignore
        else:
            kps = known("kps", value, [e], derived_from="ecog", notes=notes, attrs=attrs)  # type: ignore[list-item]
    w.put(kps)

    # kps_ge_70 follows the chosen KPS (including stale / unknown)
    ge70 = kps.value >= good if kps.known else (kps.stale_value >= good if kps.status is FactStatus.STALE else None)
    if kps.known:
        w.put(replace(kps, name="kps_ge_70", value=ge70))
    elif kps.status is FactStatus.STALE:
        w.put(replace(kps, name="kps_ge_70", stale_value=ge70))
    else:
        w.put(replace(kps, name="kps_ge_70"))

    recorded = w.fact("_patient_condition_recorded")
    if recorded.known:
        w.put(replace(recorded, name="patient_condition"))
    elif kps.known:
        if kps.derived_from == "ecog":
            grade = kps.attrs.get("ecog")
            value = "good" if grade <= ecog_high else ("moderate" if grade == 2 else "poor")
            w.put(Fact(name="patient_condition", value=value, status=FactStatus.KNOWN, provenance=kps.provenance,
                       derived_from="ecog"))
        else:
            moderate = ms.setting("kps_moderate_from")
            value = "good" if kps.value >= good else ("moderate" if kps.value >= moderate else "poor")
            w.put(Fact(name="patient_condition", value=value, status=FactStatus.KNOWN, provenance=kps.provenance,
                       derived_from="kps"))
    else:
        w.put(replace(recorded, name="patient_condition") if recorded.status is FactStatus.STALE
              else replace(kps, name="patient_condition", stale_value=None, status=FactStatus.UNKNOWN,
                           reason=kps.reason or "not recorded", derived_from=None, attrs={}))


# -- symptoms -----------------------------------------------------------------------------


def derive_symptoms(w: Work) -> None:
    recorded = w.fact("_deficit_progressive_recorded")
    deficit = w.fact("neurological_deficit")
    if recorded.known:
        w.put(replace(recorded, name="deficit_progressive"))
    elif deficit.known and deficit.value is True and isinstance(deficit.attrs.get("progressive"), bool):
        w.put(Fact(name="deficit_progressive", value=deficit.attrs["progressive"], status=FactStatus.KNOWN,
                   provenance=deficit.provenance, derived_from="neurological_deficit"))
    elif deficit.known and deficit.value is False:
        w.put(Fact(name="deficit_progressive", value=False, status=FactStatus.KNOWN, provenance=deficit.provenance,
                   derived_from="neurological_deficit"))
    else:
        missing = w.missing("observations")
        w.put(unavailable("deficit_progressive", missing) if missing else unknown("deficit_progressive"))

    # bm_symptomatic: the recorded observation wins; else any symptom; else "no symptoms recorded"
    name = "bm_symptomatic"
    flag = w.fact("_bm_symptomatic_recorded")
    # bladder/bowel dysfunction counts as a new neurological deficit (fhir-mapping.md, spine)
    symptoms = [w.fact(n) for n in ("neurological_deficit", "seizures", "raised_icp", "bladder_bowel_dysfunction")]
    if flag.known:
        w.put(replace(flag, name=name))
    elif any(s.known and s.value is True for s in symptoms):
        present = [s for s in symptoms if s.known and s.value is True]
        w.put(Fact(name=name, value=True, status=FactStatus.KNOWN, provenance=tuple(p for s in present
                                                                                    for p in s.provenance),
                   derived_from="symptoms", attrs={"symptoms": tuple(s.name for s in present)}))
    elif any(s.reason == UNUSABLE for s in symptoms):
        bad = [s for s in symptoms if s.reason == UNUSABLE]
        w.put(unknown(name, UNUSABLE, tuple(n for s in bad for n in s.notes)))
    else:
        missing = w.missing("conditions", "observations")
        if missing:
            w.put(unavailable(name, missing))
        else:
            w.put(Fact(name=name, value=False, status=FactStatus.KNOWN, derived_from="symptoms",
                       provenance=tuple(p for s in symptoms if s.known for p in s.provenance),
                       notes=("no symptoms recorded",), attrs={"assumed": True}))

    lm = w.fact("_lm_symptoms")
    w.put(replace(lm, name="lm_symptoms", attrs={k: v for k, v in lm.attrs.items() if k != "by_key"}))


# -- spine ------------------------------------------------------------------------------


def derive_sins(w: Work) -> None:
    maxima: Mapping[str, int] = w.ms.setting("sins_component_max", dict)
    comps_fact = w.fact("_sins_component")
    by_key: dict[str, Candidate] = dict(comps_fact.attrs.get("by_key") or {}) if comps_fact.known else {}
    for key, cand in list(by_key.items()):
        if key not in maxima or not isinstance(cand.value, int) or cand.value > maxima[key]:
            w.problem(f"{cand.provenance.reference}: SINS {key} = {cand.value} outside 0–{maxima.get(key)}")
            del by_key[key]
    components = {k: c.value for k, c in by_key.items()}
    if components:
        w.put(Fact(name="sins_components", value=components, status=FactStatus.KNOWN,
                   provenance=tuple(c.provenance for c in by_key.values())))
    else:
        missing = w.missing("observations")
        w.put(unavailable("sins_components", missing) if missing else unknown("sins_components"))
    recorded = w.fact("_sins_total_recorded")
    latest_component = max((c.date for c in by_key.values() if c.date is not None), default=None)
    complete = set(components) == set(maxima)
    if recorded.known and (not complete or latest_component is None or recorded.date is None
                           or recorded.date >= latest_component):
        attrs = {"components": components} if components else {}
        w.put(replace(recorded, name="sins_total", attrs={**recorded.attrs, **attrs}))
    elif complete:
        w.put(Fact(name="sins_total", value=sum(components.values()), status=FactStatus.KNOWN,
                   provenance=tuple(c.provenance for c in by_key.values()), derived_from="components",
                   attrs={"components": components}))
    else:
        missing_parts = sorted(set(maxima) - set(components))
        notes = (f"SINS components not recorded: {', '.join(missing_parts)}",) if components else recorded.notes
        missing = w.missing("observations")
        w.put(unavailable("sins_total", missing) if missing and not components
              else unknown("sins_total", recorded.reason or "not recorded", notes,
                           **({"components": components} if components else {})))


SPINE_PRESENTATIONS = ("transverse_lesion", "radicular_deficit", "radicular_pain", "lhermitte_sign", "local_back_pain",
                       "mechanical_pain", "bladder_bowel_dysfunction", "mescc")


def presentation_onset(w: Work) -> tuple[datetime | None, list[str]]:
    """The newest onset among the spine presentations that are present (imaging must be on/after that day)."""
    onsets: list[tuple[datetime, str]] = []
    for name in SPINE_PRESENTATIONS:
        f = w.fact(name)
        if not f.known or f.value in (False, "none", None):
            continue
        onset = f.attrs.get("onset") or f.date
        if isinstance(onset, datetime):
            onsets.append((onset, name))
    if not onsets:
        return None, []
    newest = max(onsets)[0]
    return newest, [n for o, n in onsets if o == newest]


def derive_spine_imaging(w: Work, studies: Iterable[Any]) -> None:
    name = "adequate_spine_imaging"
    window = w.ms.window("spine_imaging_window")
    from cds_service.facts.select import window_start
    since = window_start(w.now, window)
    onset, which = presentation_onset(w)
    spine = [s for s in studies if s.spine]
    attrs: dict[str, Any] = {"date": spine[0].date if spine else None, "presentation_onset": onset}
    adequate = [s for s in spine if s.date >= since and (onset is None or s.date.date() >= onset.date())]
    if adequate:
        w.put(Fact(name=name, value=True, status=FactStatus.KNOWN, provenance=(adequate[0].provenance,),
                   attrs={**attrs, "date": adequate[0].date}))
        return
    missing = w.missing("imagingStudies")
    if missing:
        w.put(unavailable(name, missing))
        return
    notes = []
    if spine:
        reason = (f"before the onset of {', '.join(which)}" if onset is not None and spine[0].date.date() < onset.date()
                  else f"older than {window.text}")
        notes.append(f"newest spine imaging {spine[0].date.date().isoformat()} is {reason}")
    else:
        notes.append("no spine MRI/CT recorded")
    w.put(Fact(name=name, value=False, status=FactStatus.KNOWN, provenance=(spine[0].provenance,) if spine else (),
               notes=tuple(notes), attrs=attrs))


__all__ = [
    "ABSENT",
    "derive_age",
    "derive_brain_metastases",
    "derive_recurrence",
    "derive_spinal_diagnosis",
    "derive_primary",
    "derive_drivers",
    "derive_hormone_receptors",
    "derive_extracranial",
    "derive_performance",
    "derive_symptoms",
    "derive_sins",
    "derive_spine_imaging",
]
