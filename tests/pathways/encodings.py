"""Re-encodings of a patient's FHIR data that keep every clinical fact (issue #13, item 6).

:func:`encode` writes the same record the ways the FHIR input profile allows and real EHRs do:
codings (SNOMED CT / ICD-10 / ICD-10-NL / ICD-10-CM / LOCAL, extra local codings, text), value types
(KPS as integer, quantity or LOINC answer), units (mm / cm), reference styles (relative, absolute on
the server, ``urn:uuid`` fullUrls), a lesion's site as ``bodySite`` or a BodyStructure that is
contained, ``_include``d or in another key, a medication as a code or a Medication resource, Bundle
entry order, identical duplicates (also in another key), older versions of a record, extra
entered-in-error and cancelled copies with other values, and OperationOutcome entries.

Every choice comes from one :class:`Encoding` (drawn by hypothesis), applied with a seeded
``random.Random`` so an example replays exactly.
"""

from __future__ import annotations

import copy
import random
import uuid
from dataclasses import dataclass
from typing import Any, Mapping

from .realworld import KEY_OF, LOCAL, SCT

ICD10 = "http://hl7.org/fhir/sid/icd-10"
ICD10NL = "http://hl7.org/fhir/sid/icd-10-nl"
ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"
LNC = "http://loinc.org"
EHR_LOCAL = "urn:oid:2.16.840.1.113883.2.4.3.11.60.999"  # an EHR's own code system: never understood
BASE = "https://ehr.example.org/fhir"

BM_CODINGS = {  # every way the profile allows to code an active brain-metastasis Condition
    "snomed": [{"system": SCT, "code": "94225005", "display": "Secondary malignant neoplasm of brain"}],
    "icd10": [{"system": ICD10, "code": "C79.3"}],
    "icd10nl": [{"system": ICD10NL, "code": "C79.3", "display": "Secundaire maligne neoplasma van hersenen"}],
    "icd10cm": [{"system": ICD10CM, "code": "C79.31"}],
    "local": [{"system": LOCAL, "code": "brain-metastases"}],
    "several": [{"system": EHR_LOCAL, "code": "HM-01"}, {"system": ICD10, "code": "C79.3"},
                {"system": SCT, "code": "94225005"}],
}
KPS_ANSWERS = {100: "LA29175-9", 90: "LA29176-7", 80: "LA29177-5", 70: "LA29178-3", 60: "LA29179-1",
               50: "LA29180-9", 40: "LA29181-7", 30: "LA29182-5", 20: "LA29183-3", 10: "LA29184-1"}
REF_STYLES = ("relative", "absolute", "urn")
SITE_STYLES = ("bodySite", "contained", "included", "other-key")
ENCODING_ASPECTS = ("condition codings", "extra local codings and text", "reference style", "lesion site",
                    "lesion units", "KPS value type", "medication reference", "entry order", "duplicates",
                    "older versions", "entered-in-error copies", "cancelled copies", "OperationOutcome entries")


@dataclass(frozen=True)
class Encoding:
    seed: int
    bm_coding: str
    extra_codings: bool
    ref_style: str
    site_style: str
    cm: bool
    kps_type: str  # integer | quantity | answer
    medication_reference: str  # none | contained | separate
    shuffle: bool
    duplicates: bool
    versions: bool
    entered_in_error: bool
    cancelled: bool
    outcomes: bool


def _codes(res: Mapping[str, Any]) -> set[str]:
    return {c.get("code") for c in (res.get("code") or {}).get("coding", []) if isinstance(c, dict)}


def _is_bm_condition(res: Mapping[str, Any]) -> bool:
    return res.get("resourceType") == "Condition" and bool(_codes(res) & {"94225005", "C79.3", "C79.31",
                                                                             "brain-metastases"})


def _url(res: Mapping[str, Any], style: str) -> str:
    if style == "urn":
        name = f"{res['resourceType']}/{res.get('id')}"
        return f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, name)}"
    return f"{BASE}/{res['resourceType']}/{res['id']}"


def _ref(target: Mapping[str, Any], style: str) -> str:
    if style == "relative":
        return f"{target['resourceType']}/{target['id']}"
    return _url(target, style)


def _mutated(res: dict, rng: random.Random) -> dict:
    """A copy with another value (for copies that must not count)."""
    out = copy.deepcopy(res)
    if isinstance(out.get("valueBoolean"), bool):
        out["valueBoolean"] = not out["valueBoolean"]
    elif isinstance(out.get("valueInteger"), int):
        out["valueInteger"] = rng.choice([0, 10, 30, 100])
    elif isinstance(out.get("valueQuantity"), dict) and "value" in out["valueQuantity"]:
        out["valueQuantity"] = dict(out["valueQuantity"], value=rng.choice([1, 45, 250]))
    if out.get("resourceType") == "Condition":
        out["verificationStatus"] = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-ver-status",
                                                 "code": "confirmed"}]}
    return out


def encode(resources: list[dict], enc: Encoding) -> dict[str, Any]:
    """The patient's data as a hook request's ``prefetch``, written as ``enc`` says."""
    rng = random.Random(enc.seed)
    res = [copy.deepcopy(r) for r in resources]
    extra: list[tuple[str, dict, str]] = []  # (key, resource, search mode) added besides the records
    for r in res:
        rtype = r["resourceType"]
        if _is_bm_condition(r):
            r["code"] = {"coding": copy.deepcopy(BM_CODINGS[enc.bm_coding]),
                         "text": rng.choice(["Hersenmetastasen", "brain metastases", "Cerebrale metastasen"])}
        if enc.extra_codings and isinstance(r.get("code"), dict) and rtype != "Patient":
            coding = r["code"].setdefault("coding", [])
            local = {"system": EHR_LOCAL, "code": f"X{rng.randrange(10**5)}"}
            coding.insert(rng.randrange(len(coding) + 1), local)
            r["code"].setdefault("text", rng.choice(["EHR observation", "Bevinding", "finding"]))
        if rtype == "Observation" and "89243-0" in _codes(r) and isinstance(r.get("valueInteger"), int):
            value = r["valueInteger"]
            if enc.kps_type == "quantity":
                del r["valueInteger"]
                r["valueQuantity"] = {"value": value}
            elif enc.kps_type == "answer" and value in KPS_ANSWERS:
                del r["valueInteger"]
                r["valueCodeableConcept"] = {"coding": [{"system": LNC, "code": KPS_ANSWERS[value]}]}
        if rtype == "Observation" and "21889-1" in _codes(r):
            if enc.cm:
                for comp in r.get("component", []):
                    q = comp.get("valueQuantity")
                    if isinstance(q, dict) and q.get("code") == "mm" and isinstance(q.get("value"), (int, float)):
                        comp["valueQuantity"] = dict(q, value=q["value"] / 10, unit="cm", code="cm")
            site = r.get("bodySite")
            if enc.site_style != "bodySite" and isinstance(site, dict) and "focus" not in r:
                body = {"resourceType": "BodyStructure", "id": f"bs-{r['id']}", "location": site,
                        "patient": copy.deepcopy(r.get("subject"))}
                del r["bodySite"]
                if enc.site_style == "contained":
                    r["contained"] = [body]
                    r["focus"] = [{"reference": f"#{body['id']}"}]
                else:
                    r["focus"] = [{"reference": _ref(body, enc.ref_style)}]
                    extra.append(("observations" if enc.site_style == "included" else "procedures", body,
                                  "include"))
        if rtype in ("MedicationRequest", "MedicationStatement") and enc.medication_reference != "none" \
                and isinstance(r.get("medicationCodeableConcept"), dict):
            med = {"resourceType": "Medication", "id": f"med-{r['id']}", "code": r.pop("medicationCodeableConcept")}
            if enc.medication_reference == "contained":
                r["contained"] = [dict(med, id="m")]
                r["medicationReference"] = {"reference": "#m"}
            else:
                r["medicationReference"] = {"reference": _ref(med, enc.ref_style)}
                extra.append((KEY_OF[rtype], med, "include"))
    # existing references between records (focus, derivedFrom, reasonReference) in the chosen style
    by_key = {f"{r['resourceType']}/{r.get('id')}": r for r in res}
    for r in res:
        for field in ("focus", "derivedFrom", "reasonReference"):
            for ref in r.get(field, []) if isinstance(r.get(field), list) else []:
                target = by_key.get(ref.get("reference", "")) if isinstance(ref, dict) else None
                if target is not None and target["resourceType"] != "Patient":
                    ref["reference"] = _ref(target, enc.ref_style)

    entries: dict[str, list[dict]] = {k: [] for k in KEY_OF.values() if k != "patient"}
    prefetch: dict[str, Any] = {"patient": None}
    records = [r for r in res if r["resourceType"] != "Patient"]
    for r in res:
        if r["resourceType"] == "Patient":
            prefetch["patient"] = r
    url_style = "urn" if enc.ref_style == "urn" else "absolute"

    def entry(r: dict, mode: str = "match") -> dict:
        return {"fullUrl": _url(r, url_style), "resource": r, "search": {"mode": mode}}

    for r in records:
        entries[KEY_OF.get(r["resourceType"], "observations")].append(entry(r))
    for key, r, mode in extra:
        entries[key].append(entry(r, mode))
    if enc.versions:  # an older version of some records, with another value: the newest is the record
        for r in rng.sample(records, k=min(3, len(records))):
            r.setdefault("meta", {})["versionId"] = "3"
            old = _mutated(r, rng)
            old["meta"] = {"versionId": "2", "lastUpdated": "2020-01-01T00:00:00Z"}
            entries[KEY_OF.get(r["resourceType"], "observations")].append(entry(old))
    if enc.entered_in_error:  # other records the EHR withdrew
        for r in rng.sample(records, k=min(3, len(records))):
            bad = _mutated(r, rng)
            bad["id"] = f"{r['id']}-eie"
            bad["status"] = "entered-in-error"
            if bad["resourceType"] == "Condition":
                bad.pop("status")
                bad["verificationStatus"] = {"coding": [{
                    "system": "http://terminology.hl7.org/CodeSystem/condition-ver-status", "code": "entered-in-error"}]}
            entries[KEY_OF.get(r["resourceType"], "observations")].append(entry(bad))
    if enc.cancelled:
        for r in [r for r in records if r["resourceType"] == "Observation"][:3]:
            gone = _mutated(r, rng)
            gone["id"] = f"{r['id']}-cancelled"
            gone["status"] = "cancelled"
            entries["observations"].append(entry(gone))
    if enc.duplicates:  # identical copies: page overlap, or the same record in two keys
        for r in rng.sample(records, k=min(4, len(records))):
            key = KEY_OF.get(r["resourceType"], "observations")
            entries[key].append(entry(copy.deepcopy(r)))
            other = rng.choice([k for k in entries if k != key])
            entries[other].append(entry(copy.deepcopy(r), "include"))
    if enc.outcomes:
        for key in rng.sample(sorted(entries), k=3):
            entries[key].append({"resource": {"resourceType": "OperationOutcome", "issue": [
                {"severity": "information", "code": "informational", "diagnostics": "page 1 of 1"}]},
                "search": {"mode": "outcome"}})
    for key, items in entries.items():
        if enc.shuffle:
            rng.shuffle(items)
        prefetch[key] = {"resourceType": "Bundle", "type": "searchset", "total": len(items), "entry": items}
    return prefetch
