"""The bundled fixture patients: reading them, moving their dates to "now", loading them into a server.

The fixtures (``fixtures/patients/<patient-id>.json``, transaction Bundles with
PUT entries and fixed ids; ``fixtures/cases/*.yaml``, what each case expects)
are written relative to :data:`FIXTURE_NOW`. A demo on another day would show
"MRI 300 days ago" instead of "yesterday", so :class:`DateShift` moves every
date, dateTime and instant by the same amount, keeping all intervals the same.

Loading is idempotent (PUT with the fixtures' ids: a rerun updates, never
duplicates) and portable: transactions of at most 50 entries (Medplum's limit,
well under HAPI's), referenced resources first, and a fall-back to one PUT per
resource for servers that refuse transactions.
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from importlib import resources as importlib_resources
from importlib.resources.abc import Traversable
from typing import Any, Callable, Iterable, Mapping, Sequence

from cds_service.ehr.fhir import FhirError, FhirRestClient
from cds_service.yaml_load import safe_load

FIXTURE_NOW = datetime(2026, 11, 24, 9, 0, tzinfo=timezone.utc)  # = fixtures/gen/builder.py FIXTURE_NOW
MAX_TRANSACTION_ENTRIES = 50
FIXTURE_PACKAGE = "cds_service.fixtures"

Resource = dict[str, Any]


# -- the bundled files -------------------------------------------------------------

def fixture_root() -> Traversable:
    return importlib_resources.files(FIXTURE_PACKAGE)


def bundled_patient_ids(root: Traversable | None = None) -> list[str]:
    folder = (root or fixture_root()) / "patients"
    if not folder.is_dir():
        return []
    return sorted(f.name.removesuffix(".json") for f in folder.iterdir() if f.name.endswith(".json"))


def read_bundles(patient_ids: Iterable[str] | None = None, root: Traversable | None = None) -> dict[str, dict]:
    """Patient id → its transaction Bundle; all bundled patients when ``patient_ids`` is None.

    Raises ``KeyError`` naming the ids that have no bundle.
    """
    root = root or fixture_root()
    available = bundled_patient_ids(root)
    wanted = available if patient_ids is None else list(dict.fromkeys(patient_ids))
    unknown = [pid for pid in wanted if pid not in available]
    if unknown:
        raise KeyError(", ".join(unknown))
    return {
        pid: json.loads((root / "patients" / f"{pid}.json").read_text(encoding="utf-8"))
        for pid in wanted
    }


def read_cases(root: Traversable | None = None) -> list[dict]:
    """Every case of ``fixtures/cases/*.yaml``, in file then document order, with its ``area`` added."""
    folder = (root or fixture_root()) / "cases"
    if not folder.is_dir():
        return []
    cases: list[dict] = []
    for f in sorted(folder.iterdir(), key=lambda t: t.name):
        if not f.name.endswith((".yaml", ".yml")):
            continue
        for case in safe_load(f.read_text(encoding="utf-8")) or ():
            cases.append({"area": f.name.rsplit(".", 1)[0], **case})
    return cases


def case_patient_id(case: Mapping[str, Any]) -> str:
    return str(case.get("patient", case["id"]))


def case_titles(cases: Iterable[Mapping[str, Any]]) -> dict[str, list[str]]:
    """Patient id → the titles of the cases that use that patient."""
    titles: dict[str, list[str]] = {}
    for case in cases:
        titles.setdefault(case_patient_id(case), []).append(str(case.get("title", case["id"])))
    return titles


def case_context(case: Mapping[str, Any], hook: str, user_id: str = "Practitioner/ehr-sandbox") -> dict:
    """The hook ``context`` for a fixture case, as the engine-level case tests build it.

    Order hooks get the case's ``draft_orders`` Bundle as written (an empty one if it has none);
    order-select gets exactly the case's ``selections`` (possibly none).
    """
    context: dict[str, Any] = {"userId": user_id, "patientId": case_patient_id(case)}
    if hook in ("order-select", "order-sign"):
        context["draftOrders"] = case.get("draft_orders") or {"resourceType": "Bundle", "type": "collection",
                                                             "entry": []}
        if hook == "order-select":
            context["selections"] = list(case.get("selections") or [])
    return context


def service_patient_ids(cases: Iterable[Mapping[str, Any]]) -> set[str]:
    """Patients of cases with service expectations (not the ``facts_only`` test data of the facts layer,
    some of which is deliberately malformed and is refused by validating FHIR servers)."""
    return {case_patient_id(case) for case in cases if case.get("expect")}


def bundle_resources(bundle: Mapping[str, Any]) -> list[Resource]:
    return [e["resource"] for e in bundle.get("entry") or () if isinstance(e.get("resource"), dict)]


# -- date shifting -------------------------------------------------------------------

_FULL_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})?)?$")
_PARTIAL_DATE = re.compile(r"^\d{4}(-\d{2})?$")
_CLOCK = re.compile(r"\d{2}:\d{2}(:\d{2})?(\.\d+)?")
# Elements whose strings are never dates, even when they look like one (codes, identifiers, text).
_NOT_DATES = frozenset({
    "id", "code", "system", "value", "version", "display", "text", "reference", "url", "uid", "div", "unit",
    "valueString", "valueCode", "valueId", "valueUri", "valueUrl", "valueCanonical", "valueMarkdown",
    "valueOid", "valueUuid", "title", "name", "family", "given", "description", "comment", "fullUrl",
})


def _is_date_key(key: str) -> bool:
    """Whether a year or year-month string under ``key`` is a (partial) date: the FHIR date element names."""
    return key in ("start", "end", "issued", "started", "authoredOn", "recorded") or key.lower().endswith(
        ("date", "datetime", "instant")
    )


@dataclass(frozen=True)
class DateShift:
    """Moves FHIR date/dateTime/instant strings: times by ``delta``, calendar dates by ``days``
    (:meth:`to` makes both the same whole number of days)."""

    delta: timedelta
    days: int

    @classmethod
    def to(cls, now: datetime, origin: datetime = FIXTURE_NOW) -> "DateShift":
        """The shift that moves ``origin``'s calendar day (FIXTURE_NOW, UTC) onto ``now``'s, in whole days.

        Whole days keep every clock time as written (a 09:00 onset stays 09:00) and every interval
        the same; "now" in the shifted fixtures is today at FIXTURE_NOW's time of day.
        """
        if now.tzinfo is None:
            raise ValueError("now needs a time zone")
        days = (now.astimezone(timezone.utc).date() - origin.astimezone(timezone.utc).date()).days
        return cls(delta=timedelta(days=days), days=days)

    @property
    def is_identity(self) -> bool:
        return not self.delta and not self.days

    def apply(self, value: Any) -> Any:
        """A shifted deep copy of a resource (or any JSON value)."""
        if self.is_identity:
            return copy.deepcopy(value)
        return self._walk(value, "")

    def _walk(self, value: Any, key: str) -> Any:
        if isinstance(value, dict):
            return {k: self._walk(v, k) for k, v in value.items()}
        if isinstance(value, list):
            return [self._walk(v, key) for v in value]
        if isinstance(value, str) and key not in _NOT_DATES:
            if _FULL_DATE.match(value):
                return self.shift_text(value)
            if _PARTIAL_DATE.match(value) and _is_date_key(key):
                return self.shift_text(value)
        return value

    def shift_text(self, text: str) -> str:
        """Shift one FHIR date/dateTime/instant string, keeping its precision and time zone notation."""
        if "T" not in text:
            parts = text.split("-")
            day = date(int(parts[0]), int(parts[1]) if len(parts) > 1 else 1, int(parts[2]) if len(parts) > 2 else 1)
            shifted = day + timedelta(days=self.days)
            return "-".join([f"{shifted.year:04d}", f"{shifted.month:02d}", f"{shifted.day:02d}"][: len(parts)])
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        naive = moment.tzinfo is None
        shifted = (moment.replace(tzinfo=timezone.utc) if naive else moment) + self.delta
        shifted = shifted.astimezone(moment.tzinfo) if not naive else shifted.replace(tzinfo=None)
        clock = _CLOCK.match(text.split("T", 1)[1])
        seconds, fraction = (clock.group(1), clock.group(2)) if clock else (":00", None)
        if fraction:
            timespec = "milliseconds" if len(fraction) <= 4 else "microseconds"
        else:
            timespec = "seconds" if seconds else "minutes"
        out = shifted.isoformat(timespec=timespec)
        if text.endswith("Z"):
            out = out.replace("+00:00", "Z")
        return out


def shift_bundle(bundle: Mapping[str, Any], shift: DateShift | None) -> dict:
    """A copy of a fixture Bundle with the dates of its resources shifted (entries' requests untouched)."""
    out = copy.deepcopy(dict(bundle))
    if shift is None or shift.is_identity:
        return out
    for entry in out.get("entry") or ():
        if isinstance(entry.get("resource"), dict):
            entry["resource"] = shift.apply(entry["resource"])
    return out


# -- loading into a server --------------------------------------------------------------

_REFERENCE = re.compile(r"^([A-Z][A-Za-z]+)/([A-Za-z0-9\-.]{1,64})$")


def _references(value: Any) -> Iterable[str]:
    if isinstance(value, dict):
        ref = value.get("reference")
        if isinstance(ref, str) and _REFERENCE.match(ref):
            yield ref
        for v in value.values():
            yield from _references(v)
    elif isinstance(value, list):
        for v in value:
            yield from _references(v)


def dependency_order(resources: Sequence[Resource]) -> list[Resource]:
    """The resources with every referenced resource (of the same set) before the ones that reference it.

    Servers that check referential integrity on write (HAPI's default) accept
    the chunks in this order; the original order is kept wherever it allows.
    """
    by_key = {f"{r['resourceType']}/{r['id']}": r for r in resources}
    done: set[str] = set()
    out: list[Resource] = []

    def visit(key: str, path: tuple[str, ...]) -> None:
        if key in done or key in path:  # a cycle: keep the original order for it
            return
        resource = by_key[key]
        for ref in _references(resource):
            if ref in by_key and ref != key:
                visit(ref, path + (key,))
        if key not in done:
            done.add(key)
            out.append(resource)

    for r in resources:
        visit(f"{r['resourceType']}/{r['id']}", ())
    return out


def transaction_bundles(resources: Sequence[Resource], base_url: str,
                        size: int = MAX_TRANSACTION_ENTRIES) -> list[dict]:
    """Transaction Bundles of at most ``size`` PUT entries, in :func:`dependency_order`."""
    if not 1 <= size <= MAX_TRANSACTION_ENTRIES:
        raise ValueError(f"size must be between 1 and {MAX_TRANSACTION_ENTRIES}")
    ordered = dependency_order(resources)
    base = base_url.rstrip("/")
    return [
        {
            "resourceType": "Bundle",
            "type": "transaction",
            "entry": [
                {
                    "fullUrl": f"{base}/{r['resourceType']}/{r['id']}",
                    "resource": r,
                    "request": {"method": "PUT", "url": f"{r['resourceType']}/{r['id']}"},
                }
                for r in ordered[i:i + size]
            ],
        }
        for i in range(0, len(ordered), size)
    ]


@dataclass
class LoadResult:
    """What happened to one patient's bundle."""

    patient_id: str
    resources: int
    transactions: int = 0  # chunks stored by a transaction
    single_puts: int = 0  # resources stored one by one (fall-back)
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


# Statuses with which a server says "no transactions here" rather than "this content is wrong".
_NO_TRANSACTIONS = frozenset({404, 405, 501})


class FixtureLoader:
    """Loads fixture bundles into one FHIR server; remembers whether it takes transactions."""

    def __init__(self, client: FhirRestClient, *, chunk_size: int = MAX_TRANSACTION_ENTRIES,
                 use_transactions: bool = True) -> None:
        self.client = client
        self.chunk_size = chunk_size
        self.use_transactions = use_transactions

    def load(self, bundles: Mapping[str, Mapping[str, Any]], shift: DateShift | None = None,
             progress: Callable[[LoadResult], None] | None = None) -> list[LoadResult]:
        results = []
        for pid, bundle in bundles.items():
            result = self.load_one(pid, shift_bundle(bundle, shift))
            if progress:
                progress(result)
            results.append(result)
        return results

    def load_one(self, patient_id: str, bundle: Mapping[str, Any]) -> LoadResult:
        resources = bundle_resources(bundle)
        result = LoadResult(patient_id=patient_id, resources=len(resources))
        for chunk in transaction_bundles(resources, self.client.base_url, self.chunk_size):
            if self.use_transactions:
                try:
                    self._check_transaction(self.client.transaction(chunk))
                    result.transactions += 1
                    continue
                except FhirError as exc:
                    if exc.status is None:
                        raise  # the server is not reachable: nothing else will work either
                    if exc.status in _NO_TRANSACTIONS:
                        self.use_transactions = False
            for entry in chunk["entry"]:
                try:
                    self.client.put(entry["resource"])
                    result.single_puts += 1
                except FhirError as exc:
                    if exc.status is None:
                        raise
                    result.errors.append(f"{entry['request']['url']}: {exc}")
        return result

    @staticmethod
    def _check_transaction(response: Mapping[str, Any]) -> None:
        if response.get("resourceType") != "Bundle" or response.get("type") != "transaction-response":
            raise FhirError("the answer to a transaction is not a transaction-response Bundle", status=500)
        for entry in response.get("entry") or ():
            status = str((entry.get("response") or {}).get("status", ""))
            if not status[:1] == "2":
                raise FhirError(f"a transaction entry failed: {status}", status=500)
