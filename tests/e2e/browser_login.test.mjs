// Browser login (authorization code + PKCE on a loopback listener) with Debian's chromium
// acting as the user, and the hybrid login that races it with the device flow.
// `BROWSER` is a script that hands the URL to the test, which drives chromium with it.
// Needs LATCH_BIN.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';

import {
  SKIP_WITHOUT_LATCH, approveDevice, browserLogin, browserScript, cleanupTempDirs, closeBrowser,
  devicePolls, devicePrompt, freshLatchHome, handedUrl, killAllLatch, portIsClosed, readJson, runLatch,
  startIdp,
  loginArgs,
} from './lib.mjs';

const TEST_TIMEOUT = 120_000;
const credentialsPath = (home) => join(home, 'credentials', 'default.json');
const b64url = (buf) => buf.toString('base64').replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');


describe('browser and hybrid login', { skip: SKIP_WITHOUT_LATCH }, () => {
  let idp;
  before(async () => { idp = await startIdp({ interval: 1 }); });
  after(async () => {
    await killAllLatch();
    await closeBrowser();
    await idp?.close();
    cleanupTempDirs();
  });

  test('--browser: chromium signs in, the code is exchanged with the PKCE verifier', { timeout: TEST_TIMEOUT }, async () => {
    const home = freshLatchHome();
    const b = browserScript();
    const h = runLatch([...loginArgs(idp), '--browser'], { home, env: { BROWSER: b.script } });
    const url = await handedUrl(b.out);
    // Printed before the browser is launched, but the pipe may deliver it after the browser
    // script wrote the URL: wait for it (bounded) rather than read it at once.
    await h.waitForStderr(/redirect URI http:\/\/127\.0\.0\.1:\d+\/callback/);
    const authUrl = new URL(url);
    assert.equal(authUrl.searchParams.get('code_challenge_method'), 'S256');
    await browserLogin(url, { login: 'alice' });
    const done = await h.exit;
    assert.equal(done.code, 0, done.stderr);
    assert.match(done.stderr, /Logged in to .* as Alice \(context 'default', browser\)\./);
    const creds = readJson(credentialsPath(home));
    assert.equal(creds.login_method, 'browser');
    assert.ok(creds.tokens.access_token && creds.tokens.refresh_token && creds.tokens.id_token);
    // What the IdP saw: the challenge on the authorization request and a verifier that
    // hashes to it on the token request.
    const auth = idp.log.find((e) => e.route === 'authorization' && e.params?.state === authUrl.searchParams.get('state'));
    assert.ok(auth, 'the IdP logged the authorization request');
    const challenge = auth.params.code_challenge;
    const exchange = idp.log.find((e) => e.route === 'token' && e.grant_type === 'authorization_code'
      && e.params?.redirect_uri === authUrl.searchParams.get('redirect_uri'));
    assert.ok(exchange, 'the IdP logged the code exchange');
    assert.equal(b64url(createHash('sha256').update(exchange.params.code_verifier).digest()), challenge);
    const status = runLatch(['status'], { home });
    const s = await status.exit;
    assert.equal(s.code, 0);
    assert.match(s.stdout, /login: +browser/);
  });

  test('hybrid: approving the device code wins; the listener closes', { timeout: TEST_TIMEOUT }, async () => {
    const home = freshLatchHome();
    const b = browserScript();
    const h = runLatch(loginArgs(idp), { home, env: { BROWSER: b.script } });
    const url = await handedUrl(b.out);  // the browser side is up...
    const port = Number(new URL(new URL(url).searchParams.get('redirect_uri')).port);
    const prompt = await devicePrompt(h);  // ...and so is the device side
    await approveDevice({ url: prompt.url, userCode: prompt.userCode, login: 'alice' });
    const done = await h.exit;
    assert.equal(done.code, 0, done.stderr);
    assert.match(done.stderr, /\(context 'default', device flow\)\./);
    assert.equal(readJson(credentialsPath(home)).login_method, 'device');
    assert.equal(await portIsClosed(port), true, 'the loopback listener is closed');
    console.log('# hybrid test 1: device side won');
  });

  test('hybrid: the browser wins and the IdP sees no device polls after the win', { timeout: TEST_TIMEOUT }, async () => {
    const home = freshLatchHome();
    const b = browserScript();
    const h = runLatch(loginArgs(idp), { home, env: { BROWSER: b.script } });
    const url = await handedUrl(b.out);
    const prompt = await devicePrompt(h);
    await browserLogin(url, { login: 'alice' });
    const done = await h.exit;
    assert.equal(done.code, 0, done.stderr);
    assert.match(done.stderr, /\(context 'default', browser\)\./);
    const exchange = idp.log.find((e) => e.route === 'token' && e.grant_type === 'authorization_code'
      && e.params?.redirect_uri === new URL(url).searchParams.get('redirect_uri'));
    assert.ok(exchange);
    // The browser side has won when latch holds the tokens, i.e. once the IdP answered the
    // exchange. A poll already on the wire while the exchange was in flight is not "after".
    const wonAt = exchange.done;
    assert.ok(wonAt);
    // Wait 2.5 polling intervals from the IdP's side, then check nothing came.
    await idp.waitForLog(() => false, 2500).catch(() => {});
    const late = devicePolls(idp, prompt.userCode).filter((p) => p.t > wonAt);
    assert.deepEqual(late, [], 'no device polls after the browser won');
    assert.equal(readJson(credentialsPath(home)).login_method, 'browser');
    console.log('# hybrid test 2: browser side won');
  });

  test('hybrid: Ctrl-C stops both sides, writes nothing, exits 130', { timeout: TEST_TIMEOUT }, async () => {
    const home = freshLatchHome();
    const b = browserScript();
    const h = runLatch(loginArgs(idp), { home, env: { BROWSER: b.script } });
    const url = await handedUrl(b.out);
    const port = Number(new URL(new URL(url).searchParams.get('redirect_uri')).port);
    await devicePrompt(h);
    h.kill('SIGINT');
    const done = await h.exit;
    assert.equal(done.code, 130, done.stderr);
    assert.match(done.stderr, /interrupted; nothing was stored/);
    assert.equal(existsSync(credentialsPath(home)), false);
    assert.equal(await portIsClosed(port), true);
  });
});
