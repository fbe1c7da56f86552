// latch-idp end to end: `latch login --device` against latch-idp, approved on latch-idp's
// own verification page (plain HTTP form posts: the page needs no JavaScript), and the
// page's defences: CSRF, wrong password, deny.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { cleanupTempDirs, freshLatchHome, killAllLatch, latch, readJson, runLatch, SKIP_WITHOUT_LATCH } from './lib.mjs';
import { idpAdmin, SKIP_WITHOUT_IDP, startLatchIdp } from './idp_lib.mjs';
import { join } from 'node:path';

const skip = SKIP_WITHOUT_LATCH || SKIP_WITHOUT_IDP;
const PASSWORD = 'correct horse battery staple';
const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';

// Opens the verification page like a browser: returns { csrf, cookie, html }.
async function openPage(url) {
  const r = await fetch(url);
  assert.equal(r.status, 200);
  assert.match(r.headers.get('content-security-policy') ?? '', /frame-ancestors 'none'/);
  const html = await r.text();
  const csrf = /name="csrf" value="([^"]+)"/.exec(html)?.[1];
  const cookie = (r.headers.get('set-cookie') ?? '').split(';')[0];
  assert.ok(csrf && cookie, 'the page sets a CSRF cookie and field');
  return { csrf, cookie, html };
}

function submit(idp, fields, cookie) {
  return fetch(`${idp.url}/device`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...(cookie ? { cookie } : {}) },
    body: new URLSearchParams(fields).toString(),
  });
}

// Starts a device login: { handle, userCode, url, completeUrl }.
async function startDeviceLogin(idp, home) {
  const handle = runLatch(['login', '--device', '--issuer', idp.issuer, '--client-id', 'cli', '--no-qr',
    '--timeout', '120'], { home, timeoutMs: 150_000 });
  const [, userCode] = await handle.waitForStderr(/enter the code:\s*(\S+)/);
  const [, completeUrl] = await handle.waitForStderr(/\(or open (\S+)\)/);
  return { handle, userCode, completeUrl };
}

// A completed device login (approved on the page): returns the LATCH_HOME.
async function deviceLogin(idp) {
  const home = freshLatchHome();
  const { handle, userCode } = await startDeviceLogin(idp, home);
  const page = await openPage(`${idp.url}/device`);
  const ok = await submit(idp, { csrf: page.csrf, user_code: userCode, username: 'alice', password: PASSWORD, action: 'approve' }, page.cookie);
  assert.equal(ok.status, 200);
  const r = await handle.exit;
  assert.equal(r.code, 0, r.stderr);
  return home;
}

describe('latch-idp: device flow', { skip }, () => {
  let idp;
  let aliceId;
  before(async () => {
    idp = await startLatchIdp();
    const add = idpAdmin(['client', 'add', 'cli', '--public', '--data', idp.data, '--grant', DEVICE_GRANT,
      '--grant', 'refresh_token', '--scope', 'openid profile email offline_access']);
    assert.equal(add.code, 0, add.stderr);
    const user = idpAdmin(['user', 'add', 'alice', '--data', idp.data], { env: { LATCH_IDP_PASSWORD: PASSWORD } });
    assert.equal(user.code, 0, user.stderr);
    aliceId = /\(id (\S+)\)/.exec(user.stdout)[1];
  });
  after(async () => {
    await killAllLatch();
    if (idp) await idp.stop();
    cleanupTempDirs();
  });

  test('latch login --device completes after approval on the page; the token names the user', { timeout: 180_000 }, async () => {
    const home = freshLatchHome();
    const { handle, userCode, completeUrl } = await startDeviceLogin(idp, home);
    assert.match(userCode, /^[BCDFGHJKLMNPQRSTVWXZ]{4}(-[BCDFGHJKLMNPQRSTVWXZ]{1,4})+$/);
    const page = await openPage(completeUrl);
    assert.match(page.html, /A device asks to sign in as you/);
    assert.ok(page.html.includes(`value="${userCode}"`), 'the code is filled in');

    // A forged post (no CSRF cookie) changes nothing.
    const forged = await submit(idp, { csrf: page.csrf, user_code: userCode, username: 'alice', password: PASSWORD, action: 'approve' });
    assert.equal(forged.status, 403);
    // A wrong password neither.
    const wrong = await submit(idp, { csrf: page.csrf, user_code: userCode, username: 'alice', password: 'nope', action: 'approve' }, page.cookie);
    assert.equal(wrong.status, 401);

    const ok = await submit(idp, { csrf: page.csrf, user_code: userCode.toLowerCase(), username: 'alice', password: PASSWORD, action: 'approve' }, page.cookie);
    assert.equal(ok.status, 200);
    assert.match(await ok.text(), /Device approved/);

    const r = await handle.exit;
    assert.equal(r.code, 0, `latch login failed:\n${r.stderr}\nserver:\n${idp.stderr()}`);
    const creds = readJson(join(home, 'credentials', 'default.json'));
    assert.equal(creds.client_id, 'cli');
    const token = await latch(['token'], { home });
    assert.equal(token.code, 0, token.stderr);
    const claims = JSON.parse(Buffer.from(token.stdout.trim().split('.')[1], 'base64url').toString());
    assert.equal(claims.sub, aliceId);
    assert.equal(claims.client_id, 'cli');
    assert.equal(claims.iss, idp.issuer);

    // The code is spent: approving it again finds nothing.
    const again = await openPage(`${idp.url}/device`);
    const reuse = await submit(idp, { csrf: again.csrf, user_code: userCode, username: 'alice', password: PASSWORD, action: 'approve' }, again.cookie);
    assert.equal(reuse.status, 400);
  });

  test('deny on the page: latch login reports it and stores nothing', { timeout: 180_000 }, async () => {
    const home = freshLatchHome();
    const { handle, userCode } = await startDeviceLogin(idp, home);
    const page = await openPage(`${idp.url}/device`);
    const no = await submit(idp, { csrf: page.csrf, user_code: userCode, username: 'alice', password: PASSWORD, action: 'deny' }, page.cookie);
    assert.equal(no.status, 200);
    const r = await handle.exit;
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /login denied at the identity provider/);
  });

  test('latch refresh rotates the refresh token; replaying the old one revokes the family', { timeout: 180_000 }, async () => {
    const home = await deviceLogin(idp);
    const credsFile = join(home, 'credentials', 'default.json');
    const before = readJson(credsFile).tokens;
    assert.ok(before.refresh_token, 'offline_access gave a refresh token');
    const refreshed = await latch(['refresh'], { home });
    assert.equal(refreshed.code, 0, `${refreshed.stderr}\nserver:\n${idp.stderr()}`);
    const after = readJson(credsFile).tokens;
    assert.notEqual(after.refresh_token, before.refresh_token, 'the refresh token was rotated');
    assert.notEqual(after.access_token, before.access_token);

    const useRefresh = (rt) => fetch(`${idp.url}/oauth2/token`, {
      method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'refresh_token', client_id: 'cli', refresh_token: rt }).toString(),
    }).then(async (res) => ({ status: res.status, body: await res.json() }));
    const replay = await useRefresh(before.refresh_token);
    assert.equal(replay.status, 400);
    assert.equal(replay.body.error, 'invalid_grant');
    // The replay revoked the family: the current token is dead too, and latch says to log in.
    assert.equal((await useRefresh(after.refresh_token)).body.error, 'invalid_grant');
    const again = await latch(['refresh'], { home });
    assert.equal(again.code, 77, again.stderr);
  });

  test('latch logout revokes the refresh token at latch-idp', { timeout: 180_000 }, async () => {
    const home = await deviceLogin(idp);
    const rt = readJson(join(home, 'credentials', 'default.json')).tokens.refresh_token;
    const out = await latch(['logout'], { home });
    assert.equal(out.code, 0, out.stderr);
    assert.match(out.stderr, /revoked the refresh token at the identity provider/);
    const r = await fetch(`${idp.url}/oauth2/token`, {
      method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'refresh_token', client_id: 'cli', refresh_token: rt }).toString(),
    });
    assert.equal((await r.json()).error, 'invalid_grant');
  });

  test('polling faster than the interval: slow_down, and the stored interval grows', async () => {
    const post = (body) => fetch(`${idp.url}/oauth2/${body.grant_type ? 'token' : 'device_authorization'}`, {
      method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(body).toString(),
    }).then(async (res) => ({ status: res.status, body: await res.json() }));
    const auth = await post({ client_id: 'cli', scope: 'openid' });
    assert.equal(auth.status, 200);
    assert.equal(auth.body.interval, 5);
    const poll = () => post({ grant_type: DEVICE_GRANT, client_id: 'cli', device_code: auth.body.device_code });
    assert.equal((await poll()).body.error, 'authorization_pending');
    assert.equal((await poll()).body.error, 'slow_down');
    assert.equal((await poll()).body.error, 'slow_down');
    const other = await post({ grant_type: DEVICE_GRANT, client_id: 'cli', device_code: 'not-a-code' });
    assert.equal(other.body.error, 'invalid_grant');
    const bad = await post({ client_id: 'cli', scope: 'admin' });
    assert.equal(bad.body.error, 'invalid_scope');
  });
});
