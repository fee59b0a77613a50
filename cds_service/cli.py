"""The ``cds-service`` command line.

- ``serve``: the development server (werkzeug; JWT optional, demo FHIR on by default);
  production runs under gunicorn (``cds_service.wsgi:app``, see the README, "Production");
- ``evaluate REQUEST.json``: one hook request without HTTP — prints the facts
  (value, status, date, source) and then the cards;
- ``feedback-report``: accepted / overridden counts and override reasons per rule id;
- ``rules``: every rule id with its card template's source, indicator, area and services;
- ``sandbox``, ``load-fixtures`` and ``token`` come from :mod:`cds_service.ehr_cli`.
"""

from __future__ import annotations

import importlib
import json
import logging
import os
import sys
from dataclasses import dataclass
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any, Iterable, Sequence

import click

from cds_service import __version__
from cds_service.config import Config, ConfigError
from cds_service.errors import CdsError
from cds_service.services import SERVICES, SERVICES_BY_ID, Service
from cds_service.terminal import printable

log = logging.getLogger("cds_service.cli")


def build_engine(config: Config):
    """The real engine (a function so tests can substitute a small one)."""
    from cds_service.engine import Engine

    return Engine.load(tz=config.timezone)


def _config(**overrides: Any) -> Config:
    try:
        return Config.from_env(**overrides)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="cds-service")
def cli() -> None:
    """neuro-onc-cds: CDS Hooks 2.0 service for the Dutch neuro-oncology guidelines."""


# -- serve ------------------------------------------------------------------------------

@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", default=8080, show_default=True, type=click.IntRange(1, 65535), help="TCP port (1–65535).")
@click.option("--demo-fhir/--no-demo-fhir", default=None,
              help="Serve the bundled fixtures as a read-only FHIR API at /demo/fhir (default: on).")
def serve(host: str, port: int, demo_fhir: bool | None) -> None:
    """Run the development server (for production use gunicorn: see docs)."""
    from werkzeug.serving import run_simple

    from cds_service.app import create_app
    from cds_service.hooks.logs import RedactingRequestHandler
    from cds_service.hooks.logs import configure_logging

    configure_logging()
    if demo_fhir is None and not os.environ.get("CDS_DEMO_FHIR"):
        demo_fhir = True
    config = _config(demo_fhir=demo_fhir)
    if not config.jwt_required:
        log.warning("development server without JWT verification (set CDS_JWT_REQUIRED=true and "
                    "CDS_TRUSTED_ISSUERS to turn it on)")
    app = _startup(create_app, config)
    click.echo(f"CDS Hooks discovery: http://{host}:{port}/cds-services", err=True)
    if config.demo_fhir:
        click.echo(f"Demo FHIR server:    http://{host}:{port}/demo/fhir", err=True)
    try:
        run_simple(host, port, app, threaded=True, use_reloader=False, request_handler=RedactingRequestHandler)
    except OSError as exc:  # port in use, address not available, no permission
        raise click.ClickException(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    finally:
        app.extensions["cds"].close()


def _startup(factory, *args: Any, **kwargs: Any):
    """Build something at startup; a configuration or database problem is one line and exit code 1."""
    from cds_service.feedback_store import StoreUnavailable

    try:
        return factory(*args, **kwargs)
    except (ConfigError, StoreUnavailable) as exc:
        raise click.ClickException(str(exc)) from None


# -- evaluate ---------------------------------------------------------------------------

def _jsonable(value: Any) -> Any:
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, (set, frozenset)):
        return sorted(_jsonable(v) for v in value)
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)


def fact_rows(facts) -> list[dict[str, Any]]:
    """name, value, status, date, source of every fact (the evaluate table)."""
    rows = []
    for name in sorted(facts):
        fact = facts[name]
        status = fact.status.value
        value = fact.value if fact.known else (fact.stale_value if status == "stale" else None)
        source = ", ".join(dict.fromkeys(p.reference for p in fact.provenance))
        if fact.derived_from:
            source = f"{source} (derived from {fact.derived_from})" if source else f"derived from {fact.derived_from}"
        rows.append({
            "name": name,
            "value": _jsonable(value),
            "status": status,
            "date": _jsonable(fact.date),
            "source": source,
            **({"reason": fact.reason} if not fact.known and fact.reason else {}),
        })
    return rows


def _text(value: Any) -> str:
    """A table cell: one line, without control characters (values can come from records and EHRs)."""
    if value is None:
        return "—"
    if isinstance(value, list):
        return ", ".join(printable(v) for v in value) or "(none)"
    return printable(value)


def _table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    rows = [[_text(c) for c in row] for row in rows]
    widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(headers)]
    widths = [min(w, 60) for w in widths]
    line = "  ".join(h.ljust(w) for h, w in zip(headers, widths))
    out = [line, "  ".join("-" * w for w in widths)]
    for row in rows:
        out.append("  ".join(c[:w].ljust(w) for c, w in zip(row, widths)).rstrip())
    return "\n".join(out)


def _parse_now(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise click.BadParameter(f"not an ISO date-time: {text!r}", param_hint="--now") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


@cli.command()
@click.argument("request_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--service", "service_ids", multiple=True, type=click.Choice([s.id for s in SERVICES]),
              help="Service to run (repeatable). Default: every service of the request's hook.")
@click.option("--now", "now_text", help="Evaluation time (ISO 8601), e.g. 2026-11-24T09:00:00Z.")
@click.option("--language", type=click.Choice(["nl", "en"]), help="Card language (default: CDS_LANGUAGE).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of tables.")
def evaluate(request_file: Path, service_ids: tuple[str, ...], now_text: str | None, language: str | None,
             as_json: bool) -> None:
    """Run a hook request (a CDS Hooks request body) without HTTP and print facts and cards.

    Prefetch comes from the file; missing keys are fetched from its fhirServer.
    """
    from cds_service.fhir.client import FhirClient
    from cds_service.fhir.prefetch import FhirServerPolicy, PrefetchResolver
    from cds_service.hooks.invoke import evaluate_request

    try:
        body = json.loads(request_file.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise click.ClickException(f"{request_file}: not a JSON file ({exc})") from None
    if not isinstance(body, dict):
        raise click.ClickException(f"{request_file}: a hook request must be a JSON object")
    config = _config()
    services = [SERVICES_BY_ID[s] for s in service_ids] or [s for s in SERVICES if s.hook == body.get("hook")]
    if not services:
        raise click.ClickException(f"no service answers hook {body.get('hook')!r}; use --service")
    now = _parse_now(now_text) or config.fixed_now or datetime.now(timezone.utc)
    engine = build_engine(config)
    client = FhirClient.from_config(config)
    resolver = PrefetchResolver(client, FhirServerPolicy(config.allowed_fhir_servers, production=False),
                                workers=config.fhir_workers)
    results = []
    try:
        for service in services:
            try:
                ev = evaluate_request(engine, resolver, service, body, now=now, language=language or config.language)
            except CdsError as exc:
                click.echo(f"{service.id}: HTTP {exc.status} {printable(json.dumps(exc.body(), ensure_ascii=False))}",
                           err=True)
                sys.exit(2)
            results.append((service, ev))
    finally:
        resolver.close()
        client.close()

    if as_json:
        out = [{"service": s.id, "now": now.isoformat(), "facts": fact_rows(ev.facts),
                "unavailable": sorted(ev.facts.unavailable_sources), "response": ev.response}
               for s, ev in results]
        click.echo(json.dumps(out[0] if len(out) == 1 else out, ensure_ascii=False, indent=2))
        return
    for service, ev in results:
        _print_evaluation(service, ev, now, language or config.language)


def _print_evaluation(service: Service, ev, now: datetime, language: str) -> None:
    """Facts as a table, then the cards as the sandbox shows them (Markdown rendered, wrapped, NO_COLOR)."""
    from rich import box
    from rich.table import Column, Table
    from rich.text import Text

    from cds_service.ehr.render import card_renderable
    from cds_service.terminal import console

    out = console()
    out.print(Text(f"== {service.id} ({service.hook}) at {now.isoformat()}", "bold"))
    rows = fact_rows(ev.facts)
    table = Table(Column("fact", no_wrap=True), Column("value", overflow="fold"), Column("status", no_wrap=True),
                  *(Column(h, overflow="fold") for h in ("date", "source")),
                  title=f"Facts ({len(rows)})", title_justify="left", box=box.SIMPLE_HEAD, show_edge=False,
                  pad_edge=False)
    for r in rows:
        table.add_row(*(Text(_text(r[k])) for k in ("name", "value", "status", "date", "source")))
    out.print()
    out.print(table)
    facts = ev.facts
    out.print(Text(f"lesions: {len(facts.lesions)}, treatments: {len(facts.treatments)}, "
                   f"MDO discussions: {len(facts.mdo_discussions)}"))
    if facts.unavailable_sources:
        out.print(Text("unavailable prefetch keys: " + ", ".join(sorted(facts.unavailable_sources))))
    for problem in facts.problems:
        out.print(Text(f"unusable: {printable(problem)}"))
    cards = ev.response["cards"]
    out.print()
    out.print(Text(f"Cards ({len(cards)}):", "bold"))
    for card in cards:
        out.print()
        out.print(card_renderable(card, language))
    out.print()


# -- feedback-report --------------------------------------------------------------------

@cli.command("feedback-report")
@click.option("--database", help="SQLite path or postgresql:// URL (default: CDS_DATABASE).")
@click.option("--json", "as_json", is_flag=True)
def feedback_report(database: str | None, as_json: bool) -> None:
    """Accepted / overridden counts and override reasons per rule id."""
    from cds_service.feedback_store import FeedbackStore

    config = _config(database=database)
    store = _startup(FeedbackStore.open, config.database)
    try:
        report = store.report()
    except Exception as exc:  # noqa: BLE001 — sqlite3/psycopg errors: the database went away after opening
        detail = " ".join(str(exc).split()) or type(exc).__name__
        raise click.ClickException(f"feedback report failed ({type(exc).__name__}): {detail}") from None
    finally:
        store.close()
    if as_json:
        click.echo(json.dumps(report, ensure_ascii=False, indent=2))
        return
    if not report:
        click.echo(f"No cards or feedback recorded yet in {config.database}.")
        return
    rows = []
    for rule, data in report.items():
        answered = data["accepted"] + data["overridden"]
        rate = f"{100 * data['accepted'] / answered:.0f}%" if answered else "—"
        reasons = "; ".join(f"{r.get('display') or r.get('code') or '(no reason)'} ×{r['count']}"
                            for r in data["override_reasons"])
        rows.append((rule, data["shown"], data["accepted"], data["overridden"], rate, reasons or "—"))
    click.echo(_table(("rule", "shown", "accepted", "overridden", "accept rate", "override reasons"), rows))


# -- rules ------------------------------------------------------------------------------

@dataclass
class RuleInfo:
    rule_id: str
    services: list[str]
    indicator: str | None
    area: str | None
    source: str | None
    title: str | None

    def as_dict(self) -> dict[str, Any]:
        return {"rule": self.rule_id, "indicator": self.indicator, "area": self.area, "services": self.services,
                "source": self.source, "title": self.title}


def rule_catalogue(language: str = "en") -> tuple[list[RuleInfo], list[str]]:
    """Every rule id the services can emit (from each pathway module's RULES) plus DATA-MISSING.

    Returns the rules and the problems met (pathway modules that could not be imported).
    """
    from cds_service.cards.templates import load_templates
    from cds_service.pathways.common import RULES as COMMON_RULES

    templates = load_templates()
    services_of: dict[str, list[str]] = {}
    problems: list[str] = []
    for service in SERVICES:
        for path in service.pathways:
            module_name = path.partition(":")[0]
            try:
                rules = importlib.import_module(module_name).RULES
            except (ImportError, AttributeError) as exc:
                problem = f"{module_name}: {type(exc).__name__}: {exc}"
                if problem not in problems:
                    problems.append(problem)
                continue
            for rule in rules:
                services_of.setdefault(rule, [])
                if service.id not in services_of[rule]:
                    services_of[rule].append(service.id)
    for rule in COMMON_RULES:
        services_of[rule] = [s.id for s in SERVICES]
    out = []
    for rule in sorted(services_of):
        tpl = templates.templates.get(rule)
        out.append(RuleInfo(
            rule_id=rule,
            services=services_of[rule],
            indicator=tpl.indicator if tpl else None,
            area=tpl.area if tpl else None,
            source=(tpl.source.get(language) or tpl.source.get("en")) if tpl else None,
            title=tpl.title if tpl else None,
        ))
    return out, problems


def rules_markdown(language: str = "en", infos: Sequence[RuleInfo] | None = None) -> str:
    """The rule table of the README: rule id, what it says, indicator, services, guideline source."""
    if infos is None:
        infos, _ = rule_catalogue(language)
    lines = ["| Rule | Card | Indicator | Services | Source |", "|---|---|---|---|---|"]
    for i in infos:
        cells = [f"`{i.rule_id}`", i.title or "", i.indicator or "(no template)",
                 ", ".join(f"`{s}`" for s in i.services), i.source or ""]
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines)


@cli.command()
@click.option("--json", "as_json", is_flag=True)
@click.option("--markdown", is_flag=True, help="A Markdown table (for the README).")
@click.option("--language", type=click.Choice(["nl", "en"]), default="en", show_default=True)
def rules(as_json: bool, markdown: bool, language: str) -> None:
    """Every rule id with its template's source, indicator, area and the services that emit it."""
    infos, problems = rule_catalogue(language)
    for problem in problems:
        click.echo(f"warning: pathway module not importable: {problem}", err=True)
    if as_json:
        click.echo(json.dumps([i.as_dict() for i in infos], ensure_ascii=False, indent=2))
    elif markdown:
        click.echo(rules_markdown(language, infos))
    else:
        click.echo(_table(("rule", "indicator", "area", "services", "source"),
                          [(i.rule_id, i.indicator or "(no template)", i.area, i.services, i.source) for i in infos]))
    if problems:
        sys.exit(1)


# -- entry point ------------------------------------------------------------------------

def build_cli() -> click.Group:
    """The full command group, including the EHR tooling commands of :mod:`cds_service.ehr_cli`."""
    from cds_service import ehr_cli

    cli.add_command(ehr_cli.sandbox, "sandbox")
    cli.add_command(ehr_cli.load_fixtures, "load-fixtures")
    cli.add_command(ehr_cli.token, "token")
    return cli


def main(argv: Sequence[str] | None = None) -> Any:
    return build_cli().main(args=list(argv) if argv is not None else None, prog_name="cds-service")


if __name__ == "__main__":  # pragma: no cover
    main()
