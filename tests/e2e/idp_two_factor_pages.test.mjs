// latch-idp end to end: a user with TOTP enrolled logs in with the real `latch` on latch-idp's
// own pages, and both pages ask for the second factor: the device verification page (plain
// form posts) with a TOTP code from Debian's oathtool, and the sign-in page of the
// authorization endpoint in headless chromium with a backup code. A replayed code is refused
// and the device stays pending.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import {
  browser, browserScript, cleanupTempDirs, closeBrowser, freshLatchHome, handedUrl, killAllLatch, readJson,
  runLatch, SKIP_WITHOUT_LATCH,
} from './lib.mjs';
import { idpAdmin, SKIP_WITHOUT_IDP, startLatchIdp } from './idp_lib.mjs';

const PASSWORD = 'correct horse battery staple';
const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';
const HAVE_OATHTOOL = spawnSync('oathtool', ['--version']).status === 0;
const skip = SKIP_WITHOUT_LATCH || SKIP_WITHOUT_IDP || (HAVE_OATHTOOL ? false : 'needs Debian oathtool');

function oathtool(base32, offsetSeconds = 0) {
  const now = new Date(Date.now() + offsetSeconds * 1000).toISOString().replace('T', ' ').replace(/\..*/, ' UTC');
  const r = spawnSync('oathtool', ['--totp', '-b', '--now', now, base32], { encoding: 'utf8', timeout: 10_000 });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.trim();
}

// Better Auth's API with a cookie and the issuer's Origin, as the console page would call it.
async function enrol(idp, username) {
  let cookie = '';
  const call = async (path, body) => {
    const r = await fetch(`${idp.url}/api/auth${path}`, {
      method: 'POST', headers: { 'content-type': 'application/json', origin: idp.url, ...(cookie ? { cookie } : {}) },
      body: JSON.stringify(body),
    });
    const set = r.headers.getSetCookie().find((c) => c.startsWith('better-auth.session_token='));
    if (set) cookie = set.split(';')[0];
    assert.equal(r.status, 200, `${path}: ${await r.clone().text()}`);
    return r.json();
  };
  await call('/sign-in/email', { email: username, password: PASSWORD });
  const en = await call('/two-factor/enable', { password: PASSWORD });
  const secret = new URL(en.totpURI).searchParams.get('secret');
  await call('/two-factor/verify-totp', { code: oathtool(secret) });
  return { secret, backupCodes: en.backupCodes };
}

async function openPage(url) {
  const r = await fetch(url);
  const html = await r.text();
  return { csrf: /name="csrf" value="([^"]+)"/.exec(html)[1], cookie: r.headers.get('set-cookie').split(';')[0], html };
}

const submit = (idp, fields, cookie) => fetch(`${idp.url}/device`, {
  method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', cookie },
  body: new URLSearchParams(fields).toString(),
});

describe('latch-idp: the sign-in pages ask for the second factor', { skip }, () => {
  let idp;
  let factor;
  before(async () => {
    idp = await startLatchIdp();
    const add = idpAdmin(['client', 'add', 'cli', '--public', '--data', idp.data, '--redirect-uri', 'http://127.0.0.1/callback',
      '--grant', DEVICE_GRANT, '--grant', 'authorization_code', '--grant', 'refresh_token',
      '--scope', 'openid profile email offline_access', '--skip-consent']);
    assert.equal(add.code, 0, add.stderr);
    const user = idpAdmin(['user', 'add', 'alice', '--data', idp.data], { env: { LATCH_IDP_PASSWORD: PASSWORD } });
    assert.equal(user.code, 0, user.stderr);
    factor = await enrol(idp, 'alice');
  });
  after(async () => {
    await killAllLatch();
    await closeBrowser();
    if (idp) await idp.stop();
    cleanupTempDirs();
  });

  test('latch login --device: the verification page wants the code; a replayed one is refused', { timeout: 120_000 }, async () => {
    const home = freshLatchHome();
    const h = runLatch(['login', '--device', '--issuer', idp.issuer, '--client-id', 'cli', '--no-qr', '--timeout', '90'],
      { home, timeoutMs: 120_000 });
    const [, userCode] = await h.waitForStderr(/enter the code:\s*(\S+)/);
    const fields = { user_code: userCode, username: 'alice', password: PASSWORD, action: 'approve' };
    let page = await openPage(`${idp.url}/device`);
    assert.match(page.html, /name="otp"/);
    const none = await submit(idp, { ...fields, csrf: page.csrf }, page.cookie);
    assert.equal(none.status, 401);
    assert.match(await none.text(), /Enter the 6-digit code/);
    const code = oathtool(factor.secret, 30);
    page = await openPage(`${idp.url}/device`);
    const ok = await submit(idp, { ...fields, csrf: page.csrf, otp: code }, page.cookie);
    assert.equal(ok.status, 200, await ok.clone().text());
    assert.match(await ok.text(), /Device approved/);
    const done = await h.exit;
    assert.equal(done.code, 0, done.stderr);
    assert.equal(readJson(join(home, 'credentials', 'default.json')).login_method, 'device');

    // The same code for a second device: refused, and that device stays waiting.
    const home2 = freshLatchHome();
    const h2 = runLatch(['login', '--device', '--issuer', idp.issuer, '--client-id', 'cli', '--no-qr', '--timeout', '5'],
      { home: home2, timeoutMs: 60_000 });
    const [, userCode2] = await h2.waitForStderr(/enter the code:\s*(\S+)/);
    page = await openPage(`${idp.url}/device`);
    const replay = await submit(idp, { ...fields, user_code: userCode2, csrf: page.csrf, otp: code }, page.cookie);
    assert.equal(replay.status, 401);
    assert.match(await replay.text(), /already used/);
    assert.notEqual((await h2.exit).code, 0, 'the second device was never approved');
  });

  test('latch login --browser: chromium on the sign-in page, asked for the code, signs in with a backup code', { timeout: 120_000 }, async () => {
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
      await page.fill('input[name=username]', 'alice');
      await page.fill('input[name=password]', PASSWORD);
      await Promise.all([page.waitForLoadState(), page.click('button')]);
      assert.match(await page.content(), /Enter the 6-digit code/);
      await page.fill('input[name=username]', 'alice');
      await page.fill('input[name=password]', PASSWORD);
      await page.fill('input[name=otp]', factor.backupCodes[0]);
      await Promise.all([page.waitForURL(/^http:\/\/127\.0\.0\.1:\d+\/callback/), page.click('button')]);
    } finally {
      await context.close();
    }
    const done = await h.exit;
    assert.equal(done.code, 0, `${done.stderr}\nserver:\n${idp.stderr()}`);
    assert.equal(readJson(join(home, 'credentials', 'default.json')).login_method, 'browser');
  });
});
