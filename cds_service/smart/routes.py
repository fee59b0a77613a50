"""``/smart/…``: the SMART app that records the facts a card said were missing.

    GET  /smart/launch?iss=…&launch=…[&service=…]   EHR launch → the EHR's authorize endpoint
    GET  /smart/callback?code=…&state=…              token exchange (PKCE), token kept server-side
    GET  /smart/app                                  the page (LHC-Forms renders the Questionnaire)
    GET  /smart/api/questionnaire[?lang=nl|en]       missing facts of this patient → Questionnaire + cards
    POST /smart/api/save                             answers → QuestionnaireResponse + Observations,
                                                     written with the app's token; then the new cards
    GET  /smart/vendor/lforms/…                      the LHC-Forms build (npm ``lforms``)

The app reads and writes the EHR's FHIR server only with the token it obtained
itself (never a hook's ``fhirAuthorization``), only on an allowed FHIR server.
"""

from __future__ import annotations

import logging
import os
import secrets
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from importlib import resources
from pathlib import Path
from typing import Any

import requests
from flask import Blueprint, Response, current_app, jsonify, redirect, request, send_from_directory

from cds_service.errors import BadRequest, CdsError, NotFound
from cds_service.hooks.invoke import evaluate_request
from cds_service.hooks.state import get_state
from cds_service.services import SERVICES, SERVICES_BY_ID
from cds_service.smart import oauth
from cds_service.smart import questionnaire as qmod
from cds_service.smart.oauth import SessionStore, SmartError, SmartSession

log = logging.getLogger(__name__)

bp = Blueprint("smart", __name__, url_prefix="/smart")
COOKIE = "smart_session"
STATIC = resources.files("cds_service.smart") / "static"
DEFAULT_CLIENT_ID = "neuro-onc-cds"
PATIENT_VIEW = tuple(s.id for s in SERVICES if s.hook == "patient-view")


class Unauthenticated(CdsError):
    status = 401
    code = "smart-session-required"


class AnswersRefused(CdsError):
    status = 422
    code = "answers-refused"


class WriteFailed(CdsError):
    status = 502
    code = "fhir-write-failed"


@dataclass
class SmartState:
    sessions: SessionStore = field(default_factory=SessionStore)
    client_id: str = DEFAULT_CLIENT_ID
    lforms_dir: Path | None = None
    displays: dict = field(default_factory=qmod.local_displays)


def smart_state() -> SmartState:
    state = current_app.extensions.get("smart")
    if state is None:
        lforms = os.environ.get("CDS_SMART_LFORMS_DIR")
        vendored = Path(str(STATIC / "vendor" / "lforms"))
        state = SmartState(client_id=os.environ.get("CDS_SMART_CLIENT_ID", DEFAULT_CLIENT_ID),
                           lforms_dir=Path(lforms) if lforms else (vendored if vendored.is_dir() else None))
        current_app.extensions["smart"] = state
    return state


def _base_url() -> str:
    config = get_state().config
    return (config.public_base_url or request.host_url).rstrip("/")


def _session() -> SmartSession:
    session = smart_state().sessions.get(request.cookies.get(COOKIE))
    if session is None or not session.authorized:
        raise Unauthenticated("No SMART session: launch the app from the EHR")
    return session


# -- the launch ---------------------------------------------------------------------------------------------------


@bp.get("/launch")
def launch() -> Response:
    iss = oauth.require(request.args.get("iss"), "iss").rstrip("/")
    launch_id = oauth.require(request.args.get("launch"), "launch")
    service_ids = tuple(s for s in request.args.getlist("service") if s) or PATIENT_VIEW
    unknown = [s for s in service_ids if s not in SERVICES_BY_ID]
    if unknown:
        raise BadRequest(f"unknown service {unknown[0]!r}", field="service")
    state = get_state()
    state.resolver.policy.check(iss, state.extra_allowed_fhir(request.environ))  # never contact a foreign server
    config = oauth.discover(iss, timeout=state.config.fhir_timeout)
    verifier, challenge = oauth.pkce_pair()
    redirect_uri = f"{_base_url()}/smart/callback"
    lang = request.args.get("lang")
    session = SmartSession(iss=iss, state=secrets.token_urlsafe(24), verifier=verifier, config=config,
                           redirect_uri=redirect_uri, services=service_ids,
                           language=lang if lang in ("nl", "en") else state.config.language)
    sid = smart_state().sessions.create(session)
    target = oauth.authorize_url(config, client_id=smart_state().client_id, redirect_uri=redirect_uri,
                                 launch=launch_id, iss=iss, state=session.state, challenge=challenge)
    response = redirect(target, code=302)
    _set_cookie(response, sid)
    return response


def _set_cookie(response: Response, sid: str) -> None:
    response.set_cookie(COOKIE, sid, httponly=True, samesite="Lax", path="/smart",
                        secure=_base_url().startswith("https://"))


@bp.get("/callback")
def callback() -> Response:
    sid = request.cookies.get(COOKIE)
    session = smart_state().sessions.get(sid)
    if session is None:
        raise Unauthenticated("Unknown or expired launch: launch the app again from the EHR")
    if "error" in request.args:
        raise SmartError(f"authorization refused: {request.args.get('error')}",
                         description=str(request.args.get("error_description", ""))[:300])
    given_state = oauth.require(request.args.get("state"), "state")
    if not secrets.compare_digest(given_state, session.state):
        raise SmartError("state does not match this launch")
    code = oauth.require(request.args.get("code"), "code")
    timeout = get_state().config.fhir_timeout
    client_id = smart_state().client_id
    token = oauth.exchange_code(session.config, code=code, client_id=client_id, redirect_uri=session.redirect_uri,
                                verifier=session.verifier, timeout=timeout)
    session.user = oauth.fhir_user(session.config, token.get("id_token"), client_id=client_id, timeout=timeout)
    session.patient = token["patient"]
    session.scope = str(token.get("scope") or "")
    expires = token.get("expires_in")
    session.expires_at = time.monotonic() + float(expires) if isinstance(expires, (int, float)) else None
    session.access_token = token["access_token"]
    session.state = secrets.token_urlsafe(24)  # a code is used once
    response = redirect(f"{_base_url()}/smart/app?lang={session.language}", code=302)
    _set_cookie(response, smart_state().sessions.rotate(sid))  # no session fixation
    return response


@bp.get("/app")
def app_page() -> Response:
    return Response((STATIC / "app.html").read_text(encoding="utf-8"), mimetype="text/html",
                    headers={"Cache-Control": "no-store"})


@bp.get("/static/<path:filename>")
def static_file(filename: str) -> Response:
    if filename not in ("app.js", "app.css"):
        raise NotFound(f"no static file {filename!r}")
    mimetype = "text/javascript" if filename.endswith(".js") else "text/css"
    return Response((STATIC / filename).read_text(encoding="utf-8"), mimetype=mimetype)


@bp.get("/vendor/lforms/<path:filename>")
def lforms(filename: str) -> Response:
    directory = smart_state().lforms_dir
    if directory is None:
        raise NotFound("LHC-Forms is not installed: run `make smart-app` or set CDS_SMART_LFORMS_DIR")
    return send_from_directory(directory, filename, max_age=3600)


# -- the form -----------------------------------------------------------------------------------------------------


def _language(session: SmartSession) -> str:
    lang = request.args.get("lang")
    return lang if lang in ("nl", "en") else session.language


def _evaluate(session: SmartSession, language: str) -> list[tuple[Any, Any]]:
    """Every service of the launch, evaluated on the record read with the app's own token."""
    state = get_state()
    body = {"hook": "patient-view", "hookInstance": str(uuid.uuid4()), "fhirServer": session.iss,
            "fhirAuthorization": {"access_token": session.access_token, "token_type": "Bearer",
                                  "scope": session.scope or "patient/*.rs", "subject": smart_state().client_id},
            "context": {"userId": session.user or "Practitioner/unknown", "patientId": session.patient}}
    extra = state.extra_allowed_fhir(request.environ)
    out = []
    for service_id in session.services:
        service = SERVICES_BY_ID[service_id]
        out.append((service, evaluate_request(state.engine, state.resolver, service, body, now=state.clock(),
                                              language=language, extra_allowed=extra)))
    return out


def _cards(evaluations) -> list[dict]:
    return [{"service": service.id, "rule": card["source"].get("topic", {}).get("code"),
             "indicator": card.get("indicator"), "summary": card.get("summary")}
            for service, ev in evaluations for card in ev.response.get("cards", [])]


@bp.get("/api/questionnaire")
def api_questionnaire() -> Response:
    session = _session()
    language = _language(session)
    evaluations = _evaluate(session, language)
    findings = [f for _s, ev in evaluations for f in ev.findings]
    missing = qmod.missing_fact_names(findings)
    engine = get_state().engine
    facts = evaluations[0][1].facts if evaluations else None
    ms, catalogue, displays = engine.extractor.mappings, engine.catalogue, smart_state().displays
    questionnaire = qmod.build_questionnaire(missing, facts, ms, catalogue, displays, language=language,
                                             now=get_state().clock())
    session.asked = {name: ask for name in missing
                     if (ask := qmod.askable(ms, name, catalogue, displays)) is not None}
    return jsonify({"patient": session.patient, "user": session.user, "questionnaire": questionnaire,
                    "missing": missing, "cards": _cards(evaluations)})


def _post(session: SmartSession, resource: dict) -> dict:
    url = f"{session.iss}/{resource['resourceType']}"
    try:
        reply = requests.post(url, json=resource, timeout=get_state().config.fhir_timeout,
                              headers={"Authorization": f"Bearer {session.access_token}",
                                       "Content-Type": "application/fhir+json", "Accept": "application/fhir+json",
                                       "Prefer": "return=representation"})
    except requests.RequestException as exc:
        raise WriteFailed(f"{resource['resourceType']} could not be written: {type(exc).__name__}") from None
    if reply.status_code not in (200, 201):
        raise WriteFailed(f"{resource['resourceType']} was refused by the FHIR server (HTTP {reply.status_code})")
    try:
        created = reply.json()
    except ValueError:
        created = {}
    rid = created.get("id") if isinstance(created, dict) else None
    if not rid:
        location = reply.headers.get("Location", "")
        parts = location.split(f"{resource['resourceType']}/", 1)
        rid = parts[1].split("/")[0] if len(parts) == 2 else None
    if not rid:
        raise WriteFailed(f"{resource['resourceType']} was written but the server returned no id")
    return {"resourceType": resource["resourceType"], "id": rid, "url": f"{url}/{rid}"}


@bp.post("/api/save")
def api_save() -> Response:
    session = _session()
    language = _language(session)
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or not isinstance(body.get("questionnaireResponse"), dict):
        raise BadRequest("body must be {\"questionnaireResponse\": {...}, \"confirmed\": true}",
                         field="questionnaireResponse")
    if body.get("confirmed") is not True:  # the app never writes without the clinician's explicit save
        raise BadRequest("saving needs the clinician's confirmation (confirmed: true)", field="confirmed")
    if not session.asked:
        raise BadRequest("no questionnaire was shown in this session", field="questionnaireResponse")
    catalogue = get_state().engine.catalogue
    try:
        answers = qmod.read_answers(body["questionnaireResponse"], session.asked, catalogue, language)
    except qmod.AnswerError as exc:
        raise AnswersRefused(str(exc), problems=exc.messages) from None
    if not answers:
        raise AnswersRefused("nothing to save: no question was answered", problems=[])
    when = _now_iso()
    written = [_post(session, qmod.questionnaire_response(answers, patient=session.patient, author=session.user,
                                                          when=when))]
    response_ref = f"QuestionnaireResponse/{written[0]['id']}"
    for answer in answers:
        label = catalogue.label(qmod.ASK_INSTEAD.get(answer.ask.name, answer.ask.name), language)
        obs = qmod.observation(answer, patient=session.patient, author=session.user, when=when,
                               response_ref=response_ref, label=label)
        entry = _post(session, obs)
        entry.update(label=label, value=_shown(answer))
        written.append(entry)
    log.info("smart app wrote %d resources", len(written))
    evaluations = _evaluate(session, language)
    session.asked = {}
    return jsonify({"written": written, "cards": _cards(evaluations)})


def _now_iso() -> str:
    """The clinical time of the answers: the service clock (frozen in tests), in UTC."""
    now: datetime = get_state().clock()
    return now.isoformat(timespec="seconds").replace("+00:00", "Z")


def _shown(answer: qmod.Answer) -> str:
    if answer.ask.item_type == "choice":
        return answer.value[2]
    value = answer.value
    if isinstance(value, bool):
        text = "true" if value else "false"
    else:
        text = f"{value:g}" if isinstance(value, float) else str(value)
    return f"{text} {answer.ask.unit}" if answer.ask.unit else text
