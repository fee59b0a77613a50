"""The catalogue of CDS services: id, hook, title, prefetch templates, pathways.

Service ids are a public contract (EHR configurations key on them); keep them
stable. Prefetch templates live here, in one place, and use only the CDS Hooks
query subset (instance read, type search with reference params, ``_count``).
Each prefetch key has a failure policy, as HAPI FHIR's CDS Hooks module does:
``required`` keys make the call fail with 412 when they cannot be had;
``optional`` keys make the facts they feed unknown, and the cards say so.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

FHIR_VERSION = "4.0.1"  # R4; every resource is read as R4 JSON (R4B models where models are used)

PATIENT = "{{context.patientId}}"


@dataclass(frozen=True)
class PrefetchKey:
    key: str
    query: str
    resource_type: str
    required: bool
    is_search: bool = True


# One definition per key; services pick the keys their pathways read.
PREFETCH: Mapping[str, PrefetchKey] = {
    p.key: p
    for p in (
        PrefetchKey("patient", f"Patient/{PATIENT}", "Patient", required=True, is_search=False),
        PrefetchKey("conditions", f"Condition?patient={PATIENT}&_count=200", "Condition", required=True),
        PrefetchKey("observations", f"Observation?patient={PATIENT}&_count=500", "Observation", required=True),
        PrefetchKey("procedures", f"Procedure?patient={PATIENT}&_count=200", "Procedure", required=False),
        PrefetchKey("imagingStudies", f"ImagingStudy?patient={PATIENT}&_count=100", "ImagingStudy", required=False),
        PrefetchKey(
            "medicationRequests", f"MedicationRequest?patient={PATIENT}&_count=200", "MedicationRequest", required=False
        ),
        PrefetchKey(
            "medicationStatements",
            f"MedicationStatement?patient={PATIENT}&_count=200",
            "MedicationStatement",
            required=False,
        ),
        PrefetchKey("serviceRequests", f"ServiceRequest?patient={PATIENT}&_count=200", "ServiceRequest", required=False),
        PrefetchKey("encounters", f"Encounter?patient={PATIENT}&_count=100", "Encounter", required=False),
    )
}

ALL_KEYS = tuple(PREFETCH)


@dataclass(frozen=True)
class Service:
    id: str
    hook: str
    title: str
    description: str
    prefetch_keys: tuple[str, ...]
    pathways: tuple[str, ...]  # "module:function", resolved once at startup
    usage_requirements: str | None = None
    extra: Mapping[str, str] = field(default_factory=dict)

    @property
    def prefetch(self) -> dict[str, str]:
        return {k: PREFETCH[k].query for k in self.prefetch_keys}

    def discovery(self) -> dict:
        """The service's entry in ``GET /cds-services``."""
        entry = {
            "hook": self.hook,
            "title": self.title,
            "description": self.description,
            "id": self.id,
            "prefetch": self.prefetch,
        }
        if self.usage_requirements:
            entry["usageRequirements"] = self.usage_requirements
        return entry


_USAGE = (
    "FHIR R4 data. Record guideline facts as described in the project's FHIR input profile "
    "(mCODE / LOINC / SNOMED CT codes and the local code system "
    "https://neuro-onc-cds.example.org/fhir/CodeSystem/facts)."
)

SERVICES: tuple[Service, ...] = (
    Service(
        id="brain-metastases",
        hook="patient-view",
        title="Brain metastases: MDO triage, treatment options and follow-up",
        description=(
            "Dutch guideline 'Hersenmetastasen' (FMS) and the LWNO neuro-oncology MDO agreement: "
            "which MDO, treatment considerations (resection, SRS, WBRT, systemic therapy, restraint), "
            "post-operative policy, follow-up MRI, recurrence, MDO information and prognosis (RPA, GPA)."
        ),
        prefetch_keys=ALL_KEYS,
        pathways=(
            "cds_service.pathways.brain:evaluate",
            "cds_service.pathways.prognosis:evaluate",
        ),
        usage_requirements=_USAGE,
    ),
    Service(
        id="spinal-metastases",
        hook="patient-view",
        title="Spinal metastases: red flags, MRI urgency, corticosteroids and routing",
        description=(
            "Dutch guideline 'Wervelmetastasen' (FMS 2026, IKNL flowcharts): red flags, whole-spine MRI "
            "deadlines, dexamethasone, biopsy, treatment timelines, routing, surgery and radiotherapy "
            "schedules, SINS."
        ),
        prefetch_keys=ALL_KEYS,
        pathways=("cds_service.pathways.spine:evaluate",),
        usage_requirements=_USAGE,
    ),
    Service(
        id="leptomeningeal-metastases",
        hook="patient-view",
        title="Leptomeningeal metastases: suspicion, diagnostics and treatment",
        description=(
            "Leptomeningeal metastases: when to suspect them, MRI brain and spine with gadolinium and CSF "
            "examination, repeat lumbar puncture, treatment and symptom control."
        ),
        prefetch_keys=("patient", "conditions", "observations", "procedures", "medicationRequests",
                       "medicationStatements"),
        pathways=("cds_service.pathways.leptomeningeal:evaluate",),
        usage_requirements=_USAGE,
    ),
    Service(
        id="neuro-oncology-order-select",
        hook="order-select",
        title="Neuro-oncology order check (order-select)",
        description=(
            "While orders are being selected: radiotherapy referral for brain metastases needs a complete "
            "neuro-oncology MDO first (law of 1-7-2025), whole-spine MRI urgency, follow-up brain MRI, "
            "MDO referral information."
        ),
        prefetch_keys=ALL_KEYS,
        pathways=("cds_service.pathways.orders:evaluate",),
        usage_requirements=_USAGE,
    ),
    Service(
        id="neuro-oncology-order-sign",
        hook="order-sign",
        title="Neuro-oncology order check (order-sign)",
        description=(
            "Before orders are signed: blocks direct radiotherapy referral for brain metastases without a "
            "complete neuro-oncology MDO (law of 1-7-2025), checks whole-spine MRI urgency and MDO referral "
            "information."
        ),
        prefetch_keys=ALL_KEYS,
        pathways=("cds_service.pathways.orders:evaluate",),
        usage_requirements=_USAGE,
    ),
)

SERVICES_BY_ID: Mapping[str, Service] = {s.id: s for s in SERVICES}
