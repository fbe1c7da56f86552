// Issue 7: ID tokens are verified before anything is stored (the issuer's JWKS, fetched
// once and refetched once on an unknown kid), and callback URLs are accepted from the
// user: pasted into a waiting `latch login --browser`, or given to `--callback-url`.
// Against the test IdP, whose /_test/sign mints tokens with its own signing keys (with
// LATCH_E2E_IDP=latch-idp: latch-idp, its active key read from its database).
// Needs LATCH_BIN.
import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';

import {
  SKIP_WITHOUT_LATCH, approveDevice, browser, browserScript, cleanupTempDirs, closeBrowser, devicePolls,
  devicePrompt, fileMode, freshLatchHome, handedUrl, killAllLatch, latch, portIsClosed, readJson, runLatch,
  startIdp,
  loginArgs, latchIdpLacks,
} from './lib.mjs';
import { LATCH_IDP_PASSWORD } from './latch_idp_test_idp.mjs';

const TEST_TIMEOUT = 120_000;
const credentialsPath = (home) => join(home, 'credentials', 'default.json');
const epoch = () => Math.floor(Date.now() / 1000);

const loopbackOnly = (url) => {
  try { return ['127.0.0.1', 'localhost'].includes(new URL(url).hostname); } catch { return false; }
};

// Signs in on the IdP's pages in chromium, then submits the consent form outside the
// browser and follows the redirects by hand, stopping before the loopback callback: the
// browser "runs on another machine", so latch's listener never hears from it. Returns the
// callback URL the browser would have landed on. (latch-idp: one page, whose sign-in form
// is what answers with the redirect.)
async function callbackUrlWithoutListener(authUrl, redirectUri, { login = 'alice' } = {}) {
  const context = await (await browser()).newContext();
  await context.route('**/*', (route) => (loopbackOnly(route.request().url()) ? route.continue() : route.abort()));
  const page = await context.newPage();
  page.setDefaultTimeout(15_000);
  try {
    await page.goto(authUrl, { waitUntil: 'load' });
    const latchIdp = await page.locator('form[action="/oauth2/authorize"] input[name=username]').count() > 0;
    if (latchIdp) {
      await page.fill('input[name=username]', login);
      await page.fill('input[name=password]', LATCH_IDP_PASSWORD);
    } else {
      await page.fill('input[name=login]', login);
      await page.fill('input[name=password]', 'x');
      await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), page.locator('button[type=submit]').click()]);
    }
    const form = await page.evaluate((field) => {
      const f = document.querySelector(field).form;
      return { action: f.action, fields: Object.fromEntries(new FormData(f)) };
    }, latchIdp ? 'input[name=username]' : 'input[name=prompt][value=consent]');
    let res = await context.request.post(form.action, { form: form.fields, maxRedirects: 0 });
    for (let hop = 0; hop < 10; hop += 1) {
      const location = res.headers().location;
      assert.ok(location, `expected a redirect, got HTTP ${res.status()}`);
      const next = new URL(location, res.url()).href;
      if (next.startsWith(redirectUri)) return next;
      res = await context.request.get(next, { maxRedirects: 0 });
    }
    throw new Error('too many redirects');
  } finally {
    await context.close().catch(() => {});
  }
}

async function post(url, body, headers = {}) {
  const res = await fetch(url, { method: 'POST', headers, body });
  return res.json();
}

// A real ID token for alice, issued to latch-cli by the IdP's password grant (at the token
// endpoint its discovery document names).
async function realIdToken(idp) {
  const body = new URLSearchParams({
    grant_type: 'password', username: 'alice', password: 'correct horse', client_id: 'latch-cli',
    scope: 'openid email profile',
  });
  const meta = await (await fetch(`${idp.issuer}/.well-known/openid-configuration`)).json();
  const r = await post(meta.token_endpoint, body, { 'content-type': 'application/x-www-form-urlencoded' });
  assert.ok(r.id_token, JSON.stringify(r));
  return r.id_token;
}

// An ID token with the IdP's key (or another: key 'extra' / 'stranger'), claims overridable.
async function mintIdToken(idp, overrides = {}, key = 'idp') {
  const now = epoch();
  const claims = {
    iss: idp.issuer, sub: 'bob', aud: 'latch-cli', iat: now, exp: now + 600,
    email: 'bob@example.com', name: 'Bob', ...overrides,
  };
  const r = await post(`${idp.issuer}/_test/sign`, JSON.stringify({ claims, key }),
    { 'content-type': 'application/json' });
  return r.token;
}

const jwksFetchesSince = (idp, t) => idp.log.filter((e) => e.route === 'jwks' && e.t >= t).length;
const spaUrl = (token) => `https://app.example.com/login#id_token=${token}&token_type=Bearer`;

describe('ID-token verification and callback URLs', { skip: SKIP_WITHOUT_LATCH }, () => {
  let idp;
  before(async () => { idp = await startIdp({ interval: 1 }); });
  after(async () => {
    await killAllLatch();
    await closeBrowser();
    await idp?.close();
    cleanupTempDirs();
  });

  test('--browser: a pasted ?code= URL completes the login while the listener is open', { timeout: TEST_TIMEOUT }, async () => {
    const home = freshLatchHome();
    const b = browserScript();
    const h = runLatch([...loginArgs(idp), '--browser'], { home, env: { BROWSER: b.script }, stdin: 'open' });
    const authUrl = await handedUrl(b.out);
    await h.waitForStderr('If the browser runs on another machine, paste the URL it lands on here.');
    const redirectUri = new URL(authUrl).searchParams.get('redirect_uri');
    const port = Number(new URL(redirectUri).port);
    const callback = await callbackUrlWithoutListener(authUrl, redirectUri);
    assert.match(callback, /[?&]code=/);

    // Garbage and a URL of another login are reported on one line each; latch keeps waiting.
    h.child.stdin.write('hello there\n');
    await h.waitForStderr(/latch: ignoring the pasted line: .*paste the whole URL/);
    const forged = callback.replace(/([?&]state=)[^&]+/, '$1forged-state');
    h.child.stdin.write(`${forged}\n`);
    await h.waitForStderr(/latch: ignoring the pasted URL: its state does not match this login/);
    assert.equal(h.child.exitCode, null, 'still waiting');
    assert.equal(await portIsClosed(port), false, 'the listener is still open');
    assert.equal(idp.log.filter((e) => e.route === 'token' && e.params?.redirect_uri === redirectUri).length, 0);

    h.child.stdin.write(`  ${callback}\r\n`);
    const done = await h.exit;
    assert.equal(done.code, 0, done.stderr);
    assert.match(done.stderr, /Logged in to .* as Alice \(context 'default', browser, pasted URL\)\./);
    const creds = readJson(credentialsPath(home));
    assert.equal(creds.login_method, 'browser-pasted');
    assert.ok(creds.tokens.access_token && creds.tokens.refresh_token && creds.tokens.id_token);
    assert.equal(creds.identity.email, 'alice@example.com');
    const exchanges = idp.log.filter((e) => e.route === 'token' && e.grant_type === 'authorization_code'
      && e.params?.redirect_uri === redirectUri);
    assert.equal(exchanges.length, 1, 'the code was exchanged once, with the verifier held in memory');
    assert.ok(exchanges[0].params.code_verifier);
    assert.equal(await portIsClosed(port), true, 'the listener is closed afterwards');
    const status = await latch(['status'], { home });
    assert.match(status.stdout, /login: +browser \(authorization code \+ PKCE, pasted URL\)/);
  });

  test('hybrid: a pasted ?code= URL beats the device flow; polling stops', { timeout: TEST_TIMEOUT }, async () => {
    const home = freshLatchHome();
    const b = browserScript();
    const h = runLatch(loginArgs(idp), { home, env: { BROWSER: b.script }, stdin: 'open' });
    const authUrl = await handedUrl(b.out);
    const prompt = await devicePrompt(h);  // the device side is up too
    await h.waitForStderr('paste the URL it lands on here');
    const redirectUri = new URL(authUrl).searchParams.get('redirect_uri');
    const callback = await callbackUrlWithoutListener(authUrl, redirectUri, { login: 'frank' });
    h.child.stdin.write(`${callback}\n`);
    const done = await h.exit;
    assert.equal(done.code, 0, done.stderr);
    assert.match(done.stderr, /as Frank \(context 'default', browser, pasted URL\)/);
    assert.equal(readJson(credentialsPath(home)).login_method, 'browser-pasted');
    const exchange = idp.log.find((e) => e.route === 'token' && e.grant_type === 'authorization_code'
      && e.params?.redirect_uri === redirectUri);
    assert.ok(exchange?.done);
    await idp.waitForLog(() => false, 2500).catch(() => {});  // 2.5 polling intervals
    // Polling stops once the pasted URL has won. latch knows it has won only after it has
    // read the code exchange's answer (and checked the ID token), a few milliseconds after
    // the IdP logged it: a poll that fell due in that window may still go out (seen once
    // in CI). Nothing may follow it: the next poll would come an interval later.
    const after = devicePolls(idp, prompt.userCode).filter((p) => p.t > exchange.done);
    assert.ok(after.length <= 1 && after.every((p) => p.t - exchange.done < 500),
      `no device polls after the pasted URL won (at most one already due): ${JSON.stringify(after.map((p) => p.t - exchange.done))} ms after`);
    assert.equal(await portIsClosed(Number(new URL(redirectUri).port)), true);
  });

  test('--browser: a pasted #id_token= must carry this login\'s nonce; then it wins', { timeout: TEST_TIMEOUT }, async () => {
    const home = freshLatchHome();
    const b = browserScript();
    const h = runLatch([...loginArgs(idp), '--browser'], { home, env: { BROWSER: b.script }, stdin: 'open' });
    const authUrl = new URL(await handedUrl(b.out));
    await h.waitForStderr('paste the URL it lands on here');
    const port = Number(new URL(authUrl.searchParams.get('redirect_uri')).port);
    const stranger = await mintIdToken(idp, { nonce: 'someone-elses-nonce' });
    h.child.stdin.write(`${spaUrl(stranger)}\n`);
    await h.waitForStderr(/latch: ignoring the pasted ID token: ID token rejected: nonce does not match .*--callback-url -.*still waiting/);
    assert.equal(await portIsClosed(port), false, 'the listener is still open');
    const ours = await mintIdToken(idp, { nonce: authUrl.searchParams.get('nonce') });
    h.child.stdin.write(`${spaUrl(ours)}\n`);
    const done = await h.exit;
    assert.equal(done.code, 0, done.stderr);
    const creds = readJson(credentialsPath(home));
    assert.equal(creds.login_method, 'callback-url');
    assert.equal(creds.tokens.id_token, ours);
    assert.equal(creds.identity.email, 'bob@example.com');
    assert.equal(await portIsClosed(port), true, 'the listener is closed afterwards');
  });

  test('refresh: the new ID token is verified too', { timeout: TEST_TIMEOUT }, async () => {
    const home = freshLatchHome();
    const env = { LATCH_USERNAME: 'dave', LATCH_PASSWORD: 'correct horse' };
    const login = await latch([...loginArgs(idp), '--password'], { home, env });
    assert.equal(login.code, 0, login.stderr);
    const before = readJson(credentialsPath(home));
    // A token issued in the same second as the first would be byte-identical (RS256 is
    // deterministic): poll, bounded, until the IdP's clock has moved past its `iat`.
    const { iat } = JSON.parse(Buffer.from(before.tokens.id_token.split('.')[1], 'base64url'));
    for (let i = 0; i < 40 && epoch() <= iat; i += 1) await new Promise((r) => setTimeout(r, 50));
    const start = Date.now();
    const refreshed = await latch(['refresh'], { home });
    assert.equal(refreshed.code, 0, refreshed.stderr);
    assert.doesNotMatch(refreshed.stderr, /warning/);
    const after = readJson(credentialsPath(home));
    assert.notEqual(after.tokens.id_token, before.tokens.id_token, 'a new ID token was stored');
    assert.equal(jwksFetchesSince(idp, start), 1, 'the refresh fetched the JWKS to verify it');
  });

  test('refresh: an ID token for another subject is dropped with a warning, the new tokens kept', { timeout: TEST_TIMEOUT }, async () => {
    const home = freshLatchHome();
    const env = { LATCH_USERNAME: 'erin', LATCH_PASSWORD: 'correct horse' };
    assert.equal((await latch([...loginArgs(idp), '--password'], { home, env })).code, 0);
    const path = credentialsPath(home);
    const stored = readJson(path);
    stored.identity.sub = 'somebody-else';  // as if the IdP now vouched for another user
    writeFileSync(path, JSON.stringify(stored));
    const { iat } = JSON.parse(Buffer.from(stored.tokens.id_token.split('.')[1], 'base64url'));
    for (let i = 0; i < 40 && epoch() <= iat; i += 1) await new Promise((r) => setTimeout(r, 50));
    const refreshed = await latch(['refresh'], { home });
    assert.equal(refreshed.code, 0, refreshed.stderr);
    assert.match(refreshed.stderr, /latch: warning: refresh: ID token rejected: its subject differs from the logged-in one; kept the previous ID token/);
    const after = readJson(path);
    assert.equal(after.tokens.id_token, stored.tokens.id_token, 'the previous ID token is kept');
    assert.notEqual(after.tokens.access_token, stored.tokens.access_token, 'the refreshed access token is stored');
    assert.notEqual(after.tokens.refresh_token, stored.tokens.refresh_token, 'and the rotated refresh token');
  });

  test('--callback-url - with a valid #id_token=: verified, then stored', { timeout: TEST_TIMEOUT }, async () => {
    const home = freshLatchHome();
    const token = await realIdToken(idp);
    const start = Date.now();
    const done = await latch([...loginArgs(idp), '--callback-url', '-'], { home, stdin: `${spaUrl(token)}\n` });
    assert.equal(done.code, 0, done.stderr);
    assert.match(done.stderr, /as Alice \(context 'default', ID token from a callback URL\)/);
    assert.doesNotMatch(done.stderr, /warning/);
    const creds = readJson(credentialsPath(home));
    assert.equal(fileMode(credentialsPath(home)), 0o600);
    assert.equal(creds.login_method, 'callback-url');
    assert.equal(creds.tokens.id_token, token);
    assert.equal(creds.tokens.access_token, token, 'the ID token is also what `latch token` prints');
    assert.equal(creds.identity.sub, 'alice');
    assert.equal(creds.identity.email, 'alice@example.com');
    assert.equal(jwksFetchesSince(idp, start), 1);
    assert.equal(idp.log.filter((e) => e.route === 'userinfo' && e.t >= start).length, 0,
      'no userinfo call with an ID token as bearer');
    const printed = await latch(['token'], { home });
    assert.equal(printed.stdout.trim(), token);
  });

  test('--callback-url on argv works too, with a warning about `ps`', { timeout: TEST_TIMEOUT }, async () => {
    const home = freshLatchHome();
    const token = await mintIdToken(idp);
    const done = await latch([...loginArgs(idp), '--callback-url', spaUrl(token)], { home });
    assert.equal(done.code, 0, done.stderr);
    assert.match(done.stderr, /latch: warning: other users can read a command line/);
    assert.equal(readJson(credentialsPath(home)).identity.email, 'bob@example.com');
  });

  for (const [name, make, check] of [
    ['a tampered signature', async () => {
      const t = await realIdToken(idp);
      const [h, p, s] = t.split('.');
      return `${h}.${p}.${s[0] === 'A' ? 'B' : 'A'}${s.slice(1)}`;
    }, /latch: ID token rejected: signature does not verify; nothing was stored/],
    ['a tampered payload', async () => {
      const t = await realIdToken(idp);
      const [h, p, s] = t.split('.');
      const claims = JSON.parse(Buffer.from(p, 'base64url'));
      claims.sub = 'mallory';
      return `${h}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.${s}`;
    }, /latch: ID token rejected: signature does not verify/],
    ['the wrong audience', () => mintIdToken(idp, { aud: 'some-other-app' }),
      /latch: ID token rejected: audience does not include 'latch-cli'; nothing was stored/],
    ['an expired token', () => mintIdToken(idp, { iat: epoch() - 7200, exp: epoch() - 3600 }),
      /latch: ID token rejected: expired at \d{4}-\d\d-\d\dT[\d:]+Z \(now .*allowed clock skew 120 s\)/],
    ['another issuer', () => mintIdToken(idp, { iss: 'https://evil.example' }),
      /latch: ID token rejected: issuer 'https:\/\/evil\.example' is not/],
  ]) {
    test(`--callback-url with ${name}: rejected naming the check, nothing stored`, { timeout: TEST_TIMEOUT }, async () => {
      const home = freshLatchHome();
      const token = await make();
      const done = await latch([...loginArgs(idp), '--callback-url', '-'], { home, stdin: spaUrl(token) });
      assert.equal(done.code, 1, done.stderr);
      assert.match(done.stderr, check);
      assert.equal(done.stderr.trim().split('\n').length, 1, 'one line');
      assert.equal(existsSync(credentialsPath(home)), false, 'no credentials');
      assert.equal(existsSync(join(home, 'config.json')), false, 'no config either');
    });
  }

  test('--callback-url with ?code=: refused (no PKCE verifier in this process), exit 2', { timeout: TEST_TIMEOUT }, async () => {
    const home = freshLatchHome();
    const done = await latch([...loginArgs(idp), '--callback-url', '-'],
      { home, stdin: 'http://127.0.0.1:8765/callback?code=abc&state=xyz\n' });
    assert.equal(done.code, 2, done.stderr);
    assert.match(done.stderr, /can only be redeemed by the `latch login` that started that sign-in .*PKCE code verifier/);
    assert.equal(existsSync(credentialsPath(home)), false);
    const garbage = await latch([...loginArgs(idp), '--callback-url', '-'], { home, stdin: 'not a url\n' });
    assert.equal(garbage.code, 2, garbage.stderr);
    assert.match(garbage.stderr, /--callback-url: not a callback URL/);
  });

  test('device login: the ID token is verified against the JWKS, fetched once', { timeout: TEST_TIMEOUT }, async () => {
    const home = freshLatchHome();
    const start = Date.now();
    const h = runLatch([...loginArgs(idp), '--device'], { home });
    const prompt = await devicePrompt(h);
    await approveDevice({ url: prompt.url, userCode: prompt.userCode, login: 'carol' });
    const done = await h.exit;
    assert.equal(done.code, 0, done.stderr);
    const creds = readJson(credentialsPath(home));
    assert.ok(creds.tokens.id_token);
    assert.equal(creds.identity.sub, 'carol');
    assert.equal(jwksFetchesSince(idp, start), 1, 'the JWKS was fetched exactly once');
  });
});

describe('JWKS key rotation', { skip: SKIP_WITHOUT_LATCH }, () => {
  let idp;
  // The first JWKS fetch lacks the 'extra' key; later ones list it (a rotation).
  before(async () => { idp = await startIdp({ publishExtraKeyAfter: 1 }); });
  after(async () => {
    await killAllLatch();
    await idp?.close();
    cleanupTempDirs();
  });

  test('a token signed with a new key: the JWKS is refetched once and it verifies', { timeout: TEST_TIMEOUT }, async (t) => {
    // latch-idp publishes a rotated key from its next start on (idp_keys.test.mjs), not
    // between two JWKS fetches of one running server, which is what this case needs.
    const lacks = latchIdpLacks(idp, 'publishing a new key between two JWKS fetches without a restart');
    if (lacks) { t.skip(lacks); return; }
    const home = freshLatchHome();
    const token = await mintIdToken(idp, {}, 'extra');
    const done = await latch([...loginArgs(idp), '--callback-url', '-'], { home, stdin: spaUrl(token) });
    assert.equal(done.code, 0, done.stderr);
    const fetches = idp.log.filter((e) => e.route === 'jwks');
    assert.equal(fetches.length, 2);
    assert.deepEqual(fetches.map((e) => e.kids.includes('idp-key-2')), [false, true]);
    assert.equal(readJson(credentialsPath(home)).login_method, 'callback-url');
  });

  test('a key that is never published: one refetch, then rejected', { timeout: TEST_TIMEOUT }, async () => {
    const home = freshLatchHome();
    const start = Date.now();
    const token = await mintIdToken(idp, {}, 'stranger');
    const done = await latch([...loginArgs(idp), '--callback-url', '-'], { home, stdin: spaUrl(token) });
    assert.equal(done.code, 1, done.stderr);
    assert.match(done.stderr, /ID token rejected: signing key 'idp-key-stranger' is not in the provider's JWKS/);
    assert.equal(jwksFetchesSince(idp, start), 2, 'fetched, refetched once, no more');
    assert.equal(existsSync(credentialsPath(home)), false);
  });
});
