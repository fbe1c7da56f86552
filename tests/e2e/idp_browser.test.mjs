// latch-idp end to end: `latch login --browser` signs in on latch-idp's own page in headless
// chromium (auth code + PKCE, RFC 9207 iss, an ID token latch verifies), and the attacks at
// the server: redirect URI mismatch, PKCE downgrade, code replay.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { join } from 'node:path';
import {
  browser, browserScript, cleanupTempDirs, closeBrowser, freshLatchHome, handedUrl, killAllLatch, readJson,
  runLatch, SKIP_WITHOUT_LATCH,
} from './lib.mjs';
import { idpAdmin, SKIP_WITHOUT_IDP, startLatchIdp } from './idp_lib.mjs';

const skip = SKIP_WITHOUT_LATCH || SKIP_WITHOUT_IDP;
const PASSWORD = 'correct horse battery staple';
const b64url = (b) => b.toString('base64url');

describe('latch-idp: browser login', { skip }, () => {
  let idp;
  before(async () => {
    idp = await startLatchIdp();
    const add = idpAdmin(['client', 'add', 'cli', '--public', '--data', idp.data, '--redirect-uri', 'http://127.0.0.1/callback',
      '--grant', 'authorization_code', '--grant', 'refresh_token', '--scope', 'openid profile email offline_access', '--skip-consent']);
    assert.equal(add.code, 0, add.stderr);
    const user = idpAdmin(['user', 'add', 'alice', '--data', idp.data], { env: { LATCH_IDP_PASSWORD: PASSWORD } });
    assert.equal(user.code, 0, user.stderr);
  });
  after(async () => {
    await killAllLatch();
    await closeBrowser();
    if (idp) await idp.stop();
    cleanupTempDirs();
  });

  test('latch login --browser: chromium signs in on our page; latch stores a verified ID token', { timeout: 120_000 }, async () => {
    const home = freshLatchHome();
    const b = browserScript();
    const h = runLatch(['login', '--browser', '--issuer', idp.issuer, '--client-id', 'cli', '--no-qr', '--timeout', '60'],
      { home, env: { BROWSER: b.script } });
    const url = await handedUrl(b.out);
    const context = await (await browser()).newContext();
    try {
      const page = await context.newPage();
      page.setDefaultTimeout(15_000);
      await page.goto(url);
      assert.equal(await page.title(), 'Sign in');
      await page.fill('input[name=username]', 'alice');
      await page.fill('input[name=password]', PASSWORD);
      await Promise.all([page.waitForURL(/^http:\/\/127\.0\.0\.1:\d+\/callback/), page.click('button')]);
    } finally {
      await context.close();
    }
    const done = await h.exit;
    assert.equal(done.code, 0, `${done.stderr}\nserver:\n${idp.stderr()}`);
    const creds = readJson(join(home, 'credentials', 'default.json'));
    assert.equal(creds.login_method, 'browser');
    assert.ok(creds.tokens.access_token && creds.tokens.refresh_token && creds.tokens.id_token);
  });

  // The authorization request a client would send, with our own PKCE pair.
  function authorizeUrl(extra = {}) {
    const verifier = b64url(randomBytes(32));
    const q = new URLSearchParams({
      client_id: 'cli', response_type: 'code', redirect_uri: 'http://127.0.0.1:9/callback', scope: 'openid offline_access',
      state: 'st-1', nonce: 'n-1', code_challenge: b64url(createHash('sha256').update(verifier).digest()),
      code_challenge_method: 'S256', ...extra,
    });
    for (const [k, v] of Object.entries(extra)) if (v === undefined) q.delete(k);
    return { url: `${idp.url}/oauth2/authorize?${q}`, verifier, params: q };
  }

  // Signs in through the form with plain HTTP; returns the redirect Location.
  async function signIn({ url, params }) {
    const r = await fetch(url);
    assert.equal(r.status, 200, await r.clone().text());
    const html = await r.text();
    const csrf = /name="csrf" value="([^"]+)"/.exec(html)[1];
    const cookie = r.headers.get('set-cookie').split(';')[0];
    const body = new URLSearchParams(params);
    body.set('csrf', csrf);
    body.set('username', 'alice');
    body.set('password', PASSWORD);
    const post = await fetch(`${idp.url}/oauth2/authorize`, {
      method: 'POST', redirect: 'manual', body: body.toString(),
      headers: { 'content-type': 'application/x-www-form-urlencoded', cookie },
    });
    assert.equal(post.status, 303);
    return new URL(post.headers.get('location'));
  }

  const token = (fields) => fetch(`${idp.url}/oauth2/token`, {
    method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(fields).toString(),
  }).then(async (res) => ({ status: res.status, body: await res.json() }));

  test('a replayed code is refused and revokes the refresh token it issued', async () => {
    const req = authorizeUrl();
    const back = await signIn(req);
    assert.equal(back.searchParams.get('state'), 'st-1');
    assert.equal(back.searchParams.get('iss'), idp.issuer);
    const redeem = { grant_type: 'authorization_code', client_id: 'cli', code: back.searchParams.get('code'),
      redirect_uri: 'http://127.0.0.1:9/callback', code_verifier: req.verifier };
    const first = await token(redeem);
    assert.equal(first.status, 200);
    assert.ok(first.body.id_token && first.body.refresh_token);
    const replay = await token(redeem);
    assert.equal(replay.body.error, 'invalid_grant');
    const refresh = await token({ grant_type: 'refresh_token', client_id: 'cli', refresh_token: first.body.refresh_token });
    assert.equal(refresh.body.error, 'invalid_grant', 'the replay revoked the refresh token');
  });

  test('PKCE: a wrong verifier, a missing one, and an authorization request without a challenge', async () => {
    const req = authorizeUrl();
    const back = await signIn(req);
    const wrong = await token({ grant_type: 'authorization_code', client_id: 'cli', code: back.searchParams.get('code'),
      redirect_uri: 'http://127.0.0.1:9/callback', code_verifier: b64url(randomBytes(32)) });
    assert.equal(wrong.body.error, 'invalid_grant');
    const back2 = await signIn(authorizeUrl());
    const missing = await token({ grant_type: 'authorization_code', client_id: 'cli', code: back2.searchParams.get('code'),
      redirect_uri: 'http://127.0.0.1:9/callback' });
    assert.equal(missing.body.error, 'invalid_grant');
    // A public client without PKCE is sent back with an error, not signed in.
    const noPkce = await fetch(authorizeUrl({ code_challenge: undefined, code_challenge_method: undefined }).url, { redirect: 'manual' });
    assert.equal(noPkce.status, 303);
    const loc = new URL(noPkce.headers.get('location'));
    assert.equal(loc.searchParams.get('error'), 'invalid_request');
    assert.equal(loc.searchParams.get('state'), 'st-1');
    const plain = await fetch(authorizeUrl({ code_challenge_method: 'plain' }).url, { redirect: 'manual' });
    assert.equal(new URL(plain.headers.get('location')).searchParams.get('error'), 'invalid_request');
  });

  test('an unregistered redirect URI gets an error page, never a redirect', async () => {
    for (const redirect of ['http://127.0.0.1:9/other', 'http://localhost:9/callback', 'https://evil.example/callback']) {
      const r = await fetch(authorizeUrl({ redirect_uri: redirect }).url, { redirect: 'manual' });
      assert.equal(r.status, 400, redirect);
      assert.equal(r.headers.get('location'), null);
      assert.match(await r.text(), /redirect_uri is not registered/);
    }
  });
});
