#!/usr/bin/env node
// The EHR side of a SMART on FHIR EHR launch, for the end-to-end test of the SMART app (and by hand).
//
// Two loopback listeners in one process:
//  * an OAuth 2.0 / OpenID Connect authorization server: oauth2-mock-server from the npm registry
//    (authorize, token, JWKS, PKCE). Its events are used to make it a SMART EHR launch server: the
//    authorize request must carry a `launch` this EHR issued, `aud` = the FHIR base and PKCE S256; the
//    token response carries the launch's `patient`, the granted SMART scopes and an id_token with
//    `fhirUser`; an authorization code is bound to its launch and used once.
//  * a FHIR proxy in front of the integration FHIR server (integration/fhir-server): it serves
//    `/fhir/.well-known/smart-configuration`, requires a Bearer token this server issued on every other
//    request except `metadata`, enforces the token's patient compartment and SMART v2 scopes
//    (`patient/Observation.rs`, `patient/Observation.c` …), and forwards what is allowed.
//  * `POST /ehr/launch {"patient": "...", "user": "Practitioner/..."}` on the proxy is the EHR's own
//    launch button: it answers `{"launch": "<id>", "iss": "<fhir base>"}`.
//
//   node server.mjs --fhir http://127.0.0.1:8090/fhir [--port 0] [--verbose]
//
// prints `listening <fhir base>` (the proxy's FHIR base, the `iss`) once both listeners accept requests.

import http from 'node:http';
import { randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import { OAuth2Server } from 'oauth2-mock-server';

const HOST = '127.0.0.1';
const SUPPORTED_SCOPES = new Set(['launch', 'openid', 'fhirUser', 'offline_access']);
const SCOPE = /^patient\/([A-Z][A-Za-z]+|\*)\.([cruds]+)$/;
const TOKEN_TTL_S = 3600;

const { values } = parseArgs({
  options: {
    fhir: { type: 'string' },
    port: { type: 'string', default: '0' },
    verbose: { type: 'boolean', default: false },
  },
});
if (!values.fhir) {
  console.error('usage: node server.mjs --fhir <FHIR base of the backend> [--port 0]');
  process.exit(2);
}
const backend = new URL(values.fhir.replace(/\/+$/, ''));
const verbose = (...args) => values.verbose && console.error(...args);

const launches = new Map(); // launch id → {patient, user}
const codes = new Map(); // authorization code → {patient, user, scope, clientId}
const tokens = new Map(); // access token → {patient, scopes: Set, expires}

/** The SMART scopes granted for a request: known scopes and well-formed patient/ scopes only. */
function grant(requested) {
  return (requested ?? '')
    .split(/\s+/)
    .filter((s) => SUPPORTED_SCOPES.has(s) || SCOPE.test(s))
    .join(' ');
}

/** Does a SMART v2 scope set allow `permission` (one of c r u d s) on `type`? */
function allows(scopes, type, permission) {
  for (const s of scopes) {
    const m = SCOPE.exec(s);
    if (m && (m[1] === type || m[1] === '*') && m[2].includes(permission)) return true;
  }
  return false;
}

// -- the authorization server -------------------------------------------------------------------------

const auth = new OAuth2Server();
await auth.issuer.keys.generate('RS256');
await auth.start(0, HOST);
const authBase = auth.issuer.url;

auth.service.on('beforeAuthorizeRedirect', (authorizeRedirectUri, req) => {
  const url = authorizeRedirectUri.url;
  const code = url.searchParams.get('code');
  const q = req.query;
  const problem =
    (!launches.has(q.launch) && 'unknown or missing launch') ||
    (q.aud !== fhirBase && `aud must be the FHIR base ${fhirBase}`) ||
    (q.code_challenge_method !== 'S256' && 'PKCE with code_challenge_method=S256 is required') ||
    (!q.code_challenge && 'code_challenge is required') ||
    (!q.client_id && 'client_id is required') ||
    null;
  if (problem || !code) {
    url.searchParams.delete('code');
    url.searchParams.set('error', problem ? 'invalid_request' : 'unsupported_response_type');
    if (problem) url.searchParams.set('error_description', problem);
    verbose(`authorize refused: ${problem}`);
    return;
  }
  const ctx = launches.get(q.launch);
  codes.set(code, { ...ctx, scope: grant(q.scope), clientId: q.client_id });
});

auth.service.on('beforeTokenSigning', (token, req) => {
  const ctx = codes.get(req.body?.code);
  if (!ctx) return;
  token.payload.scope = ctx.scope;
  token.payload.exp = Math.floor(Date.now() / 1000) + TOKEN_TTL_S;
  if (token.payload.aud === ctx.clientId) {
    // the id_token: who the user is
    token.payload.sub = ctx.user;
    token.payload.fhirUser = ctx.user;
  } else {
    token.payload.patient = ctx.patient;
    token.payload.aud = fhirBase;
  }
});

auth.service.on('beforeResponse', (tokenEndpointResponse, req) => {
  const body = req.body ?? {};
  if (body.grant_type !== 'authorization_code') {
    tokenEndpointResponse.statusCode = 400;
    tokenEndpointResponse.body = { error: 'unsupported_grant_type' };
    return;
  }
  const ctx = codes.get(body.code);
  codes.delete(body.code); // a code is used once
  if (!ctx || !body.code_verifier || body.client_id !== ctx.clientId) {
    tokenEndpointResponse.statusCode = 400;
    tokenEndpointResponse.body = {
      error: 'invalid_grant',
      error_description: !ctx ? 'unknown or used code' : 'code_verifier and the launch client_id are required',
    };
    return;
  }
  if (tokenEndpointResponse.statusCode !== 200) return; // PKCE mismatch found by oauth2-mock-server
  const response = tokenEndpointResponse.body;
  response.scope = ctx.scope;
  response.patient = ctx.patient;
  response.need_patient_banner = false;
  response.expires_in = TOKEN_TTL_S;
  delete response.refresh_token; // offline_access is not granted to this client
  if (!ctx.scope.split(' ').includes('openid')) delete response.id_token;
  tokens.set(response.access_token, {
    patient: ctx.patient,
    scopes: new Set(ctx.scope.split(' ')),
    expires: Date.now() + TOKEN_TTL_S * 1000,
  });
});

// -- the FHIR proxy ---------------------------------------------------------------------------------------

let fhirBase = '';

function send(res, status, body, headers = {}) {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  res.writeHead(status, {
    'Content-Type': 'application/json; charset=utf-8',
    'Access-Control-Allow-Origin': '*',
    'Cache-Control': 'no-store',
    ...headers,
  });
  res.end(text);
}

function outcome(res, status, code, text) {
  send(res, status, { resourceType: 'OperationOutcome', issue: [{ severity: 'error', code, details: { text } }] });
}

function smartConfiguration() {
  return {
    issuer: authBase,
    jwks_uri: `${authBase}/jwks`,
    authorization_endpoint: `${authBase}/authorize`,
    token_endpoint: `${authBase}/token`,
    grant_types_supported: ['authorization_code'],
    token_endpoint_auth_methods_supported: ['none'],
    scopes_supported: ['launch', 'openid', 'fhirUser', 'patient/*.rs', 'patient/Observation.c',
      'patient/QuestionnaireResponse.c'],
    response_types_supported: ['code'],
    code_challenge_methods_supported: ['S256'],
    capabilities: ['launch-ehr', 'client-public', 'context-ehr-patient', 'permission-patient', 'permission-v2',
      'sso-openid-connect'],
  };
}

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/** Is this FHIR request inside the token's patient compartment and scopes? → null or the reason. */
function refusal(ctx, method, segments, search, body) {
  const [type, id] = segments;
  if (!type || type.startsWith('$') || type.startsWith('_')) return 'system-level requests are not allowed';
  if (method === 'GET') {
    if (id) {
      if (!allows(ctx.scopes, type, 'r')) return `scope does not allow reading ${type}`;
      if (type === 'Patient' && id !== ctx.patient) return 'outside the patient in context';
      return null;
    }
    if (!allows(ctx.scopes, type, 's')) return `scope does not allow searching ${type}`;
    const patient = search.get('patient') ?? search.get('subject');
    if (patient !== ctx.patient && patient !== `Patient/${ctx.patient}`) return 'search must name the patient in context';
    return null;
  }
  if (method === 'POST' && !id) {
    if (!allows(ctx.scopes, type, 'c')) return `scope does not allow creating ${type}`;
    if (body?.resourceType !== type) return 'resourceType does not match the URL';
    if (body?.subject?.reference !== `Patient/${ctx.patient}`) return 'subject must be the patient in context';
    return null;
  }
  return `${method} is not allowed through this proxy`;
}

async function forward(req, res, path, search, raw) {
  const target = new URL(`${backend.pathname}${path}${search ? '?' + search : ''}`, backend);
  const headers = { Accept: 'application/fhir+json' };
  if (raw) headers['Content-Type'] = 'application/fhir+json';
  const reply = await fetch(target, { method: req.method, headers, body: raw ?? undefined });
  // links and Location headers point at the backend: rewrite them to this proxy
  const text = (await reply.text()).replaceAll(backend.href.replace(/\/$/, ''), fhirBase);
  const extra = {};
  const location = reply.headers.get('location');
  if (location) extra.Location = location.replace(backend.href.replace(/\/$/, ''), fhirBase);
  send(res, reply.status, text, { 'Content-Type': 'application/fhir+json; charset=utf-8', ...extra });
}

async function handle(req, res) {
  const url = new URL(req.url, `http://${HOST}`);
  if (req.method === 'OPTIONS') {
    res.writeHead(204, {
      'Access-Control-Allow-Origin': '*',
      'Access-Control-Allow-Headers': 'Authorization, Content-Type, Accept',
      'Access-Control-Allow-Methods': 'GET, POST, OPTIONS',
    });
    res.end();
    return;
  }
  if (url.pathname === '/ehr/launch' && req.method === 'POST') {
    const body = JSON.parse((await readBody(req)).toString('utf8') || '{}');
    if (typeof body.patient !== 'string' || !body.patient) return outcome(res, 400, 'required', 'patient is required');
    const launch = randomUUID();
    launches.set(launch, { patient: body.patient, user: body.user ?? 'Practitioner/ehr-user' });
    return send(res, 200, { launch, iss: fhirBase });
  }
  if (!url.pathname.startsWith('/fhir')) return outcome(res, 404, 'not-found', 'not found');
  const path = url.pathname.slice('/fhir'.length).replace(/\/+$/, '');
  if (path === '/.well-known/smart-configuration' && req.method === 'GET') return send(res, 200, smartConfiguration());
  if (path === '/metadata' && req.method === 'GET') return forward(req, res, path, url.search.slice(1), null);

  const header = req.headers.authorization ?? '';
  const token = header.startsWith('Bearer ') ? header.slice(7) : null;
  const ctx = token ? tokens.get(token) : undefined;
  if (!ctx || ctx.expires < Date.now()) {
    res.setHeader('WWW-Authenticate', 'Bearer');
    return outcome(res, 401, 'login', 'a valid Bearer token is required');
  }
  const raw = req.method === 'POST' ? await readBody(req) : null;
  let body;
  if (raw) {
    try {
      body = JSON.parse(raw.toString('utf8'));
    } catch {
      return outcome(res, 400, 'invalid', 'body is not JSON');
    }
  }
  const segments = path.split('/').filter(Boolean);
  const why = refusal(ctx, req.method, segments, url.searchParams, body);
  if (why) return outcome(res, 403, 'forbidden', why);
  verbose(`${req.method} ${path} allowed`);
  return forward(req, res, path, url.search.slice(1), raw);
}

const server = http.createServer((req, res) => {
  handle(req, res).catch((err) => {
    console.error(err);
    if (!res.headersSent) outcome(res, 502, 'exception', 'proxy error');
  });
});

function stop() {
  server.close();
  server.closeAllConnections();
  auth.stop().finally(() => process.exit(0));
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);

server.listen(Number.parseInt(values.port, 10), HOST, () => {
  fhirBase = `http://${HOST}:${server.address().port}/fhir`;
  console.log(`listening ${fhirBase}`);
});
