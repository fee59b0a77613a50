"""``cds-service load-fixtures`` and ``cds-service sandbox``: the EHR side, from a terminal.

``load-fixtures`` puts the bundled fixture patients into any FHIR R4 server
(idempotent PUTs with the fixtures' ids, transactions of at most 50 entries);
``sandbox`` then plays the EHR: discovery, prefetch from that server, a signed
hook call, and the cards printed as a clinician would see them. Both are added
to the ``cds-service`` group in ``cds_service/cli.py``; the pieces live in
``cds_service/ehr/``.
"""

from __future__ import annotations

import json
import sys
from datetime import datetime, timezone
from pathlib import Path

import click

from cds_service.ehr.client import CdsClient, CdsClientError, services_for
from cds_service.ehr.fhir import FhirError, FhirRestClient
from cds_service.ehr.fixtures import (
    FIXTURE_NOW,
    DateShift,
    FixtureLoader,
    LoadResult,
    case_titles,
    read_bundles,
    read_cases,
)
from cds_service.ehr.prefetch import run_prefetch
from cds_service.ehr.render import print_calls
from cds_service.ehr.request import DEFAULT_USER, HOOKS, RequestError, build_request, read_draft_orders
from cds_service.ehr.signing import DEFAULT_ISSUER, TOKEN_LIFETIME, EhrKey, write_jwks
from cds_service.terminal import printable


def _key_dir() -> Path:
    from cds_service.config import data_dir  # the service's per-user data directory

    return data_dir() / "ehr-sandbox"


# -- load-fixtures ------------------------------------------------------------------

@click.command("load-fixtures")
@click.option("--fhir-server", "fhir_server", required=True, metavar="URL",
              help="FHIR R4 base URL to load into, e.g. http://127.0.0.1:8090/fhir")
@click.option("--patients", default=None, metavar="ID,...",
              help="Only these fixture patients (comma-separated ids); default: all of them.")
@click.option("--shift-dates/--no-shift-dates", default=True, show_default=True,
              help=f"Move every date by whole days, from {FIXTURE_NOW:%Y-%m-%d} to today (times of day stay as "
                   "written), so the patients look current.")
@click.option("--timeout", default=60.0, show_default=True, help="Seconds per FHIR request.")
def load_fixtures(fhir_server: str, patients: str | None, shift_dates: bool, timeout: float) -> None:
    """Load the bundled fixture patients into a FHIR R4 server (reruns update, never duplicate)."""
    ids = [p.strip() for p in patients.split(",") if p.strip()] if patients else None
    try:
        bundles = read_bundles(ids)
    except KeyError as exc:
        raise click.BadParameter(f"no fixture patient {exc.args[0]}", param_hint="--patients") from None
    if not bundles:
        raise click.ClickException("no fixture patients are bundled with this installation")
    cases = read_cases()
    titles = case_titles(cases)
    shift = DateShift.to(datetime.now(timezone.utc)) if shift_dates else None
    loader = FixtureLoader(FhirRestClient(fhir_server, timeout=timeout))
    width = max(len("patient id"), *(len(pid) for pid in bundles))
    click.echo(f"{'patient id':<{width}}  {'resources':>9}  case")
    try:  # a row per patient as soon as it is stored
        results = loader.load(bundles, shift, progress=lambda r: _print_row(r, titles, width))
    except FhirError as exc:
        raise click.ClickException(f"cannot reach the FHIR server {fhir_server}: {exc.reason}") from None
    how = "transactions" if loader.use_transactions else "single PUTs (the server refused transactions)"
    moved = f"dates moved by {shift.days:+d} days" if shift else "dates as written"
    total = sum(r.resources for r in results)
    click.echo(f"\n{len(results)} patients, {total} resources into {fhir_server} ({how}; {moved}).")
    failed = [r for r in results if not r.ok]
    for r in failed:
        for err in r.errors:
            click.echo(click.style(printable(f"{r.patient_id}: {err}"), fg="red"), err=True)
    if failed:
        raise click.ClickException(f"{len(failed)} patient(s) were not loaded completely: "
                                   f"{', '.join(r.patient_id for r in failed)}")


def _print_row(r: LoadResult, titles: dict[str, list[str]], width: int) -> None:
    status = "" if r.ok else click.style(f"  ({len(r.errors)} refused)", fg="red", bold=True)
    cases = titles.get(r.patient_id) or ["(no case)"]
    click.echo(f"{r.patient_id:<{width}}  {r.resources:>9}  {cases[0]}{status}")
    for title in cases[1:]:
        click.echo(f"{'':<{width}}  {'':>9}  {title}")


# -- sandbox --------------------------------------------------------------------------

@click.command("sandbox")
@click.option("--fhir-server", "fhir_server", required=True, metavar="URL",
              help="The FHIR R4 base the EHR (and the service) read the patient from.")
@click.option("--patient", "patient_id", required=True, metavar="ID", help="Patient id on that FHIR server.")
@click.option("--hook", type=click.Choice(HOOKS), default=None,
              help="Hook to fire (default: the --service's hook, else patient-view). Every service for it is called.")
@click.option("--service", "service_ids", multiple=True, metavar="ID",
              help="Call only this service (repeatable); default: every service for the hook.")
@click.option("--draft-order", "draft_order_files", multiple=True, type=click.Path(exists=True, dir_okay=False),
              help="JSON file with a draft order, a Bundle of them or a hook request (its draftOrders), "
                   "for order-select/order-sign. Repeatable.")
@click.option("--select", "selections", multiple=True, metavar="ID",
              help="Selected draft order (Type/id or id) for order-select; default: all of them. Repeatable.")
@click.option("--prefetch/--no-prefetch", default=True, show_default=True,
              help="Run the service's prefetch templates against --fhir-server and send the results, as an "
                   "EHR does; without it the service fetches from fhirServer itself.")
@click.option("--service-url", default="http://127.0.0.1:8080", show_default=True, metavar="URL",
              help="Base URL of the CDS service (discovery is {URL}/cds-services).")
@click.option("--user", "user_id", default=DEFAULT_USER, show_default=True, help="context.userId (Type/id).")
@click.option("--jwt/--no-jwt", "use_jwt", default=False, show_default=True,
              help="Sign each call with an ES384 JWT (key kept in --jwt-key); prints the JWKS the service must trust.")
@click.option("--jwt-issuer", default=DEFAULT_ISSUER, show_default=True, help="The JWT's iss.")
@click.option("--jwt-key", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="PEM file of the EHR's P-384 key (created if missing); default: in the service's data directory.")
@click.option("--language", type=click.Choice(["nl", "en"]), default=None,
              help="Card language (sent as Accept-Language); default: the service's.")
@click.option("--json", "as_json", is_flag=True, help="Print the raw JSON answer instead of formatted cards.")
@click.option("--timeout", default=30.0, show_default=True, help="Seconds per HTTP request.")
def sandbox(fhir_server: str, patient_id: str, hook: str | None, service_ids: tuple[str, ...],
            draft_order_files: tuple[str, ...], selections: tuple[str, ...], prefetch: bool, service_url: str,
            user_id: str, use_jwt: bool, jwt_issuer: str, jwt_key: Path | None, language: str | None,
            as_json: bool, timeout: float) -> None:
    """Act as an EHR: fire a hook at the CDS service for one patient and show the cards."""
    signer = _signer(jwt_issuer, jwt_key) if use_jwt else None
    client = CdsClient(service_url, signer=signer, language=language, timeout=timeout)
    try:
        chosen = services_for(client.discover(), hook or "patient-view", service_ids)
    except CdsClientError as exc:
        raise click.ClickException(printable(exc)) from None
    hook = hook or str(chosen[0].get("hook"))
    wrong = [f"{s['id']} serves {s.get('hook')}" for s in chosen if s.get("hook") != hook]
    if wrong:
        raise click.BadParameter(f"{'; '.join(wrong)}, not {hook}", param_hint="--hook")
    try:
        orders = read_draft_orders(draft_order_files)
    except RequestError as exc:
        raise click.BadParameter(printable(exc), param_hint="--draft-order") from None

    fhir = FhirRestClient(fhir_server, timeout=timeout)
    reachable = _open_chart(fhir, patient_id)
    answers = []
    for service in chosen:
        try:
            body = build_request(hook, patient_id=patient_id, fhir_server=fhir_server, user_id=user_id,
                                 draft_orders=orders, selections=selections)
        except RequestError as exc:
            raise click.UsageError(printable(exc)) from None
        if prefetch and reachable and service.get("prefetch"):
            result = run_prefetch(service["prefetch"], body["context"], fhir)
            for key, reason in result.failed.items():
                click.echo(click.style(printable(f"prefetch {key} not sent: {reason}"), fg="yellow"), err=True)
            for key, query in result.not_found.items():
                click.echo(click.style(f"prefetch {key}: {query} does not exist on the FHIR server (sent as null)",
                                       fg="yellow"), err=True)
            if result.prefetch:
                body["prefetch"] = result.prefetch
        try:
            answers.append(client.call(service["id"], body))
        except CdsClientError as exc:
            raise click.ClickException(printable(exc)) from None

    if as_json:
        raw = answers[0].body if len(answers) == 1 else {a.service_id: a.body for a in answers}
        click.echo(json.dumps(raw, indent=2, ensure_ascii=False))
    else:
        print_calls(answers, hook, language)
    if not all(a.ok for a in answers):
        sys.exit(1)


def _open_chart(fhir: FhirRestClient, patient_id: str) -> bool:
    """Read the patient first, as an EHR opening the chart does. A patient the server does not know
    ends the command (exit 1); an unreachable server is one line, and the services are called without
    prefetch (they answer for themselves). Returns whether the FHIR server answered."""
    try:
        fhir.read(f"Patient/{patient_id}")
    except FhirError as exc:
        if exc.status == 404:
            raise click.ClickException(printable(f"patient {patient_id} does not exist on {fhir.base_url}")) from None
        if exc.status is None:
            click.echo(click.style(f"FHIR server {fhir.base_url}: {exc.reason} — nothing prefetched; "
                                   "the services will say what they could not read", fg="yellow"), err=True)
            return False
        click.echo(click.style(printable(f"reading Patient/{patient_id}: {exc}"), fg="yellow"), err=True)
    return True


def _load_key(issuer: str, key_path: Path | None, kid: str | None = None, *, quiet: bool = False) -> EhrKey:
    """The EHR key (created in the data directory on first use), its JWKS written beside it, and the
    settings that make a service trust it printed on stderr."""
    path = key_path or _key_dir() / "ehr-key.pem"
    try:
        key = EhrKey.load_or_create(path, kid)
        jwks_path = write_jwks(key, path.with_name(path.stem + "-jwks.json"))
    except (OSError, ValueError) as exc:
        raise click.ClickException(f"JWT key {path}: {exc}") from None
    if quiet:
        return key
    trusted = json.dumps({issuer: f"file:{jwks_path}"})
    click.echo(click.style("JWT: ", bold=True) + f"{key.algorithm}, iss={issuer}, kid={key.kid}", err=True)
    click.echo(f"     JWKS: {jwks_path}", err=True)
    click.echo(f"     the service must trust it: CDS_JWT_REQUIRED=true CDS_TRUSTED_ISSUERS='{trusted}'", err=True)
    return key


def _signer(issuer: str, key_path: Path | None):
    key = _load_key(issuer, key_path)
    return lambda aud: key.sign(iss=issuer, aud=aud)


# -- token ------------------------------------------------------------------------------

@click.command("token")
@click.option("--service", "service_id", default=None, metavar="ID",
              help="The service the token is for: aud = {--service-url}/cds-services/{ID}. "
                   "Default: the discovery URL.")
@click.option("--feedback", is_flag=True, help="For the service's feedback endpoint (…/{ID}/feedback).")
@click.option("--service-url", default="http://127.0.0.1:8080", show_default=True, metavar="URL",
              help="Base URL of the CDS service as the client calls it (behind a proxy: CDS_PUBLIC_BASE_URL).")
@click.option("--aud", default=None, metavar="URL", help="The exact URL to be called (overrides --service/--service-url).")
@click.option("--jwt-issuer", default=DEFAULT_ISSUER, show_default=True, help="The JWT's iss.")
@click.option("--jwt-key", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="PEM private key: P-384 EC (ES384) or RSA (RS384); created (P-384) if missing. "
                   "Default: the sandbox's key in the service's data directory.")
@click.option("--kid", default=None, help="Key id for the header (default: the key's RFC 7638 thumbprint, "
                                          "as in the JWKS written beside the key).")
@click.option("--lifetime", default=TOKEN_LIFETIME, show_default=True, type=click.IntRange(1, 3600),
              help="Seconds until exp.")
@click.option("-q", "--quiet", is_flag=True, help="Print only the token (nothing on stderr).")
def token(service_id: str | None, feedback: bool, service_url: str, aud: str | None, jwt_issuer: str,
          jwt_key: Path | None, kid: str | None, lifetime: int, quiet: bool) -> None:
    """Print a signed CDS Hooks JWT for one call (e.g. with curl); trust settings go to stderr.

    The service accepts each token once (its jti is remembered) until exp.
    """
    if feedback and not service_id:
        raise click.UsageError("--feedback needs --service")
    if aud is None:
        aud = service_url.rstrip("/") + "/cds-services"
        if service_id:
            aud += f"/{service_id}" + ("/feedback" if feedback else "")
    key = _load_key(jwt_issuer, jwt_key, kid, quiet=quiet)
    if not quiet:
        click.echo(f"     aud={aud}, valid {lifetime} s, for one call", err=True)
    click.echo(key.sign(iss=jwt_issuer, aud=aud, lifetime=lifetime))
