// The web-login example (apps/examples/web_login): a web server signing its OWN users in
// through the test IdP with authorization code + PKCE. Real chromium users go through the
// IdP's login and consent pages; the server's /me says who is signed in. Two browsers at
// once get two sessions; forged callbacks get 400 and no session; /logout revokes at the
// IdP; a user who cancels gets 403; a flood of /login stays bounded. Needs
// LATCH_WEB_LOGIN_BIN.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';

import {
  cleanupTempDirs, closeBrowser, idpIntrospect, makeTempDir, newPage, startIdp, walkPages,
} from './lib.mjs';

const BIN = process.env.LATCH_WEB_LOGIN_BIN;
const skip = !BIN || !existsSync(BIN) ? 'LATCH_WEB_LOGIN_BIN is not set or not built' : false;
const TEST_TIMEOUT = 120_000;
const CLIENT_ID = 'latch-web';
const b64url = (buf) => buf.toString('base64').replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');

// A port nobody listens on now: the IdP must know the client's exact redirect URI before
// the example starts (a web client's redirect URI is matched exactly, port included).
function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)); });
  });
}

function startExample(args) {
  const child = spawn(BIN, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const handle = { child, out: '' };
  child.stdout.on('data', (d) => { handle.out += d; });
  child.stderr.on('data', (d) => { handle.out += d; });
  handle.ready = new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`web_login did not start: ${handle.out}`)), 15_000);
    const check = () => {
      const m = handle.out.match(/listening on (http:\/\/127\.0\.0\.1:\d+)/);
      if (m) { clearTimeout(timer); resolve(m[1]); }
    };
    child.stdout.on('data', check);
    child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`web_login exited ${code}: ${handle.out}`)); });
  });
  return handle;
}

// A chromium user signs in on the example: /login -> the IdP's pages -> back on /.
async function signIn(base, login) {
  const { context, page } = await newPage();
  await page.goto(`${base}/login`, { waitUntil: 'load' });
  const last = await walkPages(page, { login, password: 'x' });
  assert.equal(new URL(last.url).origin, base, `ended on ${last.url}: ${last.text}`);
  assert.match(last.text, new RegExp(`Signed in as ${login[0].toUpperCase()}${login.slice(1)}`));
  return { context, page };
}

async function me(context, base) {
  const res = await context.request.get(`${base}/me`);
  return { status: res.status(), body: await res.json() };
}

async function sessionCookie(context) {
  return (await context.cookies()).find((c) => c.name === 'latch_session');
}

describe('web_login example', { skip }, () => {
  let idp;
  let server;
  let base;
  const contexts = [];
  const issued = [];
  before(async () => {
    const port = await freePort();
    idp = await startIdp({
      clients: [{
        client_id: CLIENT_ID,
        client_secret: 'web-secret',
        application_type: 'web',
        token_endpoint_auth_method: 'client_secret_basic',
        grant_types: ['authorization_code', 'refresh_token'],
        response_types: ['code'],
        redirect_uris: [`http://127.0.0.1:${port}/callback`],
      }],
    });
    // Token values as the IdP issues them (opaque tokens: the value is the jti), so the
    // test can ask the IdP about a user's tokens before and after /logout.
    for (const [event, kind] of [['refresh_token.saved', 'RefreshToken'], ['access_token.saved', 'AccessToken']]) {
      idp.provider.on(event, (t) => issued.push({ kind, value: t.jti, accountId: t.accountId, clientId: t.clientId }));
    }
    const secretFile = join(makeTempDir('latch-web-'), 'secret');
    writeFileSync(secretFile, 'web-secret\n', { mode: 0o600 });
    server = startExample(['--issuer', idp.issuer, '--client-id', CLIENT_ID,
      '--client-secret-file', secretFile, '--listen', `127.0.0.1:${port}`, '--max-pending', '1000',
      '--scope', 'openid profile email offline_access']);
    base = await server.ready;
  });
  after(async () => {
    for (const c of contexts) await c.close().catch(() => {});
    server?.child.kill('SIGKILL');
    await closeBrowser();
    await idp?.close();
    cleanupTempDirs();
    if (server) console.log(`# web_login output:\n${server.out.split('\n').slice(-40).map((l) => `#   ${l}`).join('\n')}`);
  });

  test('chromium signs in through the IdP; /me shows the user; the code was exchanged with PKCE and the client secret', { timeout: TEST_TIMEOUT }, async () => {
    const { context } = await signIn(base, 'alice');
    contexts.push(context);
    const who = await me(context, base);
    assert.equal(who.status, 200);
    assert.deepEqual(who.body, { sub: 'alice', name: 'Alice', email: 'alice@example.com', preferred_username: 'alice' });
    const cookie = await sessionCookie(context);
    assert.ok(cookie, 'a session cookie');
    assert.equal(cookie.httpOnly, true);
    assert.equal(cookie.sameSite, 'Lax');
    const login = (await context.cookies()).find((c) => c.name === 'latch_login');
    assert.equal(login, undefined, 'the pending-login cookie is cleared after the callback');

    const auth = idp.log.find((e) => e.route === 'authorization' && e.params?.client_id === CLIENT_ID);
    assert.ok(auth, 'the IdP logged the authorization request');
    assert.equal(auth.params.code_challenge_method, 'S256');
    assert.ok(auth.params.nonce && auth.params.state);
    assert.equal(auth.params.prompt, 'consent', 'offline_access is asked for with prompt=consent');
    const exchange = idp.log.find((e) => e.route === 'token' && e.grant_type === 'authorization_code' && e.client_id === CLIENT_ID);
    assert.ok(exchange, 'the IdP logged the code exchange');
    assert.equal(exchange.status, 200);
    assert.equal(exchange.client_auth, 'basic');
    assert.deepEqual(exchange.issued, ['access_token', 'refresh_token', 'id_token']);
    assert.equal(b64url(createHash('sha256').update(exchange.params.code_verifier).digest()), auth.params.code_challenge);
  });

  test('two browsers at once get two distinct sessions, each /me correct', { timeout: TEST_TIMEOUT }, async () => {
    const [a, b] = await Promise.all([signIn(base, 'carol'), signIn(base, 'dave')]);
    contexts.push(a.context, b.context);
    const [ca, cb] = await Promise.all([sessionCookie(a.context), sessionCookie(b.context)]);
    assert.ok(ca && cb);
    assert.notEqual(ca.value, cb.value);
    assert.equal((await me(a.context, base)).body.sub, 'carol');
    assert.equal((await me(b.context, base)).body.sub, 'dave');
  });

  test('forged callbacks get 400 and no session; the genuine login still completes', { timeout: TEST_TIMEOUT }, async () => {
    const victim = await newPage();
    const stranger = await newPage();
    contexts.push(victim.context, stranger.context);
    // The victim starts a login: the 302 to the IdP carries the state.
    const start = await victim.context.request.get(`${base}/login`, { maxRedirects: 0 });
    assert.equal(start.status(), 302);
    const authorizeUrl = start.headers().location;
    const state = new URL(authorizeUrl).searchParams.get('state');
    const tokenCalls = () => idp.log.filter((e) => e.route === 'token' && e.client_id === CLIENT_ID).length;
    const before = tokenCalls();

    const forged = [
      // the victim's browser lured to a callback with someone else's state
      [victim.page, `${base}/callback?code=attacker-code&state=not-the-state&iss=${encodeURIComponent(idp.issuer)}`],
      // the victim's genuine state replayed from a browser without the login cookie
      [stranger.page, `${base}/callback?code=attacker-code&state=${state}&iss=${encodeURIComponent(idp.issuer)}`],
    ];
    for (const [page, url] of forged) {
      const res = await page.goto(url, { waitUntil: 'load' });
      assert.equal(res.status(), 400, url);
      assert.equal(res.headers()['set-cookie'], undefined, 'no cookie is set');
      assert.match(await page.innerText('body'), /Sign-in failed/);
    }
    assert.equal((await me(victim.context, base)).status, 401);
    assert.equal((await me(stranger.context, base)).status, 401);
    assert.equal(await sessionCookie(victim.context), undefined);
    assert.equal(await sessionCookie(stranger.context), undefined);
    assert.equal(tokenCalls(), before, 'no code was exchanged for a forged callback');

    // The forgeries did not end the victim's login: it completes on the IdP's pages.
    await victim.page.goto(authorizeUrl, { waitUntil: 'load' });
    const last = await walkPages(victim.page, { login: 'erin', password: 'x' });
    assert.match(last.text, /Signed in as Erin/);
    assert.equal((await me(victim.context, base)).body.sub, 'erin');
    assert.equal((await me(stranger.context, base)).status, 401);
  });

  test('a user who cancels on the consent page gets 403 and no session', { timeout: TEST_TIMEOUT }, async () => {
    const { context, page } = await newPage();
    contexts.push(context);
    const statuses = [];
    page.on('response', (r) => { if (r.url().startsWith(`${base}/callback`)) statuses.push(r.status()); });
    await page.goto(`${base}/login`, { waitUntil: 'load' });
    const last = await walkPages(page, { login: 'heidi', password: 'x', deny: 'consent' });
    assert.deepEqual(statuses, [403]);
    assert.equal(new URL(last.url).origin, base, `ended on ${last.url}`);
    assert.equal(new URL(last.url).searchParams.get('error'), 'access_denied');
    assert.match(last.text, /Sign-in failed: the identity provider did not authorize the login \(error=access_denied\)/);
    assert.equal((await me(context, base)).status, 401);
    assert.equal(await sessionCookie(context), undefined);
    const res = await context.request.get(last.url);  // the same response again: its login is used up
    assert.equal(res.status(), 400);
  });

  test('/logout revokes the token at the IdP and ends only that session', { timeout: TEST_TIMEOUT }, async () => {
    const frank = await signIn(base, 'frank');
    const grace = await signIn(base, 'grace');
    contexts.push(frank.context, grace.context);
    const tokensOf = (who) => issued.filter((t) => t.accountId === who && t.clientId === CLIENT_ID);
    const active = async (t) => (await idpIntrospect(idp, t.value)).active;
    const [franks, graces] = [tokensOf('frank'), tokensOf('grace')];
    const frankRefresh = franks.find((t) => t.kind === 'RefreshToken');
    assert.ok(frankRefresh && franks.length === 2 && graces.length === 2, JSON.stringify(issued));
    for (const t of [...franks, ...graces]) assert.equal(await active(t), true, `${t.kind} active before`);

    await Promise.all([
      frank.page.waitForNavigation({ waitUntil: 'load' }),
      frank.page.locator('button[type=submit]', { hasText: 'Sign out' }).click(),
    ]);
    assert.match(await frank.page.innerText('body'), /Not signed in/);
    assert.equal((await me(frank.context, base)).status, 401);
    assert.equal(await sessionCookie(frank.context), undefined, 'the session cookie is cleared');
    assert.equal((await me(grace.context, base)).body.sub, 'grace');

    const revocation = await idp.waitForLog((e) => e.route === 'revocation' && e.client_id === CLIENT_ID, 10_000);
    assert.equal(revocation.status, 200);
    assert.equal(revocation.client_auth, 'basic');
    assert.equal(revocation.params.token_type_hint, 'refresh_token');
    assert.equal(revocation.params.token, frankRefresh.value, "frank's refresh token was revoked");
    // Revoking the refresh token ended frank's grant at the IdP: his access token too.
    for (const t of franks) assert.equal(await active(t), false, `frank's ${t.kind} is no longer active`);
    for (const t of graces) assert.equal(await active(t), true, `grace's ${t.kind} is still active`);
  });

  test('a flood of /login stays bounded: the oldest pending logins are dropped', { timeout: TEST_TIMEOUT }, async () => {
    const pid = server.child.pid;
    const rss = () => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]);
    const early = await newPage();
    contexts.push(early.context);
    const start = await early.context.request.get(`${base}/login`, { maxRedirects: 0 });
    const state = new URL(start.headers().location).searchParams.get('state');
    const flood = async (total) => {
      for (let done = 0; done < total; done += 100) {
        const batch = Array.from({ length: 100 }, () => fetch(`${base}/login`, { redirect: 'manual' }).then((r) => r.status));
        assert.deepEqual(new Set(await Promise.all(batch)), new Set([302]));
      }
    };
    // Two floods of 5,000 with at most 1,000 pending: the first fills the table, the
    // second only replaces entries, so memory stops growing.
    const rss0 = rss();
    const t0 = Date.now();
    await flood(5000);
    const ms = Date.now() - t0;
    const rss1 = rss();
    await flood(5000);
    const rss2 = rss();
    console.log(`# 5000 /login in ${ms} ms; RSS ${rss0} kB -> ${rss1} kB -> ${rss2} kB after 5000 more (max 1000 pending)`);
    // The early login was pushed out by the flood (max 1000 pending): its callback is refused.
    const res = await early.page.goto(`${base}/callback?code=x&state=${state}&iss=${encodeURIComponent(idp.issuer)}`);
    assert.equal(res.status(), 400);
    assert.ok(rss1 - rss0 < 32 * 1024, `RSS grew by ${rss1 - rss0} kB`);
    assert.ok(rss2 - rss1 < 1024, `RSS grew by ${rss2 - rss1} kB in the second flood`);
  });
});
