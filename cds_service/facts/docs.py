"""Generate ``docs/fact-codes.md`` from the mappings: ``python -m cds_service.facts.docs > docs/fact-codes.md``.

The integrator's table (fact → resource, codes, value, window) is produced from
the same YAML the service runs on, so it cannot drift; a test checks that the
committed document equals the generated one.
"""

from __future__ import annotations

import json
import sys
from importlib import resources
from typing import Any

from cds_service.facts.codes import CodeTable
from cds_service.facts.extract import DERIVED_FACTS
from cds_service.facts.mapping import FactSpec, MappingSet, load_mappings

# How each derived fact is made (the mapped inputs are in the tables below).
DERIVED: dict[str, str] = {
    "age_years": "Patient.birthDate at the evaluation moment (a partial birthDate: an age range, attrs.interval)",
    "deceased": "Patient.deceasedBoolean true or deceasedDateTime at or before now (no cards from any service)",
    "brain_metastases": "active (or provisional: attrs.suspected) Condition in codeset brain-metastases; false when "
                        "conditions were available and none is active; attrs.diagnosis_date",
    "brain_metastases_diagnosis_date": "newest onset (else recordedDate) of an active brain-metastasis Condition",
    "bm_recurrence": "after the latest treatment: a new brain-metastasis Condition, LOCAL brain-metastases-"
                     "progression true, or LOINC 97509-4 worsened with focus a brain-metastasis Condition; false "
                     "when recorded false or nothing recorded (sources available)",
    "bm_progression_date": "date of the newest recurrence / progression record (see bm_recurrence)",
    "definitive_diagnosis_date": "newest confirmed spinal-metastasis Condition (onset, else recordedDate)",
    "focal_treatment_date": "newest completed Procedure in codeset treatments of kind srs, srt or resection",
    "resection_done": "a completed resection Procedure (attrs.date); false when procedures were available and none",
    "wbrt_done": "a completed whole-brain radiotherapy Procedure (attrs.date); false like resection_done",
    "mdo_discussed": "a completed neuro-oncology MDO Procedure on/after the latest brain-metastasis diagnosis or "
                     "progression; attrs.specialties from performer.function (codeset specialties), "
                     "attrs.missing_specialties of settings.mdo_required_specialties",
    "organ_mdo_discussed": "a completed organ-specific MDO Procedure on/after the same date",
    "primary_tumour": "primary-tumour codeset on non-refuted Conditions (remission still counts); the most "
                      "specific category wins (nsclc before lung, any before other/unknown)",
    "solid_cancer": "a non-haematological primary tumour, or recorded metastases; false when conditions were "
                    "available and none",
    "lung_histology": "lung-histology codeset on the primary tumour Conditions",
    "driver_positive": "genes whose newest test (variant-tests with a gene component, single-gene-tests) is "
                       "positive (variant-answers)",
    "driver_negative": "genes whose newest test is negative",
    "driver_alteration": "true if any gene positive; false if tests recorded and none positive",
    "hormone_receptor_positive": "ER or PR positive; LOCAL hormone-receptor-status; false when both negative",
    "extracranial_metastases": "LOCAL extracranial-metastases; else false when extracranial_disease_status = none",
    "kps": "newest of KPS and ECOG (a KPS wins over an ECOG of the same day); from ECOG: 0–1 ⇒ 80 (\"≥ 70\"), "
           "2–5 ⇒ 60 (\"< 70\"), derived_from ecog, attrs.kps_band; sources disagreeing within "
           "settings.conflict_days get a note; window 3 months",
    "kps_ge_70": "kps ≥ 70 (also from ECOG); stale when the KPS is stale",
    "patient_condition": "LOCAL patient-condition; else from KPS (≥ 70 good, 50–60 moderate, < 50 poor) or ECOG "
                         "(0–1 good, 2 moderate, ≥ 3 poor)",
    "systemic_therapy_active": "active MedicationRequest/Statement in codeset medications class systemic-therapy; "
                               "false when both medication sources were available and none is active",
    "dexamethasone_active": "like systemic_therapy_active for class dexamethasone; attrs.dose, attrs.start",
    "anticoagulation": "like systemic_therapy_active for class anticoagulant",
    "kps_on_dexamethasone": "a dexamethasone record started before the KPS time and not stopped before it",
    "brain_metastasis_count": "LOCAL brain-metastasis-count when not older than the lesion measurements; else the "
                              "number of brain lesions in the current imaging set",
    "largest_diameter_mm": "largest lesion diameter in the current imaging set (mm; cm × 10)",
    "total_volume_cm3": "sum of recorded lesion volumes when every lesion of the set has one; otherwise unknown "
                        "with attrs.estimate = π/6·d³ (attrs.estimated)",
    "largest_volume_cm3": "largest recorded lesion volume (same rule as total_volume_cm3)",
    "critical_location": "true when any lesion / brain-metastasis Condition bodySite or the LOCAL critical-location "
                         "value is a critical site (sites table); false when LOCAL critical-location = none or every "
                         "lesion has a site with critical: false; a generic site (brain) leaves it unknown",
    "posterior_fossa": "true when any lesion site has posterior_fossa: true; false when every lesion's site says false",
    "resected_tumour_diameter_mm": "LOCAL resected-tumour-diameter; else the largest lesion measured before the "
                                   "latest resection",
    "deficit_progressive": "LOCAL progressive-neurological-deficit; else the LOCAL progressive component of the "
                           "deficit; false when no deficit",
    "bm_symptomatic": "LOCAL brain-metastases-symptomatic; else true with a deficit (bladder/bowel dysfunction "
                      "included), seizures or raised ICP; else "
                      "false with attrs.assumed (\"no symptoms recorded\")",
    "lm_symptoms": "set of lm-symptoms codes whose newest record is present; empty when sources were available",
    "sins_total": "LOCAL sins-total; else the sum of the six components (derived_from components)",
    "sins_components": "the six LOCAL sins-* components (separate Observations or components of sins-total)",
    "last_brain_mri_date": "newest ImagingStudy that is an MRI of the brain (DCM MR + brain body site, or "
                           "brain-imaging-procedures)",
    "spine_imaging_date": "newest ImagingStudy that is an MR/CT of the spine",
    "adequate_spine_imaging": "a spine MR/CT made on/after the day the newest spine presentation began and within "
                              "settings.spine_imaging_window; false when imaging studies were available and none",
}

_HEADER = """# Fact codes: how to record each guideline fact in FHIR R4

<!-- Generated by `python -m cds_service.facts.docs > docs/fact-codes.md` from mappings/*.yaml and
     mappings/codesystem-facts.json. Do not edit by hand: edit the mappings and regenerate. -->

This is the integrator's reference: record a fact as shown here and the service reads it. The full
reasoning (which facts the guideline needs and why) is in `shared/spec/fhir-mapping.md`; the Python value
each fact has is in `docs/facts-contract.md`.

**Local code system** `https://neuro-onc-cds.example.org/fhir/CodeSystem/facts` (`LOCAL` below), published
as `mappings/codesystem-facts.json`. Code systems: {systems}.

General rules
- Resources with status `entered-in-error` are ignored, and so are cancelled / revoked / draft / not-done
  records. Conditions with verificationStatus `refuted` or clinicalStatus `inactive` / `resolved` /
  `remission` are not active; `provisional` / `differential` means *suspected*.
- The newest record wins (`effective[x]`, else `issued`, else `meta.lastUpdated`). A value older than its
  window is reported as *stale* and not used. A record that cannot be read (wrong type, unknown unit, value
  out of range) makes the fact unknown and is listed as a problem; an older value is not used in its place.
- "when absent" is the value when every source was available and nothing was recorded; otherwise the fact is
  unknown (`not recorded`, or `source unavailable` when a prefetch key could not be had).

Adding local codes: add the code to the fact's `codes` (or to the codeset it names with `@`) in
`mappings/*.yaml`, or create `mappings/local.yaml` starting with `format: neuro-onc-cds/fact-mapping/v1`
and an `extend:` section (`extend: {{hemoglobin_g_dl: {{codes: ["http://hospital.example/lab|HB"]}}}}`; inputs of
derived facts are extended by their `_` name, e.g. `_kps_recorded` for the KPS). The service checks every
mapping file at startup and refuses to start on a mistake. The mapping format is described at
the top of `mappings/systems.yaml` and in `cds_service/facts/mapping.py`.
"""


def _cell(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _codes_text(ms: MappingSet, spec: FactSpec) -> str:
    parts = []
    for m in spec.matches:
        codes = [c.text + ("*" if c.prefix and not c.text.endswith("*") else "") for c in m.codes]
        codes += [f"{c.text} (= {v.value})" for c, v in m.code_values]
        text = " · ".join(dict.fromkeys(codes))
        where = []
        if m.body_site is not None:
            where.append("bodySite spine")
        if m.focus is not None:
            where.append("focus a brain-metastasis Condition")
        if m.focus_not is not None:
            where.append("focus not a brain-metastasis Condition")
        if m.components:
            where.append("also as Observation.component")
        if where:
            text += f" ({'; '.join(where)})"
        parts.append(f"{'/'.join(sorted(m.resources))}: {text}")
    return "<br>".join(parts)


def _value_text(ms: MappingSet, spec: FactSpec) -> str:
    v = spec.value
    if v.type == "presence":
        text = "present: active Condition / valueBoolean true / code only"
        if v.present is not True:
            text += f" → `{v.present}`; provisional → `{v.suspected}`; refuted/resolved → `{v.absent}`"
    elif v.type == "boolean":
        yes_no = {c.text for c, _a in ms.codesets.get("yes-no", ())}
        coded = [f"{c.text} = {str(a.value).lower()}" for c, a in v.answers if c.text not in yes_no]
        text = "valueBoolean" + (f" or coded ({', '.join(coded)})" if coded else " (or coded yes/no)")
    elif v.type == "code":
        answers = ", ".join(dict.fromkeys(f"`{a.value}`" for _c, a in v.answers))
        text = f"coded: {answers}"
    else:
        text = "valueInteger" if v.type == "integer" else "valueQuantity"
        if v.units:
            text += " (" + ", ".join(f"{u}{'' if f == 1 else f' × {f:g}'}" for u, f in v.units.items()) + ")"
        if v.answers:
            text += "; or coded (" + ", ".join(dict.fromkeys(c.text for c, _a in v.answers)) + ")"
    if v.range:
        text += f"; range {v.range[0]}–{v.range[1]}"
    if v.threshold:
        text += f"; true when {v.threshold[0]} {v.threshold[1]:g}"
    return text


def _policy(spec: FactSpec) -> str:
    parts = [spec.select]
    if spec.window:
        parts.append(f"window {spec.window.text}")
    if spec.has_absent_default:
        absent = spec.when_absent
        parts.append(f"when absent: {sorted(absent) if isinstance(absent, frozenset) else absent}")
    if spec.attrs:
        parts.append("attrs: " + ", ".join(spec.attrs))
    return "; ".join(parts)


def _codeset_text(table: CodeTable) -> str:
    items = []
    for spec, value in table:
        items.append(spec.text if value is True else f"{spec.text} → {_value(value)}")
    return " · ".join(dict.fromkeys(items))


def _value(value: Any) -> str:
    if isinstance(value, dict) and "value" in value:
        return str(value["value"])
    return str(value)


def render(ms: MappingSet, codesystem: dict) -> str:
    systems = ", ".join(f"`{a}` = {' / '.join(urls)}" for a, urls in ms.systems.items())
    out = [_HEADER.format(systems=systems)]
    out.append("## Mapped facts\n")
    out.append("| fact | resource: codes | value | selection |")
    out.append("|---|---|---|---|")
    for name, spec in ms.facts.items():
        if name.startswith("_"):
            continue
        out.append(f"| `{name}` | {_cell(_codes_text(ms, spec))} | {_cell(_value_text(ms, spec))} | "
                   f"{_cell(_policy(spec))} |")
    out.append("\n## Derived facts\n")
    out.append("| fact | how it is derived |")
    out.append("|---|---|")
    for name in DERIVED_FACTS:
        out.append(f"| `{name}` | {_cell(DERIVED.get(name, ''))} |")
    out.append("\n## Inputs of derived facts\n")
    out.append("Intermediate mappings (names starting with `_`) feed the derived facts above.\n")
    out.append("| input | resource: codes | value | selection |")
    out.append("|---|---|---|---|")
    for name, spec in ms.facts.items():
        if name.startswith("_"):
            out.append(f"| `{name}` | {_cell(_codes_text(ms, spec))} | {_cell(_value_text(ms, spec))} | "
                       f"{_cell(_policy(spec))} |")
    out.append("\n## Code sets\n")
    out.append("| codeset | used for | codes (→ value) |")
    out.append("|---|---|---|")
    for name, table in ms.codesets.items():
        info = ms.codeset_info.get(name, {})
        out.append(f"| `{name}` | {_cell(info.get('description', ''))} | {_cell(_codeset_text(table))} |")
    out.append("\n## Body sites\n")
    out.append("| site | region | critical location | posterior fossa | meaning |")
    out.append("|---|---|---|---|---|")
    for key, site in ms.sites.items():
        flag = {True: "yes", False: "no", None: "says nothing"}
        out.append(f"| `{key}` | {site.region} | {flag[site.critical]} | {flag[site.posterior_fossa]} | "
                   f"{_cell(site.description)} |")
    out.append("\n## Settings\n")
    out.append("| setting | value |")
    out.append("|---|---|")
    for key, value in ms.settings.items():
        out.append(f"| `{key}` | {_cell(value)} |")
    out.append(f"\n## Local code system ({len(codesystem.get('concept', []))} codes)\n")
    out.append(f"`{codesystem.get('url')}` — CodeSystem `{codesystem.get('id')}`, version {codesystem.get('version')}"
               f", content {codesystem.get('content')}.\n")
    out.append("| code | display | definition |")
    out.append("|---|---|---|")
    for concept in codesystem.get("concept", []):
        out.append(f"| `{concept['code']}` | {_cell(concept.get('display', ''))} | "
                   f"{_cell(concept.get('definition', ''))} |")
    return "\n".join(out) + "\n"


def load_codesystem(package: str = "cds_service.mappings") -> dict:
    return json.loads((resources.files(package) / "codesystem-facts.json").read_text(encoding="utf-8"))


def main() -> None:
    sys.stdout.write(render(load_mappings(), load_codesystem()))


if __name__ == "__main__":
    main()
