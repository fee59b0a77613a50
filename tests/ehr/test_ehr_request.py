"""Hook requests as the spec names them: patient-view, order-select, order-sign."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

from cds_service.ehr.request import RequestError, build_request, read_draft_orders, resolve_selections

SR = {"resourceType": "ServiceRequest", "id": "sr-1", "status": "draft", "intent": "order",
      "subject": {"reference": "Patient/p1"}, "code": {"text": "MRI"}}
MR = {"resourceType": "MedicationRequest", "id": "mr-1", "status": "draft", "intent": "order",
      "subject": {"reference": "Patient/p1"}}


def test_patient_view_request() -> None:
    body = build_request("patient-view", patient_id="p1", fhir_server="http://fhir/fhir",
                         prefetch={"patient": {"resourceType": "Patient", "id": "p1"}})
    assert uuid.UUID(body["hookInstance"]).version == 4
    assert body["hook"] == "patient-view"
    assert body["fhirServer"] == "http://fhir/fhir"
    assert body["context"] == {"userId": "Practitioner/ehr-sandbox", "patientId": "p1"}
    assert body["prefetch"] == {"patient": {"resourceType": "Patient", "id": "p1"}}


def test_every_request_gets_a_new_hook_instance() -> None:
    ids = {build_request("patient-view", patient_id="p1", fhir_server=None)["hookInstance"] for _ in range(5)}
    assert len(ids) == 5


def test_empty_optional_fields_are_left_out() -> None:
    body = build_request("patient-view", patient_id="p1", fhir_server=None, prefetch={})
    assert set(body) == {"hookInstance", "hook", "context"}


def test_order_select_selects_every_draft_order_by_default() -> None:
    body = build_request("order-select", patient_id="p1", fhir_server="http://f", draft_orders=[SR, MR],
                         encounter_id="enc-1")
    ctx = body["context"]
    assert ctx["draftOrders"] == {"resourceType": "Bundle", "type": "collection",
                                  "entry": [{"resource": SR}, {"resource": MR}]}
    assert ctx["selections"] == ["ServiceRequest/sr-1", "MedicationRequest/mr-1"]
    assert ctx["encounterId"] == "enc-1"


def test_order_sign_has_no_selections_unless_asked() -> None:
    body = build_request("order-sign", patient_id="p1", fhir_server=None, draft_orders=[SR])
    assert "selections" not in body["context"]
    body = build_request("order-sign", patient_id="p1", fhir_server=None, draft_orders=[SR, MR], selections=["mr-1"])
    assert body["context"]["selections"] == ["MedicationRequest/mr-1"]


@pytest.mark.parametrize(
    ("selections", "expected"),
    [(["sr-1"], ["ServiceRequest/sr-1"]), (["MedicationRequest/mr-1", "sr-1"], ["MedicationRequest/mr-1",
                                                                               "ServiceRequest/sr-1"])],
)
def test_resolve_selections(selections: list[str], expected: list[str]) -> None:
    assert resolve_selections(selections, [SR, MR]) == expected


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"hook": "order-sign"}, "needs at least one draft order"),
        ({"hook": "medication-prescribe"}, "unknown hook"),
        ({"hook": "patient-view", "user_id": "dr-a"}, "userId must be Type/id"),
        ({"hook": "patient-view", "draft_orders": [SR]}, "belong to order-select"),
        ({"hook": "order-select", "draft_orders": [SR], "selections": ["nope"]}, "not one of the draft orders"),
        ({"hook": "order-select", "draft_orders": [{"resourceType": "ServiceRequest"}]}, "has no id"),
    ],
)
def test_build_request_refuses(kwargs: dict, message: str) -> None:
    hook = kwargs.pop("hook")
    with pytest.raises(RequestError, match=message):
        build_request(hook, patient_id="p1", fhir_server=None, **kwargs)


def test_read_draft_orders_from_resources_and_bundles(tmp_path: Path) -> None:
    (tmp_path / "sr.json").write_text(json.dumps(SR))
    (tmp_path / "orders.json").write_text(json.dumps({"resourceType": "Bundle", "type": "collection",
                                                      "entry": [{"resource": MR}]}))
    (tmp_path / "request.json").write_text(json.dumps({"hook": "order-sign", "context": {
        "patientId": "p1", "draftOrders": {"resourceType": "Bundle", "entry": [{"resource": SR}]}}}))
    (tmp_path / "bad.json").write_text("[1, 2]")
    (tmp_path / "no-orders.json").write_text(json.dumps({"hook": "patient-view", "context": {"patientId": "p1"}}))
    assert read_draft_orders([tmp_path / "sr.json", tmp_path / "orders.json"]) == [SR, MR]
    assert read_draft_orders([tmp_path / "request.json"]) == [SR]
    with pytest.raises(RequestError, match="without context.draftOrders"):
        read_draft_orders([tmp_path / "no-orders.json"])
    with pytest.raises(RequestError, match="not a FHIR resource"):
        read_draft_orders([tmp_path / "bad.json"])
    with pytest.raises(RequestError, match="cannot read"):
        read_draft_orders([tmp_path / "missing.json"])
