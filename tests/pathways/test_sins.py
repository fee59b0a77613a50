"""PROG-SINS: the score from its six components or a recorded total, categories and bounds."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from cds_service.facts.model import Fact, Facts
from cds_service.pathways import sins
from cds_service.pathways.model import EvalContext

NOW = datetime(2026, 11, 24, 9, 0, tzinfo=timezone.utc)
CTX = EvalContext(now=NOW)

# location, pain, bone lesion, alignment, collapse, posterolateral
SIX = {"sins-location": 3, "sins-pain": 3, "sins-bone-lesion": 2, "sins-alignment": 2, "sins-collapse": 2,
       "sins-posterolateral": 1}  # = 13


def facts(*items: Fact) -> Facts:
    return Facts(values={f.name: f for f in items})


def components(**points: int) -> Fact:
    return Fact.of("sins_components", dict(points))


@pytest.mark.parametrize(
    "total, category",
    [(0, "stable"), (6, "stable"), (7, "potentially-unstable"), (12, "potentially-unstable"),
     (13, "unstable"), (18, "unstable")],
)
def test_category_boundaries(total: int, category: str) -> None:
    assert sins.category(total) == category


@pytest.mark.parametrize(
    "total, variant, ge7, gt12",
    [(6, "stable", False, False), (7, "potentially-unstable", True, False),
     (12, "potentially-unstable", True, False), (13, "unstable", True, True)],
)
def test_recorded_total_boundaries(total: int, variant: str, ge7: bool, gt12: bool) -> None:
    f = facts(Fact.of("sins_total", total))
    score = sins.score(f)
    assert (score.total, score.source, score.ge(7), score.gt(12)) == (total, "recorded", ge7, gt12)
    [finding] = sins.evaluate(f, CTX)
    assert finding.rule_id == "PROG-SINS"
    assert finding.variant == variant
    assert finding.params["sins"] == total
    assert finding.facts_used == ("sins_total",)


def test_sum_of_six_components_with_inputs() -> None:
    f = facts(Fact.of("sins_components", dict(SIX)))
    score = sins.score(f)
    assert (score.total, score.source, score.category) == (13, "components", "unstable")
    [finding] = sins.evaluate(f, CTX)
    assert str(finding.params["inputs"]) == ("location 3, pain 3, bone lesion 2, alignment 2, collapse 2, "
                                        "posterolateral 1")
    assert finding.variant == "unstable"
    assert "sum of the six components" in str(finding.trace[0])


def test_components_win_over_a_differing_recorded_total_and_say_so() -> None:
    f = facts(Fact.of("sins_components", dict(SIX)), Fact.of("sins_total", 10))
    score = sins.score(f)
    assert score.total == 13
    assert any("differs" in str(note) for note in score.notes)
    assert score.used == ("sins_components", "sins_total")


def test_components_in_the_total_facts_attrs_are_used() -> None:
    f = facts(Fact.of("sins_total", 13, derived_from="components", attrs={"components": dict(SIX)}))
    assert sins.score(f).total == 13


def test_a_total_summed_by_the_facts_layer_is_accepted_without_components() -> None:
    f = facts(Fact.of("sins_total", 8, derived_from="components"))
    assert (sins.score(f).total, sins.score(f).source) == (8, "recorded")


@pytest.mark.parametrize(
    "points, low, high, ge7, gt12",
    [
        ({"location": 3, "pain": 3, "bone_lesion": 2}, 8, 18, True, None),  # ≥ 7 already certain
        ({"location": 0, "pain": 0, "bone_lesion": 0, "alignment": 0, "collapse": 0}, 0, 3, False, False),
        ({"location": 1}, 1, 16, None, None),
        ({"location": 3, "pain": 3, "bone_lesion": 2, "alignment": 4, "collapse": 1}, 13, 16, True, True),
    ],
)
def test_partial_components_give_bounds(points: dict, low: int, high: int, ge7, gt12) -> None:
    score = sins.score(facts(components(**points)))
    assert (score.total, score.low, score.high, score.ge(7), score.gt(12)) == (None, low, high, ge7, gt12)
    assert score.source == "partial"
    assert sins.evaluate(facts(components(**points)), CTX) == []  # no card without the exact score


def test_invalid_component_values_are_ignored_with_a_note() -> None:
    score = sins.score(facts(components(location=3, pain=2, bone_lesion=2, alignment=2, collapse=2,
                                        posterolateral=1)))
    assert score.total is None  # pain 2 is not a SINS value (0, 1, 3)
    assert "pain" in score.missing_components
    assert any("pain" in str(note) for note in score.notes)


@pytest.mark.parametrize("bad", [19, -1, True, "12"])
def test_an_impossible_recorded_total_is_not_used(bad) -> None:
    assert sins.score(facts(Fact.of("sins_total", bad))).total is None


def test_nothing_recorded_gives_no_card_and_full_range() -> None:
    score = sins.score(Facts())
    assert (score.total, score.low, score.high, score.source, score.ge(7)) == (None, 0, 18, None, None)
    assert sins.evaluate(Facts(), CTX) == []
