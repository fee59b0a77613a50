"""Profile conformance: one minimal patient per row / encoding variant of ../shared/spec/fhir-mapping.md.

Each case builds the resources for one fact encoded one way the input profile allows and checks the value
the extractor produces. The same clinical fact written with another code system, value[x] type, unit or
resource type must give the same fact.
"""

from __future__ import annotations

from typing import Any, Callable

import pytest

from .helpers import (
    ATC, DCM, HGNC, ICD10, ICD10CM, LNC, LOCAL, SCT, SUBJECT, ago, concept, cond, extract, local, med, obs,
    patient, proc, quantity,
)

ICD10NL = "http://hl7.org/fhir/sid/icd-10-nl"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
UNKNOWN = object()  # the fact must be unknown


def boolean(v: bool) -> dict:
    return {"valueBoolean": v}


def coded(*codes: tuple) -> dict:
    return {"valueCodeableConcept": concept(*codes)}


def lobs(code: str, value: dict | None = None, **kw: Any) -> dict:
    return obs(local(code), value, **kw)


def bm(*extra: dict) -> list[dict]:
    return [cond((SCT, "94225005"), rid="bm"), *extra]


def lesion(size: float, unit: str = "mm", *, site: tuple = (SCT, "12738006"), rid: str | None = None,
           **extra: Any) -> dict:
    res = obs((LNC, "21889-1"), {}, rid=rid, component=[{"code": concept((LNC, "33728-7")), **quantity(size, unit)}],
              **extra)
    if site is not None and "focus" not in extra and "derivedFrom" not in extra:
        res["bodySite"] = concept(site)
    return res


def study(rid: str, *, modality: str = "MR", site: tuple | None = (SCT, "12738006"), days: float = 3,
          procedure: tuple | None = None) -> dict:
    series: dict[str, Any] = {"uid": f"1.2.{rid}", "modality": {"system": DCM, "code": modality}}
    if site:
        series["bodySite"] = {"system": site[0], "code": site[1]}
    res: dict[str, Any] = {"resourceType": "ImagingStudy", "id": rid, "status": "available", "subject": SUBJECT,
                           "started": ago(days), "series": [series]}
    if procedure:
        res["procedureCode"] = [concept(procedure)]
    return res


def variant(gene: tuple, answer: str, rid: str = "v1") -> dict:
    return obs((LNC, "69548-6"), coded((LNC, answer)), rid=rid,
               component=[{"code": concept((LNC, "48018-6")), "valueCodeableConcept": concept(gene)}])


def status(code: str, days: float = 5) -> dict:
    return {"clinicalStatus": concept(("http://terminology.hl7.org/CodeSystem/condition-clinical", code))}


def contains(item: Any) -> Callable[[Any], bool]:
    return lambda v: v is not None and item in v


def approx(x: float) -> Callable[[Any], bool]:
    return lambda v: v is not None and abs(float(v) - x) < 1e-3


CASES: list[tuple[str, list[dict], str, Any]] = [
    # -- patient and disease ------------------------------------------------------------------------------
    ("bm-sct", bm(), "brain_metastases", True),
    ("bm-icd10", [cond((ICD10, "C79.3"))], "brain_metastases", True),
    ("bm-icd10nl", [cond((ICD10NL, "C79.3"))], "brain_metastases", True),
    ("bm-icd10cm", [cond((ICD10CM, "C79.31"))], "brain_metastases", True),
    ("bm-icd10-cm-subcode", [cond((ICD10, "C79.31"))], "brain_metastases", True),
    ("bm-icd10nl-cm-subcode", [cond((ICD10NL, "C79.31"))], "brain_metastases", True),
    ("bm-icd10-no-dot", [cond((ICD10, "C793"))], "brain_metastases", True),
    ("bm-icd10-lm-subcode-not-bm", [cond((ICD10, "C79.32"))], "brain_metastases", False),
    ("lm-icd10-cm-subcode", [cond((ICD10, "C79.32"))], "leptomeningeal_metastases", "confirmed"),
    ("sm-icd10-cm-subcode", [cond((ICD10NL, "C79.51"), bodySite=[concept((SCT, "44300000"))])],
     "spinal_metastases", True),
    ("bm-local", [cond(local("brain-metastases"))], "brain_metastases", True),
    ("bm-refuted", [cond((SCT, "94225005"), verification="refuted")], "brain_metastases", False),
    ("bm-inactive", [cond((SCT, "94225005"), clinical="inactive")], "brain_metastases", False),
    ("bm-resolved", [cond((SCT, "94225005"), clinical="resolved")], "brain_metastases", False),
    ("bm-remission", [cond((SCT, "94225005"), clinical="remission")], "brain_metastases", False),
    ("bm-abated-no-status", [cond((SCT, "94225005"), clinical=None, abatementDateTime=ago(2))],
     "brain_metastases", False),
    ("bm-entered-in-error", [cond((SCT, "94225005"), verification="entered-in-error")], "brain_metastases", False),
    ("bm-no-statuses", [cond((SCT, "94225005"), clinical=None, verification=None)], "brain_metastases", True),
    ("bm-date-onset", [cond((SCT, "94225005"), days=20, recordedDate=ago(5))], "brain_metastases_diagnosis_date",
     lambda v: v is not None and str(v)[:10] == ago(20)[:10]),
    ("bm-date-recorded", [{**cond((SCT, "94225005")), "onsetDateTime": None, "recordedDate": ago(7)}],
     "brain_metastases_diagnosis_date", lambda v: v is not None and str(v)[:10] == ago(7)[:10]),
    ("sm-local", [cond(local("spinal-metastases"))], "spinal_metastases", True),
    *[(f"sm-sct-{site}", [cond((SCT, "94222008"), bodySite=[concept((SCT, site))])], "spinal_metastases", True)
      for site in ("44300000", "3572006", "35769007", "73903008", "2748008")],
    ("sm-icd10", [cond((ICD10, "C79.5"), bodySite=[concept((SCT, "44300000"))])], "spinal_metastases", True),
    ("sm-icd10nl", [cond((ICD10NL, "C79.5"), bodySite=[concept((SCT, "3572006"))])], "spinal_metastases", True),
    ("sm-icd10cm", [cond((ICD10CM, "C79.51"), bodySite=[concept((SCT, "44300000"))])], "spinal_metastases", True),
    ("lm-local", [cond(local("leptomeningeal-metastases"))], "leptomeningeal_metastases", "confirmed"),
    ("lm-icd10cm", [cond((ICD10CM, "C79.32"))], "leptomeningeal_metastases", "confirmed"),
    ("lm-provisional", [cond((ICD10CM, "C79.32"), verification="provisional")], "leptomeningeal_metastases",
     "suspected"),
    ("lm-differential", [cond(local("leptomeningeal-metastases"), verification="differential")],
     "leptomeningeal_metastases", "suspected"),
    ("lm-refuted", [cond(local("leptomeningeal-metastases"), verification="refuted")],
     "leptomeningeal_metastases", "none"),
    *[(f"primary-{sys_name}-{code}", [cond((system, code))], "primary_tumour", category)
      for sys_name, system, code, category in [
          ("sct", SCT, "254637007", "nsclc"), ("sct", SCT, "254626006", "nsclc"),
          ("local", LOCAL, "lung-adenocarcinoma", "nsclc"), ("local", LOCAL, "lung-non-adenocarcinoma", "nsclc"),
          ("sct", SCT, "254837009", "breast"), ("sct", SCT, "372244006", "melanoma"),
          ("icd10", ICD10, "C34.1", "lung"), ("icd10", ICD10, "C34", "lung"), ("icd10nl", ICD10NL, "C34.9", "lung"),
          ("icd10cm", ICD10CM, "C34.90", "lung"), ("icd10", ICD10, "C50.9", "breast"),
          ("icd10nl", ICD10NL, "C50", "breast"), ("icd10", ICD10, "C43.5", "melanoma"),
          ("icd10", ICD10, "C64", "renal"), ("icd10nl", ICD10NL, "C64.9", "renal"),
          ("icd10", ICD10, "C18.7", "colorectal"), ("icd10", ICD10, "C19", "colorectal"),
          ("icd10", ICD10, "C20", "colorectal"), ("icd10cm", ICD10CM, "C18.9", "colorectal"),
          ("icd10", ICD10, "C61", "other"), ("local", LOCAL, "primary-unknown", "unknown")]],
    ("histology-sct", [cond((SCT, "254626006"))], "lung_histology", "adenocarcinoma"),
    ("histology-local-adeno", [cond(local("lung-adenocarcinoma"))], "lung_histology", "adenocarcinoma"),
    ("histology-local-non", [cond(local("lung-non-adenocarcinoma"))], "lung_histology", "non-adenocarcinoma"),
    ("driver-hgnc-id", [variant((HGNC, "HGNC:3236"), "LA9633-4")], "driver_positive", contains("EGFR")),
    ("driver-hgnc-symbol", [variant((HGNC, "ALK"), "LA9633-4")], "driver_positive", contains("ALK")),
    ("driver-hgnc-ros1", [variant((HGNC, "HGNC:10261"), "LA9633-4")], "driver_positive", contains("ROS1")),
    ("driver-hgnc-braf", [variant((HGNC, "HGNC:1097"), "LA9633-4")], "driver_positive", contains("BRAF")),
    ("driver-hgnc-erbb2", [variant((HGNC, "HGNC:3430"), "LA9633-4")], "driver_positive", contains("ERBB2")),
    ("driver-symbol-no-system", [obs((LNC, "69548-6"), coded((LNC, "LA9633-4")), component=[
        {"code": concept((LNC, "48018-6")), "valueCodeableConcept": {"coding": [{"code": "EGFR"}]}}])],
     "driver_positive", contains("EGFR")),
    ("driver-hgnc-id-no-system", [obs((LNC, "69548-6"), coded((LNC, "LA9633-4")), component=[
        {"code": concept((LNC, "48018-6")), "valueCodeableConcept": {"coding": [{"code": "HGNC:427"}]}}])],
     "driver_positive", contains("ALK")),
    ("driver-gene-text", [obs((LNC, "69548-6"), coded((LNC, "LA9633-4")), component=[
        {"code": concept((LNC, "48018-6")), "valueCodeableConcept": {"text": "ROS1"}}])],
     "driver_positive", contains("ROS1")),
    ("driver-absent", [variant((HGNC, "HGNC:3236"), "LA9634-2")], "driver_negative", contains("EGFR")),
    ("driver-alk-fish", [obs((LNC, "78205-2"), coded((LNC, "LA6576-8")))], "driver_positive", contains("ALK")),
    ("driver-alk-fish-neg", [obs((LNC, "78205-2"), coded((LNC, "LA6577-6")))], "driver_negative", contains("ALK")),
    ("driver-braf-v600e", [obs((LNC, "85299-6"), coded((LNC, "LA6576-8")))], "driver_positive", contains("BRAF")),
    *[(f"her2-{code}-{ans}", [obs((LNC, code), coded((LNC, ans)))], "her2_positive", ans == "LA6576-8")
      for code in ("48676-1", "85319-2", "85318-4") for ans in ("LA6576-8", "LA6577-6")],
    ("hr-er-pos", [obs((LNC, "16112-5"), coded((LNC, "LA6576-8")))], "hormone_receptor_positive", True),
    ("hr-pr-pos", [obs((LNC, "16113-3"), coded((LNC, "LA6576-8"))),
                   obs((LNC, "16112-5"), coded((LNC, "LA6577-6")))], "hormone_receptor_positive", True),
    ("hr-both-neg", [obs((LNC, "16113-3"), coded((LNC, "LA6577-6"))),
                     obs((LNC, "16112-5"), coded((LNC, "LA6577-6")))], "hormone_receptor_positive", False),
    ("hr-local-pos", [lobs("hormone-receptor-status", coded(local("positive")))], "hormone_receptor_positive", True),
    ("hr-local-neg", [lobs("hormone-receptor-status", coded(local("negative")))], "hormone_receptor_positive",
     False),
    ("ecm-bool", [lobs("extracranial-metastases", boolean(True))], "extracranial_metastases", True),
    ("ecm-from-status-none", [lobs("extracranial-disease-status", coded(local("none")))],
     "extracranial_metastases", False),
    ("ecm-from-status-stable", [lobs("extracranial-disease-status", coded(local("stable")))],
     "extracranial_metastases", UNKNOWN),
    ("hb-gdl", [obs((LNC, "718-7"), quantity(12.5, "g/dL"))], "hemoglobin_g_dl", approx(12.5)),
    ("hb-mmol", [obs((LNC, "718-7"), quantity(7.5, "mmol/L"))], "hemoglobin_g_dl", approx(12.0825)),
    ("hb-stale", [obs((LNC, "718-7"), quantity(12.5, "g/dL"), days=45)], "hemoglobin_g_dl", UNKNOWN),
    ("pdl1-pos", [lobs("pd-l1-tps", quantity(5, "%"))], "pd_l1_positive", True),
    ("pdl1-neg", [lobs("pd-l1-tps", quantity(0, "%"))], "pd_l1_positive", False),
    ("pdl1-integer", [lobs("pd-l1-tps", {"valueInteger": 50})], "pd_l1_positive", True),
    *[(f"eds-local-{v}", [lobs("extracranial-disease-status", coded(local(v)))], "extracranial_disease_status", v)
      for v in ("none", "stable", "progressive")],
    *[(f"eds-mcode-{code}", [cond((SCT, "254637007"), rid="prim"),
                             obs((LNC, "97509-4"), coded((SCT, code)), focus=[{"reference": "Condition/prim"}])],
       "extracranial_disease_status", v)
      for code, v in (("359746009", "stable"), ("271299001", "progressive"), ("268910001", "improved"))],
    ("eds-stale", [lobs("extracranial-disease-status", coded(local("stable")), days=120)],
     "extracranial_disease_status", UNKNOWN),
    *[(f"bool-{code}-{v}", [lobs(code, boolean(v))], fact, v)
      for code, fact in (("limited-disease-burden", "disease_burden_limited"),
                         ("systemic-options-remaining", "systemic_options_remaining"),
                         ("long-survival-plausible", "long_survival_or_cure_plausible"),
                         ("treatment-wish", "treatment_wish"))
      for v in (True, False)],
    *[(f"switch-{v}", [lobs("systemic-switch-cns-response", coded(local(v)))], "systemic_switch_cns_response", v)
      for v in ("high", "low", "unknown", "none")],
    ("survival-mo", [lobs("expected-survival", quantity(6, "mo"))], "expected_survival_months", approx(6)),
    ("survival-wk", [lobs("expected-survival", quantity(8, "wk"))], "expected_survival_months", approx(1.8412)),
    ("survival-cat", [lobs("expected-survival", coded(local("3-6-months")))], "expected_survival_months",
     approx(4.5)),
    ("survival-stale", [lobs("expected-survival", quantity(6, "mo"), days=120)], "expected_survival_months",
     UNKNOWN),
    # -- performance ---------------------------------------------------------------------------------------
    ("kps-integer", [obs((LNC, "89243-0"), {"valueInteger": 80})], "kps", 80),
    ("kps-quantity", [obs((LNC, "89243-0"), quantity(80, "{score}"))], "kps", 80),
    ("kps-quantity-nounit", [obs((LNC, "89243-0"), {"valueQuantity": {"value": 70}})], "kps", 70),
    ("kps-answer", [obs((LNC, "89243-0"), coded((LNC, "LA29177-5")))], "kps", 80),
    ("kps-answer-10", [obs((LNC, "89243-0"), coded((LNC, "LA29184-1")))], "kps", 10),
    ("kps-preliminary", [obs((LNC, "89243-0"), {"valueInteger": 60}, status="preliminary")], "kps", 60),
    ("kps-cancelled", [obs((LNC, "89243-0"), {"valueInteger": 60}, status="cancelled")], "kps", UNKNOWN),
    ("kps-entered-in-error", [obs((LNC, "89243-0"), {"valueInteger": 60}, status="entered-in-error")], "kps",
     UNKNOWN),
    ("kps-stale", [obs((LNC, "89243-0"), {"valueInteger": 80}, days=100)], "kps", UNKNOWN),
    ("kps-newest-wins", [obs((LNC, "89243-0"), {"valueInteger": 80}, days=20, rid="k1"),
                         obs((LNC, "89243-0"), {"valueInteger": 50}, days=2, rid="k2")], "kps", 50),
    ("kps-issued", [{**obs((LNC, "89243-0"), {"valueInteger": 80}, days=20, rid="k1")},
                    {**obs((LNC, "89243-0"), {"valueInteger": 50}, rid="k2"), "effectiveDateTime": None,
                     "issued": ago(2)}], "kps", 50),
    ("kps-last-updated", [{**obs((LNC, "89243-0"), {"valueInteger": 80}, days=20, rid="k1")},
                          {**obs((LNC, "89243-0"), {"valueInteger": 50}, rid="k2"), "effectiveDateTime": None,
                           "meta": {"lastUpdated": ago(2)}}], "kps", 50),
    ("kps-effective-period", [{**obs((LNC, "89243-0"), {"valueInteger": 50}, rid="k2"), "effectiveDateTime": None,
                               "effectivePeriod": {"start": ago(3), "end": ago(2)}}], "kps", 50),
    ("kps-effective-over-issued", [obs((LNC, "89243-0"), {"valueInteger": 80}, days=100, rid="k1",
                                       issued=ago(1))], "kps", UNKNOWN),
    ("ecog-integer", [obs((LNC, "89247-1"), {"valueInteger": 1})], "ecog", 1),
    ("ecog-quantity", [obs((LNC, "89247-1"), quantity(2, "{score}"))], "ecog", 2),
    ("ecog-answer", [obs((LNC, "89247-1"), coded((LNC, "LA9624-3")))], "ecog", 2),
    ("ecog-sct-value", [obs((LNC, "89247-1"), coded((SCT, "423053003")))], "ecog", 3),
    *[(f"ecog-sct-{code}", [obs((SCT, code), {})], "ecog", grade)
      for code, grade in (("425389002", 0), ("422512005", 1), ("422894000", 2), ("423053003", 3),
                          ("423237006", 4))],
    ("ecog-sct-condition", [cond((SCT, "422894000"))], "ecog", 2),
    ("kps-from-ecog-1", [obs((LNC, "89247-1"), {"valueInteger": 1})], "kps_ge_70", True),
    ("kps-from-ecog-2", [obs((LNC, "89247-1"), {"valueInteger": 2})], "kps_ge_70", False),
    ("kps-on-dex", [obs((LNC, "89243-0"), {"valueInteger": 70}, days=2), med((ATC, "H02AB02"), days=5)],
     "kps_on_dexamethasone", True),
    ("kps-on-dex-later", [obs((LNC, "89243-0"), {"valueInteger": 70}, days=5), med((ATC, "H02AB02"), days=2)],
     "kps_on_dexamethasone", False),
    ("kps-on-dex-statement", [obs((LNC, "89243-0"), {"valueInteger": 70}, days=2),
                              med((ATC, "H02AB02"), days=5, rtype="MedicationStatement")],
     "kps_on_dexamethasone", True),
    ("patient-condition-local", [lobs("patient-condition", coded(local("moderate")))], "patient_condition",
     "moderate"),
    ("patient-condition-kps", [obs((LNC, "89243-0"), {"valueInteger": 60})], "patient_condition", "moderate"),
    ("patient-condition-kps-40", [obs((LNC, "89243-0"), {"valueInteger": 40})], "patient_condition", "poor"),
    # -- brain lesions -------------------------------------------------------------------------------------
    ("lesion-mm", bm(lesion(12)), "largest_diameter_mm", approx(12)),
    ("lesion-cm", bm(lesion(1.2, "cm")), "largest_diameter_mm", approx(12)),
    ("lesion-count", bm(lesion(12, rid="l1"), lesion(8, rid="l2")), "brain_metastasis_count", 2),
    ("lesion-spine-not-brain", bm(lesion(12, rid="l1"), lesion(30, site=(SCT, "44300000"), rid="l2")),
     "largest_diameter_mm", approx(12)),
    ("lesion-focus-bodystructure", bm(
        {"resourceType": "BodyStructure", "id": "b1", "patient": SUBJECT, "location": concept((SCT, "12738006"))},
        lesion(15, focus=[{"reference": "BodyStructure/b1"}])), "largest_diameter_mm", approx(15)),
    ("lesion-derived-from-study", bm(study("s1"), lesion(15, derivedFrom=[{"reference": "ImagingStudy/s1"}])),
     "largest_diameter_mm", approx(15)),
    ("lesion-derived-from-study-procedure", bm(
        study("s1", site=None, procedure=(LNC, "24590-2")), lesion(15, derivedFrom=[{"reference": "ImagingStudy/s1"}])),
     "largest_diameter_mm", approx(15)),
    ("lesion-focus-bm-condition", [cond((SCT, "94225005"), rid="bm"),
                                   lesion(14, site=None, focus=[{"reference": "Condition/bm"}])],
     "largest_diameter_mm", approx(14)),
    ("lesion-focus-bm-condition-site", [cond((SCT, "94225005"), rid="bm", bodySite=[concept((SCT, "15926001"))]),
                                        lesion(14, site=None, focus=[{"reference": "Condition/bm"}])],
     "critical_location", True),
    ("lesion-focus-spinal-condition", [cond((SCT, "94225005"), rid="bm"), cond(local("spinal-metastases"), rid="sm"),
                                       lesion(14, rid="l1"), lesion(30, site=None, rid="l2",
                                                                    focus=[{"reference": "Condition/sm"}])],
     "largest_diameter_mm", approx(14)),
    ("lesion-lobe", bm(lesion(15, site=(SCT, "83251001"))), "largest_diameter_mm", approx(15)),
    ("volume-component", bm({**lesion(20), "component": [
        {"code": concept((LNC, "33728-7")), **quantity(20, "mm")},
        {"code": concept(local("lesion-volume")), **quantity(4.2, "mL")}]}), "total_volume_cm3", approx(4.2)),
    ("volume-separate", bm(lesion(20, rid="l1"), lesion(10, rid="l2"),
                           lobs("lesion-volume", quantity(4, "cm3"), rid="v1", bodySite=concept((SCT, "12738006"))),
                           lobs("lesion-volume", quantity(1, "mL"), rid="v2", bodySite=concept((SCT, "12738006")))),
     "total_volume_cm3", approx(5)),
    ("volume-separate-largest", bm(lesion(20, rid="l1"), lesion(10, rid="l2"),
                                   lobs("lesion-volume", quantity(4, "cm3"), rid="v1",
                                        bodySite=concept((SCT, "12738006"))),
                                   lobs("lesion-volume", quantity(1, "mL"), rid="v2",
                                        bodySite=concept((SCT, "12738006")))),
     "largest_volume_cm3", approx(4)),
    ("volume-not-a-lesion", bm(lesion(20, rid="l1"),
                               lobs("lesion-volume", quantity(4, "cm3"), rid="v1",
                                    bodySite=concept((SCT, "12738006")))), "brain_metastasis_count", 1),
    ("volume-derived-from-lesion", bm(lesion(20, rid="l1"), lesion(10, rid="l2"),
                                      lobs("lesion-volume", quantity(4, "cm3"), rid="v1",
                                           derivedFrom=[{"reference": "Observation/l1"}]),
                                      lobs("lesion-volume", quantity(0.5, "mL"), rid="v2",
                                           derivedFrom=[{"reference": "Observation/l2"}])),
     "total_volume_cm3", approx(4.5)),
    ("volume-focus-bodystructure", bm(
        {"resourceType": "BodyStructure", "id": "b1", "patient": SUBJECT, "location": concept((SCT, "12738006"))},
        lesion(20, rid="l1", focus=[{"reference": "BodyStructure/b1"}]),
        lobs("lesion-volume", quantity(3, "cm3"), rid="v1", focus=[{"reference": "BodyStructure/b1"}])),
     "largest_volume_cm3", approx(3)),
    ("count-override", bm(lesion(20, rid="l1"), lobs("brain-metastasis-count", {"valueInteger": 7})),
     "brain_metastasis_count", 7),
    ("count-quantity", bm(lesion(20, rid="l1"), lobs("brain-metastasis-count", {"valueQuantity": {"value": 7}})),
     "brain_metastasis_count", 7),
    ("critical-lesion-brainstem", bm(lesion(12, site=(SCT, "15926001"))), "critical_location", True),
    ("critical-lesion-optic", bm(lesion(12, site=(SCT, "18234004"))), "critical_location", True),
    *[(f"critical-lesion-local-{site}", bm(lesion(12, site=local(site))), "critical_location", True)
      for site in ("brainstem", "cerebellopontine-angle", "optic-chiasm-or-nerve", "eloquent-cortex",
                   "ventricle-3-4")],
    ("critical-condition-site", [cond((SCT, "94225005"), bodySite=[concept((SCT, "15926001"))])],
     "critical_location", True),
    ("critical-obs-value", bm(lobs("critical-location", coded(local("eloquent-cortex")))), "critical_location",
     True),
    ("critical-obs-none", bm(lobs("critical-location", coded(local("none")))), "critical_location", False),
    ("critical-obs-boolean-false", bm(lobs("critical-location", boolean(False))), "critical_location", False),
    ("critical-obs-sct-value", bm(lobs("critical-location", coded((SCT, "15926001")))), "critical_location", True),
    ("critical-generic-brain", bm(lesion(12)), "critical_location", UNKNOWN),
    ("posterior-fossa-local", bm(lesion(12, site=local("posterior-fossa"))), "posterior_fossa", True),
    ("accessible-bool", bm(lobs("dominant-accessible-lesion", boolean(True))), "dominant_lesion_accessible", True),
    ("mass-effect-true", bm(lobs("mass-effect", boolean(True))), "mass_effect", True),
    ("mass-effect-false", bm(lobs("mass-effect", boolean(False))), "mass_effect", False),
    # -- symptoms and neurology ----------------------------------------------------------------------------
    ("deficit-sct-condition", [cond((SCT, "264552009"))], "neurological_deficit", True),
    ("deficit-local-obs", [lobs("neurological-deficit", boolean(True))], "neurological_deficit", True),
    ("deficit-local-obs-false", [lobs("neurological-deficit", boolean(False))], "neurological_deficit", False),
    ("deficit-local-condition", [cond(local("neurological-deficit"))], "neurological_deficit", True),
    ("deficit-resolved", [cond((SCT, "264552009"), clinical="resolved")], "neurological_deficit", False),
    ("deficit-progressive-obs", [lobs("progressive-neurological-deficit", boolean(True))], "deficit_progressive",
     True),
    ("deficit-progressive-component", [lobs("neurological-deficit", boolean(True), component=[
        {"code": concept(local("progressive")), "valueBoolean": True}])], "deficit_progressive", True),
    ("seizures-sct", [cond((SCT, "91175000"))], "seizures", True),
    ("seizures-epilepsy", [cond((SCT, "84757009"))], "seizures", True),
    ("raised-icp-condition", [cond(local("raised-intracranial-pressure"))], "raised_icp", True),
    ("raised-icp-obs", [lobs("raised-intracranial-pressure", boolean(True))], "raised_icp", True),
    ("symptomatic-recorded-wins", bm(cond((SCT, "264552009")), lobs("brain-metastases-symptomatic", boolean(False))),
     "bm_symptomatic", False),
    ("symptomatic-from-seizures", bm(cond((SCT, "91175000"))), "bm_symptomatic", True),
    ("symptomatic-from-icp", bm(lobs("raised-intracranial-pressure", boolean(True))), "bm_symptomatic", True),
    ("symptomatic-from-bladder-bowel", bm(lobs("bladder-bowel-dysfunction", boolean(True))), "bm_symptomatic", True),
    ("symptomatic-none", bm(), "bm_symptomatic", False),
    ("rapid-kps", [lobs("rapid-kps-improvement-possible", boolean(True))], "rapid_kps_improvement_possible", True),
    ("qol-benefit", [lobs("local-treatment-qol-benefit", boolean(False))], "local_treatment_qol_benefit", False),
    *[(f"lm-symptom-{s}-{kind}", [cond(local(s)) if kind == "cond" else lobs(s, boolean(True))], "lm_symptoms",
       contains(s))
      for s in ("headache", "confusion", "ataxia", "cranial-nerve-deficit", "radicular-pain", "radicular-deficit",
                "nausea-vomiting", "meningeal-irritation") for kind in ("cond", "obs")],
    ("lm-symptom-false", [lobs("headache", boolean(False))], "lm_symptoms", lambda v: v is not None and not v),
    ("lm-symptom-seizures", [cond((SCT, "91175000"))], "lm_symptoms", contains("seizures")),
    ("lm-symptom-deficit", [cond((SCT, "264552009"))], "lm_symptoms", contains("neurological-deficit")),
    ("csf-positive", [lobs("csf-cytology", coded(local("positive")))], "csf_cytology_results",
     lambda v: v is not None and "positive" in [getattr(x, "value", x) for x in v]),
    ("csf-two-results", [lobs("csf-cytology", coded(local("negative")), days=20, rid="c1"),
                         lobs("csf-cytology", coded(local("inconclusive")), days=2, rid="c2")],
     "csf_cytology_results", lambda v: v is not None and len(v) == 2),
    ("lm-enhancement", [lobs("leptomeningeal-enhancement", boolean(True))], "lm_mri_enhancement", True),
    # -- spine ---------------------------------------------------------------------------------------------
    ("transverse-obs", [lobs("transverse-lesion", coded(local("complete")))], "transverse_lesion", "complete"),
    ("transverse-incomplete", [lobs("transverse-lesion", coded(local("incomplete")))], "transverse_lesion",
     "incomplete"),
    ("transverse-condition-severity", [cond(local("transverse-lesion"), severity=concept(local("incomplete")))],
     "transverse_lesion", "incomplete"),
    ("transverse-condition-code", [{**cond(local("transverse-lesion")),
                                    "code": concept(local("transverse-lesion"), local("complete"))}],
     "transverse_lesion",
     "complete"),
    ("radicular-deficit-condition-severity", [cond(local("radicular-deficit"), severity=concept(local("unilateral")))],
     "radicular_deficit", "unilateral"),
    ("radicular-deficit-obs", [lobs("radicular-deficit", coded(local("bilateral")))], "radicular_deficit",
     "bilateral"),
    ("radicular-pain-obs", [lobs("radicular-pain", coded(local("unilateral")))], "radicular_pain", "unilateral"),
    ("lhermitte", [lobs("lhermitte-sign", boolean(True))], "lhermitte_sign", True),
    ("back-pain-obs", [lobs("local-back-pain", boolean(True))], "local_back_pain", True),
    ("back-pain-condition", [cond(local("local-back-pain"))], "local_back_pain", True),
    ("mechanical-pain-condition", [cond(local("mechanical-pain"))], "mechanical_pain", True),
    ("mechanical-pain-obs-false", [lobs("mechanical-pain", boolean(False))], "mechanical_pain", False),
    ("irreversible", [lobs("irreversible-complete-transverse-lesion", boolean(True))],
     "transverse_lesion_irreversible", True),
    *[(f"pain-severity-{v}", [lobs("spinal-pain-severity", coded(local(v)))], "pain_severity", v)
      for v in ("none", "moderate", "severe")],
    ("bladder-obs", [lobs("bladder-bowel-dysfunction", boolean(True))], "bladder_bowel_dysfunction", True),
    ("bladder-condition", [cond(local("bladder-bowel-dysfunction"))], "bladder_bowel_dysfunction", True),
    *[(f"mescc-{v}", [lobs("mescc", coded(local(v)))], "mescc", v) for v in ("clinical", "radiological", "none")],
    *[(f"escc-{v}", [lobs("escc-grade", coded(local(v)))], "escc_grade", v)
      for v in ("0", "1a", "1b", "1c", "2", "3")],
    ("sins-total", [lobs("sins-total", {"valueInteger": 9})], "sins_total", 9),
    ("sins-total-quantity", [lobs("sins-total", {"valueQuantity": {"value": 9}})], "sins_total", 9),
    ("spinal-instability", [cond((SCT, "240220009"))], "spinal_instability", True),
    ("sre-risk", [lobs("sre-risk", boolean(True))], "sre_risk", True),
    ("oligometastases", [lobs("oligometastases", boolean(False))], "oligometastases", False),
    *[(f"spine-bool-{code}", [lobs(code, boolean(True))], code.replace("-", "_"), True)
      for code in ("condition-allows-surgery", "vital-systemic-indication", "rt-response-expected",
                   "neuro-deficit-expected-soon", "radiosensitive-tumour")],
    ("surgery-24h", [lobs("surgery-possible-24h", boolean(True))], "surgery_possible_24h", True),
    ("compression-levels", [lobs("compression-contiguous-levels", {"valueInteger": 2})], "compression_levels", 2),
    *[(f"postop-{v}", [lobs("postop-neurological-recovery", coded(local(v)))], "postop_neuro_recovery", v)
      for v in ("sufficient", "insufficient")],
    ("imaging-equivocal", [lobs("spinal-imaging-equivocal", boolean(True))], "spinal_imaging_equivocal", True),
    ("spine-imaging-mr-site", [study("s1", site=(SCT, "44300000"))], "adequate_spine_imaging", True),
    ("spine-imaging-ct-site", [study("s1", modality="CT", site=(SCT, "3572006"))], "adequate_spine_imaging", True),
    *[(f"spine-imaging-proc-{code}", [study("s1", site=None, procedure=(LNC, code))], "adequate_spine_imaging",
       True) for code in ("24935-9", "24937-5", "24980-5", "24981-3", "24968-0", "24967-2")],
    ("spine-imaging-old", [study("s1", site=(SCT, "44300000"), days=20)], "adequate_spine_imaging", False),
    ("spine-imaging-brain", [study("s1")], "adequate_spine_imaging", False),
    # -- treatments, imaging, care process -----------------------------------------------------------------
    *[(f"treatment-{code}", bm(proc(local(code), days=30)), "focal_treatment_date", lambda v: v is not None)
      for code in ("stereotactic-radiosurgery", "stereotactic-radiotherapy", "brain-metastasis-resection")],
    ("resection-done", bm(proc(local("brain-metastasis-resection"), days=30)), "resection_done", True),
    ("wbrt-done", bm(proc(local("whole-brain-radiotherapy"), days=30)), "wbrt_done", True),
    ("treatment-not-completed", bm(proc(local("whole-brain-radiotherapy"), days=30, status="in-progress")),
     "wbrt_done", False),
    ("resection-extent", [lobs("resection-extent", coded(local("incomplete")))], "resection_extent", "incomplete"),
    ("resected-diameter", [lobs("resected-tumour-diameter", quantity(32, "mm"))], "resected_tumour_diameter_mm",
     approx(32)),
    ("resected-diameter-cm", [lobs("resected-tumour-diameter", quantity(3.2, "cm"))], "resected_tumour_diameter_mm",
     approx(32)),
    ("systemic-request", [med((ATC, "L01EB04"))], "systemic_therapy_active", True),
    ("systemic-statement", [med((ATC, "L01EB04"), rtype="MedicationStatement")], "systemic_therapy_active", True),
    ("systemic-l02", [med((ATC, "L02BA01"))], "systemic_therapy_active", True),
    ("systemic-stopped", [med((ATC, "L01EB04"), status="stopped")], "systemic_therapy_active", False),
    ("systemic-statement-completed", [med((ATC, "L01EB04"), status="completed", rtype="MedicationStatement")],
     "systemic_therapy_active", False),
    ("systemic-med-reference", [
        {"resourceType": "Medication", "id": "osi", "code": concept((ATC, "L01EB04"))},
        {**med((ATC, "L01EB04")), "medicationCodeableConcept": None,
         "medicationReference": {"reference": "Medication/osi"}}],
     "systemic_therapy_active", True),
    ("systemic-med-reference-unresolved", [
        {**med((ATC, "L01EB04")), "medicationCodeableConcept": None,
         "medicationReference": {"reference": "Medication/gone"}}], "systemic_therapy_active", UNKNOWN),
    ("dex-atc", [med((ATC, "H02AB02"))], "dexamethasone_active", True),
    ("dex-rxnorm", [med((RXNORM, "3264"))], "dexamethasone_active", True),
    ("dex-statement", [med((ATC, "H02AB02"), rtype="MedicationStatement")], "dexamethasone_active", True),
    ("anticoag", [med((ATC, "B01AF01"))], "anticoagulation", True),
    ("anticoag-statement", [med((ATC, "B01AB05"), rtype="MedicationStatement")], "anticoagulation", True),
    ("brain-mri-site", bm(study("s1", days=10)), "last_brain_mri_date", lambda v: v is not None),
    *[(f"brain-mri-proc-{code}", bm(study("s1", site=None, procedure=(LNC, code), days=10)), "last_brain_mri_date",
       lambda v: v is not None) for code in ("24590-2", "24589-4", "24587-8")],
    ("brain-mri-series-started", bm({**study("s1", days=10), "started": None,
                                     "series": [{**study("s1", days=10)["series"][0], "started": ago(6)}]}),
     "last_brain_mri_date", lambda v: v is not None and v.isoformat()[:10] == ago(6)[:10]),
    ("brain-mri-ct-not", bm(study("s1", modality="CT", days=10)), "last_brain_mri_date", UNKNOWN),
    ("mdo-local", bm(proc(local("neuro-oncology-mdo"), days=5)), "mdo_discussed", True),
    ("mdo-organ", bm(proc(local("organ-specific-mdo"), days=5)), "organ_mdo_discussed", True),
    ("mdo-sct-category", bm(proc((SCT, "720006006"), days=5, category=concept(local("neuro-oncology-mdo")))),
     "mdo_discussed", True),
    ("mdo-not-completed", bm(proc(local("neuro-oncology-mdo"), days=5, status="preparation")), "mdo_discussed",
     False),
    ("palliative-procedure", [proc(local("palliative-care"))], "palliative_care_involved", True),
    ("palliative-encounter", [{"resourceType": "Encounter", "id": "e1", "status": "in-progress", "subject": SUBJECT,
                               "class": {"code": "AMB"}, "serviceType": concept(local("palliative-care")),
                               "period": {"start": ago(3)}}], "palliative_care_involved", True),
    ("palliative-encounter-type", [{"resourceType": "Encounter", "id": "e1", "status": "finished",
                                    "subject": SUBJECT, "class": {"code": "AMB"},
                                    "type": [concept(local("palliative-care"))], "period": {"start": ago(3)}}],
     "palliative_care_involved", True),
    ("palliative-servicerequest", [{"resourceType": "ServiceRequest", "id": "sr1", "status": "active",
                                    "intent": "order", "subject": SUBJECT, "code": concept(local("palliative-care")),
                                    "authoredOn": ago(3)}], "palliative_care_involved", True),
    ("palliative-servicerequest-completed", [{"resourceType": "ServiceRequest", "id": "sr1", "status": "completed",
                                              "intent": "order", "subject": SUBJECT,
                                              "code": concept(local("palliative-care")), "authoredOn": ago(3)}],
     "palliative_care_involved", True),
    ("palliative-servicerequest-revoked", [{"resourceType": "ServiceRequest", "id": "sr1", "status": "revoked",
                                            "intent": "order", "subject": SUBJECT,
                                            "code": concept(local("palliative-care")), "authoredOn": ago(3)}],
     "palliative_care_involved", False),
    ("neurology-encounter", [{"resourceType": "Encounter", "id": "e1", "status": "finished", "subject": SUBJECT,
                              "class": {"code": "AMB"}, "serviceType": concept(local("neuro-oncology-referral")),
                              "period": {"start": ago(3)}}], "neurology_involved", True),
    ("neurology-servicerequest", [{"resourceType": "ServiceRequest", "id": "sr1", "status": "active",
                                   "intent": "order", "subject": SUBJECT,
                                   "code": concept(local("neuro-oncology-referral")), "authoredOn": ago(3)}],
     "neurology_involved", True),
    ("recurrence-progression-obs", bm(lobs("brain-metastases-progression", boolean(True))), "bm_recurrence", True),
    ("recurrence-mcode-worsened", bm(obs((LNC, "97509-4"), coded((SCT, "271299001")),
                                         focus=[{"reference": "Condition/bm"}])), "bm_recurrence", True),
    ("radionecrosis", [lobs("radionecrosis-suspected", boolean(True))], "radionecrosis_suspected", True),
]


@pytest.mark.parametrize("resources,fact,expected", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_profile_row(resources: list[dict], fact: str, expected: Any) -> None:
    facts = extract(patient(), *[{k: v for k, v in r.items() if v is not None} for r in resources])
    got = facts[fact]
    if expected is UNKNOWN:
        assert got.value is None, f"{fact}: expected unknown, got {got.value!r}"
    elif callable(expected):
        assert expected(got.value), f"{fact}: got {got.value!r} ({got.status}, {got.reason})"
    else:
        assert got.value == expected, f"{fact}: got {got.value!r} ({got.status}, {got.reason})"
