"""Draft-order classification (cds_service/fhir/orders.py, mappings/orders.yaml).

The classification table covers every code in the mapping; the partial-draft
and STU3 tests are the shapes real EHRs and the CDS Hooks sandbox send; the
hypothesis tests check the one promise that matters most on an order hook:
``classify`` never raises, whatever the bundle looks like.
"""

from __future__ import annotations

import copy
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cds_service.fhir.orders import KINDS, OrderClassifier, OrderMappingError, parse_fhir_datetime, parse_mapping

LOCAL = "https://neuro-onc-cds.example.org/fhir/CodeSystem/facts"
SCT = "http://snomed.info/sct"
LNC = "http://loinc.org"
ICD10 = "http://hl7.org/fhir/sid/icd-10"
ICD10NL = "http://hl7.org/fhir/sid/icd-10-nl"
ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"
AMS = ZoneInfo("Europe/Amsterdam")

BRAIN_SITE = [{"coding": [{"system": SCT, "code": "12738006", "display": "Brain structure"}]}]
SPINE_SITE = [{"coding": [{"system": SCT, "code": "44300000", "display": "Vertebral column"}]}]
BM_REASON = [{"coding": [{"system": SCT, "code": "94225005"}]}]


@pytest.fixture(scope="module")
def classifier() -> OrderClassifier:
    return OrderClassifier.load()


def sr(rid: str = "o1", system_: str | None = None, code_: str | None = None, /, *,
       rtype: str = "ServiceRequest", **fields) -> dict:
    """A draft ServiceRequest with one coding (positional) and any other fields (``code=`` replaces it)."""
    res: dict = {"resourceType": rtype, "id": rid}
    if system_ or code_:
        res["code"] = {"coding": [{"system": system_, "code": code_}]}
    res.update(fields)
    return res


def bundle(*resources: dict, type_: str | None = "collection") -> dict:
    out: dict = {"resourceType": "Bundle", "entry": [{"resource": r} for r in resources]}
    if type_:
        out["type"] = type_
    return out


def one(classifier: OrderClassifier, resource: dict, language: str = "nl", selections=None):
    orders = classifier.classify(bundle(resource), selections, language=language)
    assert len(orders) == 1
    return orders[0]


# -- the classification table: every code of fhir-mapping.md "Draft orders" ------------------------

TABLE = [
    # (system, code, extra fields, expected kind)
    (LOCAL, "stereotactic-radiosurgery", {}, "rt-brain"),
    (LOCAL, "stereotactic-radiotherapy", {}, "rt-brain"),
    (LOCAL, "stereotactic-radiosurgery", {"bodySite": BRAIN_SITE}, "rt-brain"),
    (LOCAL, "stereotactic-radiotherapy", {"bodySite": SPINE_SITE}, "other"),  # SBRT of the spine
    (LOCAL, "stereotactic-radiotherapy", {"reasonCode": [{"coding": [{"system": ICD10, "code": "C79.5"}]}]}, "other"),
    (LOCAL, "stereotactic-radiotherapy", {"bodySite": SPINE_SITE, "reasonCode": BM_REASON}, "rt-brain"),
    (LOCAL, "whole-brain-radiotherapy", {}, "rt-wbrt"),
    (LOCAL, "radiotherapy-referral", {}, "other"),  # a referral without brain site or reason
    (LOCAL, "radiotherapy-referral", {"reasonCode": BM_REASON}, "rt-brain"),
    (LOCAL, "radiotherapy-referral", {"bodySite": BRAIN_SITE}, "rt-brain"),
    (LOCAL, "radiotherapy-referral", {"bodySite": SPINE_SITE}, "other"),
    (SCT, "1217123003", {}, "other"),
    (SCT, "1217123003", {"bodySite": BRAIN_SITE}, "rt-brain"),
    (SCT, "1217123003", {"reasonCode": [{"coding": [{"system": ICD10, "code": "C79.3"}]}]}, "rt-brain"),
    (SCT, "1217123003", {"reasonCode": [{"coding": [{"system": ICD10NL, "code": "C79.3"}]}]}, "rt-brain"),
    (SCT, "1217123003", {"reasonCode": [{"coding": [{"system": ICD10CM, "code": "C79.31"}]}]}, "rt-brain"),
    (SCT, "1217123003", {"reasonCode": [{"coding": [{"system": LOCAL, "code": "brain-metastases"}]}]}, "rt-brain"),
    (SCT, "1287742003", {"bodySite": [{"coding": [{"system": SCT, "code": "258335003"}]}]}, "rt-brain"),
    (SCT, "1287742003", {"bodySite": [{"coding": [{"system": SCT, "code": "15926001"}]}]}, "rt-brain"),
    (SCT, "1287742003", {"bodySite": [{"coding": [{"system": LOCAL, "code": "posterior-fossa"}]}]}, "rt-brain"),
    (SCT, "1287742003", {"reasonCode": [{"text": "Hersenmetastasen NSCLC"}]}, "rt-brain"),
    (SCT, "1287742003", {"reasonCode": [{"text": "pijnlijke botmetastase"}]}, "other"),
    (LNC, "24935-9", {}, "mri-spine"),
    (LNC, "24937-5", {}, "mri-spine"),
    (LNC, "24980-5", {}, "mri-spine"),
    (LNC, "24981-3", {}, "mri-spine"),
    (LNC, "24968-0", {}, "mri-spine"),
    (LNC, "24967-2", {}, "mri-spine"),
    (LOCAL, "mri-whole-spine", {}, "mri-spine"),
    (LOCAL, "mri-brain-spine-gadolinium", {}, "mri-spine"),
    (LNC, "24590-2", {}, "mri-brain"),
    (LNC, "24589-4", {}, "mri-brain"),
    (LNC, "24587-8", {}, "mri-brain"),
    (LOCAL, "neuro-oncology-mdo", {}, "mdo-referral"),
    (LOCAL, "neuro-oncology-mdo", {"reasonCode": BM_REASON}, "mdo-referral"),
    (LNC, "30746-2", {}, "other"),  # a code nobody mapped
    ("http://example.org/other", "stereotactic-radiosurgery", {}, "other"),  # right code, wrong system
]


@pytest.mark.parametrize("system,code,extra,kind", TABLE)
def test_classification_table(classifier, system, code, extra, kind):
    assert one(classifier, sr("x", system, code, **extra)).kind == kind


def test_every_mapped_code_classifies_to_its_rule(classifier):
    """Every code in orders.yaml reaches its rule's kind (a brain site added where the rule needs one)."""
    for rule in classifier.mapping.rules:
        for system, code in rule.codes:
            order = one(classifier, sr("x", system, code, bodySite=BRAIN_SITE))
            assert order.kind == rule.kind, (system, code)


def test_category_counts_like_code(classifier):
    res = sr("x", bodySite=BRAIN_SITE,
             category=[{"coding": [{"system": SCT, "code": "1287742003", "display": "Radiotherapy"}]}],
             code={"coding": [{}]})
    assert one(classifier, res).kind == "rt-brain"


def test_stereotactic_and_whole_brain_together_is_stereotactic(classifier):
    res = sr("x", code={"coding": [{"system": LOCAL, "code": "whole-brain-radiotherapy"},
                                   {"system": LOCAL, "code": "stereotactic-radiosurgery"}]})
    assert one(classifier, res).kind == "rt-brain"


def test_code_wins_over_text(classifier):
    res = sr("x", code={"coding": [{"system": LNC, "code": "24590-2"}], "text": "Stereotactische radiotherapie"})
    assert one(classifier, res).kind == "mri-brain"


@pytest.mark.parametrize(
    "text,kind",
    [
        ("Stereotactische radiotherapie hersenen", "rt-brain"),
        ("Gamma Knife radiosurgery", "rt-brain"),
        ("Helebreinbestraling 5x4 Gy", "rt-wbrt"),
        ("MRI wervelkolom totaal", "mri-spine"),
        ("MRI hersenen controle na SRS", "mri-brain"),
        ("Bespreking neuro-oncologisch MDO", "mdo-referral"),
        ("Stereotactische biopsie hersenen", "other"),  # a neurosurgical biopsy, not radiotherapy
        ("Bestraling", "other"),  # generic RT without brain context
        ("Thoraxfoto", "other"),
    ],
)
def test_uncoded_drafts_fall_back_to_their_name(classifier, text, kind):
    assert one(classifier, sr("x", code={"coding": [{}], "text": text})).kind == kind


# -- reasons: reasonCode and reasonReference --------------------------------------------------------


def bm_condition(cid: str = "bm1", system: str = SCT, code: str = "94225005") -> dict:
    return {"resourceType": "Condition", "id": cid, "code": {"coding": [{"system": system, "code": code}]}}


def test_reason_reference_to_contained_condition(classifier):
    res = sr("x", LOCAL, "radiotherapy-referral", contained=[bm_condition("c1", ICD10, "C79.3")],
             reasonReference=[{"reference": "#c1"}])
    order = one(classifier, res)
    assert (order.kind, order.reason_brain_metastases) == ("rt-brain", True)


def test_reason_reference_to_condition_in_bundle(classifier):
    draft = sr("x", LOCAL, "radiotherapy-referral", reasonReference=[{"reference": "Condition/bm1"}])
    orders = classifier.classify(bundle(draft, bm_condition()), None, language="nl")
    assert [(o.id, o.kind, o.reason_brain_metastases) for o in orders] == [("ServiceRequest/x", "rt-brain", True)]


def test_reason_reference_by_full_url(classifier):
    draft = sr("x", LOCAL, "radiotherapy-referral", reasonReference=[{"reference": "urn:uuid:abc"}])
    b = {"resourceType": "Bundle", "entry": [{"resource": draft},
                                            {"fullUrl": "urn:uuid:abc", "resource": bm_condition("zz")}]}
    assert one_of(classifier.classify(b, None, language="en")).kind == "rt-brain"


def one_of(orders):
    assert len(orders) == 1
    return orders[0]


@pytest.mark.parametrize(
    "fields,expected",
    [
        ({}, None),
        ({"reasonCode": []}, None),
        ({"reasonCode": [{"coding": [{}]}]}, None),
        ({"reasonCode": BM_REASON}, True),
        ({"reasonCode": [{"coding": [{"system": SCT, "code": "254637007"}]}]}, False),
        ({"reasonReference": [{"reference": "Condition/elsewhere"}]}, None),  # not resolvable here
        ({"reasonReference": [{"reference": "Condition/elsewhere", "display": "Hersenmetastasen"}]}, True),
        ({"reasonReference": [{"reference": "#missing"}]}, None),
    ],
)
def test_reason_brain_metastases(classifier, fields, expected):
    order = one(classifier, sr("x", LOCAL, "stereotactic-radiosurgery", **fields))
    assert order.reason_brain_metastases is expected
    assert order.kind == "rt-brain"


# -- partial drafts, STU3, statuses -----------------------------------------------------------------


def test_sandbox_partial_drafts(classifier):
    """The sandbox PAMA and Rx tabs: empty coding, empty reasons, no status, no intent, Bundle without type."""
    pama = {"resourceType": "ServiceRequest", "id": "pama-1", "code": {"coding": [{}]}, "reasonCode": [],
            "subject": {"reference": "Patient/p"}}
    rx = {"resourceType": "MedicationRequest", "id": "rx-1", "subject": {"reference": "Patient/p"}}
    orders = classifier.classify(bundle(pama, rx, type_=None), ["ServiceRequest/pama-1"], language="en")
    assert [(o.id, o.kind, o.selected, o.display) for o in orders] == [
        ("ServiceRequest/pama-1", "other", True, "Draft order"),
        ("MedicationRequest/rx-1", "other", False, "Draft order"),
    ]


@pytest.mark.parametrize(
    "draft_orders",
    [
        None,
        {},
        [],
        "not a bundle",
        42,
        {"resourceType": "Bundle"},
        {"resourceType": "Bundle", "entry": None},
        {"resourceType": "Bundle", "entry": "x"},
        {"resourceType": "Bundle", "entry": [None, 1, "x", {}, {"resource": None}, {"resource": {}},
                                             {"resource": {"resourceType": ""}}, {"resource": []}]},
    ],
)
def test_unusable_bundles_give_no_orders(classifier, draft_orders):
    assert classifier.classify(draft_orders, ["ServiceRequest/x"], language="nl") == ()


def test_weird_fields_become_other_not_an_error(classifier):
    res = {"resourceType": "ServiceRequest", "id": 12, "status": ["draft"], "priority": {"x": 1},
           "code": "MRI", "category": 5, "bodySite": "brain", "reasonCode": {"coding": "x"},
           "reasonReference": [None, 3, {"reference": 7}], "occurrenceDateTime": 20261124,
           "occurrencePeriod": "soon", "note": "x"}
    order = one(classifier, res, selections=None)
    assert (order.kind, order.priority, order.deadline, order.selected) == ("other", None, None, True)
    assert order.id == "ServiceRequest/#entry-1"


def test_bare_resource_and_list_forms(classifier):
    draft = sr("x", LNC, "24590-2")
    assert [o.kind for o in classifier.classify(draft, None, language="nl")] == ["mri-brain"]
    assert [o.kind for o in classifier.classify([draft], None, language="nl")] == ["mri-brain"]


def test_stu3_procedure_request(classifier):
    res = {"resourceType": "ProcedureRequest", "id": "pr1", "status": "draft", "intent": "proposal",
           "code": {"coding": [{"system": LOCAL, "code": "stereotactic-radiotherapy"}]},
           "bodySite": BRAIN_SITE, "priority": "urgent", "occurrenceDateTime": "2026-12-01T10:00:00+01:00"}
    order = one(classifier, res, language="en")
    assert (order.id, order.kind, order.priority, order.display) == (
        "ProcedureRequest/pr1", "rt-brain", "urgent", "Stereotactic radiotherapy (SRT), urgent")
    assert order.deadline == datetime(2026, 12, 1, 9, 0, tzinfo=timezone.utc)


def test_stu3_referral_request(classifier):
    res = {"resourceType": "ReferralRequest", "id": "rr1", "status": "draft", "intent": "order",
           "type": {"coding": [{"system": SCT, "code": "3457005", "display": "Patient referral"}]},
           "serviceRequested": [{"coding": [{"system": LOCAL, "code": "radiotherapy-referral"}]}],
           "reasonCode": [{"coding": [{"system": ICD10, "code": "C79.3"}]}], "priority": "routine"}
    order = one(classifier, res)
    assert (order.id, order.kind, order.reason_brain_metastases, order.display) == (
        "ReferralRequest/rr1", "rt-brain", True, "Radiotherapie hersenen, routine")


def test_stu3_referral_by_specialty(classifier):
    res = {"resourceType": "ReferralRequest", "id": "rr2",
           "specialty": {"coding": [{"system": LOCAL, "code": "radiation-oncology"}]},
           "reasonReference": [{"reference": "#c"}], "contained": [bm_condition("c")]}
    assert one(classifier, res).kind == "rt-brain"


@pytest.mark.parametrize("status", ["entered-in-error", "revoked", "cancelled", "completed", "stopped"])
def test_closed_orders_are_ignored(classifier, status):
    assert classifier.classify(bundle(sr("x", LNC, "24590-2", status=status)), None, language="nl") == ()


@pytest.mark.parametrize("status", ["draft", "active", "unknown", "on-hold", None])
def test_open_orders_are_kept(classifier, status):
    fields = {"status": status} if status else {}
    assert one(classifier, sr("x", LNC, "24590-2", **fields)).kind == "mri-brain"


def test_other_request_types_are_other(classifier):
    res = {"resourceType": "NutritionOrder", "id": "n1", "status": "draft"}
    assert (one(classifier, res).id, one(classifier, res).kind) == ("NutritionOrder/n1", "other")


# -- selections -------------------------------------------------------------------------------------


def test_only_selected_orders_are_selected(classifier):
    drafts = bundle(sr("a", LNC, "24935-9"), sr("b", LOCAL, "stereotactic-radiosurgery"), sr("c", LNC, "24590-2"))
    orders = classifier.classify(drafts, ["ServiceRequest/b"], language="nl")
    assert [(o.id, o.selected) for o in orders] == [
        ("ServiceRequest/a", False), ("ServiceRequest/b", True), ("ServiceRequest/c", False)]


def test_no_selections_means_all_selected(classifier):
    drafts = bundle(sr("a", LNC, "24935-9"), sr("b", LNC, "24590-2"))
    assert [o.selected for o in classifier.classify(drafts, None, language="nl")] == [True, True]
    assert [o.selected for o in classifier.classify(drafts, [], language="nl")] == [False, False]


def test_selection_by_full_url_or_absolute_url(classifier):
    drafts = {"resourceType": "Bundle", "entry": [
        {"fullUrl": "urn:uuid:1", "resource": sr("a", LNC, "24935-9")},
        {"resource": sr("b", LNC, "24590-2")}]}
    orders = classifier.classify(drafts, ["urn:uuid:1", "http://ehr/fhir/ServiceRequest/b"], language="nl")
    assert [o.selected for o in orders] == [True, True]


# -- priority, deadline, display, purpose -----------------------------------------------------------


@pytest.mark.parametrize(
    "language,priority,display",
    [
        ("nl", "routine", "MRI wervelkolom, routine"),
        ("en", "routine", "MRI spine, routine"),
        ("nl", "urgent", "MRI wervelkolom, urgent"),
        ("nl", "asap", "MRI wervelkolom, zo snel mogelijk"),
        ("en", "asap", "MRI spine, ASAP"),
        ("nl", "stat", "MRI wervelkolom, direct (stat)"),
        ("en", "stat", "MRI spine, STAT"),
        ("nl", None, "MRI wervelkolom"),
        ("en", "whenever", "MRI spine"),  # not a FHIR priority: ignored
        ("de", "routine", "MRI spine, routine"),  # unknown language: English
    ],
)
def test_display(classifier, language, priority, display):
    fields = {"priority": priority} if priority else {}
    order = one(classifier, sr("x", LNC, "24935-9", **fields), language=language)
    assert order.display == display
    assert order.priority == (priority if priority in ("routine", "urgent", "asap", "stat") else None)


def test_display_of_other_uses_the_drafts_own_name(classifier):
    res = sr("x", code={"coding": [{"system": LNC, "code": "30746-2", "display": "CT hoofd"}]}, priority="urgent")
    assert one(classifier, res).display == "CT hoofd, urgent"


@pytest.mark.parametrize(
    "fields,deadline",
    [
        ({"occurrenceDateTime": "2026-11-25T09:00:00Z"}, datetime(2026, 11, 25, 9, 0, tzinfo=timezone.utc)),
        ({"occurrenceDateTime": "2026-11-25"}, datetime(2026, 11, 25, 23, 59, 59, tzinfo=AMS)),
        ({"occurrencePeriod": {"start": "2026-11-24T09:00:00Z", "end": "2026-11-26T09:00:00Z"}},
         datetime(2026, 11, 26, 9, 0, tzinfo=timezone.utc)),
        ({"occurrencePeriod": {"start": "2026-11-24T09:00:00Z"}}, None),
        ({"occurrenceDateTime": "not a date"}, None),
        ({}, None),
    ],
)
def test_deadline(classifier, fields, deadline):
    assert one(classifier, sr("x", LNC, "24935-9", **fields)).deadline == deadline


@pytest.mark.parametrize(
    "text,expected",
    [
        ("2026", datetime(2026, 12, 31, 23, 59, 59, tzinfo=AMS)),
        ("2026-02", datetime(2026, 2, 28, 23, 59, 59, tzinfo=AMS)),
        ("2026-11-25T10:00:00", datetime(2026, 11, 25, 10, 0, tzinfo=AMS)),
        ("2026-13-01", None),
        (None, None),
    ],
)
def test_parse_fhir_datetime(text, expected):
    assert parse_fhir_datetime(text, AMS) == expected


@pytest.mark.parametrize(
    "fields,purpose",
    [
        ({"reasonCode": [{"coding": [{"system": LOCAL, "code": "follow-up"}]}]}, "follow-up"),
        ({"reasonCode": [{"coding": [{"system": SCT, "code": "390906007"}]}]}, "follow-up"),
        ({"reasonCode": [{"text": "Follow-up na WBRT"}]}, "follow-up"),
        ({"note": [{"text": "controle MRI"}]}, "follow-up"),
        ({"reasonCode": [{"text": "nieuwe uitval links"}]}, None),
        ({}, None),
    ],
)
def test_follow_up_purpose(classifier, fields, purpose):
    order = one(classifier, sr("x", LNC, "24590-2", **fields))
    assert (order.kind, order.purpose) == ("mri-brain", purpose)


# -- the mapping file -------------------------------------------------------------------------------


def test_mapping_has_every_kind(classifier):
    assert set(classifier.mapping.kinds) == set(KINDS)


def _mapping() -> dict:
    from importlib import resources

    return yaml.safe_load((resources.files("cds_service.mappings") / "orders.yaml").read_text(encoding="utf-8"))


@pytest.mark.parametrize(
    "mutate,message",
    [
        (lambda m: m["match"][0].update(kind="x-ray"), "match[0].kind"),
        (lambda m: m["match"][0].update(codes=["NOPE|123"]), "unknown system alias 'NOPE'"),
        (lambda m: m["match"][0].update(codes=["LOCAL-123"]), "is not 'ALIAS|code'"),
        (lambda m: m["match"][0].update(text=["(unclosed"]), "bad regular expression"),
        (lambda m: m["match"][0].update(site="brain-unless-other"), "only rt-brain rules take a site policy"),
        (lambda m: m["match"][4].update(site="somewhere"), "match[4].site"),
        (lambda m: m["match"][0].update(colour="red"), "unknown keys ['colour']"),
        (lambda m: m["kinds"].pop("mri-spine"), "display names missing for ['mri-spine']"),
        (lambda m: m["kinds"]["mri-brain"].pop("nl"), "kinds.mri-brain"),
        (lambda m: m["priorities"].update(soon={"nl": "snel", "en": "soon"}), "unknown priorities ['soon']"),
        (lambda m: m["ignore_status"].append("draft"), "must never be ignored"),
        (lambda m: m["systems"].update(BAD=["not-a-uri"]), "systems.BAD"),
    ],
)
def test_mapping_errors_are_clear(mutate, message):
    data = copy.deepcopy(_mapping())
    mutate(data)
    with pytest.raises(OrderMappingError, match=None) as err:
        parse_mapping(data)
    assert message in str(err.value)


def test_mapping_must_be_a_mapping():
    with pytest.raises(OrderMappingError, match="top level"):
        parse_mapping(["not", "a", "mapping"])


# -- never raises (hypothesis) ----------------------------------------------------------------------

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)
FIELD_VALUES = {
    "resourceType": st.sampled_from(["ServiceRequest", "ProcedureRequest", "ReferralRequest", "MedicationRequest",
                                     "Condition", "Bundle", "Patient", ""]) | JSON,
    "id": st.text(max_size=6) | JSON,
    "status": st.sampled_from(["draft", "active", "revoked", "entered-in-error"]) | JSON,
    "priority": st.sampled_from(["routine", "urgent", "asap", "stat"]) | JSON,
    "code": st.fixed_dictionaries({"coding": st.lists(st.fixed_dictionaries(
        {"system": st.sampled_from([LOCAL, SCT, LNC, ""]) | JSON,
         "code": st.sampled_from(["stereotactic-radiosurgery", "24935-9", "94225005", ""]) | JSON}), max_size=2)})
            | JSON,
    "bodySite": st.just(BRAIN_SITE) | JSON,
    "reasonCode": st.just(BM_REASON) | JSON,
    "reasonReference": st.lists(st.fixed_dictionaries({"reference": st.sampled_from(["#c", "Condition/c"]) | JSON}),
                                max_size=2) | JSON,
    "contained": st.just([bm_condition("c")]) | JSON,
    "occurrenceDateTime": st.sampled_from(["2026-11-25", "2026-11-25T10:00:00Z", "2026", "x"]) | JSON,
    "occurrencePeriod": st.fixed_dictionaries({"end": JSON}) | JSON,
    "note": JSON,
}
RESOURCE = st.fixed_dictionaries({}, optional=FIELD_VALUES)
ENTRY = st.fixed_dictionaries({}, optional={"resource": RESOURCE | JSON, "fullUrl": JSON})
DRAFT_ORDERS = (
    st.fixed_dictionaries({"resourceType": st.just("Bundle")}, optional={"type": JSON, "entry": st.lists(ENTRY | JSON,
                                                                                                        max_size=4)})
    | RESOURCE
    | JSON
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(draft_orders=DRAFT_ORDERS, selections=st.none() | st.lists(st.text(max_size=20), max_size=3) | JSON,
       language=st.sampled_from(["nl", "en", "fr"]))
def test_classify_never_raises(classifier, draft_orders, selections, language):
    orders = classifier.classify(draft_orders, selections, language=language)
    assert isinstance(orders, tuple)
    for order in orders:
        assert order.kind in KINDS
        assert isinstance(order.id, str) and order.id
        assert isinstance(order.display, str) and order.display
        assert order.priority in (None, "routine", "urgent", "asap", "stat")
        assert order.deadline is None or order.deadline.tzinfo is not None
