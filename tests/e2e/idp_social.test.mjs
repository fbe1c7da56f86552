// latch-idp end to end: social login ("Sign in with google") through the bundled oidc-provider
// as the upstream "Google", in real chromium. latch-idp is the upstream's confidential client
// (PKCE, state and nonce bound to the browser, ID token verified against the upstream JWKS).
// Asserted at latch-idp's database: a new user gets a user and an account row; a user with
// the same verified email is linked, not duplicated; an unverified matching email is refused
// and nothing is linked; forged or cross-browser callbacks answer 400 and create nothing;
// `latch login --browser` completes through the button; a TOTP-enrolled user is asked for the
// code; Better Auth's client starts a social sign-in.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createAuthClient } from 'better-auth/client';
import { startIdp as startOidcProvider } from '../idp/idp.mjs';
import {
  browserScript, cleanupTempDirs, closeBrowser, handedUrl, freshLatchHome, killAllLatch, makeTempDir, newPage,
  readJson, runLatch, SKIP_WITHOUT_LATCH, walkPages,
} from './lib.mjs';
import { cookieFetch, dbQuery, dbScalar, idpAdmin, SKIP_WITHOUT_IDP, startLatchIdp } from './idp_lib.mjs';

const PASSWORD = 'correct horse battery staple';
const UPSTREAM_SECRET = 'upstream-client-secret-for-latch-idp';
const HAVE_OATHTOOL = spawnSync('oathtool', ['--version']).status === 0;

// The upstream's accounts: any login name; "unverified-NAME" has NAME@example.com unverified.
function upstreamAccount(sub) {
  const unverified = sub.startsWith('unverified-');
  const local = unverified ? sub.slice('unverified-'.length) : sub;
  return {
    accountId: sub,
    async claims() {
      return { sub, email: `${local}@example.com`, email_verified: !unverified, name: `Upstream ${local}` };
    },
  };
}

function oathtool(base32, offsetSeconds = 0) {
  const now = new Date(Date.now() + offsetSeconds * 1000).toISOString().replace('T', ' ').replace(/\..*/, ' UTC');
  const r = spawnSync('oathtool', ['--totp', '-b', '--now', now, base32], { encoding: 'utf8', timeout: 10_000 });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.trim();
}

const users = (idp) => dbQuery(idp.data, 'SELECT id, username, email FROM users ORDER BY created_at');
const accounts = (idp) => dbQuery(idp.data, 'SELECT user_id, provider_id, account_id, issuer FROM account ORDER BY created_at');

describe('latch-idp: sign in with an upstream OpenID Provider', { skip: SKIP_WITHOUT_LATCH || SKIP_WITHOUT_IDP }, () => {
  let idp;
  let upstream;
  const auditLog = join(makeTempDir('latch-social-audit-'), 'audit.jsonl');
  before(async () => {
    idp = await startLatchIdp({ extraArgs: ['--audit-log', auditLog] });
    upstream = await startOidcProvider({
      clients: [{
        client_id: 'latch-idp',
        client_secret: UPSTREAM_SECRET,
        token_endpoint_auth_method: 'client_secret_basic',
        grant_types: ['authorization_code'],
        response_types: ['code'],
        redirect_uris: [`${idp.url}/api/auth/callback/google`],
      }],
      config: { findAccount: async (ctx, sub) => upstreamAccount(sub) },
    });
    const secretFile = join(makeTempDir('latch-social-'), 'secret');
    writeFileSync(secretFile, `${UPSTREAM_SECRET}\n`, { mode: 0o600 });
    const add = idpAdmin(['social', 'add', 'google', '--data', idp.data, '--issuer', upstream.issuer,
      '--client-id', 'latch-idp', '--client-secret-file', secretFile]);
    assert.equal(add.code, 0, add.stderr);
    const down = idpAdmin(['social', 'add', 'down', '--data', idp.data, '--issuer', 'http://127.0.0.1:1',
      '--client-id', 'x']);
    assert.equal(down.code, 0, down.stderr);
    for (const [name, email] of [['alice', 'alice@example.com'], ['bob', 'bob@example.com']]) {
      const u = idpAdmin(['user', 'add', name, '--data', idp.data, '--email', email], { env: { LATCH_IDP_PASSWORD: PASSWORD } });
      assert.equal(u.code, 0, u.stderr);
    }
    const cli = idpAdmin(['client', 'add', 'cli', '--public', '--data', idp.data, '--redirect-uri', 'http://127.0.0.1/callback',
      '--grant', 'authorization_code', '--grant', 'refresh_token', '--grant', 'urn:ietf:params:oauth:grant-type:device_code', '--scope', 'openid profile email offline_access', '--skip-consent']);
    assert.equal(cli.code, 0, cli.stderr);
  });
  after(async () => {
    await killAllLatch();
    await closeBrowser();
    if (upstream) await upstream.close();
    if (idp) await idp.stop();
    cleanupTempDirs();
  });

  // Chromium: latch-idp's button URL, the upstream's login and consent pages, back to
  // latch-idp. Returns the last page's { url, title, text } and the browser's session.
  async function socialSignIn(login, returnTo = '/api/auth/get-session') {
    const { context, page } = await newPage();
    try {
      await page.goto(`${idp.url}/api/auth/sign-in/social/google?return_to=${encodeURIComponent(returnTo)}`);
      const last = await walkPages(page, { login, password: 'x' });
      return { ...last, cookies: await context.cookies() };
    } finally {
      await context.close().catch(() => {});
    }
  }

  test('settings: social list shows the provider, the secret is sealed, not stored in clear', () => {
    const list = idpAdmin(['social', 'list', '--data', idp.data]);
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stdout, /^google\thttp:\/\/127\.0\.0\.1:\d+\tlatch-idp\tconfidential\tscope: openid email profile$/m);
    const sealed = dbScalar(idp.data, "SELECT sealed_secret FROM social_providers WHERE name = 'google'");
    assert.ok(sealed.length > 40 && !sealed.includes(UPSTREAM_SECRET));
    const bad = idpAdmin(['social', 'add', 'Bad Name', '--data', idp.data, '--issuer', upstream.issuer, '--client-id', 'x']);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /provider name/);
  });

  test('(a) a new upstream user gets a user and an account row, and a session', { timeout: 90_000 }, async () => {
    const before = users(idp).length;
    const last = await socialSignIn('newbie');
    assert.match(last.url, /\/api\/auth\/get-session$/);
    const session = JSON.parse(last.text);
    assert.equal(session.user.email, 'newbie@example.com');
    assert.equal(users(idp).length, before + 1);
    const user = users(idp).find((u) => u.email === 'newbie@example.com');
    assert.equal(user.username, 'newbie@example.com');
    assert.deepEqual(accounts(idp).filter((a) => a.account_id === 'newbie'),
      [{ user_id: user.id, provider_id: 'google', account_id: 'newbie', issuer: upstream.issuer }]);
    // Signing in again uses the same account: nothing new.
    const again = await socialSignIn('newbie');
    assert.equal(JSON.parse(again.text).user.id, user.id);
    assert.equal(users(idp).length, before + 1);
    assert.equal(accounts(idp).filter((a) => a.account_id === 'newbie').length, 1);
  });

  test('(b) an existing user with the same verified email is linked, not duplicated', { timeout: 90_000 }, async () => {
    const alice = users(idp).find((u) => u.username === 'alice');
    const count = users(idp).length;
    const last = await socialSignIn('alice');
    assert.equal(JSON.parse(last.text).user.id, alice.id);
    assert.equal(users(idp).length, count);
    assert.deepEqual(accounts(idp).filter((a) => a.account_id === 'alice').map((a) => a.user_id), [alice.id]);
  });

  test('(c) an unverified matching email is refused: no link, no user', { timeout: 90_000 }, async () => {
    const count = users(idp).length;
    const last = await socialSignIn('unverified-bob');
    assert.match(last.title, /refused/);
    assert.match(last.text, /did not confirm that this address is yours/);
    assert.equal(users(idp).length, count);
    assert.equal(accounts(idp).filter((a) => a.account_id === 'unverified-bob').length, 0);
    assert.ok(!last.cookies.some((c) => c.name === 'better-auth.session_token'), 'no session');
  });

  test('(d) forged and cross-browser callbacks: 400, nothing created', { timeout: 90_000 }, async () => {
    const count = users(idp).length;
    const noCookie = await fetch(`${idp.url}/api/auth/callback/google?code=abc&state=xyz`);
    assert.equal(noCookie.status, 400);
    assert.match(await noCookie.text(), /does not belong to a sign-in started in this browser/);
    // A started sign-in's cookie with another state.
    const start = await fetch(`${idp.url}/api/auth/sign-in/social/google`, { redirect: 'manual' });
    assert.equal(start.status, 303);
    const pending = start.headers.get('set-cookie');
    assert.match(pending, /^latch_social=[^;]+; Path=\/api\/auth\/callback\/google; Max-Age=600; HttpOnly; SameSite=Lax/);
    const wrong = await fetch(`${idp.url}/api/auth/callback/google?code=abc&state=xyz`,
      { headers: { cookie: pending.split(';')[0] } });
    assert.equal(wrong.status, 400);
    // Cross-browser: a sign-in started elsewhere (here: Node), completed at the upstream in
    // chromium, which has no pending-login cookie: refused, and nothing is created.
    const elsewhere = await fetch(`${idp.url}/api/auth/sign-in/social/google`, { redirect: 'manual' });
    const { context, page } = await newPage();
    let status;
    page.on('response', (r) => { if (r.url().includes('/api/auth/callback/google')) status = r.status(); });
    try {
      await page.goto(elsewhere.headers.get('location'));
      const last = await walkPages(page, { login: 'mallory', password: 'x' });
      assert.match(last.url, /\/api\/auth\/callback\/google\?code=/);
      assert.match(last.text, /does not belong to a sign-in started in this browser/);
    } finally {
      await context.close().catch(() => {});
    }
    assert.equal(status, 400);
    assert.equal(users(idp).length, count);
    assert.equal(accounts(idp).filter((a) => a.account_id === 'mallory').length, 0);
  });

  test('an unreachable upstream fails only its button, with a clear page', async () => {
    const r = await fetch(`${idp.url}/api/auth/sign-in/social/down`, { redirect: 'manual' });
    assert.equal(r.status, 503);
    assert.match(await r.text(), /cannot reach http:\/\/127\.0\.0\.1:1/);
    const ok = await fetch(`${idp.url}/api/auth/sign-in/social/google`, { redirect: 'manual' });
    assert.equal(ok.status, 303);
    const unknown = await fetch(`${idp.url}/api/auth/sign-in/social/nope`, { redirect: 'manual' });
    assert.equal(unknown.status, 404);
    const open = await fetch(`${idp.url}/api/auth/sign-in/social/google?return_to=${encodeURIComponent('https://evil.example/')}`,
      { redirect: 'manual' });
    assert.equal(open.status, 400);
  });

  test('(e) latch login --browser completes through the "Sign in with google" button', { timeout: 120_000 }, async () => {
    const home = freshLatchHome();
    const b = browserScript();
    const h = runLatch(['login', '--browser', '--issuer', idp.issuer, '--client-id', 'cli', '--no-qr', '--timeout', '90'],
      { home, env: { BROWSER: b.script } });
    const url = await handedUrl(b.out);
    const { context, page } = await newPage();
    try {
      await page.goto(url);
      await Promise.all([page.waitForNavigation(), page.click('a.social >> text=Sign in with google')]);
      await walkPages(page, { login: 'alice', password: 'x' });
    } finally {
      await context.close().catch(() => {});
    }
    const done = await h.exit;
    assert.equal(done.code, 0, `${done.stderr}\nserver:\n${idp.stderr()}`);
    const creds = readJson(join(home, 'credentials', 'default.json'));
    assert.equal(creds.login_method, 'browser');
    const alice = users(idp).find((u) => u.username === 'alice');
    const claims = JSON.parse(Buffer.from(creds.tokens.id_token.split('.')[1], 'base64url').toString());
    assert.equal(claims.sub, alice.id);
  });

  test('latch login --device: the verification page signs in with google and approves as that user', { timeout: 120_000 }, async () => {
    const home = freshLatchHome();
    const h = runLatch(['login', '--device', '--issuer', idp.issuer, '--client-id', 'cli', '--no-qr', '--timeout', '90'],
      { home, timeoutMs: 120_000 });
    const [, userCode] = await h.waitForStderr(/enter the code:\s*(\S+)/);
    const { context, page } = await newPage();
    try {
      await page.goto(`${idp.url}/device?user_code=${encodeURIComponent(userCode)}`);
      await Promise.all([page.waitForNavigation(), page.click('a.social >> text=Sign in with google')]);
      await walkPages(page, { login: 'newbie', password: 'x' });
      assert.match(page.url(), /\/device\?user_code=/);
      assert.match(await page.innerText('body'), /Signed in as newbie@example\.com/);
      assert.equal(await page.locator('input[name=password]').count(), 0);
      await Promise.all([page.waitForNavigation(), page.click('button[value=approve]')]);
      assert.match(await page.title(), /Device approved/);
    } finally {
      await context.close().catch(() => {});
    }
    const done = await h.exit;
    assert.equal(done.code, 0, `${done.stderr}\nserver:\n${idp.stderr()}`);
    const creds = readJson(join(home, 'credentials', 'default.json'));
    const newbie = users(idp).find((u) => u.username === 'newbie@example.com');
    const claims = JSON.parse(Buffer.from(creds.tokens.id_token.split('.')[1], 'base64url').toString());
    assert.equal(claims.sub, newbie.id);
  });

  test('Better Auth client: signIn.social returns the upstream URL and sets the pending cookie', async () => {
    const cookies = cookieFetch(idp.url);
    const auth = createAuthClient({ baseURL: idp.url, fetchOptions: { customFetchImpl: cookies.fetch } });
    const r = await auth.signIn.social({ provider: 'google', callbackURL: '/api/auth/get-session', disableRedirect: true });
    assert.equal(r.error, null, JSON.stringify(r.error));
    const u = new URL(r.data.url);
    assert.equal(`${u.origin}`, upstream.issuer);
    assert.equal(u.searchParams.get('client_id'), 'latch-idp');
    assert.equal(u.searchParams.get('code_challenge_method'), 'S256');
    assert.equal(u.searchParams.get('redirect_uri'), `${idp.url}/api/auth/callback/google`);
    assert.ok(u.searchParams.get('state') && u.searchParams.get('nonce'));
    assert.ok(cookies.jar.has('latch_social'));
    const bad = await auth.signIn.social({ provider: 'google', callbackURL: 'https://evil.example/' });
    assert.equal(bad.error?.status, 403);
    const none = await auth.signIn.social({ provider: 'nope' });
    assert.equal(none.error?.status, 404);
  });

  test('a TOTP-enrolled user is asked for the code after the social sign-in', { timeout: 120_000, skip: HAVE_OATHTOOL ? false : 'needs oathtool' }, async () => {
    const cookies = cookieFetch(idp.url);
    const call = async (path, body) => {
      const r = await cookies.fetch(`${idp.url}/api/auth${path}`, {
        method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body),
      });
      assert.equal(r.status, 200, `${path}: ${await r.clone().text()}`);
      return r.json();
    };
    await call('/sign-in/email', { email: 'bob', password: PASSWORD });
    const en = await call('/two-factor/enable', { password: PASSWORD });
    const secret = new URL(en.totpURI).searchParams.get('secret');
    await call('/two-factor/verify-totp', { code: oathtool(secret) });

    const { context, page } = await newPage();
    try {
      await page.goto(`${idp.url}/api/auth/sign-in/social/google?return_to=${encodeURIComponent('/api/auth/get-session')}`);
      await walkPages(page, { login: 'bob', password: 'x' });
      assert.equal(await page.title(), 'Two-factor sign-in');
      assert.ok(!(await context.cookies()).some((c) => c.name === 'better-auth.session_token'), 'no session before the code');
      await page.fill('input[name=otp]', '000000');
      await Promise.all([page.waitForNavigation(), page.click('button')]);
      assert.match(await page.content(), /Wrong or already used code/);
      await page.fill('input[name=otp]', oathtool(secret, 30));
      await Promise.all([page.waitForURL(/\/api\/auth\/get-session$/), page.click('button')]);
      const session = JSON.parse(await page.innerText('body'));
      assert.equal(session.user.username ?? session.user.email, 'bob@example.com');
    } finally {
      await context.close().catch(() => {});
    }
  });

  test('audit: social sign-ins, links and refusals, with the provider', () => {
    const lines = readFileSync(auditLog, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    const social = lines.filter((e) => e.method === 'social:google');
    const has = (event, outcome, reason) => social.some((e) => e.event === event && e.outcome === outcome
      && (reason === undefined || e.reason === reason));
    assert.ok(has('sign_up', 'success'), 'a new user');
    assert.ok(has('account_link', 'success'), 'alice linked');
    assert.ok(has('account_link', 'failure', 'email_not_verified'), 'unverified-bob refused');
    assert.ok(has('social_sign_in', 'failure', 'callback_refused'), 'forged callback');
    assert.ok(has('social_sign_in', 'second_factor_required'), 'bob asked for the code');
    assert.ok(has('social_sign_in', 'success'));
    assert.ok(lines.some((e) => e.event === 'social_sign_in' && e.method === 'social:down' && e.reason === 'provider_unavailable'));
  });
});
