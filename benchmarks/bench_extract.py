"""Fact extraction cost for a realistic 300-resource patient, against parsing its JSON.

    python benchmarks/bench_extract.py [--runs 300] [--r4b]

Builds one patient with a realistic mix (many laboratory and vital-sign Observations that match no
mapping, a problem list, medication lists, procedures, imaging, encounters), then measures in the same
process:

- ``extract``: FactExtractor.extract over the resources (median and p95);
- ``json.loads``: parsing the same patient's JSON (the prefetch part of a hook request);
- ``flask``: a Flask endpoint that only parses the hook request JSON (test client round trip);
- ``--r4b``: validating every resource with the fhir.resources R4B pydantic models, for comparison
  (why the extractor reads plain dicts).

The ratios say whether extraction could dominate a hook call (target: a hook call costs at most 2× a
Flask endpoint that only parses the request).
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import time
from datetime import datetime, timedelta, timezone
from typing import Callable

from cds_service.facts.extract import FactExtractor  # the installed package (make install-test), with its data

NOW = datetime(2026, 11, 24, 9, 0, tzinfo=timezone.utc)
LNC, SCT, LOCAL = "http://loinc.org", "http://snomed.info/sct", "https://neuro-onc-cds.example.org/fhir/CodeSystem/facts"
ATC, ICD10, UCUM = "http://www.whocc.no/atc", "http://hl7.org/fhir/sid/icd-10-nl", "http://unitsofmeasure.org"
DCM = "http://dicom.nema.org/resources/ontology/DCM"
PID = "bench-patient"
SUBJECT = {"reference": f"Patient/{PID}"}

LABS = [("2951-2", "Sodium", "mmol/L", 140), ("2823-3", "Potassium", "mmol/L", 4.1), ("2160-0", "Creatinine", "umol/L",
        80), ("2345-7", "Glucose", "mmol/L", 5.6), ("1988-5", "CRP", "mg/L", 4), ("6690-2", "Leukocytes", "10*9/L", 7.2),
        ("777-3", "Platelets", "10*9/L", 250), ("59260-0", "Hemoglobin", "mmol/L", 7.8), ("1742-6", "ALT", "U/L", 25),
        ("1920-8", "AST", "U/L", 22), ("2532-0", "LDH", "U/L", 190), ("17861-6", "Calcium", "mmol/L", 2.4),
        ("1751-7", "Albumin", "g/L", 40)]
VITALS = [("8480-6", "Systolic BP", "mm[Hg]", 130), ("8462-4", "Diastolic BP", "mm[Hg]", 80),
          ("8867-4", "Heart rate", "/min", 72), ("8310-5", "Body temperature", "Cel", 36.8),
          ("29463-7", "Body weight", "kg", 71), ("59408-5", "SpO2", "%", 97)]


def ago(days: float) -> str:
    return (NOW - timedelta(days=days)).isoformat()


def cc(system: str, code: str, display: str = "") -> dict:
    coding = {"system": system, "code": code}
    if display:
        coding["display"] = display
    return {"coding": [coding], "text": display or code}


def realistic_patient() -> list[dict]:
    """About 300 resources, most of which no guideline fact needs."""
    out: list[dict] = [{"resourceType": "Patient", "id": PID, "birthDate": "1958-03-02", "gender": "female",
                        "name": [{"family": "Bench", "given": ["Marie"]}],
                        "address": [{"city": "Utrecht", "country": "NL"}]}]
    n = 0

    def add(res: dict) -> None:
        nonlocal n
        n += 1
        res.setdefault("id", f"r{n}")
        res.setdefault("meta", {"lastUpdated": ago(1), "versionId": "1"})
        out.append(res)

    def observation(code: tuple, value: dict, days: float, **extra) -> None:
        add({"resourceType": "Observation", "status": "final", "subject": SUBJECT,
             "category": [cc("http://terminology.hl7.org/CodeSystem/observation-category", "laboratory")],
             "code": cc(*code), "effectiveDateTime": ago(days), "issued": ago(days - 0.1), **value, **extra})

    for i in range(12):  # labs every ~10 days
        for code, name, unit, value in LABS:
            observation((LNC, code, name), {"valueQuantity": {"value": value + i * 0.1, "unit": unit, "system": UCUM,
                                                              "code": unit}}, 5 + 10 * i)
    for i in range(8):
        for code, name, unit, value in VITALS:
            observation((LNC, code, name), {"valueQuantity": {"value": value, "unit": unit, "system": UCUM,
                                                              "code": unit}}, 3 + 7 * i)
    for i, (kps, days) in enumerate(((80, 4), (70, 40), (90, 120))):
        observation((LNC, "89243-0", "Karnofsky"), {"valueInteger": kps}, days)
    observation((LNC, "89247-1", "ECOG"), {"valueInteger": 1}, 6)
    for d, site in ((14, "15926001"), (9, "83251001"), (6, "12738006")):
        observation((LNC, "21889-1", "Tumor size"), {"bodySite": cc(SCT, site), "component": [
            {"code": cc(LNC, "33728-7"), "valueQuantity": {"value": d, "unit": "mm", "system": UCUM, "code": "mm"}}]},
            9)
    for code, value in (("expected-survival", {"valueCodeableConcept": cc(LOCAL, "6-12-months")}),
                        ("extracranial-disease-status", {"valueCodeableConcept": cc(LOCAL, "stable")}),
                        ("treatment-wish", {"valueBoolean": True}), ("mass-effect", {"valueBoolean": False})):
        observation((LOCAL, code), value, 8)
    observation((LNC, "69548-6", "Variant"), {"valueCodeableConcept": cc(LNC, "LA9633-4"), "component": [
        {"code": cc(LNC, "48018-6"), "valueCodeableConcept": cc("http://www.genenames.org", "HGNC:3236")}]}, 300)
    conditions = [(ICD10, "C34.1", "Lung"), (SCT, "94225005", "Brain metastases"), (ICD10, "I10", "Hypertension"),
                  (ICD10, "E11.9", "Diabetes"), (ICD10, "J44.9", "COPD"), (ICD10, "K21.9", "GERD"),
                  (ICD10, "M81.0", "Osteoporosis"), (ICD10, "F32.9", "Depression"), (ICD10, "G47.3", "Sleep apnoea"),
                  (ICD10, "E78.0", "Hypercholesterolaemia"), (ICD10, "N18.3", "CKD"), (ICD10, "I48.9", "AF"),
                  (SCT, "84757009", "Epilepsy"), (ICD10, "R51", "Headache"), (ICD10, "Z87.891", "Ex-smoker")]
    for i, (system, code, name) in enumerate(conditions * 2):
        add({"resourceType": "Condition", "subject": SUBJECT, "code": cc(system, code, name),
             "clinicalStatus": cc("http://terminology.hl7.org/CodeSystem/condition-clinical",
                                  "active" if i < 20 else "resolved"),
             "verificationStatus": cc("http://terminology.hl7.org/CodeSystem/condition-ver-status", "confirmed"),
             "onsetDateTime": ago(30 + 20 * i), "recordedDate": ago(29 + 20 * i)})
    meds = [("N02BE01", "paracetamol"), ("A02BC01", "omeprazole"), ("H02AB02", "dexamethasone"),
            ("L01EB04", "osimertinib"), ("C09AA02", "enalapril"), ("A10BA02", "metformin"), ("N03AX14", "levetiracetam"),
            ("B01AF01", "rivaroxaban"), ("C10AA05", "atorvastatin"), ("N05BA06", "lorazepam"), ("A06AD11", "lactulose"),
            ("R03AC02", "salbutamol")]
    for i, (code, name) in enumerate(meds * 2):
        add({"resourceType": "MedicationRequest", "status": "active" if i < 12 else "completed", "intent": "order",
             "subject": SUBJECT, "medicationCodeableConcept": cc(ATC, code, name), "authoredOn": ago(5 + 30 * i),
             "dosageInstruction": [{"text": "1 tablet daily", "timing": {"repeat": {"frequency": 1, "period": 1,
                                                                                     "periodUnit": "d"}}}]})
    for code, name in meds[:10]:
        add({"resourceType": "MedicationStatement", "status": "active", "subject": SUBJECT,
             "medicationCodeableConcept": cc(ATC, code, name), "effectivePeriod": {"start": ago(60)}})
    procedures = [(LOCAL, "stereotactic-radiosurgery"), (LOCAL, "neuro-oncology-mdo"), (SCT, "71388002", "Procedure"),
                  (SCT, "387713003", "Surgical procedure"), (SCT, "241615005", "MRI"), (SCT, "77477000", "CT")]
    for i, code in enumerate(procedures * 3):
        add({"resourceType": "Procedure", "status": "completed", "subject": SUBJECT, "code": cc(*code),
             "performedDateTime": ago(20 + 15 * i),
             "performer": [{"function": cc(LOCAL, "neurosurgery")}, {"function": cc(LOCAL, "neurology")}]})
    for i in range(8):
        add({"resourceType": "ImagingStudy", "status": "available", "subject": SUBJECT, "started": ago(9 + 40 * i),
             "series": [{"uid": f"1.2.{i}", "modality": {"system": DCM, "code": "MR" if i % 2 else "CT"},
                         "bodySite": {"system": SCT, "code": "12738006" if i % 3 else "44300000"}}]})
    for i in range(6):
        add({"resourceType": "ServiceRequest", "status": "active" if i % 2 else "completed", "intent": "order",
             "subject": SUBJECT, "code": cc(SCT, "183524004", "Referral"), "authoredOn": ago(10 + i)})
        add({"resourceType": "Encounter", "status": "finished", "subject": SUBJECT,
             "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
             "serviceType": cc(SCT, "394592004", "Clinical oncology"), "period": {"start": ago(14 * i + 2)}})
    return out


def measure(fn: Callable[[], object], runs: int) -> list[float]:
    fn()  # warm caches
    times = []
    gc.collect()
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return times


def summary(times: list[float]) -> str:
    times = sorted(times)
    p95 = times[min(len(times) - 1, int(0.95 * len(times)))]
    return f"median {statistics.median(times):7.3f} ms   p95 {p95:7.3f} ms"


def searchset(resources: list[dict], rtype: str) -> dict:
    return {"resourceType": "Bundle", "type": "searchset",
            "entry": [{"resource": r} for r in resources if r["resourceType"] == rtype]}


def hook_request(resources: list[dict]) -> dict:
    prefetch = {"patient": resources[0]}
    for key, rtype in (("conditions", "Condition"), ("observations", "Observation"), ("procedures", "Procedure"),
                       ("imagingStudies", "ImagingStudy"), ("medicationRequests", "MedicationRequest"),
                       ("medicationStatements", "MedicationStatement"), ("serviceRequests", "ServiceRequest"),
                       ("encounters", "Encounter")):
        prefetch[key] = searchset(resources, rtype)
    return {"hook": "patient-view", "hookInstance": "d1577c69-dfbe-44ad-ba6d-3e05e953b2ea",
            "context": {"patientId": PID, "userId": "Practitioner/1"}, "prefetch": prefetch}


def flask_parse_only() -> Callable[[bytes], object]:
    from flask import Flask, jsonify, request

    app = Flask("parse-only")

    @app.post("/cds-services/<service_id>")
    def invoke(service_id: str):
        body = request.get_json()
        return jsonify({"cards": [], "n": len(body.get("prefetch", {}))})

    client = app.test_client()
    return lambda payload: client.post("/cds-services/brain-metastases", data=payload,
                                       content_type="application/json")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=300)
    parser.add_argument("--r4b", action="store_true", help="also time R4B model validation of every resource")
    args = parser.parse_args()

    started = time.perf_counter()
    extractor = FactExtractor.load()
    load_ms = (time.perf_counter() - started) * 1000
    resources = realistic_patient()
    types: dict[str, int] = {}
    for r in resources:
        types[r["resourceType"]] = types.get(r["resourceType"], 0) + 1
    text = json.dumps(resources)
    request_bytes = json.dumps(hook_request(resources)).encode()
    facts = extractor.extract(resources, now=NOW)
    known = sum(1 for n in facts if facts[n].known)

    print(f"patient: {len(resources)} resources ({', '.join(f'{k} {v}' for k, v in sorted(types.items()))}), "
          f"{len(text) / 1024:.0f} KiB JSON")
    print(f"facts: {len(list(facts))} ({known} known), lesions {len(facts.lesions)}, problems {len(facts.problems)}")
    print(f"FactExtractor.load (once at startup): {load_ms:.1f} ms\n")

    t_extract = measure(lambda: extractor.extract(resources, now=NOW), args.runs)
    t_json = measure(lambda: json.loads(text), args.runs)
    t_both = measure(lambda: extractor.extract(json.loads(text), now=NOW), args.runs)
    post = flask_parse_only()
    t_flask = measure(lambda: post(request_bytes), args.runs)
    print(f"extract                         {summary(t_extract)}")
    print(f"json.loads (same patient)       {summary(t_json)}")
    print(f"json.loads + extract            {summary(t_both)}")
    print(f"Flask endpoint, parse JSON only {summary(t_flask)}")
    med = statistics.median
    print(f"\nratio extract / json.loads:        {med(t_extract) / med(t_json):5.2f}")
    print(f"ratio extract / Flask parse-only:  {med(t_extract) / med(t_flask):5.2f}")
    print(f"(Flask parse-only + extract) / Flask parse-only: {(med(t_flask) + med(t_extract)) / med(t_flask):5.2f}")

    if args.r4b:
        from fhir.resources.R4B import get_fhir_model_class

        def validate_all() -> int:
            ok = 0
            for r in resources:
                try:
                    get_fhir_model_class(r["resourceType"]).model_validate(r)
                    ok += 1
                except Exception:
                    pass
            return ok

        t_r4b = measure(validate_all, max(5, args.runs // 20))
        print(f"\nR4B model validation of every resource {summary(t_r4b)} "
              f"({med(t_r4b) / med(t_extract):.0f}× the extraction; {validate_all()}/{len(resources)} valid)")


if __name__ == "__main__":
    main()
