// The client e2e suite against latch-idp (LATCH_E2E_IDP=latch-idp, see lib.mjs's startIdp):
// latch-idp in a temp data dir, behind a small recording proxy that gives the tests the same
// handle tests/idp/idp.mjs gives for oidc-provider: issuer, the request log (what the IdP
// received and answered, in the same entry shape as tests/idp/middleware.mjs), waitForLog,
// /_test/introspect (answered by latch-idp's own RFC 7662 endpoint), /_test/sign (JWTs
// signed with latch-idp's active key, read from its database, or with a key it never
// publishes: ID tokens a test can tamper with), setOption for what
// latch-idp can be configured with (token lifetimes and the device interval: applied by
// restarting latch-idp on the same data dir, as an operator would).
// Journeys needing what latch-idp does not do (forced slow_down, JWKS rotation between two
// fetches, registration, token exchange) skip themselves with `latchIdpLacks`.
import http from 'node:http';
import { generateKeyPairSync, randomBytes, sign as cryptoSign } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { EventEmitter } from 'node:events';
import { dbQuery, idpAdmin, startLatchIdp } from './idp_lib.mjs';
import { makeTempDir } from './lib.mjs';

const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';
const ROUTES = new Map([
  ['/oauth2/authorize', 'authorization'],
  ['/oauth2/token', 'token'],
  ['/oauth2/device_authorization', 'device_authorization'],
  ['/oauth2/revoke', 'revocation'],
  ['/oauth2/introspect', 'introspection'],
  ['/.well-known/jwks.json', 'jwks'],
  ['/oauth2/register', 'registration'],
]);
const SUPPORTED_OPTIONS = new Set(['interval', 'ttl.AccessToken', 'ttl.ClientCredentials']);
export const LATCH_IDP_USERS = ['alice', 'bob', 'carol', 'dave', 'erin', 'frank'];
// The password tests/idp/grants.mjs's password grant takes; latch-idp wants >= 8 characters.
export const LATCH_IDP_PASSWORD = 'correct horse';
const INTROSPECTOR = 'latch-e2e-introspector';

// Why a journey cannot run against latch-idp, or false.
export function latchIdpLacks(idp, what) {
  if (idp?.kind !== 'latch-idp') return false;
  return `latch-idp does not support ${what}`;
}

function admin(args, env) {
  const r = idpAdmin(args, { env });
  if (r.code !== 0) throw new Error(`latch-idp ${args.join(' ')}: ${r.stderr}`);
}

function provision(data, dir) {
  const secretFile = (name, value) => { const f = join(dir, name); writeFileSync(f, `${value}\n`, { mode: 0o600 }); return f; };
  // First-party clients (the journeys sign in and expect the code at once): no consent page.
  const redirect = ['--redirect-uri', 'http://127.0.0.1/callback', '--skip-consent'];
  const userScopes = ['--scope', 'openid profile email offline_access'];
  admin(['client', 'add', 'latch-cli', '--public', '--data', data, ...redirect, ...userScopes,
    '--grant', DEVICE_GRANT, '--grant', 'authorization_code', '--grant', 'refresh_token', '--grant', 'password']);
  for (const id of ['latch-confidential', 'latch-confidential-post']) {
    admin(['client', 'add', id, '--confidential', '--data', data, ...redirect, ...userScopes,
      '--secret-file', secretFile(`${id}.secret`, 'confidential-secret'),
      '--grant', 'client_credentials', '--grant', 'authorization_code', '--grant', 'refresh_token', '--grant', 'password']);
  }
  admin(['client', 'add', 'latch-service', '--confidential', '--data', data, '--scope', 'openid api',
    '--secret-file', secretFile('service.secret', 'service-secret'), '--grant', 'client_credentials']);
  const introspectorSecret = randomBytes(24).toString('base64url');
  admin(['client', 'add', INTROSPECTOR, '--confidential', '--data', data, '--scope', 'openid',
    '--secret-file', secretFile('introspector.secret', introspectorSecret), '--grant', 'client_credentials']);
  // As tests/idp/idp.mjs derives accounts from login names: sub = login, Login@example.com's name.
  for (const u of LATCH_IDP_USERS) {
    admin(['user', 'add', u, '--data', data, '--id', u, '--email', `${u}@example.com`,
      '--name', u[0].toUpperCase() + u.slice(1)], { LATCH_IDP_PASSWORD });
  }
  return introspectorSecret;
}

function formToObject(text) {
  const out = {};
  for (const [k, v] of new URLSearchParams(text)) out[k] = k in out ? [].concat(out[k], v) : v;
  return out;
}

function basicClientId(header) {
  const m = /^Basic\s+(\S+)/i.exec(header ?? '');
  if (!m) return undefined;
  const decoded = Buffer.from(m[1], 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  try { return decodeURIComponent(colon < 0 ? decoded : decoded.slice(0, colon)); } catch { return undefined; }
}

// The entry tests/idp/middleware.mjs would log for this request and answer.
function startEntry(state, req, url, body) {
  const route = ROUTES.get(url.pathname);
  if (!route) return undefined;
  const entry = { t: Date.now(), method: req.method, path: url.pathname, route };
  const text = body.toString('utf8');
  if (route === 'registration') {
    try { entry.params = JSON.parse(text); } catch { entry.params = {}; }
  } else {
    entry.params = req.method === 'POST' ? formToObject(text) : formToObject(url.search.slice(1));
  }
  entry.grant_type = entry.params.grant_type;
  if (req.headers.dpop !== undefined) entry.dpop = req.headers.dpop;  // RFC 9449 proof
  const basic = basicClientId(req.headers.authorization);
  entry.client_id = entry.params.client_id ?? basic;
  entry.client_auth = basic !== undefined ? 'basic' : (entry.params.client_secret !== undefined ? 'post'
    : (entry.params.client_assertion !== undefined ? 'assertion' : undefined));
  if (route === 'token' && entry.grant_type === DEVICE_GRANT && entry.params.device_code) {
    const n = (state.polls.get(entry.params.device_code) ?? 0) + 1;
    state.polls.set(entry.params.device_code, n);
    entry.poll = n;
  }
  return entry;
}

function finishEntry(entry, status, headers, body) {
  entry.done = Date.now();
  entry.status = status;
  let json;
  try { json = JSON.parse(body.toString('utf8')); } catch { json = undefined; }
  if (entry.route === 'device_authorization' && status === 200 && json?.device_code) {
    const { device_code, user_code, interval, expires_in, verification_uri } = json;
    entry.response = { device_code, user_code, interval, expires_in, verification_uri };
  }
  if (entry.route === 'jwks' && Array.isArray(json?.keys)) entry.kids = json.keys.map((k) => k.kid);
  if (entry.route === 'token' && status === 200 && json) {
    entry.issued = ['access_token', 'refresh_token', 'id_token'].filter((k) => json[k]);
    entry.scope = json.scope;
  }
  if (headers['dpop-nonce']) entry.dpop_nonce = headers['dpop-nonce'];
  if (entry.route === 'token' && status === 200 && json) entry.token_type = json.token_type;
  if (typeof json?.error === 'string') {
    entry.error = json.error;
    entry.error_description = json.error_description;
  } else if (headers.location) {
    try {
      const loc = new URL(headers.location);
      if (loc.searchParams.get('error')) {
        entry.error = loc.searchParams.get('error');
        entry.error_description = loc.searchParams.get('error_description') ?? undefined;
      }
    } catch { /* relative */ }
  }
}

const HOP = new Set(['host', 'connection', 'content-length', 'transfer-encoding', 'keep-alive']);

async function forward(state, req, url, body) {
  await state.ready;
  const headers = {};
  for (const [k, v] of Object.entries(req.headers)) if (!HOP.has(k)) headers[k] = v;
  const up = await fetch(`${state.upstream}${url.pathname}${url.search}`, {
    method: req.method, headers, body: body.length ? body : undefined, redirect: 'manual',
  });
  const out = Buffer.from(await up.arrayBuffer());
  const h = {};
  for (const [k, v] of up.headers) if (!HOP.has(k) && k !== 'set-cookie' && k !== 'content-encoding') h[k] = v;
  const cookies = up.headers.getSetCookie();
  if (cookies.length) h['set-cookie'] = cookies;
  h['content-length'] = String(out.length);
  return { status: up.status, headers: h, body: out };
}

async function introspect(state, token) {
  await state.ready;
  const auth = Buffer.from(`${INTROSPECTOR}:${state.introspectorSecret}`).toString('base64');
  const r = await fetch(`${state.upstream}/oauth2/introspect`, {
    method: 'POST', headers: { authorization: `Basic ${auth}`, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ token }),
  });
  const info = await r.json();
  // oidc-provider's /_test/introspect field names, as the tests read them.
  return { ...info, clientId: info.client_id, accountId: info.sub };
}

// /_test/sign as tests/idp/middleware.mjs answers it, for the keys latch-idp can have:
// 'idp' is its active signing key (the newest not retired, as apps/idp/keys.cpp picks it),
// 'stranger' one it never publishes. {claims, key} -> {token}.
let stranger;
function signJwt(data, claims, key = 'idp') {
  let k;
  if (key === 'idp') {
    const [row] = dbQuery(data, 'SELECT kid, alg, private_pem FROM signing_keys WHERE retired_at = 0 ORDER BY created_at DESC LIMIT 1');
    k = { kid: row.kid, alg: row.alg, key: row.private_pem };
  } else if (key === 'stranger') {
    stranger ??= generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    k = { kid: 'idp-key-stranger', alg: 'ES256', key: stranger };
  } else {
    throw new Error(`latch-idp e2e: no test key '${key}'`);
  }
  const b64 = (v) => Buffer.from(JSON.stringify(v)).toString('base64url');
  const input = `${b64({ alg: k.alg, typ: 'JWT', kid: k.kid })}.${b64(claims)}`;
  const ec = k.alg.startsWith('ES');
  const sig = cryptoSign('sha256', Buffer.from(input), ec ? { key: k.key, dsaEncoding: 'ieee-p1363' } : k.key);
  return `${input}.${sig.toString('base64url')}`;
}

async function onRequest(state, req, res) {
  const chunks = [];
  for await (const c of req) chunks.push(c);
  const body = Buffer.concat(chunks);
  const url = new URL(req.url, 'http://proxy');
  try {
    if (url.pathname === '/_test/introspect') {
      const info = await introspect(state, url.searchParams.get('token') ?? '');
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(info));
      return;
    }
    if (url.pathname === '/_test/sign' && req.method === 'POST') {
      const { claims = {}, key } = JSON.parse(body.toString('utf8') || '{}');
      const token = signJwt(state.data, claims, key);
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ token }));
      return;
    }
    const entry = startEntry(state, req, url, body);
    const r = await forward(state, req, url, body);
    if (entry) {
      finishEntry(entry, r.status, r.headers, r.body);
      state.log.push(entry);
      state.events.emit('log', entry);
    }
    res.writeHead(r.status, r.headers).end(r.body);
  } catch (e) {
    res.writeHead(502, { 'content-type': 'text/plain' }).end(`latch-idp proxy: ${e.message}\n`);
  }
}

function serveArgs(state) {
  const o = state.opts;
  const ttl = o.ttl?.AccessToken ?? o.ttl?.ClientCredentials ?? 3600;
  return ['--issuer', state.issuer, '--device-interval', String(o.interval ?? 5), '--access-token-ttl', String(ttl)];
}

// opts as tests/idp/idp.mjs takes them: interval, ttl.AccessToken / ttl.ClientCredentials.
export async function startLatchIdpAsTestIdp(opts = {}) {
  const dir = makeTempDir('latch-idp-e2e-');
  const data = join(dir, 'data');
  const state = {
    opts: { ...opts, ttl: { ...opts.ttl } }, log: [], polls: new Map(), events: new EventEmitter(), data,
    introspectorSecret: provision(data, dir),
  };
  state.events.setMaxListeners(0);
  const server = http.createServer((req, res) => { onRequest(state, req, res); });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  state.issuer = `http://127.0.0.1:${server.address().port}`;
  let idp = await startLatchIdp({ data, extraArgs: serveArgs(state) });
  state.upstream = idp.url;
  state.ready = Promise.resolve();
  const restart = () => {
    state.ready = (async () => {
      await idp.stop();
      idp = await startLatchIdp({ data, extraArgs: serveArgs(state) });
      state.upstream = idp.url;
    })();
  };
  return {
    kind: 'latch-idp',
    issuer: state.issuer,
    data,
    log: state.log,
    opts: state.opts,
    stderr: () => idp.stderr(),
    setOption(key, value) {
      if (!SUPPORTED_OPTIONS.has(key)) {
        if (value === undefined) return;
        throw new Error(`latch-idp e2e: option ${key} is not supported`);
      }
      if (key === 'interval') state.opts.interval = value;
      else state.opts.ttl = { AccessToken: value };
      restart();
    },
    clearLog() { state.log.length = 0; },
    waitForLog(pred, timeoutMs = 30_000) {
      const found = state.log.find(pred);
      if (found) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        const onLog = (e) => { if (pred(e)) { clearTimeout(timer); state.events.off('log', onLog); resolve(e); } };
        const timer = setTimeout(() => {
          state.events.off('log', onLog);
          reject(new Error(`latch-idp: no matching request within ${timeoutMs} ms`));
        }, timeoutMs);
        state.events.on('log', onLog);
      });
    },
    async close() {
      await state.ready.catch(() => {});
      await idp.stop();
      await new Promise((resolve) => { server.close(() => resolve()); server.closeAllConnections(); });
    },
  };
}
