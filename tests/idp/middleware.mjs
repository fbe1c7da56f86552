// Koa middleware that runs before oidc-provider's own routes (provider.use puts it
// first).  It does three things:
//  1. RFC 8628 pacing, which oidc-provider lacks: adds `interval` to the device
//     authorization response and answers `slow_down` (growing that code's interval by
//     5 s) to a device_code poll that comes too early, or to the N-th poll of a code
//     when the test asked for it (opts.forceSlowDownOnPoll = N).
//  2. A request log of the OAuth endpoints, for assertions from the IdP's side.
//  3. The /_test/* routes: the log, a token lookup without client auth, runtime options,
//     and /_test/sign (JWTs signed with the IdP's keys: ID tokens a test can tamper with).
//  4. JWKS rotation on demand (opts.publishExtraKeyAfter = N: the N+1-th and later JWKS
//     fetches also list the 'extra' key).
import { sign as cryptoSign } from 'node:crypto';
import { Readable } from 'node:stream';

export const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';
const BODY_LIMIT = 1024 * 1024;
// A poll may arrive this much before the interval is up without being "too early":
// timers and the network jitter a little.
const PACING_TOLERANCE_MS = 250;

const ROUTES = new Map([
  ['/auth', 'authorization'],
  ['/token', 'token'],
  ['/device/auth', 'device_authorization'],
  ['/token/revocation', 'revocation'],
  ['/token/introspection', 'introspection'],
  ['/reg', 'registration'],
  ['/me', 'userinfo'],
  ['/jwks', 'jwks'],
]);

function routeOf(path) {
  if (ROUTES.has(path)) return ROUTES.get(path);
  if (path.startsWith('/reg/')) return 'registration_management';
  return undefined;
}

// Reads the whole body as Buffers, decodes once, and gives the provider a fresh
// readable request carrying the same bytes and headers.
async function takeBody(ctx) {
  const chunks = [];
  let size = 0;
  for await (const chunk of ctx.req) {
    size += chunk.length;
    if (size > BODY_LIMIT) ctx.throw(413, 'request entity too large');
    chunks.push(chunk);
  }
  const body = Buffer.concat(chunks, size);
  const fresh = Readable.from(body.length ? [body] : [], { objectMode: false });
  for (const key of ['headers', 'rawHeaders', 'trailers', 'rawTrailers', 'method', 'url',
    'httpVersion', 'httpVersionMajor', 'httpVersionMinor', 'socket', 'connection']) {
    fresh[key] = ctx.req[key];
  }
  ctx.req = fresh;
  ctx.request.req = fresh;
  ctx.response.req = fresh;
  return body.toString('utf8');
}

function formToObject(searchParams) {
  const out = {};
  for (const [k, v] of searchParams) {
    if (k in out) out[k] = [].concat(out[k], v);
    else out[k] = v;
  }
  return out;
}

async function readParams(ctx) {
  if (ctx.method !== 'POST' && ctx.method !== 'PUT') return formToObject(new URLSearchParams(ctx.querystring));
  const text = await takeBody(ctx);
  if (ctx.is('application/json')) {
    try { return JSON.parse(text); } catch { return { _unparsed: text }; }
  }
  return formToObject(new URLSearchParams(text));
}

function basicClientId(ctx) {
  const m = /^Basic\s+(\S+)/i.exec(ctx.get('authorization'));
  if (!m) return undefined;
  const decoded = Buffer.from(m[1], 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  try { return decodeURIComponent(colon < 0 ? decoded : decoded.slice(0, colon)); } catch { return undefined; }
}

// Decides whether this poll of `code` is answered with slow_down.
function pacePoll(state, code, now) {
  let device = state.devices.get(code);
  if (!device) {
    device = { interval: state.opts.interval ?? 5, last: undefined, polls: 0 };
    state.devices.set(code, device);
  }
  device.polls += 1;
  const poll = device.polls;
  const forced = state.opts.forceSlowDownOnPoll === poll;
  const waited = device.last === undefined ? undefined : now - device.last;
  const early = waited !== undefined && waited < device.interval * 1000 - PACING_TOLERANCE_MS;
  device.last = now;
  if (!forced && !early) return { poll, slowDown: false };
  const was = device.interval;
  device.interval += 5;
  const why = early ? `polled ${waited} ms after the previous poll, interval is ${was} s`
    : `slow_down forced on poll ${poll} by the test`;
  return { poll, slowDown: true, interval: device.interval, why };
}

function errorOf(ctx) {
  const body = ctx.body;
  if (body && typeof body === 'object' && !Buffer.isBuffer(body) && typeof body.error === 'string') {
    return { error: body.error, error_description: body.error_description };
  }
  const location = ctx.response.get('location');
  if (location) {
    try {
      const url = new URL(location);
      const params = new URLSearchParams(url.hash ? url.hash.slice(1) : url.search);
      const error = params.get('error') ?? url.searchParams.get('error');
      if (error) {
        return { error, error_description: params.get('error_description') ?? url.searchParams.get('error_description') ?? undefined };
      }
    } catch { /* not an absolute URL */ }
  }
  return {};
}

function record(state, entry) {
  state.log.push(entry);
  state.events.emit('log', entry);
}

async function lookupToken(provider, value) {
  const models = [provider.AccessToken, provider.ClientCredentials, provider.RefreshToken];
  for (const Model of models) {
    let token;
    try { token = await Model.find(value, { ignoreExpiration: true }); } catch { token = undefined; }
    if (!token) continue;
    let active = token.isValid;
    if (active && token.grantId) {
      const grant = await provider.Grant.find(token.grantId, { ignoreExpiration: true });
      active = !!grant && !grant.isExpired && grant.clientId === token.clientId
        && grant.accountId === token.accountId;
    }
    return {
      active,
      kind: token.kind,
      clientId: token.clientId,
      accountId: token.accountId,
      scope: token.scope,
      exp: token.exp,
      expired: token.isExpired,
      consumed: token.consumed ? true : undefined,
      gty: token.gty,
    };
  }
  return { active: false };
}

const b64url = (buf) => Buffer.from(buf).toString('base64url');

// A compact RS256 JWS of `claims` with one of the IdP's keys (state.keys[key]); `kid`
// overrides the header's kid.
export function signJwt(state, claims, { key = 'idp', kid } = {}) {
  const k = state.keys[key];
  if (!k) throw new Error(`no test key '${key}'`);
  const header = { alg: 'RS256', typ: 'JWT', kid: kid ?? k.kid };
  const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
  return `${input}.${b64url(cryptoSign('sha256', Buffer.from(input), k.privateKey))}`;
}

async function testRoute(state, provider, ctx) {
  ctx.set('cache-control', 'no-store');
  if (ctx.method === 'GET' && ctx.path === '/_test/log') {
    const since = Number(ctx.query.since ?? 0);
    ctx.body = state.log.filter((e) => e.t >= since);
    return;
  }
  if (ctx.method === 'POST' && ctx.path === '/_test/log/clear') {
    state.log.length = 0;
    ctx.status = 204;
    return;
  }
  if (ctx.method === 'GET' && ctx.path === '/_test/introspect') {
    if (!ctx.query.token) {
      ctx.status = 400;
      ctx.body = { error: 'invalid_request', error_description: 'token query parameter is missing' };
      return;
    }
    ctx.body = await lookupToken(provider, String(ctx.query.token));
    return;
  }
  if (ctx.path === '/_test/options' && (ctx.method === 'GET' || ctx.method === 'POST')) {
    if (ctx.method === 'POST') {
      const params = await readParams(ctx);
      for (const [k, v] of Object.entries(params)) state.setOption(k, v);
    }
    const { clients, ...shown } = state.opts;
    ctx.body = shown;
    return;
  }
  if (ctx.method === 'POST' && ctx.path === '/_test/sign') {
    const params = await readParams(ctx);
    ctx.body = { token: signJwt(state, params.claims ?? {}, params) };
    return;
  }
  ctx.status = 404;
  ctx.body = { error: 'not_found', error_description: `no test route ${ctx.method} ${ctx.path}` };
}

// Who authorized a registration (RFC 7591 §3): the initial access token, or — as IdPs
// such as Keycloak allow — a logged-in user's access token issued here, which is then
// swapped for the initial access token oidc-provider checks (opts.registrationByUserToken:
// false turns that off). Never logs the token itself.
async function registrationBearer(state, provider, ctx) {
  const m = /^Bearer\s+(\S+)$/i.exec(ctx.get('authorization'));
  if (!m) return 'none';
  if (m[1] === state.initialAccessToken) return 'initial_access_token';
  if (state.opts.registrationByUserToken === false) return 'other';
  let token;
  try { token = await provider.AccessToken.find(m[1]); } catch { token = undefined; }
  if (!token || !token.isValid || !token.accountId) return 'other';
  ctx.req.headers.authorization = `Bearer ${state.initialAccessToken}`;
  return `user_access_token:${token.accountId}`;
}

// state: { opts, log: [], devices: Map, events: EventEmitter, setOption(k, v) }
export function testMiddleware(state, provider) {
  return async function latchTestMiddleware(ctx, next) {
    if (ctx.path.startsWith('/_test/')) return testRoute(state, provider, ctx);
    const route = routeOf(ctx.path);
    if (!route) return next();

    const entry = { t: Date.now(), method: ctx.method, path: ctx.path, route };
    try {
      entry.params = await readParams(ctx);
      entry.grant_type = entry.params.grant_type;
      entry.client_id = entry.params.client_id ?? basicClientId(ctx);
      entry.client_auth = basicClientId(ctx) !== undefined ? 'basic'
        : (entry.params.client_secret !== undefined ? 'post'
          : (entry.params.client_assertion !== undefined ? 'assertion' : undefined));
      if (route === 'registration' && ctx.method === 'POST') {
        entry.registration_auth = await registrationBearer(state, provider, ctx);
      }

      if (route === 'token' && entry.grant_type === DEVICE_GRANT && entry.params.device_code) {
        const verdict = pacePoll(state, entry.params.device_code, entry.t);
        entry.poll = verdict.poll;
        if (verdict.slowDown) {
          entry.interval = verdict.interval;
          ctx.status = 400;
          ctx.set('cache-control', 'no-store');
          ctx.body = {
            error: 'slow_down',
            error_description: `you are polling too quickly (${verdict.why}); wait at least ${verdict.interval} s between polls`,
          };
          return undefined;
        }
      }

      await next();
      entry.done = Date.now();  // when the response was ready (the client can act on it)

      if (route === 'device_authorization' && ctx.status === 200 && ctx.body?.device_code) {
        const interval = state.opts.interval ?? 5;
        ctx.body = { ...ctx.body, interval };
        state.devices.set(ctx.body.device_code, { interval, last: undefined, polls: 0 });
        const { device_code, user_code, expires_in, verification_uri } = ctx.body;
        entry.response = { device_code, user_code, interval, expires_in, verification_uri };
      }
      if (route === 'jwks' && ctx.status === 200 && Array.isArray(ctx.body?.keys)) {
        state.jwksFetches += 1;
        const after = state.opts.publishExtraKeyAfter;
        if (typeof after === 'number' && state.jwksFetches > after) {
          ctx.body = { keys: [...ctx.body.keys, state.keys.extra.publicJwk] };
        }
        entry.kids = ctx.body.keys.map((k) => k.kid);
      }
      if (route === 'token' && ctx.status === 200 && ctx.body && typeof ctx.body === 'object') {
        entry.issued = ['access_token', 'refresh_token', 'id_token'].filter((k) => ctx.body[k]);
        entry.scope = ctx.body.scope;
      }
      return undefined;
    } finally {
      entry.status = ctx.status;
      Object.assign(entry, errorOf(ctx));
      record(state, entry);
    }
  };
}
