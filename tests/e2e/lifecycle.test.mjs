// Token lifecycle against the real test IdP: cross-process single-flight refresh,
// invalid_grant -> exit 77 with the store marked expired, refresh, logout revocation.
// Refreshes are counted from the IdP's side (its request log). Needs LATCH_BIN.
import assert from 'node:assert/strict';
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';

import {
  SKIP_WITHOUT_LATCH, approveDevice, cleanupTempDirs, closeBrowser, devicePrompt,
  freshLatchHome, idpIntrospect, killAllLatch, latch, readJson, runLatch, startIdp,
} from './lib.mjs';

const TEST_TIMEOUT = 120_000;
const credentialsPath = (home) => join(home, 'credentials', 'default.json');
const refreshes = (idp) => idp.log.filter((e) => e.route === 'token' && e.grant_type === 'refresh_token');

async function login(idp, home) {
  const h = runLatch(['login', '--device', '--issuer', idp.issuer, '--client-id', 'latch-cli',
    '--no-qr', '--timeout', '120'], { home });
  const prompt = await devicePrompt(h);
  await approveDevice({ url: prompt.url, userCode: prompt.userCode, login: 'alice' });
  const done = await h.exit;
  assert.equal(done.code, 0, `latch login failed:\n${done.stderr}`);
  return readJson(credentialsPath(home));
}

// Moves a stored 200 s access token to 90 s before its end: under half its life, so inside
// the CLI's refresh window (issue 17 #6: a fresh short-lived token is no longer refreshed
// at every use, which these tests relied on).
function ageIntoWindow(home) {
  const c = readJson(credentialsPath(home));
  const iso = (ms) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
  c.tokens.issued_at = iso(Date.now() - 110_000);
  c.tokens.expires_at = iso(Date.now() + 90_000);
  writeFileSync(credentialsPath(home), JSON.stringify(c));
  return c;
}

describe('token lifecycle', { skip: SKIP_WITHOUT_LATCH }, () => {
  let idp;
  // Access tokens live 200 s; ageIntoWindow puts a stored one inside the refresh window.
  before(async () => { idp = await startIdp({ interval: 1, ttl: { AccessToken: 200 } }); });
  after(async () => {
    await killAllLatch();
    await closeBrowser();
    await idp?.close();
    cleanupTempDirs();
  });

  test('32 concurrent `latch token` processes refresh exactly once', { timeout: TEST_TIMEOUT }, async () => {
    const home = freshLatchHome();
    await login(idp, home);
    const before = ageIntoWindow(home);  // its access token is inside the window
    idp.setOption('ttl.AccessToken', 3600);  // the refreshed one will not be
    idp.clearLog();
    const runs = await Promise.all(Array.from({ length: 32 }, () => latch(['token'], { home })));
    const codes = runs.map((r) => r.code);
    assert.deepEqual(codes, Array(32).fill(0), runs.map((r) => r.stderr).join('\n'));
    const printed = new Set(runs.map((r) => r.stdout.trim()));
    assert.equal(refreshes(idp).length, 1, 'the IdP saw exactly one refresh request');
    assert.equal(printed.size, 1, 'all 32 print the same token');
    const afterCreds = readJson(credentialsPath(home));
    assert.notEqual(afterCreds.tokens.refresh_token, before.tokens.refresh_token, 'rotated refresh token stored');
    assert.equal(afterCreds.tokens.access_token, [...printed][0]);
    assert.equal((await idpIntrospect(idp, afterCreds.tokens.refresh_token)).active, true,
      'the rotated refresh token is still active: no replay revoked the grant');
    console.log(`# refresh requests seen at the IdP for 32 processes: ${refreshes(idp).length}`);
    idp.setOption('ttl.AccessToken', 200);
  });

  test('invalid_grant exits 77, says so, and marks the store expired', { timeout: TEST_TIMEOUT }, async () => {
    const home = freshLatchHome();
    await login(idp, home);
    ageIntoWindow(home);
    const file = credentialsPath(home);
    const stale = `${file}.stale`;
    copyFileSync(file, stale);
    const r = await latch(['refresh'], { home });
    assert.equal(r.code, 0, r.stderr);
    // Put back the rotated-out refresh token: the IdP now answers invalid_grant.
    copyFileSync(stale, file);
    const t = await latch(['token'], { home });
    assert.equal(t.code, 77);
    assert.equal(t.stdout, '');
    assert.match(t.stderr, /^latch: session expired \(context 'default'\); run `latch login`/m);
    const creds = readJson(file);
    assert.equal(creds.status, 'expired', 'credentials kept and marked expired');
    const s = await latch(['status'], { home });
    assert.equal(s.code, 77);
  });

  test('a network failure during refresh keeps the stored token and says why', { timeout: TEST_TIMEOUT }, async () => {
    const home = freshLatchHome();
    await login(idp, home);
    const file = credentialsPath(home);
    const config = join(home, 'config.json');
    const cfg = JSON.parse(readFileSync(config, 'utf8'));
    const text = readFileSync(file, 'utf8');
    // Point the context at a closed port: discovery and refresh fail.
    const creds = JSON.parse(text);
    creds.issuer = 'http://127.0.0.1:9';
    writeFileSync(file, JSON.stringify(creds));
    cfg.contexts.default.issuer = 'http://127.0.0.1:9';
    writeFileSync(config, JSON.stringify(cfg));
    const before = readFileSync(file, 'utf8');
    const r = await latch(['refresh'], { home });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^latch: .*127\.0\.0\.1:9/m);
    assert.equal(readFileSync(file, 'utf8'), before, 'store untouched');
  });

  test('logout revokes the refresh token at the IdP', { timeout: TEST_TIMEOUT }, async () => {
    const home = freshLatchHome();
    const creds = await login(idp, home);
    assert.equal((await idpIntrospect(idp, creds.tokens.refresh_token)).active, true);
    const r = await latch(['logout'], { home });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /revoked the refresh token/);
    assert.equal((await idpIntrospect(idp, creds.tokens.refresh_token)).active, false);
    const s = await latch(['status'], { home });
    assert.equal(s.code, 77);
  });
});
