"""Mutated real hook requests (every fixture request, junk put anywhere): never a 500.

Bad input gets a 4xx with a JSON body naming the problem; what the service can still read gives
cards (partial data) or 412. Deterministic seeds, so a failure reproduces.
"""

from __future__ import annotations

import copy
import json
import random
from pathlib import Path

import pytest

from cds_service.services import SERVICES_BY_ID

REQUESTS = sorted(Path(__file__).resolve().parents[2].joinpath("fixtures", "requests").glob("*.json"))
JUNK = [None, 1, "x", [], {}, [{}], {"resourceType": "Bundle"}, {"coding": [{}]}, True, -1.5, "Patient/x",
        {"entry": "x"}, {"resourceType": 5}, {"link": 3}, {"id": {"a": 1}}, {"resourceType": "Observation"}]


def _service_of(path: Path) -> str:
    return next(s for s in sorted(SERVICES_BY_ID, key=len, reverse=True) if path.name.startswith(s))


def _mutate(rnd: random.Random, node, depth: int = 0) -> None:
    """Replace one value somewhere in the tree with junk."""
    if isinstance(node, dict) and node:
        key = rnd.choice(list(node))
        if rnd.random() < 0.35 or depth > 7 or not isinstance(node[key], (dict, list)):
            node[key] = copy.deepcopy(rnd.choice(JUNK))
        else:
            _mutate(rnd, node[key], depth + 1)
    elif isinstance(node, list) and node:
        i = rnd.randrange(len(node))
        if rnd.random() < 0.35 or depth > 7 or not isinstance(node[i], (dict, list)):
            node[i] = copy.deepcopy(rnd.choice(JUNK))
        else:
            _mutate(rnd, node[i], depth + 1)


@pytest.mark.real_engine
@pytest.mark.parametrize("seed", range(4))
def test_mutated_requests_never_give_a_server_error(make_app, real_engine, seed):
    client = make_app(real_engine).test_client()
    rnd = random.Random(seed)
    seen = set()
    for _ in range(150):
        path = rnd.choice(REQUESTS)
        body = json.loads(path.read_text(encoding="utf-8"))
        body.pop("fhirServer", None)  # nothing to fetch from: missing data must give 412, not a network call
        for _ in range(rnd.randint(1, 5)):
            _mutate(rnd, body)
        response = client.post(f"/cds-services/{_service_of(path)}", data=json.dumps(body),
                               content_type="application/json")
        seen.add(response.status_code)
        assert response.status_code < 500, (path.name, response.get_json())
        payload = response.get_json()
        if response.status_code >= 400:
            assert payload["error"] and payload["message"]
        else:
            assert isinstance(payload["cards"], list)
    assert 200 in seen and 400 in seen
