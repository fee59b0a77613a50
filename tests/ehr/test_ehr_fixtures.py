"""Fixture bundles: date shifting, dependency order, transaction chunks, idempotent loading."""

from __future__ import annotations

import importlib.util
import json
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest

from cds_service.ehr.fhir import FhirError
from cds_service.ehr.fixtures import (
    FIXTURE_NOW,
    MAX_TRANSACTION_ENTRIES,
    DateShift,
    FixtureLoader,
    bundle_resources,
    case_titles,
    dependency_order,
    read_bundles,
    read_cases,
    shift_bundle,
    transaction_bundles,
)

REPO = Path(__file__).resolve().parents[2]


def test_fixture_now_is_the_generators() -> None:
    spec = importlib.util.spec_from_file_location("fixture_builder", REPO / "fixtures" / "gen" / "builder.py")
    builder = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(builder)
    assert FIXTURE_NOW == builder.FIXTURE_NOW


# -- DateShift ---------------------------------------------------------------------------

def test_shift_to_whole_days() -> None:
    shift = DateShift.to(datetime(2027, 1, 3, 23, 30, 59, tzinfo=timezone.utc))
    assert shift.delta == timedelta(days=40)
    assert shift.days == 40
    assert DateShift.to(datetime(2026, 11, 24, 0, 1, tzinfo=timezone.utc)).is_identity  # same day, any time


@pytest.mark.parametrize("now_utc", ["2027-01-03T23:37:00", "2027-01-03T00:05:00", "2027-06-30T12:00:00"])
def test_a_clock_time_stays_the_same_after_the_shift(now_utc: str) -> None:
    """A 09:00 onset stays 09:00 (it became 23:37 when the shift was to the minute)."""
    shift = DateShift.to(datetime.fromisoformat(now_utc).replace(tzinfo=timezone.utc))
    for text in ("2026-11-23T09:00:00+01:00", "2026-11-23T09:00:00Z", "2026-11-23T09:00:00.250+00:00"):
        shifted = shift.shift_text(text)
        assert shifted[10:] == text[10:]
        assert (date.fromisoformat(shifted[:10]) - date(2026, 11, 23)).days == shift.days


def test_shift_to_fixture_now_is_identity() -> None:
    assert DateShift.to(FIXTURE_NOW).is_identity


def test_shift_to_needs_a_time_zone() -> None:
    with pytest.raises(ValueError):
        DateShift.to(datetime(2027, 1, 1))


SHIFT = DateShift(delta=timedelta(days=10, hours=2), days=10)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-24", "2026-12-04"),
        ("2026-11", "2026-11"),
        ("2026-12", "2026-12"),
        ("1960", "1960"),
        ("2026-11-23T09:00:00+00:00", "2026-12-03T11:00:00+00:00"),
        ("2026-11-23T09:00:00Z", "2026-12-03T11:00:00Z"),
        ("2026-11-23T10:00:00+01:00", "2026-12-03T12:00:00+01:00"),
        ("2026-11-23T09:00:00.123Z", "2026-12-03T11:00:00.123Z"),
        ("2026-11-23T09:00:00.123456+00:00", "2026-12-03T11:00:00.123456+00:00"),
        ("2026-11-23T09:00", "2026-12-03T11:00"),
    ],
)
def test_shift_text_keeps_precision_and_zone(text: str, expected: str) -> None:
    assert SHIFT.shift_text(text) == expected


def test_shift_month_precision_moves_when_the_day_crosses_a_month() -> None:
    assert DateShift(delta=timedelta(days=40), days=40).shift_text("2026-11") == "2026-12"


def test_apply_shifts_dates_and_leaves_codes_alone() -> None:
    resource = {
        "resourceType": "Observation",
        "id": "2026-11-24",
        "code": {"coding": [{"system": "http://x", "code": "2026-11-24", "display": "2026-11-24"}]},
        "effectiveDateTime": "2026-11-23T09:00:00+00:00",
        "valueString": "2026-11-24",
        "identifier": [{"value": "2026-11-24"}],
        "extension": [{"url": "http://x/ext", "valueDateTime": "2026-11-20"}],
        "component": [{"code": {"text": "x"}, "valuePeriod": {"start": "2026-11-01", "end": "2026"}}],
    }
    out = SHIFT.apply(resource)
    assert out["id"] == "2026-11-24"
    assert out["code"] == resource["code"]
    assert out["valueString"] == "2026-11-24"
    assert out["identifier"] == [{"value": "2026-11-24"}]
    assert out["effectiveDateTime"] == "2026-12-03T11:00:00+00:00"
    assert out["extension"][0]["valueDateTime"] == "2026-11-30"
    assert out["component"][0]["valuePeriod"] == {"start": "2026-11-11", "end": "2026"}
    assert resource["effectiveDateTime"] == "2026-11-23T09:00:00+00:00"  # the input is not changed


def test_apply_shifts_birth_date_with_year_precision() -> None:
    shift = DateShift(delta=timedelta(days=400), days=400)
    out = shift.apply({"resourceType": "Patient", "id": "p", "birthDate": "1960"})
    assert out["birthDate"] == "1961"


def test_shift_keeps_intervals() -> None:
    shift = DateShift.to(datetime(2027, 3, 5, 14, 7, tzinfo=timezone.utc))
    a, b = "2026-11-20T08:15:00+00:00", "2026-11-24T09:00:00+00:00"
    before = datetime.fromisoformat(b) - datetime.fromisoformat(a)
    after = datetime.fromisoformat(shift.shift_text(b)) - datetime.fromisoformat(shift.shift_text(a))
    assert after == before
    assert shift.shift_text(b) == "2027-03-05T09:00:00+00:00"  # FIXTURE_NOW lands on today, same time of day


def test_shift_bundle_leaves_requests_alone() -> None:
    bundle = _bundle("p1", 1)
    out = shift_bundle(bundle, SHIFT)
    assert out["entry"][1]["request"] == bundle["entry"][1]["request"]
    assert out["entry"][1]["resource"]["effectiveDateTime"] == "2026-12-03T11:00:00+00:00"
    assert shift_bundle(bundle, None) == bundle


# -- ordering and chunks --------------------------------------------------------------------

def _obs(pid: str, n: int, **extra) -> dict:
    return {"resourceType": "Observation", "id": f"{pid}-obs{n}", "status": "final", "code": {"text": "x"},
            "subject": {"reference": f"Patient/{pid}"}, "effectiveDateTime": "2026-11-23T09:00:00+00:00", **extra}


def _bundle(pid: str, n_obs: int) -> dict:
    resources = [{"resourceType": "Patient", "id": pid}] + [_obs(pid, i) for i in range(n_obs)]
    return {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"fullUrl": f"urn:uuid:{r['resourceType']}-{r['id']}", "resource": r,
         "request": {"method": "PUT", "url": f"{r['resourceType']}/{r['id']}"}} for r in resources]}


def test_dependency_order_puts_referenced_resources_first() -> None:
    proc = {"resourceType": "Procedure", "id": "pr1", "subject": {"reference": "Patient/p"}}
    obs = _obs("p", 1, derivedFrom=[{"reference": "Procedure/pr1"}])
    patient = {"resourceType": "Patient", "id": "p"}
    ordered = dependency_order([obs, proc, patient])
    assert [r["id"] for r in ordered] == ["p", "pr1", "p-obs1"]


def test_dependency_order_survives_cycles_and_outside_references() -> None:
    a = {"resourceType": "Observation", "id": "a", "hasMember": [{"reference": "Observation/b"}],
         "subject": {"reference": "Patient/elsewhere"}}
    b = {"resourceType": "Observation", "id": "b", "hasMember": [{"reference": "Observation/a"}]}
    assert sorted(r["id"] for r in dependency_order([a, b])) == ["a", "b"]


def test_transaction_bundles_have_at_most_50_put_entries() -> None:
    resources = bundle_resources(_bundle("p", 119))
    chunks = transaction_bundles(resources, "http://fhir.example/fhir/")
    assert [len(c["entry"]) for c in chunks] == [50, 50, 20]
    first = chunks[0]["entry"][0]
    assert first["request"] == {"method": "PUT", "url": "Patient/p"}
    assert first["fullUrl"] == "http://fhir.example/fhir/Patient/p"
    assert all(c["type"] == "transaction" for c in chunks)


@pytest.mark.parametrize("size", [0, MAX_TRANSACTION_ENTRIES + 1])
def test_transaction_size_is_bounded(size: int) -> None:
    with pytest.raises(ValueError):
        transaction_bundles([], "http://x/fhir", size)


# -- bundled files -----------------------------------------------------------------------------

def _fixture_tree(tmp_path: Path) -> Path:
    (tmp_path / "patients").mkdir()
    (tmp_path / "cases").mkdir()
    for pid in ("bm-01", "sm-02"):
        (tmp_path / "patients" / f"{pid}.json").write_text(json.dumps(_bundle(pid, 2)))
    (tmp_path / "cases" / "brain.yaml").write_text(
        "- id: bm-01\n  title: Single lesion\n  expect: {brain-metastases: [X]}\n"
        "- id: bm-01-order\n  patient: bm-01\n  title: Order check\n  expect: {neuro-oncology-order-sign: []}\n"
    )
    (tmp_path / "cases" / "spine.yaml").write_text("- id: sm-02\n  title: Cord compression\n  expect: {a: []}\n")
    return tmp_path


def test_read_bundles_and_cases(tmp_path: Path) -> None:
    root = _fixture_tree(tmp_path)
    assert list(read_bundles(root=root)) == ["bm-01", "sm-02"]
    assert list(read_bundles(["sm-02"], root=root)) == ["sm-02"]
    with pytest.raises(KeyError, match="nope"):
        read_bundles(["bm-01", "nope"], root=root)
    cases = read_cases(root)
    assert [(c["area"], c["id"]) for c in cases] == [("brain", "bm-01"), ("brain", "bm-01-order"), ("spine", "sm-02")]
    assert case_titles(cases) == {"bm-01": ["Single lesion", "Order check"], "sm-02": ["Cord compression"]}


def test_read_from_an_empty_tree(tmp_path: Path) -> None:
    assert read_bundles(root=tmp_path) == {}
    assert read_cases(tmp_path) == []


# -- loading ---------------------------------------------------------------------------------

class FakeServer:
    """Records what the loader sends; can refuse transactions or reject one resource id."""

    base_url = "http://fake/fhir"

    def __init__(self, transaction_status: int | None = None, bad_id: str | None = None,
                 unreachable: bool = False) -> None:
        self.transaction_status = transaction_status
        self.bad_id = bad_id
        self.unreachable = unreachable
        self.store: dict[str, dict] = {}
        self.transactions = 0
        self.puts = 0

    def transaction(self, bundle: dict) -> dict:
        if self.unreachable:
            raise FhirError("connection refused")
        if self.transaction_status:
            raise FhirError("refused", status=self.transaction_status)
        if any(e["resource"]["id"] == self.bad_id for e in bundle["entry"]):
            raise FhirError("invalid", status=400)
        self.transactions += 1
        for e in bundle["entry"]:
            self.store[e["request"]["url"]] = e["resource"]
        return {"resourceType": "Bundle", "type": "transaction-response",
                "entry": [{"response": {"status": "200 OK"}} for _ in bundle["entry"]]}

    def put(self, resource: dict) -> dict:
        if resource["id"] == self.bad_id:
            raise FhirError("HTTP 400 Invalid date format", status=400)
        self.puts += 1
        self.store[f"{resource['resourceType']}/{resource['id']}"] = resource
        return resource


def test_loader_uses_transactions_and_is_idempotent() -> None:
    server = FakeServer()
    loader = FixtureLoader(server)
    bundles = {"p1": _bundle("p1", 60), "p2": _bundle("p2", 3)}
    first = loader.load(bundles)
    again = loader.load(bundles)
    assert [(r.patient_id, r.resources, r.transactions, r.single_puts, r.ok) for r in first] == [
        ("p1", 61, 2, 0, True), ("p2", 4, 1, 0, True)]
    assert first == again
    assert len(server.store) == 65  # a rerun updates the same ids


def test_loader_falls_back_to_single_puts_when_transactions_are_refused() -> None:
    server = FakeServer(transaction_status=405)
    loader = FixtureLoader(server)
    results = loader.load({"p1": _bundle("p1", 2), "p2": _bundle("p2", 1)})
    assert [(r.transactions, r.single_puts) for r in results] == [(0, 3), (0, 2)]
    assert loader.use_transactions is False
    assert len(server.store) == 5


def test_loader_reports_the_resource_a_server_rejects() -> None:
    server = FakeServer(bad_id="p1-obs1")
    loader = FixtureLoader(server)
    [result] = loader.load({"p1": _bundle("p1", 3)})
    assert not result.ok
    assert result.errors == ["Observation/p1-obs1: HTTP 400 Invalid date format"]
    assert result.single_puts == 3  # the others of the chunk are stored one by one
    assert loader.use_transactions is True  # a content error is not "no transactions"


def test_loader_stops_when_the_server_is_unreachable() -> None:
    with pytest.raises(FhirError):
        FixtureLoader(FakeServer(unreachable=True)).load({"p1": _bundle("p1", 1)})


def test_loader_shifts_dates() -> None:
    server = FakeServer()
    FixtureLoader(server).load({"p1": _bundle("p1", 1)}, SHIFT)
    assert server.store["Observation/p1-obs0"]["effectiveDateTime"] == "2026-12-03T11:00:00+00:00"


DRAFTS = {"resourceType": "Bundle", "entry": [{"resource": {"resourceType": "ServiceRequest", "id": "sr"}}]}


@pytest.mark.parametrize(
    ("case", "hook", "expected"),
    [
        ({"id": "c1", "patient": "p1", "draft_orders": DRAFTS}, "patient-view",
         {"userId": "Practitioner/ehr-sandbox", "patientId": "p1"}),
        ({"id": "p2", "draft_orders": DRAFTS, "selections": ["ServiceRequest/sr"]}, "order-select",
         {"userId": "Practitioner/ehr-sandbox", "patientId": "p2", "draftOrders": DRAFTS,
          "selections": ["ServiceRequest/sr"]}),
        ({"id": "p3", "draft_orders": DRAFTS}, "order-select",
         {"userId": "Practitioner/ehr-sandbox", "patientId": "p3", "draftOrders": DRAFTS, "selections": []}),
        ({"id": "p4", "selections": ["ServiceRequest/sr"]}, "order-sign",
         {"userId": "Practitioner/ehr-sandbox", "patientId": "p4",
          "draftOrders": {"resourceType": "Bundle", "type": "collection", "entry": []}}),
    ],
)
def test_case_context(case: dict, hook: str, expected: dict) -> None:
    from cds_service.ehr.fixtures import case_context

    assert case_context(case, hook) == expected


def test_service_patient_ids_leave_out_facts_only_cases() -> None:
    from cds_service.ehr.fixtures import service_patient_ids

    cases = [{"id": "bm-1", "expect": {"a": []}}, {"id": "x", "patient": "bm-2", "expect": {"b": ["R"]}},
             {"id": "fx-1", "facts_only": True, "facts": {"kps": 1}}]
    assert service_patient_ids(cases) == {"bm-1", "bm-2"}


def test_every_bundled_condition_has_a_text() -> None:
    """An EHR shows code.text in its condition pickers; the CDS Hooks sandbox's are blank without it."""
    from cds_service.ehr.fixtures import read_bundles

    missing = [r["id"] for b in read_bundles().values() for r in bundle_resources(b)
               if r["resourceType"] == "Condition" and not (r.get("code") or {}).get("text")]
    assert missing == []
