"""cds_service.fhir.parse: tolerant accessors, dates, statuses, the resource index."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from cds_service.fhir import parse

UTC = timezone.utc


@pytest.mark.parametrize("text,expected", [
    ("2026-11-24T09:00:00+00:00", datetime(2026, 11, 24, 9, tzinfo=UTC)),
    ("2026-11-24T09:00:00Z", datetime(2026, 11, 24, 9, tzinfo=UTC)),
    ("2026-11-24T10:00:00+01:00", datetime(2026, 11, 24, 9, tzinfo=UTC)),
    ("2026-11-24", datetime(2026, 11, 24, tzinfo=UTC)),
    ("2026-11", datetime(2026, 11, 1, tzinfo=UTC)),
    ("2026", datetime(2026, 1, 1, tzinfo=UTC)),
    ("2026-11-24T09:00:00", datetime(2026, 11, 24, 9, tzinfo=UTC)),
    ("2026-13", None), ("24-11-2026", None), ("", None), ("x" * 100, None), (20261124, None), (None, None),
    ([], None),
])
def test_parse_datetime(text, expected) -> None:
    assert parse.parse_datetime(text) == expected


@pytest.mark.parametrize("concept,expected", [
    ({"coding": [{"system": "s", "code": "c"}, {}, {"system": "s"}, {"code": "x"}, "junk"]}, [("s", "c")]),
    ({"coding": {"system": "s", "code": "c"}}, [("s", "c")]),
    ({"system": "s", "code": "c"}, [("s", "c")]),
    ({"coding": [{"system": "s", "code": "  "}]}, []),
    ({"coding": [{"system": 1, "code": 2}]}, []),
    ("text", []), (None, []), ([{"coding": []}], []),
])
def test_codings(concept, expected) -> None:
    assert list(parse.codings(concept)) == expected


@pytest.mark.parametrize("value,expected", [(3, 3.0), (2.5, 2.5), ("4,5", 4.5), ("x", None), (True, None),
                                            (float("nan"), None), (float("inf"), None), (None, None)])
def test_as_number(value, expected) -> None:
    assert parse.as_number(value) == expected


@pytest.mark.parametrize("moment,months,expected", [
    (datetime(2026, 11, 24, tzinfo=UTC), -3, datetime(2026, 8, 24, tzinfo=UTC)),
    (datetime(2026, 3, 31, tzinfo=UTC), -1, datetime(2026, 2, 28, tzinfo=UTC)),
    (datetime(2028, 3, 31, tzinfo=UTC), -1, datetime(2028, 2, 29, tzinfo=UTC)),
    (datetime(2026, 1, 15, tzinfo=UTC), -1, datetime(2025, 12, 15, tzinfo=UTC)),
    (datetime(2026, 12, 31, tzinfo=UTC), 2, datetime(2027, 2, 28, tzinfo=UTC)),
])
def test_add_months(moment, months, expected) -> None:
    assert parse.add_months(moment, months) == expected


@pytest.mark.parametrize("ref,key", [
    ({"reference": "Condition/1"}, "Condition/1"),
    ({"reference": "http://fhir.example/r4/Condition/1/_history/3"}, "Condition/1"),
    ({"reference": "#x"}, "#x"),
    ({"display": "x"}, None), ("Condition/1", None),
])
def test_reference_key(ref, key) -> None:
    assert parse.reference_key(ref) == key


def test_index_drops_entered_in_error_and_cancelled_and_flattens_bundles() -> None:
    resources = [
        {"resourceType": "Observation", "id": "a", "status": "final"},
        {"resourceType": "Observation", "id": "b", "status": "entered-in-error"},
        {"resourceType": "ServiceRequest", "id": "c", "status": "revoked"},
        {"resourceType": "Condition", "id": "d", "verificationStatus": {"coding": [
            {"system": "http://terminology.hl7.org/CodeSystem/condition-ver-status", "code": "entered-in-error"}]}},
        {"resourceType": "Bundle", "entry": [{"resource": {"resourceType": "Procedure", "id": "e",
                                                           "status": "completed"}}, {"no": "resource"}, 3]},
        {"id": "no-type"},
        "junk",
    ]
    index = parse.index_resources(resources)
    assert sorted(index.by_ref) == ["Observation/a", "Procedure/e"]
    assert index.ignored == 3
    assert len(index.problems) == 2
    assert index.resolve({"reference": "Procedure/e"})["id"] == "e"


@pytest.mark.parametrize("value", [None, 5, "x", {"a": 1}])
def test_index_of_odd_input_never_raises(value) -> None:
    index = parse.index_resources(value)  # type: ignore[arg-type]
    assert index.by_type == {} or isinstance(index.by_type, dict)


def test_clinical_time_per_type() -> None:
    assert parse.clinical_time({"resourceType": "Observation", "issued": "2026-01-02"}) == datetime(2026, 1, 2,
                                                                                                   tzinfo=UTC)
    assert parse.clinical_time({"resourceType": "Condition", "recordedDate": "2026-01-03"}) == datetime(
        2026, 1, 3, tzinfo=UTC)
    assert parse.clinical_time({"resourceType": "Procedure", "performedPeriod": {"start": "2026-01-01",
                                                                               "end": "2026-01-04"}}) == datetime(
        2026, 1, 4, tzinfo=UTC)
    assert parse.clinical_time({"resourceType": "Encounter", "meta": {"lastUpdated": "2026-01-05"}}) == datetime(
        2026, 1, 5, tzinfo=UTC)
    assert parse.clinical_time({"resourceType": "Observation", "effectiveDateTime": 5}) is None
