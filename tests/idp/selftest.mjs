#!/usr/bin/env node
// Manual self-test of the test IdP with a scripted client (no latch needed):
//   node tests/idp/selftest.mjs
// Prints one line per feature (ok / FAIL) and exits non-zero if any failed.
import assert from 'node:assert/strict';
import http from 'node:http';
import * as oidc from 'openid-client';

import { startIdp, INITIAL_ACCESS_TOKEN } from './idp.mjs';
import {
  approveDevice, browserLogin, closeBrowser, cleanupTempDirs, devicePolls, idpIntrospect,
} from '../e2e/lib.mjs';

const DEVICE = 'urn:ietf:params:oauth:grant-type:device_code';
const TX = 'urn:ietf:params:oauth:grant-type:token-exchange';
const AT_TYPE = 'urn:ietf:params:oauth:token-type:access_token';

const results = [];
async function check(name, fn) {
  const started = Date.now();
  try {
    const note = await fn();
    results.push({ name, ok: true });
    console.log(`ok    ${name} (${Date.now() - started} ms)${note ? ` - ${note}` : ''}`);
  } catch (err) {
    results.push({ name, ok: false });
    console.log(`FAIL  ${name}: ${err.stack ?? err}`);
  }
}

const idp = await startIdp({ interval: 1 });
const { issuer } = idp;
const basic = (id, secret) => `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`;

async function post(path, form, headers = {}) {
  const res = await fetch(`${issuer}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body: new URLSearchParams(form),
  });
  const text = await res.text();
  let json;
  try { json = JSON.parse(text); } catch { json = { text }; }
  return { status: res.status, json };
}

// Only for the device interval a polling client must keep between polls (RFC 8628 §3.5),
// never to wait for an event.
const sleep = (ms) => new Promise((r) => { setTimeout(r, ms); });

async function pollDevice(deviceCode, interval, clientId = 'latch-cli') {
  let wait = interval;
  for (let i = 0; i < 30; i += 1) {
    await sleep(wait * 1000);
    const r = await post('/token', { grant_type: DEVICE, device_code: deviceCode, client_id: clientId });
    if (r.status === 200) return r;
    if (r.json.error === 'slow_down') wait += 5;
    else if (r.json.error !== 'authorization_pending') return r;
  }
  throw new Error('device polling did not finish');
}

let alice;
try {
  await check('discovery document', async () => {
    const res = await fetch(`${issuer}/.well-known/openid-configuration`);
    const d = await res.json();
    assert.equal(d.issuer, issuer);
    for (const g of [DEVICE, 'password', TX, 'client_credentials', 'refresh_token']) {
      assert.ok(d.grant_types_supported.includes(g), g);
    }
    assert.ok(d.registration_endpoint && d.introspection_endpoint && d.revocation_endpoint);
  });

  await check('device flow: interval, pending, slow_down, approval in chromium, tokens', async () => {
    const auth = await post('/device/auth', { client_id: 'latch-cli', scope: 'openid profile email offline_access' });
    assert.equal(auth.status, 200);
    assert.equal(auth.json.interval, 1);
    const { device_code: dc, user_code: uc } = auth.json;
    const p1 = await post('/token', { grant_type: DEVICE, device_code: dc, client_id: 'latch-cli' });
    assert.equal(p1.json.error, 'authorization_pending');
    const p2 = await post('/token', { grant_type: DEVICE, device_code: dc, client_id: 'latch-cli' });
    assert.equal(p2.json.error, 'slow_down');
    const page = await approveDevice({ url: auth.json.verification_uri, userCode: uc, login: 'alice' });
    const done = await pollDevice(dc, 6);
    assert.equal(done.status, 200, JSON.stringify(done.json));
    assert.ok(done.json.access_token && done.json.refresh_token && done.json.id_token);
    const claims = JSON.parse(Buffer.from(done.json.id_token.split('.')[1], 'base64url'));
    assert.equal(claims.sub, 'alice');
    assert.equal(claims.email, 'alice@example.com');
    assert.equal(claims.name, 'Alice');
    alice = done.json;
    const polls = devicePolls(idp, uc);
    return `pages ${page.pages.join(' > ')}; polls ${polls.map((p) => p.error ?? p.status).join(',')}; scope "${done.json.scope}"`;
  });

  await check('device flow: complete URI, denial at consent -> access_denied', async () => {
    const auth = await post('/device/auth', { client_id: 'latch-cli', scope: 'openid' });
    await approveDevice({ url: auth.json.verification_uri_complete, deny: true });
    const r = await pollDevice(auth.json.device_code, 1);
    assert.equal(r.json.error, 'access_denied');
    return r.json.error_description;
  });

  await check('device flow: forceSlowDownOnPoll=2 answers poll 2 with slow_down', async () => {
    idp.setOption('forceSlowDownOnPoll', 2);
    try {
      const auth = await post('/device/auth', { client_id: 'latch-cli', scope: 'openid' });
      const got = [];
      for (let i = 0; i < 2; i += 1) {
        await sleep(auth.json.interval * 1000);  // the device interval
        got.push((await post('/token', { grant_type: DEVICE, device_code: auth.json.device_code, client_id: 'latch-cli' })).json.error);
      }
      assert.deepEqual(got, ['authorization_pending', 'slow_down']);
    } finally { idp.setOption('forceSlowDownOnPoll', undefined); }
  });

  await check('device flow: expired code -> expired_token', async () => {
    idp.setOption('ttl.DeviceCode', 1);
    try {
      const auth = await post('/device/auth', { client_id: 'latch-cli', scope: 'openid' });
      assert.equal(auth.json.expires_in, 1);
      // Poll at the device interval (as a client must) until the code has expired; bounded.
      let r;
      for (let i = 0; i < 5; i += 1) {
        await sleep(auth.json.interval * 1000);
        r = await post('/token', { grant_type: DEVICE, device_code: auth.json.device_code, client_id: 'latch-cli' });
        if (r.json.error !== 'authorization_pending') break;
      }
      assert.equal(r.json.error, 'expired_token');
    } finally { idp.setOption('ttl.DeviceCode', undefined); }
  });

  await check('/_test/introspect and /token/introspection say the access token is active', async () => {
    const t = await idpIntrospect(idp, alice.access_token);
    assert.equal(t.active, true);
    assert.equal(t.accountId, 'alice');
    const r = await post('/token/introspection', { token: alice.access_token, client_id: 'latch-cli' });
    assert.equal(r.json.active, true);
    assert.equal(r.json.sub, 'alice');
    assert.equal((await idpIntrospect(idp, 'nope')).active, false);
  });

  await check('userinfo (/me) with the device-flow access token', async () => {
    const res = await fetch(`${issuer}/me`, { headers: { authorization: `Bearer ${alice.access_token}` } });
    const body = await res.json();
    assert.equal(res.status, 200);
    assert.equal(body.email, 'alice@example.com');
  });

  await check('refresh: rotation, old refresh token reuse revokes the grant', async () => {
    const r = await post('/token', { grant_type: 'refresh_token', refresh_token: alice.refresh_token, client_id: 'latch-cli' });
    assert.equal(r.status, 200, JSON.stringify(r.json));
    assert.ok(r.json.refresh_token && r.json.refresh_token !== alice.refresh_token, 'rotated');
    assert.equal((await idpIntrospect(idp, alice.refresh_token)).active, false);
    assert.equal((await idpIntrospect(idp, r.json.access_token)).active, true);
    const replay = await post('/token', { grant_type: 'refresh_token', refresh_token: alice.refresh_token, client_id: 'latch-cli' });
    assert.equal(replay.json.error, 'invalid_grant');
    assert.equal((await idpIntrospect(idp, r.json.access_token)).active, false, 'grant revoked after replay');
  });

  await check('revocation endpoint', async () => {
    const pw = await post('/token', { grant_type: 'password', username: 'carol', password: 'correct horse', scope: 'openid', client_id: 'latch-cli' });
    const r = await post('/token/revocation', { token: pw.json.access_token, client_id: 'latch-cli' });
    assert.equal(r.status, 200);
    assert.equal((await idpIntrospect(idp, pw.json.access_token)).active, false);
  });

  let bobAt;
  await check('password grant (public + confidential basic + post), refresh of its token, bad password', async () => {
    const ok = await post('/token', { grant_type: 'password', username: 'bob', password: 'correct horse', scope: 'openid email profile offline_access', client_id: 'latch-cli' });
    assert.equal(ok.status, 200, JSON.stringify(ok.json));
    assert.ok(ok.json.access_token && ok.json.refresh_token && ok.json.id_token);
    const ref = await post('/token', { grant_type: 'refresh_token', refresh_token: ok.json.refresh_token, client_id: 'latch-cli' });
    assert.equal(ref.status, 200, JSON.stringify(ref.json));
    const conf = await post('/token', { grant_type: 'password', username: 'bob', password: 'correct horse', scope: 'openid' },
      { authorization: basic('latch-confidential', 'confidential-secret') });
    assert.equal(conf.status, 200, JSON.stringify(conf.json));
    bobAt = conf.json.access_token;
    const viaPost = await post('/token', { grant_type: 'password', username: 'bob', password: 'correct horse', client_id: 'latch-confidential-post', client_secret: 'confidential-secret' });
    assert.equal(viaPost.status, 200, JSON.stringify(viaPost.json));
    const bad = await post('/token', { grant_type: 'password', username: 'bob', password: 'wrong', client_id: 'latch-cli' });
    assert.equal(bad.json.error, 'invalid_grant');
  });

  await check('client_credentials (latch-service)', async () => {
    const r = await post('/token', { grant_type: 'client_credentials' }, { authorization: basic('latch-service', 'service-secret') });
    assert.equal(r.status, 200, JSON.stringify(r.json));
    const t = await idpIntrospect(idp, r.json.access_token);
    assert.equal(t.active, true);
    assert.equal(t.kind, 'ClientCredentials');
    const bad = await post('/token', { grant_type: 'client_credentials' }, { authorization: basic('latch-service', 'nope') });
    assert.equal(bad.json.error, 'invalid_client');
  });

  await check('token exchange (RFC 8693)', async () => {
    const r = await post('/token', { grant_type: TX, subject_token: bobAt, subject_token_type: AT_TYPE, audience: 'https://api.example' },
      { authorization: basic('latch-confidential', 'confidential-secret') });
    assert.equal(r.status, 200, JSON.stringify(r.json));
    assert.equal(r.json.issued_token_type, AT_TYPE);
    const t = await idpIntrospect(idp, r.json.access_token);
    assert.equal(t.active, true);
    assert.equal(t.accountId, 'bob');
    const dead = await post('/token', { grant_type: TX, subject_token: 'not-a-token', subject_token_type: AT_TYPE },
      { authorization: basic('latch-confidential', 'confidential-secret') });
    assert.equal(dead.json.error, 'invalid_grant');
  });

  await check('dynamic client registration + management', async () => {
    const res = await fetch(`${issuer}/reg`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${INITIAL_ACCESS_TOKEN}` },
      body: JSON.stringify({ grant_types: ['client_credentials'], response_types: [], redirect_uris: [], token_endpoint_auth_method: 'client_secret_basic' }),
    });
    const c = await res.json();
    assert.equal(res.status, 201, JSON.stringify(c));
    const tok = await post('/token', { grant_type: 'client_credentials' }, { authorization: basic(c.client_id, c.client_secret) });
    assert.equal(tok.status, 200);
    const read = await fetch(c.registration_client_uri, { headers: { authorization: `Bearer ${c.registration_access_token}` } });
    assert.equal(read.status, 200);
    const del = await fetch(c.registration_client_uri, { method: 'DELETE', headers: { authorization: `Bearer ${c.registration_access_token}` } });
    assert.equal(del.status, 204);
    const noAuth = await fetch(`${issuer}/reg`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    assert.equal(noAuth.status, 401);
  });

  await check('authorization code + PKCE through chromium to a loopback listener', async () => {
    let resolveCb;
    const callback = new Promise((r) => { resolveCb = r; });
    const listener = http.createServer((req, res) => {
      resolveCb(new URL(req.url, 'http://127.0.0.1'));
      res.end('done');
    });
    await new Promise((r) => { listener.listen(0, '127.0.0.1', r); });
    try {
      const redirect = `http://127.0.0.1:${listener.address().port}/callback`;
      const verifier = oidc.randomPKCECodeVerifier();
      const challenge = await oidc.calculatePKCECodeChallenge(verifier);
      const url = new URL(`${issuer}/auth`);
      Object.entries({ client_id: 'latch-cli', response_type: 'code', redirect_uri: redirect, scope: 'openid email offline_access', prompt: 'consent', code_challenge: challenge, code_challenge_method: 'S256', state: 'xyz' })
        .forEach(([k, v]) => url.searchParams.set(k, v));
      const page = await browserLogin(url.href, { login: 'dave' });
      const cb = await callback;
      assert.equal(cb.searchParams.get('state'), 'xyz');
      assert.equal(cb.searchParams.get('iss'), issuer);
      const r = await post('/token', { grant_type: 'authorization_code', code: cb.searchParams.get('code'), redirect_uri: redirect, code_verifier: verifier, client_id: 'latch-cli' });
      assert.equal(r.status, 200, JSON.stringify(r.json));
      assert.ok(r.json.refresh_token, `offline_access + prompt=consent gives a refresh token: ${JSON.stringify(r.json)}`);
      const logged = idp.log.find((e) => e.route === 'token' && e.grant_type === 'authorization_code');
      assert.equal(logged.params.code_verifier, verifier);
      return `pages ${page.pages.join(' > ')}`;
    } finally { listener.close(); }
  });

  await check('openid-client 6 against the IdP (discovery + password-less client_credentials)', async () => {
    const config = await oidc.discovery(new URL(issuer), 'latch-service', 'service-secret', undefined,
      { execute: [oidc.allowInsecureRequests] });
    const t = await oidc.clientCredentialsGrant(config);
    assert.ok(t.access_token);
  });

  await check('request log and /_test/log', async () => {
    const res = await fetch(`${issuer}/_test/log`);
    const log = await res.json();
    assert.ok(log.length > 10);
    assert.ok(log.every((e) => typeof e.t === 'number' && e.path && e.status));
    await fetch(`${issuer}/_test/log/clear`, { method: 'POST' });
    assert.equal((await (await fetch(`${issuer}/_test/log`)).json()).length, 0);
  });
} finally {
  await closeBrowser();
  await idp.close();
  cleanupTempDirs();
}

const failed = results.filter((r) => !r.ok).length;
console.log(`${results.length - failed}/${results.length} passed`);
process.exit(failed ? 1 : 0);
