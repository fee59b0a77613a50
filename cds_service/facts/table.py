"""The facts table: every fact as a row for people (``cds-service evaluate`` prints it next to the cards).

``describe_facts(facts, "nl")`` gives rows (name, label, value text, status,
date, source) in catalogue order, so an integrator can see at a glance what the
service read from their record, what was stale and what was missing and why.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Iterable, NamedTuple
from zoneinfo import ZoneInfo

from cds_service.cards.format import format_date, format_value
from cds_service.facts.catalogue import FactCatalogue, load_fact_catalogue
from cds_service.facts.model import Facts, FactStatus

_WORDS = {
    "nl": {"unknown": "onbekend", "stale": "verouderd", "known": "bekend", "derived": "afgeleid van",
           "estimate": "schatting"},
    "en": {"unknown": "unknown", "stale": "out of date", "known": "known", "derived": "derived from",
           "estimate": "estimate"},
}


class FactRow(NamedTuple):
    name: str
    label: str
    value: str
    status: str  # known | stale | unknown
    date: str
    source: str


def describe_facts(facts: Facts, language: str = "nl", *, catalogue: FactCatalogue | None = None,
                   tz: str = "Europe/Amsterdam", names: Iterable[str] | None = None) -> list[FactRow]:
    """One row per fact (all facts, or ``names``), in catalogue order, then the rest alphabetically."""
    catalogue = catalogue or load_fact_catalogue()
    words = _WORDS.get(language, _WORDS["en"])
    zone = ZoneInfo(tz)
    wanted = list(names) if names is not None else list(facts)
    order = {n: i for i, n in enumerate(catalogue.entries)}
    wanted.sort(key=lambda n: (order.get(n, len(order)), n))
    rows = []
    for name in wanted:
        fact = facts[name]
        if fact.status is FactStatus.KNOWN:
            text = format_value(fact.value, language, zone, facts.now)
        elif fact.status is FactStatus.STALE:
            text = f"{format_value(fact.stale_value, language, zone, facts.now)} ({words['stale']})"
        else:
            text = words["unknown"]
            estimate = fact.attrs.get("estimate") if fact.attrs else None
            if estimate is not None:
                text += f" ({words['estimate']} {format_value(float(estimate), language, zone)})"
            elif fact.reason and fact.reason != "not recorded":
                text += f" ({fact.reason})"
        remarks = []
        if fact.derived_from:
            remarks.append(f"{words['derived']} {fact.derived_from}")
        remarks.extend(n for n in fact.notes if n != "nothing recorded" or fact.status is not FactStatus.KNOWN)
        if remarks:
            text += " — " + "; ".join(remarks)
        when = fact.date
        rows.append(FactRow(
            name=name,
            label=catalogue.label(name, language),
            value=text,
            status=fact.status.value,
            date=format_date(when, zone) if isinstance(when, (datetime, date)) else "",
            source=", ".join(dict.fromkeys(p.reference for p in fact.provenance)),
        ))
    return rows


def format_table(rows: Iterable[FactRow], language: str = "nl") -> str:
    """Plain-text table for terminals (the CLI)."""
    head = ("Gegeven", "Waarde", "Status", "Datum", "Bron") if language == "nl" else (
        "Fact", "Value", "Status", "Date", "Source")
    data = [(r.label, r.value, r.status, r.date, r.source) for r in rows]
    widths = [min(60, max([len(h)] + [len(d[i]) for d in data])) for i, h in enumerate(head)]

    def line(cells: tuple[str, ...]) -> str:
        return "  ".join(c[:w].ljust(w) for c, w in zip(cells, widths)).rstrip()

    return "\n".join([line(head), line(tuple("-" * w for w in widths)), *(line(d) for d in data)])
