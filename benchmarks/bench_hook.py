"""Latency of a hook call against the floor: a Flask endpoint that only parses the same body.

For a realistic 300-resource patient (generated here, all prefetched) this prints
the median and p95 time per call of

(a) a bare Flask endpoint that does ``request.get_json()`` and returns ``{"cards": []}``, and
(b) ``POST /cds-services/brain-metastases`` and ``POST /cds-services/neuro-oncology-order-select``,

both through the Flask test client in the same run, the ratio (b)/(a) (target ≤ 2),
the split of one call (b) into its stages (parse, validation + prefetch resolution, extract,
pathways, render+validate, serialise; each timed alone, median over the calls),
and the peak memory of one call (tracemalloc).

    python benchmarks/bench_hook.py [--calls 200] [--resources 300]
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import statistics
import sys
import tempfile
import time
import tracemalloc
import uuid
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from flask import Flask, request  # noqa: E402

from cds_service.app import create_app  # noqa: E402
from cds_service.config import Config  # noqa: E402
from cds_service.hooks.invoke import dump_json  # noqa: E402
from cds_service.hooks.state import CdsState  # noqa: E402
from cds_service.hooks.validation import parse_json, validate_hook_request  # noqa: E402
from cds_service.services import SERVICES_BY_ID  # noqa: E402
from fixtures.gen.builder import (  # noqa: E402
    ATC, FIXTURE_NOW, LNC, LOCAL, SCT, PatientBuilder, ago, draft_orders,
)

PID = "bench-1"
LABS = [  # (LOINC, display, unit, low, high)
    ("718-7", "Hemoglobin", "g/dL", 9.0, 15.0),
    ("2160-0", "Creatinine", "mg/dL", 0.6, 1.4),
    ("1742-6", "ALT", "U/L", 10.0, 60.0),
    ("6690-2", "Leukocytes", "10*3/uL", 3.0, 12.0),
    ("777-3", "Platelets", "10*3/uL", 120.0, 400.0),
    ("2951-2", "Sodium", "mmol/L", 132.0, 146.0),
    ("2823-3", "Potassium", "mmol/L", 3.3, 5.2),
    ("2345-7", "Glucose", "mg/dL", 70.0, 190.0),
]


def build_patient(n_resources: int, seed: int = 7) -> PatientBuilder:
    """A metastatic NSCLC patient with a long record: the shape of a real EHR export."""
    rnd = random.Random(seed)
    p = PatientBuilder(PID, birth_date="1958-03-14", gender="male")
    p.condition((SCT, "254637007", "Non-small cell lung cancer"), onset=ago(days=400))
    p.condition((SCT, "94225005", "Secondary malignant neoplasm of brain"), onset=ago(days=20))
    for i in range(8):
        p.condition((SCT, "38341003", "Hypertension"), onset=ago(days=900 + i), clinical="resolved" if i else "active")
    p.kps(70, days_ago=5)
    for i in range(12):
        p.kps(rnd.choice([60, 70, 80, 90]), days_ago=30 + 20 * i)
        p.ecog(rnd.choice([0, 1, 2]), days_ago=31 + 20 * i)
    for i in range(4):
        p.lesion(rnd.uniform(5, 35), days_ago=14 + i)
    p.mdo(days_ago=40)
    for i in range(6):
        p.procedure((SCT, "387713003", "Surgical procedure"), performed=ago(days=200 + 30 * i))
    for i in range(10):
        p.imaging_study("MR", started=ago(days=14 + 30 * i), body_site=(SCT, "12738006", "Brain structure"))
    for i in range(15):
        p.medication_request((ATC, rnd.choice(["L01EB02", "C09AA02", "A02BC01", "N02BE01"]), "drug"),
                             status=rnd.choice(["active", "completed"]), authored=ago(days=10 * i))
    p.dexamethasone(days_ago=3)
    for i in range(8):
        p.service_request((LNC, "24590-2", "MR Brain"), status="completed", authored=ago(days=30 * i))
    for i in range(10):
        p.encounter((SCT, "394593009", "Medical oncology"), start=ago(days=15 * i))
    while len(p.resources) < n_resources:  # fill up with laboratory results, as real records are
        code, display, unit, low, high = rnd.choice(LABS)
        p.observation((LNC, code, display), (round(rnd.uniform(low, high), 1), unit),
                      effective=ago(days=rnd.uniform(0, 720)))
    return p


def hook_body(p: PatientBuilder, hook: str, service_id: str) -> bytes:
    by_type: dict[str, list[dict]] = {}
    for r in p.resources:
        by_type.setdefault(r["resourceType"], []).append(r)
    service = SERVICES_BY_ID[service_id]
    from cds_service.services import PREFETCH

    prefetch = {}
    for key in service.prefetch_keys:
        spec = PREFETCH[key]
        if not spec.is_search:
            prefetch[key] = by_type[spec.resource_type][0]
        else:
            entries = by_type.get(spec.resource_type, [])
            prefetch[key] = {"resourceType": "Bundle", "type": "searchset", "total": len(entries),
                             "entry": [{"fullUrl": f"{r['resourceType']}/{r['id']}", "resource": r} for r in entries]}
    context = {"userId": "Practitioner/dr-bench", "patientId": PID}
    if hook in ("order-select", "order-sign"):
        srs = {"resourceType": "ServiceRequest", "id": "draft-srs", "status": "draft", "intent": "order",
               "subject": {"reference": f"Patient/{PID}"}, "authoredOn": FIXTURE_NOW.isoformat(),
               "code": {"coding": [{"system": LOCAL, "code": "stereotactic-radiosurgery"}]},
               "reasonCode": [{"coding": [{"system": SCT, "code": "94225005"}]}]}
        context["draftOrders"] = draft_orders(srs)
        context["selections"] = ["ServiceRequest/draft-srs"]
    body = {"hook": hook, "hookInstance": str(uuid.uuid4()), "context": context, "prefetch": prefetch}
    return json.dumps(body).encode("utf-8")


def bare_app() -> Flask:
    app = Flask("bare")

    @app.post("/cds-services/<service_id>")
    def parse_only(service_id: str):
        request.get_json()
        return {"cards": []}

    return app


def measure(call: Callable[[], int], calls: int, warmup: int = 10) -> list[float]:
    for _ in range(warmup):
        status = call()
        if status != 200:
            raise SystemExit(f"warm-up call answered HTTP {status}")
    times = []
    gc.collect()
    for _ in range(calls):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return times


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]


STAGES = ("parse", "prefetch", "extract", "pathways", "render+validate", "serialise")


def stage_split(state: CdsState, body: bytes, service_id: str, calls: int) -> dict[str, float]:
    """Median seconds of each stage of one call, run the way ``invoke`` runs them (same functions)."""
    service = SERVICES_BY_ID[service_id]
    engine = state.engine
    times: dict[str, list[float]] = {stage: [] for stage in STAGES}
    for _ in range(calls):
        t0 = time.perf_counter()
        hook_request = parse_json(body)
        t1 = time.perf_counter()
        validate_hook_request(hook_request, service)
        data = state.resolver.resolve(service, hook_request)
        t2 = time.perf_counter()
        facts = engine.extract(data, now=FIXTURE_NOW)
        t3 = time.perf_counter()
        ctx = engine.eval_context(service, hook_request["context"], now=FIXTURE_NOW, language="nl")
        findings = engine.findings(service, facts, ctx)
        t4 = time.perf_counter()
        response = engine.respond(findings, facts, ctx, "nl")
        t5 = time.perf_counter()
        dump_json(response)
        t6 = time.perf_counter()
        for stage, started, ended in zip(STAGES, (t0, t1, t2, t3, t4, t5), (t1, t2, t3, t4, t5, t6)):
            times[stage].append(ended - started)
        # Free this call's objects here, untimed: otherwise the next call's stages would pay for it.
        del hook_request, data, facts, ctx, findings, response
    return {stage: statistics.median(values) for stage, values in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--resources", type=int, default=300)
    args = parser.parse_args()

    patient = build_patient(args.resources)
    targets = [("patient-view", "brain-metastases"), ("order-select", "neuro-oncology-order-select")]
    bodies = {sid: hook_body(patient, hook, sid) for hook, sid in targets}

    with tempfile.TemporaryDirectory() as tmp:
        config = Config(database=str(Path(tmp) / "feedback.sqlite3"), language="nl")
        started = time.perf_counter()
        app = create_app(config, clock=lambda: FIXTURE_NOW)
        startup = time.perf_counter() - started
        ours = app.test_client()
        bare = bare_app().test_client()
        print(f"patient: {len(patient.resources)} resources; startup (engine load): {startup * 1000:.0f} ms")
        print(f"{'endpoint':58} {'body KB':>8} {'min ms':>7} {'median ms':>10} {'p95 ms':>8} {'ratio':>6} {'cards':>6}")
        for _, sid in targets:
            body = bodies[sid]
            url = f"/cds-services/{sid}"

            def call_bare() -> int:
                return bare.post(url, data=body, content_type="application/json").status_code

            def call_ours() -> int:
                return ours.post(url, data=body, content_type="application/json").status_code

            first = ours.post(url, data=body, content_type="application/json")
            if first.status_code != 200:
                raise SystemExit(f"{url}: HTTP {first.status_code} {first.get_data(as_text=True)[:500]}")
            n_cards = len(first.get_json()["cards"])
            # Interleave the two measurements in blocks so machine noise hits both alike.
            bare_times: list[float] = []
            our_times: list[float] = []
            block = max(args.calls // 10, 1)
            measure(call_bare, 0)
            measure(call_ours, 0)
            for _ in range(0, args.calls, block):
                bare_times += measure(call_bare, block, warmup=1)
                our_times += measure(call_ours, block, warmup=1)
            a_med, b_med = statistics.median(bare_times), statistics.median(our_times)
            print(f"{'(a) parse-only ' + url:58} {len(body) / 1024:8.0f} {min(bare_times) * 1000:7.2f} "
                  f"{a_med * 1000:10.2f} {p95(bare_times) * 1000:8.2f} {'':>6} {'':>6}")
            print(f"{'(b) ' + url:58} {len(body) / 1024:8.0f} {min(our_times) * 1000:7.2f} "
                  f"{b_med * 1000:10.2f} {p95(our_times) * 1000:8.2f} {b_med / a_med:6.2f} {n_cards:6d}")

        state = app.extensions["cds"]
        print("\nstages of one call (b), each timed alone, median ms; the rest of (b) is Flask, JWT guard, "
              "logging, metrics,\nthe feedback store and freeing the request's objects:")
        print(f"{'service':30} " + " ".join(f"{stage:>15}" for stage in STAGES) + f" {'sum':>7}")
        for _, sid in targets:
            split = stage_split(state, bodies[sid], sid, args.calls)
            print(f"{sid:30} " + " ".join(f"{split[stage] * 1000:15.3f}" for stage in STAGES)
                  + f" {sum(split.values()) * 1000:7.3f}")
        print()

        for _, sid in targets:
            body = bodies[sid]
            gc.collect()
            tracemalloc.start()
            ours.post(f"/cds-services/{sid}", data=body, content_type="application/json")
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            print(f"peak memory of one call to {sid}: {peak / 1024 / 1024:.1f} MiB "
                  f"(request body {len(body) / 1024 / 1024:.2f} MiB)")
        app.extensions["cds"].close()
    print("ratio = median (b) / median (a); target ≤ 2")


if __name__ == "__main__":
    main()
