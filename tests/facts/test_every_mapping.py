"""Every code of every mapping is read: one generated case per (fact, code variant, resource type).

The table comes from the mappings themselves, so a code an integrator adds is covered too. Each case
builds the smallest resource that should feed the fact (a sample value of the fact's type, the body
site or focus its ``where`` clause asks for) and checks the selected fact is known with that value.
The codesets read by the derivations (primary tumour, medication classes, treatments, MDO kinds, body
sites, specialties, imaging procedures, genes) get the same treatment below.
"""

from __future__ import annotations

from typing import Any

import pytest

from cds_service.facts.codes import CodeSpec
from cds_service.facts.mapping import FactSpec, MatchSpec
from cds_service.facts.select import Context, select
from cds_service.fhir.parse import index_resources

from .helpers import (
    NOW,
    SUBJECT,
    ago,
    concept,
    cond,
    extract,
    extractor,
    med,
    obs,
    proc,
    quantity,
)

MS = extractor().mappings


def _code(spec: CodeSpec) -> tuple[str, str]:
    """A concrete code for a spec (a prefix gets a plausible tail)."""
    code = spec.code + ("9" if spec.prefix else "")
    return spec.systems[-1], code


def _sample(fact: FactSpec) -> tuple[dict, Any]:
    """(value[x] fields, expected value) for an Observation of this fact."""
    v = fact.value
    if v.type in ("boolean", "presence"):
        return {"valueBoolean": True}, v.present
    if v.type == "code":
        spec, answer = next(iter(v.answers))
        return {"valueCodeableConcept": concept(_code(spec))}, answer.value
    low, high = v.range or (0, 10)
    number = int(low if high is None else (low + high) // 2) if v.type == "integer" else (
        (low or 0) + ((high or 10) - (low or 0)) / 4)
    if v.threshold:
        number = v.threshold[1] + 1
    if v.units:
        unit, factor = next(iter(v.units.items()))
        expected = True if v.threshold else round(number * factor, 4)
        return quantity(number, unit), expected
    return {"valueInteger": int(number)}, (True if v.threshold else int(number))


def _resource(rtype: str, code: tuple[str, str], fact: FactSpec, match: MatchSpec) -> tuple[list[dict], Any]:
    extra: list[dict] = []
    if rtype == "Condition":
        res = cond(code, rid="r1")
        expected: Any = fact.value.present
        if fact.value.type == "code":
            spec, answer = next(iter(fact.value.answers))
            res["severity"] = concept(_code(spec))
            expected = answer.value
    elif rtype == "Observation":
        value, expected = _sample(fact)
        res = obs(code, value, rid="r1")
    elif rtype == "Encounter":
        res = {"resourceType": "Encounter", "id": "r1", "status": "finished", "subject": SUBJECT,
               "serviceType": concept(code), "period": {"start": ago(3)}}
        expected = fact.value.present
    elif rtype == "ServiceRequest":
        res = {"resourceType": "ServiceRequest", "id": "r1", "status": "active", "intent": "order",
               "subject": SUBJECT, "code": concept(code), "authoredOn": ago(3)}
        expected = fact.value.present
    elif rtype == "Procedure":
        res = proc(code, rid="r1")
        expected = fact.value.present
    else:
        pytest.skip(f"no sample for {rtype}")
    if match.body_site is not None:
        spec, _v = next(iter(match.body_site))
        res["bodySite"] = [concept(_code(spec))] if rtype == "Condition" else concept(_code(spec))
    if match.focus is not None:
        spec, _v = next(iter(match.focus))
        extra.append(cond(_code(spec), rid="focus1"))
        res["focus"] = [{"reference": "Condition/focus1"}]
    return [res, *extra], expected


def _cases() -> list[tuple[str, str, CodeSpec, bool, int]]:
    out = []
    for name, fact in MS.facts.items():
        for i, match in enumerate(fact.matches):
            for rtype in sorted(match.resources):
                for spec in match.codes:
                    out.append((name, rtype, spec, False, i))
                for spec, _answer in match.code_values:
                    out.append((name, rtype, spec, True, i))
    return out


CASES = _cases()


@pytest.mark.parametrize("name,rtype,spec,implied,match_index", CASES,
                         ids=[f"{n}-{r}-{s.text}" for n, r, s, _i, _m in CASES])
def test_every_code_variant_feeds_its_fact(name: str, rtype: str, spec: CodeSpec, implied: bool,
                                           match_index: int) -> None:
    fact = MS.facts[name]
    match = fact.matches[match_index]
    resources, expected = _resource(rtype, _code(spec), fact, match)
    if implied:
        answer = match.code_values.get(*_code(spec))
        if fact.select == "each-code":
            expected = answer.value  # the key of the set / dict
        elif rtype == "Condition" and fact.value.type not in ("boolean", "presence"):
            expected = answer.value
        elif rtype == "Observation":
            resources[0] = obs(_code(spec), {}, rid="r1") if fact.value.type not in ("boolean", "presence") \
                else resources[0]
            expected = answer.value if fact.value.type not in ("boolean", "presence") else expected
    collected = extractor().reader.collect(index_resources(resources))
    got = select(fact, collected.candidates.get(name, ()), collected.unusable.get(name, ()), Context(now=NOW))
    label = name.strip("_").replace("_", " ")
    mine = [p for p in collected.problems if f": {label}: " in p]
    assert mine == [], mine
    assert got.known, f"{name}: {got}"
    if fact.select == "each-code":
        assert expected in got.value, got
    elif fact.select == "all":
        assert got.value == (expected,)
    else:
        assert got.value == expected, got


def test_every_public_mapped_fact_is_extracted() -> None:
    facts = extract()
    for name in extractor().fact_names:
        assert name in facts, name


# -- codesets read by the derivations ----------------------------------------------------------------


def _codeset_cases(name: str) -> list[tuple[CodeSpec, Any]]:
    return list(MS.codeset(name))


@pytest.mark.parametrize("spec,category", _codeset_cases("primary-tumour"),
                         ids=[f"{s.text}->{v}" for s, v in _codeset_cases("primary-tumour")])
def test_primary_tumour_codes(spec: CodeSpec, category: str) -> None:
    table = MS.codeset("primary-tumour")
    system = spec.systems[-1]
    tails = ("", "9", "0", "5", "3", "7.9", "49") if spec.prefix else ("",)
    code = next(spec.code + t for t in tails if table.get(system, spec.code + t) == category)
    facts = extract(cond((system, code), days=100))
    if category == "none":  # a secondary neoplasm is not a primary tumour
        assert facts["primary_tumour"].value is None
        return
    expected = "other" if category == "haematological" else category
    assert facts.value("primary_tumour") == expected
    assert facts.value("solid_cancer") is (category != "haematological")


@pytest.mark.parametrize("spec,cls", _codeset_cases("medications"),
                         ids=[f"{s.text}->{v}" for s, v in _codeset_cases("medications")])
@pytest.mark.parametrize("rtype", ["MedicationRequest", "MedicationStatement"])
def test_medication_codes(spec: CodeSpec, cls: str, rtype: str) -> None:
    fact = {"systemic-therapy": "systemic_therapy_active", "dexamethasone": "dexamethasone_active",
            "anticoagulant": "anticoagulation"}[cls]
    facts = extract(med(_code(spec), rtype=rtype))
    assert facts.value(fact) is True
    others = {"systemic_therapy_active", "dexamethasone_active", "anticoagulation"} - {fact}
    assert all(facts.value(o) is False for o in others)


@pytest.mark.parametrize("spec,kind", _codeset_cases("treatments"),
                         ids=[f"{s.text}->{v}" for s, v in _codeset_cases("treatments")])
def test_treatment_codes(spec: CodeSpec, kind: str) -> None:
    facts = extract(proc(_code(spec), days=20))
    assert [t.kind for t in facts.treatments] == [kind]
    if kind in ("srs", "srt", "resection"):
        assert facts["focal_treatment_date"].value.isoformat() == ago(20)
    assert facts.value("resection_done") is (kind == "resection")
    assert facts.value("wbrt_done") is (kind == "wbrt")


@pytest.mark.parametrize("spec,kind", _codeset_cases("mdo"), ids=[f"{s.text}->{v}" for s, v in _codeset_cases("mdo")])
def test_mdo_codes(spec: CodeSpec, kind: str) -> None:
    facts = extract(cond(("http://snomed.info/sct", "94225005"), days=30), proc(_code(spec), days=3))
    assert [m.kind for m in facts.mdo_discussions] == [kind]
    name = "mdo_discussed" if kind == "neuro-oncology" else "organ_mdo_discussed"
    assert facts.value(name) is True


@pytest.mark.parametrize("spec,key", _codeset_cases("specialties"),
                         ids=[f"{s.text}->{v}" for s, v in _codeset_cases("specialties")])
def test_specialty_codes(spec: CodeSpec, key: str) -> None:
    mdo = proc(("https://neuro-onc-cds.example.org/fhir/CodeSystem/facts", "neuro-oncology-mdo"), days=1,
               performer=[{"function": concept(_code(spec))}])
    facts = extract(mdo)
    assert facts["mdo_discussed"].attrs["specialties"] == frozenset({key})


@pytest.mark.parametrize("spec,site", _codeset_cases("body-sites"),
                         ids=[f"{s.text}->{v}" for s, v in _codeset_cases("body-sites")])
def test_body_site_codes(spec: CodeSpec, site: str) -> None:
    lesion = obs(("http://loinc.org", "21889-1"), {}, rid="l1", bodySite=concept(_code(spec)),
                 component=[{"code": concept(("http://loinc.org", "33728-7")), **quantity(12, "mm")}])
    facts = extract(lesion)
    (found,) = facts.lesions
    assert found.sites == (site,)
    info = MS.sites[site]
    assert found.region == info.region
    if info.region == "brain":
        assert facts.value("brain_metastasis_count") == 1
        assert facts["critical_location"].value is info.critical
        assert facts["posterior_fossa"].value is info.posterior_fossa


@pytest.mark.parametrize("spec,gene", _codeset_cases("genes"), ids=[f"{s.text}->{v}" for s, v in _codeset_cases("genes")])
def test_gene_codes(spec: CodeSpec, gene: str) -> None:
    test = obs(("http://loinc.org", "69548-6"), {"valueCodeableConcept": concept(("http://loinc.org", "LA9633-4"))},
               component=[{"code": concept(("http://loinc.org", "48018-6")), "valueCodeableConcept":
                           concept(_code(spec))}])
    facts = extract(test)
    assert facts.value("driver_positive") == frozenset({gene})
    assert facts.value("driver_alteration") is True


@pytest.mark.parametrize("spec,gene", _codeset_cases("single-gene-tests"),
                         ids=[s.text for s, _g in _codeset_cases("single-gene-tests")])
@pytest.mark.parametrize("answer,positive", [("LA6576-8", True), ("LA6577-6", False)])
def test_single_gene_tests(spec: CodeSpec, gene: str, answer: str, positive: bool) -> None:
    facts = extract(obs(_code(spec), {"valueCodeableConcept": concept(("http://loinc.org", answer))}))
    assert facts.value("driver_positive" if positive else "driver_negative") == frozenset({gene})
    assert facts.value("driver_alteration") is positive


@pytest.mark.parametrize("codeset,fact", [("brain-imaging-procedures", "last_brain_mri_date"),
                                          ("spine-imaging-procedures", "spine_imaging_date")])
def test_imaging_procedure_codes(codeset: str, fact: str) -> None:
    for spec, _v in MS.codeset(codeset):
        study = {"resourceType": "ImagingStudy", "id": "s1", "status": "available", "subject": SUBJECT,
                 "started": ago(4), "procedureCode": [concept(_code(spec))]}
        facts = extract(study)
        assert facts[fact].value.isoformat() == ago(4), spec.text


@pytest.mark.parametrize("spec,_kind", _codeset_cases("lung-histology"),
                         ids=[s.text for s, _k in _codeset_cases("lung-histology")])
def test_lung_histology_codes(spec: CodeSpec, _kind: str) -> None:
    facts = extract(cond(_code(spec), days=50))
    assert facts.value("lung_histology") == _kind
    assert facts.value("primary_tumour") == "nsclc"
