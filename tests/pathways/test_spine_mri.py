"""SM-MRI-URGENCY (catalog 3b): every row of the table, its boundaries, deadlines and the order hooks."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from cds_service.facts.model import Facts
from cds_service.pathways import spine
from cds_service.pathways.model import DraftOrder, EvalContext
from cds_service.pathways.spine_mri import plan

from .spine_support import CTX, NOW, ago, at, facts_of  # noqa: F401

SUSPECTED: dict[str, Any] = {
    "spinal_metastases": (True, {"suspected": True}),
    "primary_tumour": "breast",
    "dexamethasone_active": False,
    "adequate_spine_imaging": False,
}


def patient(**values: Any) -> Facts:
    """Suspected spinal metastases, known primary, no dexamethasone, no spine imaging — plus ``values``."""
    return facts_of(SUSPECTED, **values)


def ids(findings) -> list[str]:
    return sorted(f.rule_id for f in findings)


def mri(findings):
    [card] = [f for f in findings if f.rule_id == "SM-MRI-URGENCY"]
    return card


REC = ago(hours=1)  # the suspicion was recorded an hour ago

# (case, facts, row, window from REC (None = no urgent imaging), corticosteroid note, other rule ids)
ROWS = [
    ("incomplete transverse lesion", dict(transverse_lesion=at("incomplete", REC - timedelta(hours=5), REC)),
     "cord-compression", timedelta(hours=12), True, ["SM-DEXAMETHASONE"]),
    ("complete lesion 47 h", dict(transverse_lesion=at("complete", REC - timedelta(hours=47), REC)),
     "cord-compression", timedelta(hours=12), True, ["SM-DEXAMETHASONE"]),
    ("complete lesion exactly 48 h (not > 48 h)",
     dict(transverse_lesion=at("complete", REC - timedelta(hours=48), REC)),
     "cord-compression", timedelta(hours=12), True, ["SM-DEXAMETHASONE"]),
    ("complete lesion 49 h", dict(transverse_lesion=at("complete", REC - timedelta(hours=49), REC)),
     "complete-lesion-late", None, False, ["SM-DEXAMETHASONE"]),
    ("bilateral radicular deficit", dict(radicular_deficit=at("bilateral", REC - timedelta(days=2), REC)),
     "cord-compression", timedelta(hours=12), True, ["SM-DEXAMETHASONE"]),
    ("clinical MESCC", dict(mescc=at("clinical", REC - timedelta(days=2), REC)),
     "cord-compression", timedelta(hours=12), True, ["SM-DEXAMETHASONE"]),
    ("Lhermitte sign", dict(lhermitte_sign=at(True, REC - timedelta(days=3), REC)),
     "lhermitte-bilateral-pain", timedelta(hours=12), False, []),
    ("bilateral radicular pain", dict(radicular_pain=at("bilateral", REC - timedelta(days=3), REC)),
     "lhermitte-bilateral-pain", timedelta(hours=12), False, []),
    ("unilateral deficit 3 days",
     dict(radicular_deficit=at("unilateral", REC - timedelta(days=3), REC, progressive=True)),
     "unilateral-deficit-recent", timedelta(hours=24), True, []),  # one-sided: corticosteroid indication on the MRI card, no start-now card
    ("unilateral deficit exactly 7 days", dict(radicular_deficit=at("unilateral", REC - timedelta(days=7), REC)),
     "unilateral-deficit-recent", timedelta(hours=24), True, []),  # one-sided: corticosteroid indication on the MRI card, no start-now card
    ("unilateral deficit 7 days + 1 h", dict(radicular_deficit=at("unilateral", REC - timedelta(days=7, hours=1), REC)),
     "unilateral-deficit-late", timedelta(hours=48), True, []),  # one-sided: corticosteroid indication on the MRI card, no start-now card
    ("unilateral radicular pain", dict(radicular_pain=at("unilateral", REC - timedelta(days=10), REC)),
     "unilateral-pain", timedelta(days=7), False, []),
    ("local back pain only", dict(local_back_pain=at(True, REC - timedelta(days=20), REC)),
     "local-back-pain", timedelta(days=14), False, []),
    ("pain on loading (local pain)", dict(mechanical_pain=at(True, REC - timedelta(days=20), REC)),
     "local-back-pain", timedelta(days=14), False, []),
]


@pytest.mark.parametrize("case, values, row, window, steroids, others", ROWS, ids=[r[0] for r in ROWS])
def test_each_row_of_the_table(case, values, row, window, steroids, others) -> None:
    findings = spine.evaluate(patient(**values), CTX)
    assert ids(findings) == sorted(["SM-MRI-URGENCY", *others])
    card = mri(findings)
    p = plan(patient(**values), NOW)
    assert p.row is not None and p.row.key == row
    if window is None:
        assert (card.variant, card.indicator, card.params.get("deadline")) == ("no-urgent", "info", None)
        assert card.suggestions == ()
        return
    assert card.params["deadline"] == REC + window
    assert card.indicator == "warning" and card.variant is None
    assert ("corticosteroids-first" in card.notes) is steroids
    [suggestion] = card.suggestions
    [action] = suggestion.actions
    assert (action.type, action.resource_kind) == ("create", "mri-spine")
    assert action.params["occurrence_before"] == REC + window
    assert action.params["priority"] == {timedelta(hours=12): "stat", timedelta(hours=24): "asap",
                                         timedelta(hours=48): "urgent"}.get(window, "routine")


def test_the_window_runs_from_the_recorded_suspicion_not_from_onset() -> None:
    values = dict(radicular_deficit=at("unilateral", ago(days=5), ago(hours=2)))
    assert mri(spine.evaluate(patient(**values), CTX)).params["deadline"] == ago(hours=2) + timedelta(hours=24)


def test_without_a_recorded_time_the_window_runs_from_onset() -> None:
    values = dict(radicular_pain=at("unilateral", ago(days=2)))
    assert mri(spine.evaluate(patient(**values), CTX)).params["deadline"] == ago(days=2) + timedelta(days=7)


@pytest.mark.parametrize(
    "onset_hours, variant, indicator",
    [(72, "no-urgent", "info"), (30, "passed", "critical"), (5, None, "warning")],
)
def test_without_its_own_recorded_time_the_row_is_chosen_by_the_age_now(onset_hours, variant, indicator) -> None:
    # the facts layer repeats the onset as the recorded time when none was recorded
    values = dict(transverse_lesion=at("complete", ago(hours=onset_hours), ago(hours=onset_hours)))
    card = mri(spine.evaluate(patient(**values), CTX))
    assert (card.variant, card.indicator) == (variant, indicator)
    if variant != "no-urgent":
        assert card.params["deadline"] == ago(hours=onset_hours) + timedelta(hours=12)


def test_an_already_passed_deadline_is_critical() -> None:
    values = dict(lhermitte_sign=at(True, ago(days=2), ago(hours=13)))
    card = mri(spine.evaluate(patient(**values), CTX))
    assert (card.indicator, card.variant, card.params["deadline"]) == ("critical", "passed", ago(hours=1))


def test_several_complaints_the_earliest_deadline_wins_and_steroid_notes_combine() -> None:
    values = dict(
        local_back_pain=at(True, ago(days=30), ago(days=2)),
        lhermitte_sign=at(True, ago(days=1), ago(hours=3)),
        radicular_deficit=at("unilateral", ago(days=10), ago(hours=3)),
    )
    card = mri(spine.evaluate(patient(**values), CTX))
    assert card.params["deadline"] == ago(hours=3) + timedelta(hours=12)  # Lhermitte row
    assert "row-lhermitte-bilateral-pain" in card.notes
    assert "corticosteroids-first" in card.notes  # the unilateral deficit asks to decide first


def test_a_complete_lesion_over_48_h_is_the_first_node_and_ends_the_urgent_branch() -> None:
    values = dict(transverse_lesion=at("complete", ago(days=5), ago(hours=1)),
                  local_back_pain=at(True, ago(days=5), ago(hours=1)))
    card = mri(spine.evaluate(patient(**values), CTX))
    assert card.variant == "no-urgent"


@pytest.mark.parametrize(
    "imaging, expected_variant",
    [
        (ago(hours=2), "not-necessary"),  # after the complaint began
        (ago(days=3, hours=2), "not-necessary"),  # same (Amsterdam) day as the onset, earlier hour
        (ago(days=4), None),  # the day before the onset: not adequate → MRI
    ],
)
def test_adequate_imaging_on_or_after_the_day_the_presentation_began(imaging, expected_variant) -> None:
    onset = ago(days=3)  # 2026-11-21 09:00 UTC = 10:00 Amsterdam
    values = dict(radicular_pain=at("unilateral", onset, ago(hours=1)), spine_imaging_date=imaging,
                  adequate_spine_imaging=None)
    card = mri(spine.evaluate(patient(**values), CTX))
    assert card.variant == expected_variant
    if expected_variant == "not-necessary":
        assert (card.indicator, card.params["imaging_date"], card.suggestions) == ("info", imaging, ())


def test_unknown_imaging_never_gives_mri_not_necessary() -> None:
    values = dict(local_back_pain=at(True, ago(days=3), ago(hours=1)), adequate_spine_imaging=None)
    findings = spine.evaluate(patient(**values), CTX)
    card = mri(findings)
    assert card.variant is None and "adequate_spine_imaging" in card.facts_missing
    assert "imaging-unknown" in card.notes
    assert ids(findings) == ["SM-MRI-URGENCY"]


def test_unknown_onset_of_a_complete_lesion_uses_the_urgent_row_and_asks_for_the_onset() -> None:
    values = dict(transverse_lesion=at("complete", None, ago(hours=1)))
    findings = spine.evaluate(patient(**values), CTX)
    card = mri(findings)
    assert card.params["deadline"] == ago(hours=1) + timedelta(hours=12)
    assert "transverse_lesion_onset" in card.facts_missing and "onset-unknown" in card.notes
    [missing] = [f for f in findings if f.rule_id == "DATA-MISSING"]
    assert missing.facts_missing == ("transverse_lesion_onset",)


def test_unknown_onset_of_a_unilateral_deficit_uses_the_24_h_row() -> None:
    values = dict(radicular_deficit=at("unilateral", None, ago(hours=1)))
    card = mri(spine.evaluate(patient(**values), CTX))
    assert card.params["deadline"] == ago(hours=1) + timedelta(hours=24)
    assert "radicular_deficit_onset" in card.facts_missing


def test_no_complaint_from_the_table_no_mri_card() -> None:
    assert spine.evaluate(patient(), CTX) == []


def test_known_spinal_metastases_get_the_same_mri_rows() -> None:
    values = dict(spinal_metastases=True, lhermitte_sign=at(True, ago(days=1), ago(hours=1)))
    card = mri(spine.evaluate(patient(**values), CTX))
    assert card.params["deadline"] == ago(hours=1) + timedelta(hours=12)


def test_no_treatment_wish_no_mri_card() -> None:
    values = dict(treatment_wish=False, lhermitte_sign=at(True, ago(days=1), ago(hours=1)))
    assert ids(spine.evaluate(patient(**values), CTX)) == ["SM-SHORT-LIFE"]


# -- order hooks ------------------------------------------------------------------------------

SPINE_MRI = {"resourceType": "ServiceRequest", "id": "mri1", "status": "draft", "intent": "order",
             "subject": {"reference": "Patient/p1"},
             "code": {"coding": [{"system": "http://loinc.org", "code": "24937-5"}]}}


def draft(priority: str | None, deadline: datetime | None = None, selected: bool = True, oid: str = "mri1"):
    resource = dict(SPINE_MRI, id=oid, **({"priority": priority} if priority else {}))
    return DraftOrder(id=f"ServiceRequest/{oid}", kind="mri-spine", resource=resource, selected=selected,
                      priority=priority, deadline=deadline, display="MRI wervelkolom")


def order_ctx(*drafts: DraftOrder, hook: str = "order-select") -> EvalContext:
    return EvalContext(now=NOW, hook=hook, draft_orders=drafts, patient_id="p1")


LHERMITTE = dict(lhermitte_sign=at(True, ago(days=1), ago(hours=1)))  # 12 h, no corticosteroids
UNI_RECENT = dict(radicular_deficit=at("unilateral", ago(days=2), ago(hours=1)), dexamethasone_active=True)  # 24 h
UNI_LATE = dict(radicular_deficit=at("unilateral", ago(days=9), ago(hours=1)), dexamethasone_active=True)  # 48 h
UNI_PAIN = dict(radicular_pain=at("unilateral", ago(days=9), ago(hours=1)))  # 1 week
BACK_PAIN = dict(local_back_pain=at(True, ago(days=9), ago(hours=1)))  # 2 weeks

ORDER_CASES = [
    ("12 h, stat draft", LHERMITTE, draft("stat"), None),
    ("12 h, asap draft", LHERMITTE, draft("asap"), "stat"),
    ("12 h, routine with occurrence within 12 h", LHERMITTE, draft("routine", ago(hours=-6)), None),
    ("24 h, routine draft", UNI_RECENT, draft("routine"), "asap"),
    ("24 h, no priority", UNI_RECENT, draft(None), "asap"),
    ("24 h, urgent draft", UNI_RECENT, draft("urgent"), "asap"),
    ("24 h, asap draft", UNI_RECENT, draft("asap"), None),
    ("48 h, routine draft", UNI_LATE, draft("routine"), "urgent"),
    ("48 h, urgent draft", UNI_LATE, draft("urgent"), None),
    ("48 h, routine with occurrence after 48 h", UNI_LATE, draft("routine", ago(hours=-60)), "urgent"),
    ("1 week, routine without occurrence", UNI_PAIN, draft("routine"), None),
    ("1 week, occurrence within the week", UNI_PAIN, draft("routine", ago(days=-5)), None),
    ("1 week, occurrence after the week", UNI_PAIN, draft("routine", ago(days=-10)), "routine"),
    ("2 weeks, urgent occurrence after 2 weeks", BACK_PAIN, draft("urgent", ago(days=-20)), "urgent"),
]


@pytest.mark.parametrize("case, values, order, new_priority", ORDER_CASES, ids=[c[0] for c in ORDER_CASES])
def test_draft_spine_mri_against_the_deadline(case, values, order, new_priority) -> None:
    facts = patient(**values)
    findings = spine.evaluate_orders(facts, order_ctx(order))
    deadline = plan(facts, NOW).deadline
    if new_priority is None:
        assert findings == []
        return
    [card] = findings
    assert (card.rule_id, card.indicator, card.variant, card.order_id) == (
        "SM-MRI-URGENCY", "warning", "order", order.id)
    assert card.params["deadline"] == deadline
    [suggestion] = card.suggestions
    [action] = suggestion.actions
    assert (action.type, action.order_id) == ("update", order.id)
    assert action.params == {"priority": new_priority, "occurrence_before": deadline}


def test_dexamethasone_is_given_alongside_the_draft_mri_when_it_applies() -> None:
    facts = patient(radicular_deficit=at("bilateral", ago(days=1), ago(hours=1)))
    assert ids(spine.evaluate_orders(facts, order_ctx(draft("stat")))) == ["SM-DEXAMETHASONE"]
    assert ids(spine.evaluate_orders(facts, order_ctx(draft("routine")))) == ["SM-DEXAMETHASONE", "SM-MRI-URGENCY"]


def test_one_card_for_the_first_slow_draft_only() -> None:
    facts = patient(**LHERMITTE)
    findings = spine.evaluate_orders(facts, order_ctx(draft("stat", oid="a"), draft("routine", oid="b"),
                                                      draft("urgent", oid="c")))
    assert [f.order_id for f in findings] == ["ServiceRequest/b"]


def test_unselected_drafts_are_ignored_on_order_select_but_checked_on_order_sign() -> None:
    facts = patient(**LHERMITTE)
    order = draft("routine", selected=False)
    assert spine.evaluate_orders(facts, order_ctx(order)) == []
    assert ids(spine.evaluate_orders(facts, order_ctx(order, hook="order-sign"))) == ["SM-MRI-URGENCY"]


@pytest.mark.parametrize(
    "values",
    [
        dict(spinal_metastases=None, **LHERMITTE),  # spinal metastases not recorded
        dict(treatment_wish=False, **LHERMITTE),
        dict(spine_imaging_date=ago(hours=1), adequate_spine_imaging=None, **LHERMITTE),  # adequate imaging
        dict(transverse_lesion=at("complete", ago(days=5), ago(hours=1))),  # no urgent imaging
        {},  # nothing that calls for an MRI
    ],
    ids=["not-recorded", "no-wish", "adequate-imaging", "complete-lesion-late", "no-complaint"],
)
def test_no_mri_card_on_order_hooks_when_the_facts_do_not_call_for_an_mri(values) -> None:
    findings = spine.evaluate_orders(patient(**values), order_ctx(draft("routine")))
    assert [f for f in findings if f.rule_id == "SM-MRI-URGENCY"] == []


def test_a_slow_draft_past_the_deadline_is_critical() -> None:
    facts = patient(lhermitte_sign=at(True, ago(days=1), ago(hours=13)))
    [card] = spine.evaluate_orders(facts, order_ctx(draft("urgent")))
    assert card.indicator == "critical"


def test_no_drafts_no_findings() -> None:
    assert spine.evaluate_orders(patient(**LHERMITTE), order_ctx()) == []
