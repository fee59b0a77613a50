"""What a hook call costs over HTTP, against the floor of just receiving and parsing it — one run, one table.

    .venv/bin/python benchmarks/bench_hook.py          # or: make bench (a few minutes)

In a single run on this machine:

1. generates realistic patients of 50, 300 and 3,000 resources (``patients.py``) and loads them into
   the Node FHIR server of the integration tests (``integration/fhir-server``), in transactions;
2. starts the service (``cds_service.wsgi:app``) and a baseline Flask app that only parses the request
   and answers ``{"cards": []}`` (``baseline_app.py``) under gunicorn with identical settings
   (2 workers, gthread);
3. sends ``patient-view`` requests to ``brain-metastases`` with full prefetch for each patient, at
   concurrency 1 and 8, alternating blocks of baseline and service so machine noise hits both alike;
4. sends the same without prefetch, so the service fetches every key from the FHIR server, and
   separately times each prefetch query (all pages) against that server directly;
5. prints p50 / p95 / p99 latency and throughput per scenario, the four ratios with their targets,
   and the RSS of every worker after warm-up and after 10,000 requests.

Ratios are the point: the machine is shared and absolute numbers move by tens of percent between
runs, ratios measured in the same run much less. ``--strict`` exits with status 1 when a ratio
misses its target. ``--stages`` adds the in-process split of one call into its stages (where the
time goes). Only loopback addresses are used; every server is stopped at the end.
"""

from __future__ import annotations

import argparse
import math
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence
from urllib.parse import urlsplit

import orjson

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
FHIR_SERVER_DIR = ROOT / "integration" / "fhir-server"
sys.path.insert(0, str(HERE))  # patients.py, baseline_app.py (``cds_service`` stays the installed package)

from patients import FIXTURE_NOW, hook_request, realistic_patient, transaction_bundle  # noqa: E402

from cds_service.ehr.fhir import FhirRestClient  # noqa: E402
from cds_service.ehr.fixtures import FixtureLoader  # noqa: E402
from cds_service.services import PREFETCH, SERVICES_BY_ID  # noqa: E402

SERVICE_ID = "brain-metastases"
HOST = "127.0.0.1"
TARGETS = {  # ratio name -> (comparison, target)
    "latency": ("<=", 2.0),
    "throughput": (">=", 0.5),
    "fetch": ("<=", 1.5),
    "scaling": ("<=", 10.0),
}


# -- a minimal keep-alive HTTP/1.1 client ------------------------------------------------------
# Raw sockets and prebuilt request bytes: the load generator shares the CPUs with the servers, so
# it must cost next to nothing per request (http.client's header parsing alone would be visible).

class HttpError(Exception):
    pass


class Connection:
    """One persistent connection; ``request`` sends prebuilt bytes and returns (status, body)."""

    def __init__(self, port: int, timeout: float = 60.0) -> None:
        self.port = port
        self.timeout = timeout
        self.sock: socket.socket | None = None
        self.buf = b""

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None
            self.buf = b""

    def _connect(self) -> socket.socket:
        sock = socket.create_connection((HOST, self.port), timeout=self.timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock, self.buf = sock, b""
        return sock

    def request(self, raw: bytes) -> tuple[int, bytes]:
        for attempt in (0, 1):
            reused = self.sock is not None
            sock = self.sock or self._connect()
            try:
                sock.sendall(raw)
                return self._response(sock)
            except (ConnectionError, HttpError):
                self.close()
                if attempt or not reused:  # a fresh connection that fails is a real failure
                    raise
        raise AssertionError("unreachable")

    def _response(self, sock: socket.socket) -> tuple[int, bytes]:
        buf = self.buf
        while b"\r\n\r\n" not in buf:
            chunk = sock.recv(65536)
            if not chunk:
                raise HttpError("connection closed before the response")
            buf += chunk
        head, _, buf = buf.partition(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        status = int(lines[0].split(b" ", 2)[1])
        length, close = None, False
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"connection" and value.strip().lower() == b"close":
                close = True
        if length is None:
            raise HttpError("response without Content-Length")
        parts = [buf]
        have = len(buf)
        while have < length:
            chunk = sock.recv(max(65536, length - have))
            if not chunk:
                raise HttpError("connection closed in the response body")
            parts.append(chunk)
            have += len(chunk)
        data = b"".join(parts)
        body, self.buf = data[:length], data[length:]
        if close:
            self.close()
        return status, body


def post_bytes(port: int, path: str, body: bytes) -> bytes:
    head = (f"POST {path} HTTP/1.1\r\nHost: {HOST}:{port}\r\nContent-Type: application/json\r\n"
            f"Accept: application/json\r\nContent-Length: {len(body)}\r\n\r\n")
    return head.encode("ascii") + body


def get_bytes(port: int, path: str) -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: {HOST}:{port}\r\nAccept: application/fhir+json\r\n\r\n".encode("ascii")


# -- statistics ----------------------------------------------------------------------------------

def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100)."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


@dataclass
class Cell:
    """One row of the table: a scenario measured over many requests."""

    server: str  # baseline | service | service, no prefetch
    resources: int
    concurrency: int
    latencies: list[float] = field(default_factory=list)
    wall: float = 0.0
    errors: int = 0
    statuses: dict[int, int] = field(default_factory=dict)
    cpu: float = 0.0  # CPU seconds of the server's worker processes while this cell ran

    @property
    def cpu_per_request(self) -> float:
        return self.cpu / len(self.latencies) if self.latencies else float("nan")

    @property
    def p50(self) -> float:
        return percentile(self.latencies, 50)

    @property
    def throughput(self) -> float:
        return len(self.latencies) / self.wall if self.wall else 0.0

    def row(self) -> str:
        lat = self.latencies
        return (f"{self.server:24} {self.resources:6d} {self.concurrency:5d} {len(lat):6d} "
                f"{percentile(lat, 50) * 1000:9.2f} {percentile(lat, 95) * 1000:9.2f} "
                f"{percentile(lat, 99) * 1000:9.2f} {self.throughput:9.1f} {self.cpu_per_request * 1000:9.2f} "
                f"{self.errors:6d}")


HEADER = (f"{'server':24} {'res.':>6} {'conc':>5} {'n':>6} {'p50 ms':>9} {'p95 ms':>9} {'p99 ms':>9} "
          f"{'req/s':>9} {'CPU ms/r':>9} {'errors':>6}")


class Load:
    """Sends prebuilt requests at a given concurrency over persistent connections (one per thread)."""

    def __init__(self) -> None:
        self.pool: dict[tuple[int, int], Connection] = {}
        self.sent: dict[int, int] = {}  # port -> requests sent
        self.workers: dict[int, list[int]] = {}  # port -> pids whose CPU time a cell counts

    def conn(self, port: int, slot: int) -> Connection:
        key = (port, slot)
        if key not in self.pool:
            self.pool[key] = Connection(port)
        return self.pool[key]

    def close(self) -> None:
        for conn in self.pool.values():
            conn.close()

    def run(self, port: int, raws: Sequence[bytes], count: int, concurrency: int, cell: Cell | None = None,
            expect: int = 200) -> Cell:
        """``count`` requests (cycling through ``raws``), ``concurrency`` at a time; adds to ``cell``."""
        cell = cell or Cell("", 0, concurrency)
        lock = threading.Lock()
        next_index = iter(range(count))

        def worker(slot: int) -> None:
            conn = self.conn(port, slot)
            latencies: list[float] = []
            statuses: dict[int, int] = {}
            while True:
                with lock:
                    i = next(next_index, None)
                if i is None:
                    break
                raw = raws[i % len(raws)]
                started = time.perf_counter()
                try:
                    status, _ = conn.request(raw)
                except (OSError, HttpError):
                    status = 0
                latencies.append(time.perf_counter() - started)
                statuses[status] = statuses.get(status, 0) + 1
            with lock:
                cell.latencies.extend(latencies)
                for status, n in statuses.items():
                    cell.statuses[status] = cell.statuses.get(status, 0) + n
                    if status != expect:
                        cell.errors += n

        pids = self.workers.get(port, ())
        cpu_before = sum(cpu_seconds(pid) for pid in pids)
        started = time.perf_counter()
        if concurrency == 1:
            worker(0)
        else:
            threads = [threading.Thread(target=worker, args=(slot,)) for slot in range(concurrency)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
        cell.wall += time.perf_counter() - started
        cell.cpu += sum(cpu_seconds(pid) for pid in pids) - cpu_before
        self.sent[port] = self.sent.get(port, 0) + count
        return cell


# -- servers ------------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def wait_http(port: int, proc: subprocess.Popen, what: str, log: Path, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"{what} exited with status {proc.returncode}:\n{tail(log)}")
        try:
            conn = Connection(port, timeout=2)
            conn.request(get_bytes(port, "/cds-services"))
            conn.close()
            return
        except (OSError, HttpError):
            time.sleep(0.1)
    raise SystemExit(f"{what} did not answer within {timeout:g} s:\n{tail(log)}")


def tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


class Processes:
    """Every process this run starts, stopped (by its own pid) at the end."""

    def __init__(self) -> None:
        self.procs: list[subprocess.Popen] = []

    def start(self, args: Sequence[str], log: Path, **kw) -> subprocess.Popen:
        out = open(log, "wb")
        proc = subprocess.Popen(list(args), stdout=out, stderr=subprocess.STDOUT, **kw)
        out.close()
        self.procs.append(proc)
        return proc

    def stop_all(self) -> None:
        for proc in reversed(self.procs):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)


def start_fhir_server(procs: Processes, tmp: Path) -> str:
    if not (FHIR_SERVER_DIR / "node_modules" / "@medplum" / "fhir-router").is_dir():
        raise SystemExit("integration/fhir-server/node_modules is missing: run `make fhir-server` "
                         "(npm ci --prefix integration/fhir-server)")
    node = shutil.which("node")
    if node is None:
        raise SystemExit("`node` is not on PATH (the FHIR server of the integration tests needs Node.js ≥ 20)")
    log = tmp / "fhir-server.log"
    proc = procs.start([node, "server.mjs", "--port", "0"], log, cwd=FHIR_SERVER_DIR)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        text = log.read_text(errors="replace")
        for line in text.splitlines():
            if line.startswith("listening "):
                return line.removeprefix("listening ").strip()
        if proc.poll() is not None:
            break
        time.sleep(0.1)
    raise SystemExit(f"the FHIR server did not start:\n{tail(log)}")


def start_gunicorn(procs: Processes, tmp: Path, name: str, app: str, env: dict[str, str],
                   workers: int, threads: int) -> tuple[int, subprocess.Popen]:
    """``python -m gunicorn`` with the same settings for every app; the working directory is ``tmp``
    (gunicorn puts it on ``sys.path``; the checkout must not shadow the installed package)."""
    port = free_port()
    log = tmp / f"{name}.log"
    args = [sys.executable, "-m", "gunicorn", "--chdir", str(tmp), "--pythonpath", str(HERE),
            "-w", str(workers), "-k", "gthread", "--threads", str(threads), "--keep-alive", "75",
            "-b", f"{HOST}:{port}", "--log-level", "warning", app]
    proc = procs.start(args, log, cwd=tmp, env=env)
    wait_http(port, proc, f"gunicorn {app}", log)
    return port, proc


def worker_pids(master: int) -> list[int]:
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == master:
            pids.append(int(entry))
    return sorted(pids)


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (all its threads), from /proc."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def rss_mib(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


# -- the FHIR server, directly ------------------------------------------------------------------

def fetch_all_pages(conn: Connection, port: int, base_path: str, query: str) -> int:
    """GET one prefetch query and every ``next`` page; the number of resources it yields."""
    path = f"{base_path}/{query}"
    count = 0
    for _ in range(100):
        status, body = conn.request(get_bytes(port, path))
        if status != 200:
            raise HttpError(f"HTTP {status} for a prefetch query")
        data = orjson.loads(body)
        if data.get("resourceType") != "Bundle":
            return 1
        count += len(data.get("entry") or ())
        nxt = next((link["url"] for link in data.get("link") or () if link.get("relation") == "next"), None)
        if not nxt:
            return count
        parts = urlsplit(nxt)
        path = parts.path + (f"?{parts.query}" if parts.query else "")
    raise HttpError("more than 100 pages")


def time_prefetch_queries(fhir_base: str, pid: str, repeats: int) -> dict[str, tuple[float, int]]:
    """Prefetch key -> (p50 seconds over ``repeats`` runs, resources), each query alone, connection reused."""
    parts = urlsplit(fhir_base)
    conn = Connection(parts.port)
    out = {}
    try:
        for key in SERVICES_BY_ID[SERVICE_ID].prefetch_keys:
            query = PREFETCH[key].query.replace("{{context.patientId}}", pid)
            found = fetch_all_pages(conn, parts.port, parts.path, query)  # warm-up
            times = []
            for _ in range(repeats):
                started = time.perf_counter()
                fetch_all_pages(conn, parts.port, parts.path, query)
                times.append(time.perf_counter() - started)
            out[key] = (statistics.median(times), found)
    finally:
        conn.close()
    return out


def time_parallel_queries(fhir_base: str, pid: str, repeats: int) -> float:
    """p50 seconds of fetching every prefetch query at once (one connection per query, reused): what
    the service's parallel fetch could achieve at best against this server."""
    parts = urlsplit(fhir_base)
    queries = [PREFETCH[key].query.replace("{{context.patientId}}", pid)
               for key in SERVICES_BY_ID[SERVICE_ID].prefetch_keys]
    conns = [Connection(parts.port) for _ in queries]
    times = []
    try:
        for i in range(repeats + 1):
            threads = [threading.Thread(target=fetch_all_pages, args=(conn, parts.port, parts.path, query))
                       for conn, query in zip(conns, queries)]
            started = time.perf_counter()
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            if i:  # the first round opens the connections
                times.append(time.perf_counter() - started)
    finally:
        for conn in conns:
            conn.close()
    return statistics.median(times)


# -- the run ------------------------------------------------------------------------------------

@dataclass
class Plan:
    sizes: tuple[int, ...]
    requests: dict[int, int]  # resources -> requests per cell at concurrency 1 (×2 at concurrency 8)
    blocks: int
    query_repeats: dict[int, int]
    total: int  # service requests before the second RSS reading
    workers: int
    threads: int


def plan_for(args: argparse.Namespace) -> Plan:
    sizes = tuple(sorted(int(s) for s in args.sizes.split(",")))
    scale = args.scale
    base = {n: max(4, int(scale * (600 if n <= 100 else 400 if n <= 1000 else 60))) for n in sizes}
    repeats = {n: max(2, int(scale * (30 if n <= 1000 else 8))) for n in sizes}
    return Plan(sizes, base, args.blocks, repeats, args.total, args.workers, args.threads)


def measure_pair(load: Load, ports: dict[str, int], raws: dict[str, bytes], n: int, concurrency: int,
                 blocks: int, resources: int) -> tuple[Cell, Cell]:
    """Baseline and service alternately, the same requests, so that load from other processes hits both
    alike: request by request at concurrency 1, in ``blocks`` blocks per server at higher concurrency."""
    base = Cell("baseline (parse only)", resources, concurrency)
    ours = Cell("service", resources, concurrency)
    per_block = 1 if concurrency == 1 else max(concurrency, n // blocks)
    done = 0
    while done < n:
        k = min(per_block, n - done)
        load.run(ports["baseline"], [raws["baseline"]], k, concurrency, base)
        load.run(ports["service"], [raws["service"]], k, concurrency, ours)
        done += k
    return base, ours


def stage_split(n_resources: int, calls: int) -> None:
    """In-process: median time of each stage of one call (the same functions ``invoke`` runs)."""
    from cds_service.engine import Engine
    from cds_service.fhir.client import FhirClient
    from cds_service.fhir.prefetch import FhirServerPolicy, PrefetchResolver
    from cds_service.hooks.invoke import dump_json
    from cds_service.hooks.validation import parse_json, validate_hook_request

    engine = Engine.load()
    client = FhirClient()
    resolver = PrefetchResolver(client, FhirServerPolicy(()))
    service = SERVICES_BY_ID[SERVICE_ID]
    body = hook_request(realistic_patient(n_resources), prefetch_keys=PREFETCH)
    stages = ("parse", "validate+prefetch", "extract", "pathways", "render+validate", "serialise")
    times: dict[str, list[float]] = {s: [] for s in stages}
    for i in range(calls + 5):
        t0 = time.perf_counter()
        req = parse_json(body)
        t1 = time.perf_counter()
        validate_hook_request(req, service)
        data = resolver.resolve(service, req)
        t2 = time.perf_counter()
        facts = engine.extract(data, now=FIXTURE_NOW)
        t3 = time.perf_counter()
        ctx = engine.eval_context(service, req["context"], now=FIXTURE_NOW, language="nl")
        findings = engine.findings(service, facts, ctx)
        t4 = time.perf_counter()
        response = engine.respond(findings, facts, ctx, "nl")
        t5 = time.perf_counter()
        dump_json(response)
        t6 = time.perf_counter()
        if i >= 5:
            for stage, a, b in zip(stages, (t0, t1, t2, t3, t4, t5), (t1, t2, t3, t4, t5, t6)):
                times[stage].append(b - a)
        del req, data, facts, ctx, findings, response  # freed untimed
    client.close()
    medians = {s: statistics.median(v) * 1000 for s, v in times.items()}
    print(f"\nstages of one {SERVICE_ID} call in-process, {n_resources} resources, median ms of {calls}:")
    print("  " + "  ".join(f"{s} {medians[s]:.2f}" for s in stages) + f"  (sum {sum(medians.values()):.2f})")


def ratio_line(name: str, label: str, value: float | None) -> tuple[str, bool]:
    """One ratio against its target; a ratio that could not be measured (a size not run) is n/a."""
    op, target = TARGETS[name]
    if value is None or math.isnan(value):
        return f"{label:80} {'n/a':>7}   {op} {target:<5} -", True
    ok = value <= target if op == "<=" else value >= target
    return f"{label:80} {value:7.2f}   {op} {target:<5} {'yes' if ok else 'NO'}", ok


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="50,300,3000", help="patient sizes in resources (default 50,300,3000)")
    parser.add_argument("--scale", type=float, default=1.0, help="multiply every request count (0.02: a smoke run)")
    parser.add_argument("--blocks", type=int, default=20,
                        help="alternating baseline/service blocks per cell at concurrency 8 (1: request by request)")
    parser.add_argument("--total", type=int, default=10_000,
                        help="service requests before the second worker RSS reading (0: skip)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4, help="gunicorn gthread threads per worker")
    parser.add_argument("--stages", action="store_true", help="also print the in-process split of one call")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a ratio misses its target")
    parser.add_argument("--logs", type=Path, help="keep the servers' logs in this directory")
    args = parser.parse_args(argv)
    plan = plan_for(args)
    run_started = time.perf_counter()

    procs = Processes()
    load = Load()
    with tempfile.TemporaryDirectory(prefix="bench-hook-") as tmp_name:
        tmp = Path(tmp_name)
        try:
            ok = run(plan, procs, load, tmp)
        finally:
            load.close()
            procs.stop_all()
            if args.logs:
                args.logs.mkdir(parents=True, exist_ok=True)
                for log in tmp.glob("*.log"):
                    shutil.copy(log, args.logs / log.name)
    if args.stages:
        stage_split(300 if 300 in plan.sizes else plan.sizes[-1], int(max(20, 200 * args.scale)))
    print(f"\nwhole run: {time.perf_counter() - run_started:.0f} s")
    return 0 if ok or not args.strict else 1


def run(plan: Plan, procs: Processes, load: Load, tmp: Path) -> bool:
    patients = {n: realistic_patient(n) for n in plan.sizes}

    started = time.perf_counter()
    fhir_base = start_fhir_server(procs, tmp)
    fhir_started = time.perf_counter() - started
    started = time.perf_counter()
    loader = FixtureLoader(FhirRestClient(fhir_base))
    results = loader.load({rs[0]["id"]: transaction_bundle(rs) for rs in patients.values()})
    for result in results:
        if not result.ok:
            raise SystemExit(f"the FHIR server refused resources of {result.patient_id}: {result.errors[:3]}")
    loaded = time.perf_counter() - started
    print(f"FHIR server {fhir_base}: started in {fhir_started:.1f} s; {sum(plan.sizes)} resources loaded in "
          f"{loaded:.1f} s ({sum(r.transactions for r in results)} transactions)")

    common = {k: v for k, v in os.environ.items() if not k.startswith("CDS_")}
    service_env = dict(common, CDS_ALLOWED_FHIR_SERVERS=fhir_base, CDS_JWT_REQUIRED="false",
                       CDS_DATABASE=str(tmp / "feedback.sqlite3"), CDS_FIXED_NOW=FIXTURE_NOW.isoformat(),
                       CDS_LANGUAGE="nl")
    ports: dict[str, int] = {}
    masters: dict[str, int] = {}
    ports["service"], proc = start_gunicorn(procs, tmp, "service", "cds_service.wsgi:app", service_env,
                                            plan.workers, plan.threads)
    masters["service"] = proc.pid
    ports["baseline"], proc = start_gunicorn(procs, tmp, "baseline", "baseline_app:app", common,
                                             plan.workers, plan.threads)
    masters["baseline"] = proc.pid
    print(f"gunicorn: {plan.workers} workers × {plan.threads} threads (gthread) each; service on port "
          f"{ports['service']}, baseline on port {ports['baseline']}")

    path = f"/cds-services/{SERVICE_ID}"
    bodies = {n: hook_request(rs, prefetch_keys=PREFETCH) for n, rs in patients.items()}
    fetching = {n: hook_request(rs, prefetch_keys=None, fhir_server=fhir_base) for n, rs in patients.items()}
    raws = {n: {name: post_bytes(ports[name], path, bodies[n]) for name in ("service", "baseline")}
            for n in plan.sizes}
    raws_fetch = {n: post_bytes(ports["service"], path, fetching[n]) for n in plan.sizes}

    # Warm-up: every worker sees every request; the answers with and without prefetch must agree.
    for n in plan.sizes:
        checks = {}
        for label, raw, port in (("prefetch", raws[n]["service"], ports["service"]),
                                 ("no prefetch", raws_fetch[n], ports["service"]),
                                 ("baseline", raws[n]["baseline"], ports["baseline"])):
            conn = Connection(port)
            try:
                status, body = conn.request(raw)
            except (OSError, HttpError) as exc:
                raise SystemExit(f"{label}, {n} resources: {type(exc).__name__}: {exc}\n"
                                 f"{tail(tmp / 'service.log')}\n{tail(tmp / 'baseline.log')}") from None
            finally:
                conn.close()
            if status != 200:
                raise SystemExit(f"{label}, {n} resources: HTTP {status} {body[:500]!r}\n{tail(tmp / 'service.log')}")
            checks[label] = [card["source"].get("topic", {}).get("code") for card in orjson.loads(body)["cards"]]
        if checks["prefetch"] != checks["no prefetch"]:
            raise SystemExit(f"{n} resources: cards differ with and without prefetch: {checks}")
        print(f"patient of {n} resources: request {len(bodies[n]) / 1024:.0f} KiB, "
              f"cards {', '.join(checks['prefetch'])}")
    # Every thread of every worker handles the largest requests a few times before RSS is read (the
    # allocator's high-water mark per thread is reached here, not counted as growth later).
    warm = 3 * plan.workers * plan.threads
    for n in plan.sizes:
        load.run(ports["service"], [raws[n]["service"], raws_fetch[n]], warm, 8)
        load.run(ports["baseline"], [raws[n]["baseline"]], warm, 8)
    for name in ("service", "baseline"):
        load.workers[ports[name]] = worker_pids(masters[name])
    rss_warm = {name: {pid: rss_mib(pid) for pid in worker_pids(master)} for name, master in masters.items()}

    cells: list[Cell] = []
    by_key: dict[tuple[str, int, int], Cell] = {}
    for n in plan.sizes:
        for conc in (1, 8):
            count = plan.requests[n] * (1 if conc == 1 else 2)
            base, ours = measure_pair(load, ports, raws[n], count, conc, plan.blocks, n)
            nofetch = load.run(ports["service"], [raws_fetch[n]], max(2, count // 4), conc,
                               Cell("service, no prefetch", n, conc))
            for cell in (base, ours, nofetch):
                cells.append(cell)
                by_key[(cell.server, n, conc)] = cell

    queries = {n: time_prefetch_queries(fhir_base, patients[n][0]["id"], plan.query_repeats[n]) for n in plan.sizes}
    parallel = {n: time_parallel_queries(fhir_base, patients[n][0]["id"], plan.query_repeats[n]) for n in plan.sizes}

    # Up to `total` service requests (a mix of sizes, with and without prefetch), then RSS again.
    sent_service = load.sent.get(ports["service"], 0)
    if plan.total > sent_service:
        small = [n for n in plan.sizes if n <= 300] or list(plan.sizes[:1])
        mix = [raws[n]["service"] for n in small for _ in range(9)] + [raws_fetch[small[0]]]
        load.run(ports["service"], mix, plan.total - sent_service, 8)
    total_sent = load.sent.get(ports["service"], 0)
    rss_after = {name: {pid: rss_mib(pid) for pid in worker_pids(master)} for name, master in masters.items()}

    # -- the report --------------------------------------------------------------------------
    print(f"\npatient-view → {SERVICE_ID}; latency per request (client side, loopback), throughput = "
          f"requests / wall time")
    print(HEADER)
    for cell in cells:
        print(cell.row())
    bad = [c for c in cells if c.errors]
    for cell in bad:
        print(f"  ! {cell.server}, {cell.resources} resources, concurrency {cell.concurrency}: "
              f"statuses {cell.statuses}")

    print("\nprefetch queries against the FHIR server directly (all pages, connection reused), p50 ms:")
    keys = SERVICES_BY_ID[SERVICE_ID].prefetch_keys
    print(f"{'resources':>10} " + " ".join(f"{k[:12]:>12}" for k in keys)
          + f" {'slowest':>12} {'sum':>12} {'all at once':>12}")
    for n in plan.sizes:
        q = queries[n]
        print(f"{n:10d} " + " ".join(f"{q[k][0] * 1000:12.2f}" for k in keys)
              + f" {max(v[0] for v in q.values()) * 1000:12.2f} {sum(v[0] for v in q.values()) * 1000:12.2f}"
              + f" {parallel[n] * 1000:12.2f}")

    mid = 300 if 300 in plan.sizes else plan.sizes[len(plan.sizes) // 2]
    big = max(plan.sizes)

    def get(server: str, n: int, conc: int) -> Cell | None:
        return by_key.get((server, n, conc))

    def safe(f: Callable[[], float]) -> float | None:
        try:
            return f()
        except (AttributeError, ZeroDivisionError, TypeError, ValueError):
            return None

    slowest = {n: max(v[0] for v in queries[n].values()) for n in plan.sizes}
    lines = [
        ratio_line("latency", f"service p50 / baseline p50, {mid} resources, concurrency 1",
                   safe(lambda: get("service", mid, 1).p50 / get("baseline (parse only)", mid, 1).p50)),
        ratio_line("throughput", f"service throughput / baseline throughput, {mid} resources, concurrency 8",
                   safe(lambda: get("service", mid, 8).throughput / get("baseline (parse only)", mid, 8).throughput)),
        ratio_line("fetch", f"no-prefetch p50 / p50 of the slowest single prefetch query, {mid} resources, conc. 1",
                   safe(lambda: get("service, no prefetch", mid, 1).p50 / slowest[mid])),
        ratio_line("scaling", f"service p50 at {big} resources / p50 at {mid} resources, concurrency 1",
                   safe(lambda: get("service", big, 1).p50 / get("service", mid, 1).p50) if big != mid else None),
    ]
    print(f"\n{'ratio':80} {'value':>7}   target")
    for text, _ in lines:
        print(text)
    def ratio(a: float, b: float) -> str:
        return f"{a / b:.2f}" if b and not math.isnan(a) and not math.isnan(b) else "n/a"

    print("\nalso (no targets):")
    print("  no-prefetch p50 / slowest query p50 at every size: "
          + ", ".join(f"{n}: {ratio(get('service, no prefetch', n, 1).p50, slowest[n])}" for n in plan.sizes))
    print("  no-prefetch p50 / p50 of all queries at once, directly (the floor this server allows): "
          + ", ".join(f"{n}: {ratio(get('service, no prefetch', n, 1).p50, parallel[n])}" for n in plan.sizes))
    print("  service / baseline worker CPU per request, concurrency 1 (insensitive to other load): "
          + ", ".join(f"{n}: {ratio(get('service', n, 1).cpu_per_request, get('baseline (parse only)', n, 1).cpu_per_request)}"
                      for n in plan.sizes))

    print(f"\nworker RSS (MiB) after warm-up and after {total_sent:,} service requests:")
    for name in ("service", "baseline"):
        for pid in sorted(set(rss_warm[name]) | set(rss_after[name])):
            before, after = rss_warm[name].get(pid, float("nan")), rss_after[name].get(pid, float("nan"))
            print(f"  {name:9} worker {pid:>7}: {before:7.1f} → {after:7.1f}  ({after - before:+.1f})")
    return all(ok for _, ok in lines) and not bad


if __name__ == "__main__":
    sys.exit(main())
