"""The benchmark harness runs end to end in a tiny configuration and prints its table.

No timing is asserted (the machine is shared; the benchmark itself is the performance check):
only that every part ran — both gunicorn apps, the FHIR server, with and without prefetch, the
direct query timing, the ratios and the worker RSS — and that no request failed.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / "benchmarks" / "bench_hook.py"

pytestmark = pytest.mark.integration


def test_tiny_benchmark_run_prints_the_table_and_the_ratios(tmp_path: Path) -> None:
    if not (ROOT / "integration" / "fhir-server" / "node_modules" / "@medplum" / "fhir-router").is_dir():
        pytest.skip("integration/fhir-server/node_modules is not installed: run `make fhir-server`")
    run = subprocess.run(
        [sys.executable, str(BENCH), "--sizes", "50,300", "--scale", "0.01", "--blocks", "1", "--total", "0",
         "--logs", str(tmp_path / "logs")],
        cwd=tmp_path, capture_output=True, text=True, timeout=180,
    )
    out = run.stdout
    assert run.returncode == 0, out[-3000:] + run.stderr[-3000:]
    table = {}
    for line in out.splitlines():
        match = re.match(r"^(baseline \(parse only\)|service, no prefetch|service)\s+(\d+)\s+(\d+)\s+(\d+)\s"
                         r"(.*)\s(\d+)$", line)
        if match:
            server, resources, conc, n, _, errors = match.groups()
            table[(server, int(resources), int(conc))] = (int(n), int(errors))
    expected = {(server, size, conc) for server in ("baseline (parse only)", "service", "service, no prefetch")
                for size in (50, 300) for conc in (1, 8)}
    assert set(table) == expected, out
    assert all(n > 0 and errors == 0 for n, errors in table.values()), out
    for ratio in ("service p50 / baseline p50, 300 resources, concurrency 1",
                  "service throughput / baseline throughput, 300 resources, concurrency 8",
                  "no-prefetch p50 / p50 of the slowest single prefetch query, 300 resources"):
        assert re.search(re.escape(ratio) + r".*\s\d+\.\d\d\s+(<=|>=) \d", out), (ratio, out)
    assert "prefetch queries against the FHIR server directly" in out
    assert len(re.findall(r"^  service   worker .*→", out, re.MULTILINE)) == 2, out
    assert "cards differ" not in out
    assert (tmp_path / "logs" / "service.log").is_file()
