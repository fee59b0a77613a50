"""Radiotherapy-referral guard (rule catalog §2): RT-DIRECT-REFERRAL-BLOCKED and RT-MDO-INCOMPLETE.

Draft orders go through the real classifier (mappings/orders.yaml), cards
through the real renderer and the CDS Hooks validator, in both languages.
"""

from __future__ import annotations

import re

from datetime import datetime, timedelta, timezone
from itertools import count

import pytest

from cds_service.cards.actions import load_order_templates
from cds_service.cards.render import Renderer
from cds_service.cards.templates import load_templates
from cds_service.cards.validate import check_response
from cds_service.facts.catalogue import load_fact_catalogue
from cds_service.facts.model import Fact, Facts, MdoDiscussion, Provenance
from cds_service.fhir.orders import OrderClassifier
from cds_service.pathways import referral
from cds_service.pathways.model import ActionSpec, EvalContext, LocalizedText

NOW = datetime(2026, 11, 24, 9, 0, tzinfo=timezone.utc)
LOCAL = "https://neuro-onc-cds.example.org/fhir/CodeSystem/facts"
SCT = "http://snomed.info/sct"
LNC = "http://loinc.org"
ALL4 = frozenset({"neurosurgery", "radiation-oncology", "neurology", "neuroradiology"})
BLOCKED, INCOMPLETE = "RT-DIRECT-REFERRAL-BLOCKED", "RT-MDO-INCOMPLETE"

CLASSIFIER = OrderClassifier.load()


def days_ago(n: float) -> datetime:
    return NOW - timedelta(days=n)


def draft(rid: str, code: str | None, system: str = LOCAL, **fields) -> dict:
    res = {"resourceType": "ServiceRequest", "id": rid, "status": "draft", "intent": "order",
           "subject": {"reference": "Patient/ord-p"}, "priority": "routine"}
    if code:
        res["code"] = {"coding": [{"system": system, "code": code}]}
    res.update(fields)
    return res


SRS = draft("srs-1", "stereotactic-radiosurgery")
WBRT = draft("wbrt-1", "whole-brain-radiotherapy")
MRI_SPINE = draft("mri-1", "24935-9", LNC)
RT_REFERRAL_BM = draft("rt-ref-1", "radiotherapy-referral",
                       reasonCode=[{"coding": [{"system": SCT, "code": "94225005"}]}])


def context(hook: str, *resources: dict, selections=None, language: str = "nl") -> EvalContext:
    bundle = {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": r} for r in resources]}
    orders = CLASSIFIER.classify(bundle, selections if hook == "order-select" else None, language=language)
    return EvalContext(now=NOW, hook=hook, draft_orders=orders, patient_id="ord-p", user_id="Practitioner/dr-1")


def facts(*, bm=True, diagnosis=days_ago(60), progression=None, mdo=None, mdo_list=(), **extra) -> Facts:
    """Facts of a brain-metastasis patient; ``mdo``: None = unknown, False = none, (days_ago, specialties)."""
    values: dict[str, Fact] = {}
    if bm is not None:
        values["brain_metastases"] = Fact.of("brain_metastases", bm, attrs=extra.pop("bm_attrs", {}))
    if diagnosis is not None:
        values["brain_metastases_diagnosis_date"] = Fact.of("brain_metastases_diagnosis_date", diagnosis)
    if progression is not None:
        values["bm_progression_date"] = Fact.of("bm_progression_date", progression)
    discussions = list(mdo_list)
    if mdo is False:
        values["mdo_discussed"] = Fact.of("mdo_discussed", False)
    elif mdo is not None:
        ago, specialties = mdo
        when = days_ago(ago)
        values["mdo_discussed"] = Fact.of(
            "mdo_discussed", True, Provenance("Procedure", "mdo-1", date=when),
            attrs={"date": when, "specialties": frozenset(specialties),
                   "missing_specialties": ALL4 - frozenset(specialties)})
        discussions.append(MdoDiscussion("neuro-oncology", when, frozenset(specialties)))
    for name, value in extra.items():
        values[name] = Fact.of(name, value)
    return Facts(values=values, mdo_discussions=tuple(discussions), now=NOW)


def renderer() -> Renderer:
    ids = count(1)
    return Renderer(templates=load_templates(), catalogue=load_fact_catalogue(),
                    order_templates=load_order_templates(), new_uuid=lambda: f"uuid-{next(ids)}")


def render(findings, f: Facts, ctx: EvalContext, language: str) -> list[dict]:
    response = {"cards": renderer().render(findings, f, ctx, language)}
    check_response(response)
    return response["cards"]


# -- which rule, which indicator ---------------------------------------------------------------------

CASES = [
    # id, hook, drafts, selections, facts kwargs, expected (rule, indicator, variant) or None
    ("sign-srs-no-mdo", "order-sign", [SRS], None, {"mdo": False}, (BLOCKED, "critical", None)),
    ("select-srs-no-mdo", "order-select", [SRS, MRI_SPINE], ["ServiceRequest/srs-1"], {"mdo": False},
     (BLOCKED, "warning", None)),
    ("select-srs-not-selected", "order-select", [SRS, MRI_SPINE], ["ServiceRequest/mri-1"], {"mdo": False}, None),
    ("sign-srs-not-selected-still-checked", "order-sign", [SRS, MRI_SPINE], ["ServiceRequest/mri-1"],
     {"mdo": False}, (BLOCKED, "critical", None)),
    ("sign-wbrt-no-mdo", "order-sign", [WBRT], None, {"mdo": False}, (BLOCKED, "warning", "wbrt")),
    ("select-wbrt-no-mdo", "order-select", [WBRT], ["ServiceRequest/wbrt-1"], {"mdo": False},
     (BLOCKED, "warning", "wbrt")),
    ("sign-srs-and-wbrt", "order-sign", [WBRT, SRS], None, {"mdo": False}, (BLOCKED, "critical", None)),
    ("sign-rt-referral-bm-reason", "order-sign", [RT_REFERRAL_BM], None, {"mdo": False},
     (BLOCKED, "critical", None)),
    ("sign-srs-incomplete", "order-sign", [SRS], None, {"mdo": (10, {"neurology", "neurosurgery"})},
     (INCOMPLETE, "critical", None)),
    ("select-srs-incomplete", "order-select", [SRS], ["ServiceRequest/srs-1"],
     {"mdo": (10, {"neurology", "neurosurgery"})}, (INCOMPLETE, "warning", None)),
    ("sign-wbrt-incomplete", "order-sign", [WBRT], None, {"mdo": (10, {"neurology"})},
     (INCOMPLETE, "warning", "wbrt")),
    ("sign-srs-complete", "order-sign", [SRS], None, {"mdo": (10, ALL4)}, None),
    ("sign-srs-complete-plus-oncologist", "order-sign", [SRS], None,
     {"mdo": (10, ALL4 | {"medical-oncology"})}, None),
    ("select-wbrt-complete", "order-select", [WBRT], ["ServiceRequest/wbrt-1"], {"mdo": (3, ALL4)}, None),
    ("sign-no-brain-metastases", "order-sign", [SRS], None, {"bm": False, "mdo": False}, None),
    ("sign-mri-only", "order-sign", [MRI_SPINE], None, {"mdo": False}, None),
    ("sign-no-drafts", "order-sign", [], None, {"mdo": False}, None),
]


@pytest.mark.parametrize("case_id,hook,drafts,selections,fkw,expected", CASES, ids=[c[0] for c in CASES])
def test_rule_and_indicator(case_id, hook, drafts, selections, fkw, expected):
    findings = referral.evaluate(facts(**fkw), context(hook, *drafts, selections=selections))
    got = [(f.rule_id, f.indicator, f.variant) for f in findings]
    assert got == ([expected] if expected else [])


@pytest.mark.parametrize("mdo,expected", [(False, [BLOCKED]), ((10, {"neurology"}), [INCOMPLETE]), ((10, ALL4), [])])
@pytest.mark.parametrize("hook", ["order-select", "order-sign"])
def test_rules_are_mutually_exclusive(hook, mdo, expected):
    """At most one of the two rules, once, however many RT drafts are open."""
    ctx = context(hook, SRS, WBRT, RT_REFERRAL_BM,
                  selections=["ServiceRequest/srs-1", "ServiceRequest/wbrt-1", "ServiceRequest/rt-ref-1"])
    assert [f.rule_id for f in referral.evaluate(facts(mdo=mdo), ctx)] == expected


def test_not_on_patient_view():
    ctx = context("order-sign", SRS)
    pv = EvalContext(now=NOW, hook="patient-view", draft_orders=ctx.draft_orders)
    assert referral.evaluate(facts(mdo=False), pv) == []


def test_rules_declared():
    assert referral.RULES == (BLOCKED, INCOMPLETE)


# -- MDO before / after the latest diagnosis or progression --------------------------------------------


def test_mdo_before_progression_blocks_and_says_so():
    """The facts layer found no MDO after the progression; the older MDO is named with both dates."""
    f = facts(diagnosis=days_ago(200), progression=days_ago(20), mdo=False,
              mdo_list=[MdoDiscussion("neuro-oncology", days_ago(150), ALL4)])
    [finding] = referral.evaluate(f, context("order-sign", SRS))
    assert finding.rule_id == BLOCKED
    assert finding.notes == ("mdo-before-progression",)
    assert finding.params["last_mdo_date"] == days_ago(150)
    assert finding.params["bm_reference_date"] == days_ago(20)


def test_mdo_after_progression_complete_gives_no_card():
    f = facts(diagnosis=days_ago(200), progression=days_ago(20), mdo=(5, ALL4),
              mdo_list=[MdoDiscussion("neuro-oncology", days_ago(150), frozenset({"neurology"}))])
    assert referral.evaluate(f, context("order-sign", SRS)) == []


@pytest.mark.parametrize(
    "mdo_days_ago,specialties,expected",
    [
        (5, ALL4, []),  # after the progression, complete: derived from the MDO list
        (5, frozenset({"neurology", "neurosurgery", "radiation-oncology"}), [INCOMPLETE]),
        (50, ALL4, ["DATA-MISSING"]),  # only an older MDO, and absence cannot be proven
    ],
)
def test_mdo_fact_unknown_uses_the_recorded_discussions(mdo_days_ago, specialties, expected):
    f = facts(diagnosis=days_ago(200), progression=days_ago(20), mdo=None,
              mdo_list=[MdoDiscussion("neuro-oncology", days_ago(mdo_days_ago), specialties)])
    assert [x.rule_id for x in referral.evaluate(f, context("order-sign", SRS))] == expected


def test_mdo_unknown_is_data_missing_not_silence():
    [finding] = referral.evaluate(facts(mdo=None), context("order-sign", SRS))
    assert (finding.rule_id, finding.facts_missing) == ("DATA-MISSING", ("mdo_discussed",))
    assert str(finding.trace[-1]).startswith("R2: whether a neuro-oncology MDO was held")


def test_organ_mdo_does_not_count():
    f = facts(progression=days_ago(20), mdo=None,
              mdo_list=[MdoDiscussion("organ-specific", days_ago(2), ALL4)])
    assert [x.rule_id for x in referral.evaluate(f, context("order-sign", SRS))] == ["DATA-MISSING"]


# -- brain metastases: known, unknown, stated by the order ---------------------------------------------


def test_brain_metastases_unknown_is_data_missing():
    [finding] = referral.evaluate(facts(bm=None, mdo=False), context("order-sign", SRS))
    assert (finding.rule_id, finding.facts_missing) == ("DATA-MISSING", ("brain_metastases",))
    assert "cannot tell whether the MDO requirement" in str(finding.trace[-1])


@pytest.mark.parametrize("bm", [None, False])
def test_brain_metastases_from_the_orders_reason(bm):
    [finding] = referral.evaluate(facts(bm=bm, mdo=False), context("order-sign", RT_REFERRAL_BM))
    assert (finding.rule_id, finding.indicator, finding.notes) == (BLOCKED, "critical", ("bm-from-order-reason",))


def test_suspected_brain_metastases_are_said():
    [finding] = referral.evaluate(facts(mdo=False, bm_attrs={"suspected": True}), context("order-sign", SRS))
    assert "bm-suspected" in finding.notes


# -- the exact finding ---------------------------------------------------------------------------------


def test_exact_blocked_finding_on_order_sign():
    f = facts(mdo=False)
    [finding] = referral.evaluate(f, context("order-sign", SRS))
    assert finding.rule_id == BLOCKED
    assert finding.facts_used == ("brain_metastases", "brain_metastases_diagnosis_date", "mdo_discussed")
    assert finding.facts_missing == ()
    assert tuple(map(str, finding.trace)) == (
        "R0: draft radiotherapy order for the brain: Stereotactische radiochirurgie (SRS), routine",
        "R1: brain metastases recorded → the MDO rule applies",
        "R2: no neuro-oncology MDO recorded after the latest brain-metastasis diagnosis/progression → no",
        "R4: order-sign — stereotactic / brain RT: the law applies → critical",
    )
    assert (finding.indicator, finding.variant, finding.notes) == ("critical", None, ())
    assert finding.order_id == "ServiceRequest/srs-1"
    assert finding.params["orders"] == "Stereotactische radiochirurgie (SRS), routine"
    [suggestion] = finding.suggestions
    assert (suggestion.label_key, suggestion.is_recommended) == ("replace-by-mdo", True)
    delete, create = suggestion.actions
    assert delete == ActionSpec(type="delete", order_id="ServiceRequest/srs-1")
    assert (create.type, create.resource_kind, list(create.params)) == ("create", "mdo-referral", ["note"])
    note = create.params["note"]
    assert isinstance(note, LocalizedText)
    assert note.get("nl").startswith("Verzoek om bespreking in het neuro-oncologisch MDO vóór radiotherapie")
    assert "Vervangt concept-aanvraag: Stereotactische radiochirurgie (SRS), routine." in note.get("nl")
    assert note.get("en").startswith("Request for discussion in the neuro-oncology MDO before radiotherapy")


def test_note_carries_the_mdo_information_summary():
    mdo_info = pytest.importorskip("cds_service.pathways.mdo_info")
    f = facts(mdo=False, kps=80)
    [finding] = referral.evaluate(f, context("order-sign", SRS))
    note = finding.suggestions[0].actions[-1].params["note"]
    for lang in ("nl", "en"):
        assert note.get(lang).endswith(mdo_info.note_text(f, lang).strip())


def test_exact_incomplete_finding():
    f = facts(mdo=(10, {"neurology", "radiation-oncology"}))
    [finding] = referral.evaluate(f, context("order-select", SRS, selections=["ServiceRequest/srs-1"]))
    assert finding.rule_id == INCOMPLETE
    assert finding.params["missing"] == LocalizedText({"nl": "neurochirurg en neuroradioloog",
                                                       "en": "neurosurgeon and neuroradiologist"})
    assert finding.params["mdo_date"] == days_ago(10)
    assert tuple(map(str, finding.trace[2:4])) == (
        "R2: neuro-oncology MDO recorded on 2026-11-14 → yes",
        "R3: required specialties not recorded as participants: neurosurgery, neuroradiology → incomplete",
    )
    assert finding.indicator == "warning"
    note = finding.suggestions[0].actions[-1].params["note"]
    assert "Eerdere bespreking (14-11-2026) zonder: neurochirurg en neuroradioloog." in note.get("nl")


def test_no_participants_recorded():
    [finding] = referral.evaluate(facts(mdo=(10, set())), context("order-sign", SRS))
    assert finding.rule_id == INCOMPLETE
    assert "no-participants-recorded" in finding.notes
    assert finding.params["missing"].get("en") == (
        "neurosurgeon, radiation oncologist, neurologist and neuroradiologist")


def test_several_drafts_one_card_one_suggestion_deleting_each():
    ctx = context("order-select", SRS, WBRT, MRI_SPINE,
                  selections=["ServiceRequest/srs-1", "ServiceRequest/wbrt-1", "ServiceRequest/mri-1"])
    [finding] = referral.evaluate(facts(mdo=False), ctx)
    assert finding.order_id is None
    assert finding.notes == ("several-orders",)
    assert finding.params["orders"] == (
        "Stereotactische radiochirurgie (SRS), routine; Helebreinbestraling (WBRT), routine")
    [suggestion] = finding.suggestions
    assert [(a.type, a.order_id, a.resource_kind) for a in suggestion.actions] == [
        ("delete", "ServiceRequest/srs-1", None),
        ("delete", "ServiceRequest/wbrt-1", None),
        ("create", None, "mdo-referral"),
    ]


def test_draft_without_id_is_not_deleted():
    no_id = {k: v for k, v in SRS.items() if k != "id"}
    [finding] = referral.evaluate(facts(mdo=False), context("order-sign", no_id))
    [suggestion] = finding.suggestions
    assert suggestion.label_key == "refer-mdo"
    assert [a.type for a in suggestion.actions] == ["create"]
    assert "order-without-id" in finding.notes


# -- rendered cards ----------------------------------------------------------------------------------

SUMMARIES = {
    (BLOCKED, None, "nl"): "Bespreek eerst in het neuro-oncologisch MDO — directe RT-verwijzing niet toegestaan sinds 1-7-2025",
    (BLOCKED, None, "en"): "Discuss in neuro-oncology MDO first — direct RT referral not allowed since 1-7-2025",
    (BLOCKED, "wbrt", "nl"): "Bespreek eerst in het neuro-oncologisch MDO — de richtlijn vraagt MDO-bespreking vóór helebreinbestraling",
    (BLOCKED, "wbrt", "en"): "Discuss in neuro-oncology MDO first — the guideline asks for an MDO before whole-brain RT",
    (INCOMPLETE, None, "nl"): "RT-verwijzing nog niet toegestaan: MDO miste neurochirurg en neuroradioloog; bespreek opnieuw",
    (INCOMPLETE, None, "en"): "RT referral not yet allowed: MDO lacked neurosurgeon and neuroradiologist; discuss again",
}


@pytest.mark.parametrize("language", ["nl", "en"])
@pytest.mark.parametrize(
    "hook,drafts,mdo,rule,variant,indicator",
    [
        ("order-sign", [SRS], False, BLOCKED, None, "critical"),
        ("order-select", [SRS], False, BLOCKED, None, "warning"),
        ("order-sign", [WBRT], False, BLOCKED, "wbrt", "warning"),
        ("order-select", [WBRT], False, BLOCKED, "wbrt", "warning"),
        ("order-sign", [SRS], (10, {"neurology", "radiation-oncology"}), INCOMPLETE, None, "critical"),
        ("order-select", [SRS], (10, {"neurology", "radiation-oncology"}), INCOMPLETE, None, "warning"),
    ],
)
def test_rendered_card(language, hook, drafts, mdo, rule, variant, indicator):
    f = facts(mdo=mdo)
    ctx = context(hook, *drafts, selections=[f"ServiceRequest/{d['id']}" for d in drafts], language=language)
    [card] = render(referral.evaluate(f, ctx), f, ctx, language)
    assert card["source"]["topic"]["code"] == rule
    assert card["indicator"] == indicator
    if (rule, variant, language) in SUMMARIES:
        assert card["summary"] == SUMMARIES[(rule, variant, language)]
    assert len(card["summary"]) < 140 and not card["summary"].endswith("…")
    # the draft is named in clinical words, without an "Order:" line or its FHIR id (issue 15)
    assert ctx.draft_orders[0].display in card["detail"] and "ServiceRequest/" not in card["detail"]
    assert "**Order" not in card["detail"] and "BWBR0051029" in card["source"]["label"]
    attend = {"nl": "De hoofdbehandelaar (of een vervanger) is bij de bespreking",
              "en": "The treating physician (or a deputy) attends"}
    assert attend[language] in card["detail"]
    if variant == "wbrt":  # catalog §2: whole-brain RT is not forbidden by law; the guideline asks for the MDO first
        assert {"nl": "De richtlijn vraagt", "en": "The guideline asks for"}[language] in card["detail"]
        assert not re.search(r"niet (meer )?toegestaan|not allowed|no longer", card["detail"])
    else:
        assert "1-7-2025" in card["detail"]
    if rule == INCOMPLETE:  # catalog §2: the card states the action
        assert card["detail"].startswith({"nl": "**Bespreek opnieuw met ", "en": "**Discuss again with "}[language])
        assert {"nl": "leg hen vast als deelnemer", "en": "record them as participants"}[language] in card["detail"]
    assert ("neuro-oncoloog" if language == "nl" else "neuro-oncologist") in card["detail"]
    assert card["links"] == [{"label": card["links"][0]["label"], "url": "https://wetten.overheid.nl/BWBR0051029/2025-07-01",
                              "type": "absolute"}]
    assert [r["code"] for r in card["overrideReasons"]] == ["mdo-discussed-not-recorded", "mdo-other-hospital",
                                                             "emergency"]
    assert all(r["display"] for r in card["overrideReasons"])
    assert card["selectionBehavior"] == "at-most-one"
    [suggestion] = card["suggestions"]
    assert suggestion["label"] == {"nl": "Vervang door verwijzing naar het neuro-oncologisch MDO",
                                   "en": "Replace by a referral to the neuro-oncology MDO"}[language]
    delete, create = suggestion["actions"]
    assert delete["type"] == "delete" and delete["resourceId"] == f"ServiceRequest/{drafts[0]['id']}"
    assert "resource" not in delete
    resource = create["resource"]
    assert create["type"] == "create"
    assert resource["resourceType"] == "ServiceRequest"
    assert (resource["status"], resource["intent"]) == ("draft", "proposal")
    assert resource["subject"] == {"reference": "Patient/ord-p"}
    assert resource["requester"] == {"reference": "Practitioner/dr-1"}
    assert resource["code"]["coding"][0] == {"system": LOCAL, "code": "neuro-oncology-mdo",
                                             "display": "Neuro-oncology multidisciplinary team discussion"}
    assert resource["reasonCode"][0]["coding"][0]["code"] == "94225005"
    [note] = resource["note"]
    assert note["text"].startswith({"nl": "Verzoek om bespreking", "en": "Request for discussion"}[language])


@pytest.mark.parametrize("language", ["nl", "en"])
@pytest.mark.parametrize("drafts", [[SRS], [WBRT]])
def test_longest_summary_fits(language, drafts):
    """All four specialties missing, WBRT variant: still < 140 characters, never shortened."""
    f = facts(mdo=(10, set()))
    ctx = context("order-sign", *drafts, language=language)
    [card] = render(referral.evaluate(f, ctx), f, ctx, language)
    assert len(card["summary"]) < 140 and not card["summary"].endswith("…")


@pytest.mark.parametrize("language", ["nl", "en"])
def test_several_drafts_rendered(language):
    f = facts(mdo=False)
    ctx = context("order-sign", SRS, WBRT, language=language)
    [card] = render(referral.evaluate(f, ctx), f, ctx, language)
    word = {"nl": "Concept-aanvraag", "en": "Draft order"}[language]
    assert f"{word}: {ctx.draft_orders[0].display}; {ctx.draft_orders[1].display}." in card["detail"]
    actions = card["suggestions"][0]["actions"]
    assert [a.get("resourceId") for a in actions] == ["ServiceRequest/srs-1", "ServiceRequest/wbrt-1", None]


@pytest.mark.parametrize("language", ["nl", "en"])
def test_data_missing_renders(language):
    f = facts(bm=None, mdo=False)
    ctx = context("order-sign", SRS, language=language)
    [card] = render(referral.evaluate(f, ctx), f, ctx, language)
    assert (card["source"]["topic"]["code"], card["indicator"]) == ("DATA-MISSING", "info")
