// latch-idp end to end: the consent page (chromium sees the client's name and scopes,
// allows or denies; the answer is remembered; CSRF on the form) and RP-initiated logout
// (id_token_hint -> the registered URI with state, the session ended on the server;
// unregistered URIs refused without a redirect; a confirmation step without a hint).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import http from 'node:http';
import { cleanupTempDirs, closeBrowser, newPage } from './lib.mjs';
import { idpAdmin, SKIP_WITHOUT_IDP, startLatchIdp } from './idp_lib.mjs';

const PASSWORD = 'correct horse battery staple';
const SESSION_COOKIE = 'better-auth.session_token';

function admin(args, env) {
  const r = idpAdmin(args, { env });
  assert.equal(r.code, 0, r.stderr);
}

const cookiePair = (setCookies, name) => setCookies.map((c) => c.split(';')[0]).find((c) => c.startsWith(`${name}=`));
const csrfField = (html) => /name="csrf" value="([^"]+)"/.exec(html)[1];
const titleOf = (html) => /<title>([^<]*)<\/title>/.exec(html)?.[1];

describe('latch-idp: consent and RP-initiated logout', { skip: SKIP_WITHOUT_IDP }, () => {
  let idp;
  let rp;  // the relying party's loopback listener (redirect and post-logout targets)
  let RP;
  before(async () => {
    rp = http.createServer((req, res) => res.end('ok'));
    await new Promise((resolve) => rp.listen(0, '127.0.0.1', resolve));
    RP = `http://127.0.0.1:${rp.address().port}`;
    idp = await startLatchIdp();
    admin(['client', 'add', 'app', '--public', '--data', idp.data, '--name', 'Photo Printer',
      '--redirect-uri', `${RP}/callback`, '--grant', 'authorization_code', '--grant', 'refresh_token',
      '--scope', 'openid profile email offline_access', '--post-logout-redirect-uri', `${RP}/bye`]);
    for (const u of ['alice', 'bob', 'carol', 'dave']) admin(['user', 'add', u, '--data', idp.data], { LATCH_IDP_PASSWORD: PASSWORD });
  });
  after(async () => {
    await closeBrowser();
    if (idp) await idp.stop();
    rp?.close();
    cleanupTempDirs();
  });

  function authorizeUrl(extra = {}) {
    const verifier = randomBytes(32).toString('base64url');
    const q = new URLSearchParams({
      client_id: 'app', response_type: 'code', redirect_uri: `${RP}/callback`, scope: 'openid profile offline_access',
      state: 'st', nonce: 'n', code_challenge: createHash('sha256').update(verifier).digest('base64url'),
      code_challenge_method: 'S256', ...extra,
    });
    return { url: `${idp.url}/oauth2/authorize?${q}`, verifier };
  }

  async function redeem(code, verifier) {
    const r = await fetch(`${idp.url}/oauth2/token`, {
      method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'authorization_code', client_id: 'app', code, redirect_uri: `${RP}/callback`, code_verifier: verifier }),
    });
    assert.equal(r.status, 200);
    return r.json();
  }

  async function signInOnPage(page, user) {
    assert.equal(await page.title(), 'Sign in');
    await page.fill('input[name=username]', user);
    await page.fill('input[name=password]', PASSWORD);
    await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), page.click('button')]);
  }

  const getSession = (cookie) => fetch(`${idp.url}/api/auth/get-session`, { headers: { cookie } }).then((r) => r.json());

  test('chromium: the consent page names the client and its scopes; Allow gives the code; asked once, again with prompt=consent or a new scope', { timeout: 120_000 }, async () => {
    const { context, page } = await newPage();
    try {
      const first = authorizeUrl({ state: 'c1' });
      await page.goto(first.url);
      await signInOnPage(page, 'alice');
      assert.equal(await page.title(), 'Allow access?');
      const text = await page.innerText('body');
      assert.match(text, /Photo Printer \(app\) asks to/);
      assert.match(text, /signed in as alice/);
      assert.match(text, /See your name and user name/);
      assert.match(text, /Stay signed in while you are away/);
      assert.doesNotMatch(text, /email address/, 'only the requested scopes are listed');
      await Promise.all([page.waitForURL(`${RP}/callback?**`), page.click('button[value=allow]')]);
      const back = new URL(page.url());
      assert.equal(back.searchParams.get('state'), 'c1');
      assert.equal(back.searchParams.get('iss'), idp.issuer);
      const tokens = await redeem(back.searchParams.get('code'), first.verifier);
      assert.ok(tokens.id_token && tokens.refresh_token);

      // Same scopes again: no page, the code at once.
      await page.goto(authorizeUrl({ state: 'c2' }).url);
      await page.waitForURL(`${RP}/callback?**`);
      assert.equal(new URL(page.url()).searchParams.get('state'), 'c2');
      assert.ok(new URL(page.url()).searchParams.get('code'));

      for (const extra of [{ prompt: 'consent' }, { scope: 'openid email' }]) {
        await page.goto(authorizeUrl(extra).url);
        assert.equal(await page.title(), 'Allow access?', JSON.stringify(extra));
      }
    } finally {
      await context.close();
    }
  });

  test('chromium: Deny sends access_denied with state and iss; nothing is remembered', { timeout: 120_000 }, async () => {
    const { context, page } = await newPage();
    try {
      await page.goto(authorizeUrl({ state: 'd1' }).url);
      await signInOnPage(page, 'bob');
      assert.equal(await page.title(), 'Allow access?');
      await Promise.all([page.waitForURL(`${RP}/callback?**`), page.click('button[value=deny]')]);
      const back = new URL(page.url());
      assert.equal(back.searchParams.get('error'), 'access_denied');
      assert.equal(back.searchParams.get('state'), 'd1');
      assert.equal(back.searchParams.get('iss'), idp.issuer);
      assert.equal(back.searchParams.get('code'), null);
      await page.goto(authorizeUrl().url);
      assert.equal(await page.title(), 'Allow access?', 'a denial is not remembered as consent');
    } finally {
      await context.close();
    }
  });

  // Signs `user` in with plain HTTP; returns the consent page's HTML, its headers, the
  // session cookie and the consent form's CSRF cookie.
  async function signInHttp(user, extra = {}) {
    const req = authorizeUrl(extra);
    const form = await fetch(req.url);
    const html = await form.text();
    const body = new URLSearchParams(new URL(req.url).searchParams);
    body.set('csrf', csrfField(html));
    body.set('username', user);
    body.set('password', PASSWORD);
    const r = await fetch(`${idp.url}/oauth2/authorize`, {
      method: 'POST', redirect: 'manual', body,
      headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: form.headers.getSetCookie()[0].split(';')[0] },
    });
    const set = r.headers.getSetCookie();
    return { status: r.status, headers: r.headers, html: await r.text(), session: cookiePair(set, SESSION_COOKIE),
      csrfCookie: cookiePair(set, 'latch_idp_csrf'), params: new URL(req.url).searchParams };
  }

  test('the consent form: a POST without or with a wrong CSRF token is refused and grants nothing', async () => {
    const s = await signInHttp('carol');
    assert.equal(s.status, 200);
    assert.equal(titleOf(s.html), 'Allow access?');
    assert.match(s.headers.get('content-security-policy'), /frame-ancestors 'none'/);
    assert.equal(s.headers.get('x-frame-options'), 'DENY');
    assert.equal(s.headers.get('cache-control'), 'no-store');
    const good = csrfField(s.html);
    const post = (csrf, cookie) => {
      const body = new URLSearchParams(s.params);
      if (csrf !== undefined) body.set('csrf', csrf);
      body.set('action', 'allow');
      return fetch(`${idp.url}/oauth2/consent`, {
        method: 'POST', redirect: 'manual', body, headers: { 'content-type': 'application/x-www-form-urlencoded', cookie },
      });
    };
    const [nonce, mac] = good.split('.');
    const attempts = [
      ['no token', undefined, `${s.session}; ${s.csrfCookie}`],
      ['a forged MAC', `${nonce}.${'A'.repeat(mac.length)}`, `${s.session}; ${s.csrfCookie}`],
      ['no CSRF cookie', good, s.session],
    ];
    for (const [what, csrf, cookie] of attempts) {
      const r = await post(csrf, cookie);
      assert.equal(r.status, 403, what);
      assert.equal(r.headers.get('location'), null, what);
    }
    const again = await fetch(authorizeUrl().url, { redirect: 'manual', headers: { cookie: s.session } });
    assert.equal(again.status, 200);
    assert.equal(titleOf(await again.text()), 'Allow access?', 'nothing was granted');
    // The same form with its token goes through: the refusals were the CSRF check.
    const ok = await post(good, `${s.session}; ${s.csrfCookie}`);
    assert.equal(ok.status, 303);
    assert.ok(new URL(ok.headers.get('location')).searchParams.get('code'));
  });

  test('prompt=none without consent answers consent_required at the redirect', async () => {
    const s = await signInHttp('dave');
    const r = await fetch(authorizeUrl({ prompt: 'none', state: 'pn' }).url, { redirect: 'manual', headers: { cookie: s.session } });
    assert.equal(r.status, 303);
    const loc = new URL(r.headers.get('location'));
    assert.equal(loc.searchParams.get('error'), 'consent_required');
    assert.equal(loc.searchParams.get('state'), 'pn');
  });

  test('chromium: logout with id_token_hint goes back to the registered URI with state; the session is gone on the server', { timeout: 120_000 }, async () => {
    const discovery = await fetch(`${idp.url}/.well-known/openid-configuration`).then((r) => r.json());
    assert.equal(discovery.end_session_endpoint, `${idp.issuer}/oauth2/logout`);
    const { context, page } = await newPage();
    try {
      const req = authorizeUrl({ state: 'l1' });
      await page.goto(req.url);
      await signInOnPage(page, 'alice');
      if (await page.title() === 'Allow access?') {
        await Promise.all([page.waitForURL(`${RP}/callback?**`), page.click('button[value=allow]')]);
      }
      await page.waitForURL(`${RP}/callback?**`);
      const { id_token: idToken, access_token: accessToken } = await redeem(new URL(page.url()).searchParams.get('code'), req.verifier);
      const session = (await context.cookies(idp.url)).find((c) => c.name === SESSION_COOKIE);
      const cookie = `${SESSION_COOKIE}=${session.value}`;
      assert.ok((await getSession(cookie))?.session, 'signed in before');

      // An access token, though we signed it, is no id_token_hint: refused, nothing ended.
      const asHint = new URLSearchParams({ id_token_hint: accessToken, post_logout_redirect_uri: `${RP}/bye` });
      const refused = await fetch(`${idp.url}/oauth2/logout?${asHint}`, { redirect: 'manual', headers: { cookie } });
      assert.equal(refused.status, 400);
      assert.ok((await getSession(cookie))?.session, 'still signed in');

      const q = new URLSearchParams({ id_token_hint: idToken, post_logout_redirect_uri: `${RP}/bye`, state: 'bye-1' });
      await page.goto(`${idp.url}/oauth2/logout?${q}`);
      await page.waitForURL(`${RP}/bye?**`);
      assert.equal(new URL(page.url()).searchParams.get('state'), 'bye-1');
      assert.equal(await getSession(cookie), null, 'the session row is gone: the old cookie no longer works');
      assert.equal((await context.cookies(idp.url)).find((c) => c.name === SESSION_COOKIE), undefined, 'the cookie is cleared');
      await page.goto(authorizeUrl().url);
      assert.equal(await page.title(), 'Sign in', 'the next authorization asks to sign in again');
    } finally {
      await context.close();
    }
  });

  test('logout: an unregistered post_logout_redirect_uri is refused without a redirect; no hint asks first', async () => {
    const s = await signInHttp('dave');
    for (const uri of ['https://evil.example/bye', `${RP}/bye/other`, `${RP}/callback`]) {
      const q = new URLSearchParams({ client_id: 'app', post_logout_redirect_uri: uri, state: 'x' });
      const r = await fetch(`${idp.url}/oauth2/logout?${q}`, { redirect: 'manual', headers: { cookie: s.session } });
      assert.equal(r.status, 400, uri);
      assert.equal(r.headers.get('location'), null, uri);
      assert.match(await r.text(), /not registered for this client/);
    }
    const forged = new URLSearchParams({ id_token_hint: 'eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.', post_logout_redirect_uri: `${RP}/bye` });
    const bad = await fetch(`${idp.url}/oauth2/logout?${forged}`, { redirect: 'manual', headers: { cookie: s.session } });
    assert.equal(bad.status, 400);
    assert.equal(bad.headers.get('location'), null);
    assert.ok(await getSession(s.session), 'still signed in');

    // No hint (a link on any page could do this): a confirmation page, still signed in.
    const q = new URLSearchParams({ client_id: 'app', post_logout_redirect_uri: `${RP}/bye`, state: 'c' });
    const ask = await fetch(`${idp.url}/oauth2/logout?${q}`, { redirect: 'manual', headers: { cookie: s.session } });
    assert.equal(ask.status, 200);
    const html = await ask.text();
    assert.equal(titleOf(html), 'Sign out?');
    assert.match(ask.headers.get('content-security-policy'), /frame-ancestors 'none'/);
    assert.ok(await getSession(s.session), 'asking does not sign out');
    const confirm = (csrf, cookie) => fetch(`${idp.url}/oauth2/logout`, {
      method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/x-www-form-urlencoded', cookie },
      body: new URLSearchParams({ csrf, action: 'confirm', client_id: 'app', post_logout_redirect_uri: `${RP}/bye`, state: 'c' }),
    });
    const csrfCookie = cookiePair(ask.headers.getSetCookie(), 'latch_idp_csrf');
    const noCookie = await confirm(csrfField(html), s.session);
    assert.equal(noCookie.status, 403);
    assert.ok(await getSession(s.session), 'a confirmation without the CSRF cookie does nothing');
    const done = await confirm(csrfField(html), `${s.session}; ${csrfCookie}`);
    assert.equal(done.status, 303);
    assert.equal(done.headers.get('location'), `${RP}/bye?state=c`);
    assert.equal(await getSession(s.session), null);
  });
});
