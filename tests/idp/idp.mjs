// The project's test identity provider: oidc-provider (a certified OpenID Provider)
// on a free loopback port, configured for everything latchkey's tests exercise, plus
// what oidc-provider lacks (RFC 8628 interval/slow_down, password grant, RFC 8693 token
// exchange) and a request log for assertions from the IdP's side.
//
//   import { startIdp } from './idp.mjs';
//   const idp = await startIdp({ interval: 1 });
//   ... idp.issuer, idp.log, idp.setOption('forceSlowDownOnPoll', 2), await idp.close();
import './quiet.mjs';
import { generateKeyPairSync } from 'node:crypto';
import { EventEmitter } from 'node:events';
import http from 'node:http';
import https from 'node:https';
import Provider from 'oidc-provider';

import { testMiddleware, DEVICE_GRANT } from './middleware.mjs';
import {
  registerPasswordGrant, registerTokenExchange, PASSWORD_GRANT, TOKEN_EXCHANGE_GRANT,
} from './grants.mjs';

export { DEVICE_GRANT, PASSWORD_GRANT, TOKEN_EXCHANGE_GRANT };
export const INITIAL_ACCESS_TOKEN = 'test-initial-access-token';

const LOOPBACK_REDIRECTS = ['http://127.0.0.1/callback', 'http://localhost/callback'];

export const DEFAULT_TTL = {
  AccessToken: 3600,
  AuthorizationCode: 60,
  ClientCredentials: 3600,
  DeviceCode: 600,
  Grant: 14 * 24 * 3600,
  IdToken: 3600,
  Interaction: 3600,
  RefreshToken: 14 * 24 * 3600,
  Session: 14 * 24 * 3600,
};

export function defaultClients() {
  return [
    {
      client_id: 'latch-cli',
      client_name: 'latch',
      application_type: 'native',
      token_endpoint_auth_method: 'none',
      grant_types: [DEVICE_GRANT, 'authorization_code', 'refresh_token', PASSWORD_GRANT,
        TOKEN_EXCHANGE_GRANT],
      response_types: ['code'],
      redirect_uris: LOOPBACK_REDIRECTS,
    },
    {
      client_id: 'latch-confidential',
      client_secret: 'confidential-secret',
      application_type: 'native',
      token_endpoint_auth_method: 'client_secret_basic',
      grant_types: [PASSWORD_GRANT, 'refresh_token', 'client_credentials', 'authorization_code',
        TOKEN_EXCHANGE_GRANT],
      response_types: ['code'],
      redirect_uris: LOOPBACK_REDIRECTS,
    },
    {
      // oidc-provider accepts only the registered auth method, so client_secret_post
      // needs its own client.
      client_id: 'latch-confidential-post',
      client_secret: 'confidential-secret',
      application_type: 'native',
      token_endpoint_auth_method: 'client_secret_post',
      grant_types: [PASSWORD_GRANT, 'refresh_token', 'client_credentials', 'authorization_code',
        TOKEN_EXCHANGE_GRANT],
      response_types: ['code'],
      redirect_uris: LOOPBACK_REDIRECTS,
    },
    {
      client_id: 'latch-service',
      client_secret: 'service-secret',
      token_endpoint_auth_method: 'client_secret_basic',
      grant_types: ['client_credentials'],
      response_types: [],
      redirect_uris: [],
    },
  ];
}

function capitalise(login) {
  return login ? login[0].toUpperCase() + login.slice(1) : login;
}

// Any login name is an account; its claims are derived from the name.
export function accountFor(login) {
  return {
    accountId: login,
    async claims() {
      return {
        sub: login,
        email: `${login}@example.com`,
        email_verified: true,
        name: capitalise(login),
        preferred_username: login,
      };
    },
  };
}

function coerce(value) {
  if (typeof value === 'string' && /^-?\d+(\.\d+)?$/.test(value)) return Number(value);
  if (value === 'true') return true;
  if (value === 'false') return false;
  if (value === 'null') return null;
  return value;
}

function ttlConfig(state) {
  const ttl = {};
  for (const name of Object.keys(DEFAULT_TTL)) {
    ttl[name] = () => Number(state.opts.ttl?.[name] ?? DEFAULT_TTL[name]);
  }
  return ttl;
}

// An RS256 signing key: the private JWK for oidc-provider's `jwks`, the KeyObject for
// /_test/sign, and the public JWK.
export function makeSigningKey(kid) {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const meta = { kid, alg: 'RS256', use: 'sig' };
  return {
    kid,
    privateKey,
    privateJwk: { ...privateKey.export({ format: 'jwk' }), ...meta },
    publicJwk: { ...publicKey.export({ format: 'jwk' }), ...meta },
  };
}

// RSA key generation takes a while: each key is made on first use.
function lazyKeys(kids) {
  const out = {};
  for (const [name, kid] of Object.entries(kids)) {
    let key;
    Object.defineProperty(out, name, { enumerable: true, get: () => { key ??= makeSigningKey(kid); return key; } });
  }
  return out;
}

function providerConfig(state, opts) {
  const { features: extraFeatures, config: extraConfig } = opts;
  return {
    // Our own key (not oidc-provider's development set), so /_test/sign can mint ID
    // tokens the issuer's JWKS vouches for.
    jwks: { keys: [state.keys.idp.privateJwk] },
    clients: [...(opts.replaceClients ? [] : defaultClients()), ...(opts.clients ?? [])],
    findAccount: state.findAccount,
    claims: {
      openid: ['sub'],
      email: ['email', 'email_verified'],
      profile: ['name', 'preferred_username'],
    },
    conformIdTokenClaims: false,
    cookies: { keys: ['latch-test-idp-cookie-key'] },
    features: {
      devInteractions: { enabled: true },
      deviceFlow: { enabled: true },
      introspection: { enabled: true },
      revocation: { enabled: true },
      clientCredentials: { enabled: true },
      registration: {
        enabled: true,
        initialAccessToken: opts.initialAccessToken ?? INITIAL_ACCESS_TOKEN,
      },
      registrationManagement: { enabled: true, rotateRegistrationAccessToken: false },
      resourceIndicators: { enabled: false },
      ...extraFeatures,
    },
    // Refresh tokens for clients allowed the refresh_token grant that asked for
    // offline_access (opts.refreshWithoutOfflineAccess: for any such client).
    issueRefreshToken(ctx, client, code) {
      if (!client.grantTypeAllowed('refresh_token')) return false;
      return state.opts.refreshWithoutOfflineAccess === true || code.scopes.has('offline_access');
    },
    rotateRefreshToken: () => state.opts.rotateRefreshToken ?? true,
    ttl: ttlConfig(state),
    ...extraConfig,
  };
}

// opts: interval (s, default 5), forceSlowDownOnPoll, password ('correct horse'),
// ttl: { AccessToken, DeviceCode, RefreshToken, ... } (s), clients (extra client
// metadata), replaceClients, initialAccessToken, refreshWithoutOfflineAccess,
// rotateRefreshToken, registrationByUserToken (default true: a user's access token may
// register clients, see middleware.mjs), features / config (merged into oidc-provider's configuration),
// host ('127.0.0.1'), port (0 = a free one).
export async function startIdp(opts = {}) {
  const state = {
    opts: { ...opts, ttl: { ...opts.ttl } },
    log: [],
    devices: new Map(),
    initialAccessToken: opts.initialAccessToken ?? INITIAL_ACCESS_TOKEN,
    events: new EventEmitter(),
    findAccount: async (ctx, sub) => accountFor(sub),
    // idp: in the JWKS from the start; extra: published once opts.publishExtraKeyAfter
    // JWKS fetches were answered without it (a key rotation); stranger: never published.
    keys: lazyKeys({ idp: 'idp-key-1', extra: 'idp-key-2', stranger: 'idp-key-stranger' }),
    jwksFetches: 0,
    setOption(key, value) {
      const v = coerce(value);
      if (key.startsWith('ttl.')) state.opts.ttl[key.slice(4)] = v;
      else if (key === 'ttl' && v && typeof v === 'object') Object.assign(state.opts.ttl, v);
      else state.opts[key] = v;
    },
  };
  state.events.setMaxListeners(0);

  const host = opts.host ?? '127.0.0.1';
  // opts.tls ({ key, cert }): serve https; opts.issuer(port): the issuer URL to announce
  // (e.g. a name only a proxy can resolve) instead of http(s)://host:port.
  const server = opts.tls ? https.createServer(opts.tls) : http.createServer();
  const sockets = new Set();
  server.on('connection', (s) => { sockets.add(s); s.on('close', () => sockets.delete(s)); });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => { server.off('error', reject); resolve(); });
  });
  const { port } = server.address();
  const issuer = opts.issuer ? opts.issuer(port) : `${opts.tls ? 'https' : 'http'}://${host}:${port}`;

  const provider = new Provider(issuer, providerConfig(state, opts));
  provider.proxy = false;
  registerPasswordGrant(provider, state);
  registerTokenExchange(provider);
  provider.use(testMiddleware(state, provider));
  // Errors the provider handles are normal for a test IdP; keep them off the console
  // unless asked (LATCH_IDP_VERBOSE=1).
  if (process.env.LATCH_IDP_VERBOSE === '1') {
    provider.on('server_error', (ctx, err) => console.error('idp server_error:', err));
  } else {
    provider.on('server_error', () => {});
  }
  server.on('request', provider.callback());

  let closed;
  return {
    issuer,
    port,
    provider,
    log: state.log,
    keys: state.keys,
    events: state.events,
    opts: state.opts,
    setOption: state.setOption,
    clearLog() { state.log.length = 0; },
    // Resolves with the first log entry (already logged or future) matching pred;
    // rejects after timeoutMs, or when signal (an AbortSignal) aborts.
    waitForLog(pred, timeoutMs = 30_000, { signal } = {}) {
      const found = state.log.find(pred);
      if (found) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        let timer;
        const finish = (fn, value) => {
          clearTimeout(timer);
          state.events.off('log', onLog);
          signal?.removeEventListener('abort', onAbort);
          fn(value);
        };
        const onLog = (entry) => { if (pred(entry)) finish(resolve, entry); };
        const onAbort = () => finish(reject, new Error('test IdP: waitForLog aborted'));
        if (signal?.aborted) { onAbort(); return; }
        timer = setTimeout(() => finish(reject,
          new Error(`test IdP: no matching request within ${timeoutMs} ms`)), timeoutMs);
        state.events.on('log', onLog);
        signal?.addEventListener('abort', onAbort);
      });
    },
    close() {
      closed ??= new Promise((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      });
      return closed;
    },
  };
}
