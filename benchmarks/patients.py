"""Generated benchmark patients: the shape of a real EHR record, at any size.

``realistic_patient(n)`` builds a patient with metastatic lung cancer and brain
metastases whose record spans two years, exactly ``n`` resources (n ≥ 30):
serial brain MRIs with a tumour-size Observation per lesion per scan, KPS and
ECOG over time, a problem list with comorbidities (some resolved), MDO
discussions, surgery and radiotherapy, medication orders and statements,
referrals, encounters — and, as in a real record, mostly laboratory results and
vital signs that no guideline fact needs. Every part grows with ``n``, so a
3,000-resource patient has ten times the MRIs, lesions and medications of a
300-resource one, not only more laboratory results.

The resources are built with the fixture builder (``fixtures/gen/builder.py``),
so they are valid FHIR R4 that the Node test server accepts. Deterministic: the
same ``n`` and ``seed`` give the same patient.
"""

from __future__ import annotations

import json
import random
import sys
import uuid
from pathlib import Path
from typing import Any, Mapping

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    # Appended, not prepended: ``cds_service`` must stay the installed package (its data files),
    # only ``fixtures.gen.builder`` comes from the checkout.
    sys.path.append(str(ROOT))

from fixtures.gen.builder import (  # noqa: E402
    ATC, FIXTURE_NOW, ICD10, LNC, LOCAL, SCT, PatientBuilder, ago, concept,
)

SIZES = (50, 300, 3000)
LABS = (  # (LOINC, display, UCUM unit, low, high): a routine oncology panel
    ("718-7", "Hemoglobin", "g/dL", 9.0, 15.0),
    ("2160-0", "Creatinine", "mg/dL", 0.6, 1.4),
    ("1742-6", "ALT", "U/L", 10.0, 60.0),
    ("1920-8", "AST", "U/L", 10.0, 50.0),
    ("6690-2", "Leukocytes", "10*3/uL", 3.0, 12.0),
    ("777-3", "Platelets", "10*3/uL", 120.0, 400.0),
    ("2951-2", "Sodium", "mmol/L", 132.0, 146.0),
    ("2823-3", "Potassium", "mmol/L", 3.3, 5.2),
    ("2345-7", "Glucose", "mg/dL", 70.0, 190.0),
    ("1988-5", "CRP", "mg/L", 1.0, 40.0),
    ("2532-0", "LDH", "U/L", 120.0, 400.0),
)
VITALS = (
    ("8480-6", "Systolic blood pressure", "mm[Hg]", 105.0, 165.0),
    ("8867-4", "Heart rate", "/min", 55.0, 105.0),
    ("8310-5", "Body temperature", "Cel", 36.1, 38.2),
    ("29463-7", "Body weight", "kg", 58.0, 82.0),
)
COMORBIDITIES = (
    (ICD10, "I10", "Essential hypertension"), (ICD10, "E11.9", "Type 2 diabetes mellitus"),
    (ICD10, "J44.9", "COPD"), (ICD10, "E78.0", "Hypercholesterolaemia"), (ICD10, "N18.3", "Chronic kidney disease"),
    (ICD10, "I48.9", "Atrial fibrillation"), (ICD10, "F32.9", "Depressive episode"),
    (ICD10, "K21.9", "Gastro-oesophageal reflux"),
)
MEDICATIONS = (
    ("L01EB04", "osimertinib"), ("N02BE01", "paracetamol"), ("A02BC01", "omeprazole"), ("C09AA02", "enalapril"),
    ("A10BA02", "metformin"), ("N03AX14", "levetiracetam"), ("B01AF01", "rivaroxaban"), ("C10AA05", "atorvastatin"),
    ("A06AD11", "lactulose"), ("R03AC02", "salbutamol"),
)
BRAIN = (SCT, "12738006", "Brain structure")
MR_BRAIN = (LNC, "24590-2", "MR Brain")


def _share(n: int, fraction: float, minimum: int) -> int:
    return max(minimum, round(n * fraction))


def realistic_patient(n_resources: int, pid: str | None = None, seed: int = 7) -> list[dict]:
    """The resources (Patient first) of one generated patient with exactly ``n_resources`` resources."""
    if n_resources < 30:
        raise ValueError("a realistic patient has at least 30 resources")
    rnd = random.Random(seed * 100_003 + n_resources)
    p = PatientBuilder(pid or f"bench-{n_resources}", birth_date="1958-03-14", gender="male")

    # Problem list: the cancer, the brain metastases, comorbidities (some resolved, some entered twice).
    p.condition((SCT, "254626006", "Adenocarcinoma of lung"), onset=ago(days=420), recorded=ago(days=418))
    p.condition((SCT, "94225005", "Secondary malignant neoplasm of brain"), onset=ago(days=21), recorded=ago(days=20))
    for i in range(_share(n_resources, 0.03, 2)):
        p.condition(COMORBIDITIES[i % len(COMORBIDITIES)], onset=ago(days=700 + 37 * i),
                    clinical="active" if i % 4 else "resolved")

    # Serial brain MRIs, each with one tumour-size Observation per lesion (more lesions on later scans).
    n_scans = _share(n_resources, 0.025, 2)
    lesions_per_scan = max(1, min(8, n_resources // 100 + 1))
    for scan in range(n_scans):
        days = 14 + 60 * scan
        study = p.imaging_study("MR", started=ago(days=days), body_site=BRAIN, procedure_code=MR_BRAIN)
        for _ in range(max(1, lesions_per_scan - scan // 3)):
            p.lesion(round(rnd.uniform(4, 32), 1), days_ago=days, derived_from=[f"ImagingStudy/{study}"])

    # Performance status over time (KPS and ECOG, most recent first).
    p.kps(70, days_ago=5)
    p.ecog(1, days_ago=5)
    for i in range(_share(n_resources, 0.03, 0)):
        if i % 2:
            p.ecog(rnd.choice([0, 1, 2]), days_ago=30 + 20 * i)
        else:
            p.kps(rnd.choice([60, 70, 80, 90]), days_ago=30 + 20 * i)

    # Guideline facts as recorded at clinic visits (the most recent one counts; older ones are history).
    visits = _share(n_resources, 0.01, 1)
    for i in range(visits):
        days = 6 + 45 * i
        p.local_obs("expected-survival", "6-12-months" if i == 0 else "gt-12-months", effective=ago(days=days))
        p.local_obs("extracranial-disease-status", "stable", effective=ago(days=days))
        p.local_obs("extracranial-metastases", True, effective=ago(days=days))
        p.local_obs("brain-metastases-symptomatic", False, effective=ago(days=days))
    p.local_obs("treatment-wish", True, effective=ago(days=6))
    p.local_obs("critical-location", "none", effective=ago(days=14))
    p.observation((LNC, "69548-6", "Genetic variant assessment"), (LNC, "LA9634-2", "Absent"),
                  effective=ago(days=380), components=[((LNC, "48018-6", "Gene studied [ID]"),
                                                        ("http://www.genenames.org", "HGNC:3236", "EGFR"))])

    # MDO discussions, surgery, radiotherapy and other procedures.
    p.mdo(days_ago=40)
    for i in range(_share(n_resources, 0.02, 1)):
        p.procedure(rnd.choice([(SCT, "387713003", "Surgical procedure"), (SCT, "108290001", "Radiation oncology"),
                                (SCT, "71388002", "Procedure")]), performed=ago(days=90 + 45 * i))

    # Medication orders (active and completed) and statements.
    p.dexamethasone(days_ago=3)
    for i in range(_share(n_resources, 0.05, 2)):
        code, name = MEDICATIONS[i % len(MEDICATIONS)]
        p.medication_request((ATC, code, name), status="active" if i < len(MEDICATIONS) else "completed",
                             authored=ago(days=7 + 23 * i), dosage_text="1 tablet daily")
    for i in range(_share(n_resources, 0.015, 1)):
        code, name = MEDICATIONS[(i + 3) % len(MEDICATIONS)]
        p.add({"resourceType": "MedicationStatement", "status": "active" if i < 5 else "completed",
               "subject": p.ref, "medicationCodeableConcept": concept((ATC, code, name)),
               "effectivePeriod": {"start": ago(days=60 + 30 * i)}})

    # Referrals and visits.
    for i in range(_share(n_resources, 0.02, 1)):
        p.service_request(MR_BRAIN if i % 2 else (SCT, "183524004", "Referral to oncology service"),
                          status="completed" if i else "active", authored=ago(days=10 + 30 * i))
    for i in range(_share(n_resources, 0.04, 2)):
        p.encounter((SCT, "394593009", "Medical oncology"), start=ago(days=4 + 17 * i))

    if len(p.resources) > n_resources:
        raise ValueError(f"{n_resources} resources is too few for this patient's clinical record")
    # The rest, as in a real record: laboratory results and vital signs over two years.
    while len(p.resources) < n_resources:
        code, display, unit, low, high = rnd.choice(LABS if rnd.random() < 0.75 else VITALS)
        p.observation((LNC, code, display), (round(rnd.uniform(low, high), 1), unit),
                      effective=ago(days=rnd.uniform(0, 730)))
    return p.resources


def transaction_bundle(resources: list[dict]) -> dict:
    """The patient as a transaction Bundle of PUTs (what the fixture loader takes)."""
    return {"resourceType": "Bundle", "type": "transaction",
            "entry": [{"fullUrl": f"urn:uuid:{r['resourceType']}-{r['id']}", "resource": r,
                       "request": {"method": "PUT", "url": f"{r['resourceType']}/{r['id']}"}} for r in resources]}


def prefetch_for(resources: list[dict], prefetch_keys: Mapping[str, Any]) -> dict:
    """Full prefetch: every key of ``prefetch_keys`` (``services.PREFETCH`` entries) filled as an EHR would."""
    by_type: dict[str, list[dict]] = {}
    for r in resources:
        by_type.setdefault(r["resourceType"], []).append(r)
    prefetch: dict[str, Any] = {}
    for key, spec in prefetch_keys.items():
        found = by_type.get(spec.resource_type, [])
        if not spec.is_search:
            prefetch[key] = found[0] if found else None
            continue
        prefetch[key] = {"resourceType": "Bundle", "type": "searchset", "total": len(found),
                         "entry": [{"fullUrl": f"{r['resourceType']}/{r['id']}", "resource": r,
                                    "search": {"mode": "match"}} for r in found]}
    return prefetch


def hook_request(resources: list[dict], *, prefetch_keys: Mapping[str, Any] | None,
                 fhir_server: str | None = None, hook: str = "patient-view") -> bytes:
    """A patient-view request body: with full prefetch (``prefetch_keys`` given) and/or a ``fhirServer``."""
    pid = resources[0]["id"]
    body: dict[str, Any] = {"hook": hook, "hookInstance": str(uuid.uuid4()),
                            "context": {"userId": "Practitioner/dr-bench", "patientId": pid}}
    if fhir_server:
        body["fhirServer"] = fhir_server
    if prefetch_keys is not None:
        body["prefetch"] = prefetch_for(resources, prefetch_keys)
    return json.dumps(body).encode("utf-8")


__all__ = ["FIXTURE_NOW", "LOCAL", "SIZES", "hook_request", "prefetch_for", "realistic_patient",
           "transaction_bundle"]
