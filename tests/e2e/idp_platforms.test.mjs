// latch-idp platforms in isolation (seed 003: "every platform has its own auth service and
// database, no shared tables, no cross-platform tokens"): one latch-idp process serves
// platforms a and b under /p/a/ and /p/b/ on one loopback port. Both have a user alice
// with the same subject and password and a client `app` (and `rs`, with the same secret):
// every token, code, cookie and session of a is refused at b, asserted at the server (its
// HTTP answer and the rows of both databases, read with sqlite3 -readonly).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import http from 'node:http';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  cleanupTempDirs, closeBrowser, freshLatchHome, latch, makeTempDir, newPage, readJson, SKIP_WITHOUT_LATCH,
} from './lib.mjs';
import { cookieFetch, dbQuery, dbScalar, idpAdmin, rawGet, SKIP_WITHOUT_IDP, startLatchIdp } from './idp_lib.mjs';
import { createAuthClient } from 'better-auth/client';
import { twoFactorClient } from 'better-auth/client/plugins';

const skip = SKIP_WITHOUT_IDP || SKIP_WITHOUT_LATCH;
const PASSWORD = 'correct horse battery staple';
const RS_SECRET = 'the-same-resource-server-secret-on-both';
const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';
const SUB = 'alice-sub';
const IAT = 'initial-access-token-of-platform-a';
// An RFC 7591 registration of a machine (its public key).
const MACHINE = { token_endpoint_auth_method: 'private_key_jwt', grant_types: ['client_credentials'],
  jwks: { keys: [{ kty: 'EC', crv: 'P-256', x: 'f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU', y: 'x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0' }] } };

const HAVE_OATHTOOL = spawnSync('oathtool', ['--version']).status === 0;

// The TOTP code for `base32` at now + offsetSeconds (Debian's oathtool).
function oathtool(base32, offsetSeconds = 0) {
  const now = new Date(Date.now() + offsetSeconds * 1000).toISOString().replace('T', ' ').replace(/\..*/, ' UTC');
  const r = spawnSync('oathtool', ['--totp', '-b', '--now', now, base32], { encoding: 'utf8', timeout: 10_000 });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.trim();
}

const sha = (s) => createHash('sha256').update(s).digest('base64url');
const form = (fields) => ({
  method: 'POST', redirect: 'manual',
  headers: { 'content-type': 'application/x-www-form-urlencoded' },
  body: new URLSearchParams(fields).toString(),
});

function admin(args, env) {
  const r = idpAdmin(args, { env });
  assert.equal(r.code, 0, r.stderr);
  return r;
}

describe('latch-idp: platforms in isolation', { skip }, () => {
  let idp;
  let rp;
  let RP;
  let data;
  let audit;
  const P = {};  // name -> { issuer, dir }
  const db = (p, sql) => dbQuery(P[p].dir, sql);
  const count = (p, sql) => dbScalar(P[p].dir, `SELECT count(*) FROM ${sql}`);

  before(async () => {
    rp = http.createServer((req, res) => res.end('ok'));
    await new Promise((resolve) => rp.listen(0, '127.0.0.1', resolve));
    RP = `http://127.0.0.1:${rp.address().port}`;
    const dir = makeTempDir('latch-idp-platforms-');
    data = join(dir, 'data');
    const secretFile = join(dir, 'rs-secret');
    writeFileSync(secretFile, `${RS_SECRET}\n`, { mode: 0o600 });
    for (const p of ['a', 'b']) {
      const added = admin(['platform', 'add', p, '--data', data]);
      assert.match(added.stdout, new RegExp(`added platform ${p} \\(path /p/${p}/\\)`));
      admin(['user', 'add', 'alice', '--id', SUB, '--email', 'alice@example.com', '--name', 'Alice', '--data', data,
        '--platform', p], { LATCH_IDP_PASSWORD: PASSWORD });
      admin(['client', 'add', 'app', '--public', '--skip-consent', '--redirect-uri', `${RP}/callback`,
        '--post-logout-redirect-uri', `${RP}/bye`, '--grant', 'authorization_code', '--grant', 'refresh_token',
        '--grant', DEVICE_GRANT, '--grant', 'password', '--scope', 'openid profile email offline_access',
        '--data', data, '--platform', p]);
      admin(['client', 'add', 'rs', '--confidential', '--secret-file', secretFile, '--data', data, '--platform', p]);
    }
    writeFileSync(join(data, 'platforms', 'a', 'initial-access-token'), `${IAT}\n`, { mode: 0o600 });
    audit = join(dir, 'audit.jsonl');
    idp = await startLatchIdp({ data, extraArgs: ['--metrics-listen', '127.0.0.1:0', '--audit-log', audit] });
    for (const p of ['a', 'b']) P[p] = { issuer: `${idp.url}/p/${p}`, dir: join(data, 'platforms', p) };
  });
  after(async () => {
    await closeBrowser();
    if (idp) await idp.stop();
    rp?.close();
    cleanupTempDirs();
  });

  // Tokens of alice at platform p by the password grant.
  async function passwordTokens(p, scope = 'openid offline_access') {
    const r = await fetch(`${P[p].issuer}/oauth2/token`, form({ grant_type: 'password', client_id: 'app', username: 'alice', password: PASSWORD, scope }));
    assert.equal(r.status, 200, await r.clone().text());
    return r.json();
  }
  const introspect = (p, token) => fetch(`${P[p].issuer}/oauth2/introspect`, {
    ...form({ token }), headers: {
      'content-type': 'application/x-www-form-urlencoded',
      authorization: `Basic ${Buffer.from(`rs:${RS_SECRET}`).toString('base64')}`,
    },
  }).then((r) => r.json());
  const userinfo = (p, token) => fetch(`${P[p].issuer}/oauth2/userinfo`, { headers: { authorization: `Bearer ${token}` } });
  const getSession = (p, cookie) => fetch(`${P[p].issuer}/api/auth/get-session`, { headers: cookie ? { cookie } : {} }).then((r) => r.json());

  test('the CLI: platform list; the same user and client in both databases, provisioned apart', () => {
    const list = admin(['platform', 'list', '--data', data]);
    assert.equal(list.stdout, 'a\t/p/a/\t-\nb\t/p/b/\t-\n');
    for (const p of ['a', 'b']) {
      assert.deepEqual(db(p, 'SELECT id, username FROM users'), [{ id: SUB, username: 'alice' }]);
      assert.deepEqual(db(p, 'SELECT client_id FROM clients ORDER BY client_id'), [{ client_id: 'app' }, { client_id: 'rs' }]);
    }
    const bad = idpAdmin(['platform', 'add', '../x', '--data', data]);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /a platform name has 1 to 32 lowercase letters/);
    const missing = idpAdmin(['user', 'list', '--data', data, '--platform', 'c']);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /no platform 'c'/);
  });

  test("discovery and JWKS: each platform its issuer under its prefix, and b's JWKS has none of a's keys", async () => {
    const kids = {};
    for (const p of ['a', 'b']) {
      const d = await fetch(`${P[p].issuer}/.well-known/openid-configuration`).then((r) => r.json());
      assert.equal(d.issuer, P[p].issuer);
      for (const k of ['authorization_endpoint', 'token_endpoint', 'jwks_uri', 'userinfo_endpoint', 'introspection_endpoint',
        'device_authorization_endpoint', 'end_session_endpoint', 'revocation_endpoint'])
        assert.ok(d[k].startsWith(`${P[p].issuer}/`), `${p} ${k}: ${d[k]}`);
      const jwks = await fetch(d.jwks_uri).then((r) => r.json());
      kids[p] = jwks.keys.map((k) => k.kid);
      assert.deepEqual(kids[p].sort(), db(p, 'SELECT kid FROM signing_keys').map((r) => r.kid).sort());
    }
    assert.ok(kids.a.length > 0 && kids.b.length > 0);
    assert.deepEqual(kids.a.filter((k) => kids.b.includes(k)), []);
  });

  test("a's access token: good at a's userinfo and introspection, refused at b's", async () => {
    const t = await passwordTokens('a');
    const atA = await userinfo('a', t.access_token);
    assert.equal(atA.status, 200);
    assert.equal((await atA.json()).sub, SUB);
    const atB = await userinfo('b', t.access_token);
    assert.equal(atB.status, 401);
    assert.match(atB.headers.get('www-authenticate') ?? '', /invalid_token/);
    assert.equal((await introspect('a', t.access_token)).active, true);
    assert.deepEqual(await introspect('b', t.access_token), { active: false });
    // The server's side: the grant is a's alone; b never heard of it.
    assert.equal(count('a', `refresh_tokens WHERE token_hash = '${sha(t.refresh_token)}'`), 1);
    assert.equal(count('b', 'refresh_tokens'), 0);
  });

  test("registration: a's initial access token and a user's access token of a register at a only", async () => {
    const register = (p, bearer) => fetch(`${P[p].issuer}/oauth2/register`, {
      method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${bearer}` },
      body: JSON.stringify(MACHINE),
    });
    const { access_token: userToken } = await passwordTokens('a');
    const clientsOfB = count('b', 'clients');
    assert.equal((await register('b', IAT)).status, 401);
    assert.equal((await register('b', userToken)).status, 401);
    assert.equal(count('b', 'clients'), clientsOfB);
    for (const bearer of [IAT, userToken]) {
      const r = await register('a', bearer);
      assert.equal(r.status, 201);
      const id = (await r.json()).client_id;
      assert.equal(count('a', `clients WHERE client_id = '${id}'`), 1);
      assert.equal(count('b', `clients WHERE client_id = '${id}'`), 0);
    }
  });

  test("a's refresh token: refused at b's token endpoint, still good at a's", async () => {
    const t = await passwordTokens('a');
    const hash = sha(t.refresh_token);
    const atB = await fetch(`${P.b.issuer}/oauth2/token`, form({ grant_type: 'refresh_token', client_id: 'app', refresh_token: t.refresh_token }));
    assert.equal(atB.status, 400);
    assert.equal((await atB.json()).error, 'invalid_grant');
    assert.deepEqual(db('a', `SELECT rotated_at, revoked_at FROM refresh_tokens WHERE token_hash = '${hash}'`), [{ rotated_at: 0, revoked_at: 0 }]);
    assert.equal(count('b', 'refresh_tokens'), 0);
    const atA = await fetch(`${P.a.issuer}/oauth2/token`, form({ grant_type: 'refresh_token', client_id: 'app', refresh_token: t.refresh_token }));
    assert.equal(atA.status, 200);
    assert.ok((await atA.json()).refresh_token);
    assert.ok(dbScalar(P.a.dir, `SELECT rotated_at FROM refresh_tokens WHERE token_hash = '${hash}'`) > 0);
  });

  // Signs alice in on p's authorization page with plain HTTP; returns { code, verifier, cookies }.
  async function authorizationCode(p) {
    const verifier = randomBytes(32).toString('base64url');
    const q = {
      client_id: 'app', response_type: 'code', redirect_uri: `${RP}/callback`, scope: 'openid offline_access',
      state: 'st', code_challenge: sha(verifier), code_challenge_method: 'S256',
    };
    const page = await fetch(`${P[p].issuer}/oauth2/authorize?${new URLSearchParams(q)}`);
    assert.equal(page.status, 200);
    const html = await page.text();
    assert.ok(html.includes(`action="/p/${p}/oauth2/authorize"`), 'the form posts under the prefix');
    const csrfCookie = page.headers.getSetCookie()[0];
    assert.match(csrfCookie, new RegExp(`^p-${p}\\.latch_idp_csrf=[^;]+; Path=/p/${p}/oauth2/authorize;`));
    const csrf = /name="csrf" value="([^"]+)"/.exec(html)[1];
    const r = await fetch(`${P[p].issuer}/oauth2/authorize`, {
      ...form({ ...q, csrf, username: 'alice', password: PASSWORD }),
      headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: csrfCookie.split(';')[0] },
    });
    assert.ok([302, 303].includes(r.status), `status ${r.status}`);
    const back = new URL(r.headers.get('location'));
    assert.equal(back.searchParams.get('iss'), P[p].issuer);
    return { code: back.searchParams.get('code'), verifier, cookies: r.headers.getSetCookie() };
  }

  test("a's authorization code: refused at b, then redeemed at a", async () => {
    const { code, verifier } = await authorizationCode('a');
    const redeem = (p) => fetch(`${P[p].issuer}/oauth2/token`, form({
      grant_type: 'authorization_code', client_id: 'app', code, redirect_uri: `${RP}/callback`, code_verifier: verifier,
    }));
    const atB = await redeem('b');
    assert.equal(atB.status, 400);
    assert.equal((await atB.json()).error, 'invalid_grant');
    assert.deepEqual(db('a', `SELECT consumed_at FROM auth_codes WHERE code_hash = '${sha(code)}'`), [{ consumed_at: 0 }]);
    assert.equal(count('b', 'auth_codes'), 0);
    const atA = await redeem('a');
    assert.equal(atA.status, 200);
    assert.ok(dbScalar(P.a.dir, `SELECT consumed_at FROM auth_codes WHERE code_hash = '${sha(code)}'`) > 0);
  });

  test("a's device code refused at b's token endpoint; a's user code unknown on b's device page", async () => {
    const started = await fetch(`${P.a.issuer}/oauth2/device_authorization`, form({ client_id: 'app', scope: 'openid' }));
    assert.equal(started.status, 200);
    const d = await started.json();
    assert.equal(d.verification_uri, `${P.a.issuer}/device`);
    const poll = (p) => fetch(`${P[p].issuer}/oauth2/token`, form({ grant_type: DEVICE_GRANT, client_id: 'app', device_code: d.device_code }));
    const atB = await poll('b');
    assert.equal(atB.status, 400);
    assert.equal((await atB.json()).error, 'invalid_grant');

    // b's verification page, with alice's (right) password for b: the code is not b's.
    const page = await fetch(`${P.b.issuer}/device?user_code=${encodeURIComponent(d.user_code)}`);
    const html = await page.text();
    assert.ok(html.includes('action="/p/b/device"'));
    const csrf = /name="csrf" value="([^"]+)"/.exec(html)[1];
    const csrfCookie = page.headers.getSetCookie()[0];
    assert.match(csrfCookie, /; Path=\/p\/b\/device;/);
    const approve = await fetch(`${P.b.issuer}/device`, {
      ...form({ csrf, user_code: d.user_code, username: 'alice', password: PASSWORD, action: 'approve' }),
      headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: csrfCookie.split(';')[0] },
    });
    assert.equal(approve.status, 400);
    assert.match(await approve.text(), /That code is unknown or has expired/);
    // a's CSRF pair (its page's cookie and field) is no good on b's form: each platform its key.
    const pageA = await fetch(`${P.a.issuer}/device`);
    const csrfA = /name="csrf" value="([^"]+)"/.exec(await pageA.text())[1];
    const cookieA = pageA.headers.getSetCookie()[0].split(';')[0].split('=')[1];
    const crossed = await fetch(`${P.b.issuer}/device`, {
      ...form({ csrf: csrfA, user_code: d.user_code, username: 'alice', password: PASSWORD, action: 'approve' }),
      headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: `p-b.latch_idp_csrf=${cookieA}` },
    });
    assert.equal(crossed.status, 403);
    assert.deepEqual(db('a', `SELECT status, user_id FROM device_codes WHERE device_code_hash = '${sha(d.device_code)}'`),
      [{ status: 'pending', user_id: '' }]);
    assert.equal(count('b', 'device_codes'), 0);
    const atA = await poll('a');
    assert.equal(atA.status, 400);
    assert.equal((await atA.json()).error, 'authorization_pending', 'still a live code at a');
  });

  test("a's session cookie (raw header) is no session at b, under any of the names", async () => {
    const r = await fetch(`${P.a.issuer}/api/auth/sign-in/email`, {
      method: 'POST', headers: { 'content-type': 'application/json', origin: idp.url },
      body: JSON.stringify({ email: 'alice', password: PASSWORD }),  // its account name
    });
    assert.equal(r.status, 200, await r.clone().text());
    const set = r.headers.getSetCookie().find((c) => c.startsWith('p-a.session_token='));
    assert.ok(set, r.headers.getSetCookie().join('\n'));
    assert.match(set, /; Path=\/p\/a\/; HttpOnly; SameSite=Lax/);
    const token = set.split(';')[0].split('=')[1];
    assert.equal((await getSession('a', `p-a.session_token=${token}`)).user.id, SUB);
    for (const name of ['p-a.session_token', 'p-b.session_token', 'better-auth.session_token'])
      assert.equal(await getSession('b', `${name}=${token}`), null, name);
    assert.equal(count('a', `sessions WHERE token_hash = '${sha(token)}'`), 1);
    assert.equal(count('b', `sessions WHERE token_hash = '${sha(token)}'`), 0);
  });

  test("chromium: a's session cookie is scoped to /p/a/, not sent to b, and b asks to sign in", { timeout: 120_000 }, async () => {
    const { context, page } = await newPage();
    try {
      const q = new URLSearchParams({
        client_id: 'app', response_type: 'code', redirect_uri: `${RP}/callback`, scope: 'openid', state: 'c',
        code_challenge: sha('v'.repeat(43)), code_challenge_method: 'S256',
      });
      await page.goto(`${P.a.issuer}/oauth2/authorize?${q}`);
      assert.equal(await page.title(), 'Sign in');
      await page.fill('input[name=username]', 'alice');
      await page.fill('input[name=password]', PASSWORD);
      await Promise.all([page.waitForURL(`${RP}/callback?**`), page.click('button')]);
      const session = (await context.cookies()).find((c) => c.name === 'p-a.session_token');
      assert.ok(session, 'the browser keeps a\'s session cookie');
      assert.equal(session.path, '/p/a/');
      assert.equal(session.httpOnly, true);

      const atB = await page.goto(`${P.b.issuer}/api/auth/get-session`);
      const sent = await atB.request().allHeaders();
      assert.ok(!(sent.cookie ?? '').includes('session_token'), `sent to b: ${sent.cookie}`);
      assert.equal((await atB.text()).trim(), 'null');
      const atA = await page.goto(`${P.a.issuer}/api/auth/get-session`);
      assert.match((await atA.request().allHeaders()).cookie ?? '', /p-a\.session_token=/);
      assert.equal(JSON.parse(await atA.text()).user.id, SUB);
      await page.goto(`${P.b.issuer}/oauth2/authorize?${q}`);
      assert.equal(await page.title(), 'Sign in', 'b has no session for this browser');
      assert.equal(count('a', `sessions WHERE token_hash = '${sha(session.value)}'`), 1);
      assert.equal(count('b', `sessions WHERE token_hash = '${sha(session.value)}'`), 0);
    } finally {
      await context.close();
    }
  });

  test("a's ID token as id_token_hint at b's logout: refused, a's session lives on; at a it signs out", async () => {
    const { cookies } = await authorizationCode('a');
    const session = cookies.find((c) => c.startsWith('p-a.session_token=')).split(';')[0];
    const hash = sha(session.split('=')[1]);
    const { id_token: idToken } = await passwordTokens('a');
    const logout = (p) => fetch(`${P[p].issuer}/oauth2/logout?${new URLSearchParams({
      id_token_hint: idToken, post_logout_redirect_uri: `${RP}/bye`, state: 's',
    })}`, { redirect: 'manual', headers: { cookie: session } });
    const atB = await logout('b');
    assert.equal(atB.status, 400);
    assert.equal(atB.headers.get('location'), null);
    assert.match(await atB.text(), /id_token_hint is not an ID token this server issued/);
    assert.equal(count('a', `sessions WHERE token_hash = '${hash}'`), 1);
    const atA = await logout('a');
    assert.equal(atA.status, 303);
    assert.equal(atA.headers.get('location'), `${RP}/bye?state=s`);
    assert.equal(count('a', `sessions WHERE token_hash = '${hash}'`), 0);
  });

  test('a user signed up on a does not exist on b', async () => {
    const signUp = await fetch(`${P.a.issuer}/api/auth/sign-up/email`, {
      method: 'POST', headers: { 'content-type': 'application/json', origin: idp.url },
      body: JSON.stringify({ email: 'carol@example.com', password: PASSWORD, name: 'Carol' }),
    });
    assert.equal(signUp.status, 200, await signUp.clone().text());
    assert.equal(count('a', "users WHERE email = 'carol@example.com'"), 1);
    assert.equal(count('b', "users WHERE email = 'carol@example.com' OR username = 'carol@example.com'"), 0);
    const signIn = await fetch(`${P.b.issuer}/api/auth/sign-in/email`, {
      method: 'POST', headers: { 'content-type': 'application/json', origin: idp.url },
      body: JSON.stringify({ email: 'carol@example.com', password: PASSWORD }),
    });
    assert.equal(signIn.status, 401);
    const listed = admin(['user', 'list', '--data', data, '--platform', 'b']);
    assert.doesNotMatch(listed.stdout, /carol/);
  });

  test("Better Auth's client with two-factor on platform a (baseURL under /p/a/): a's cookies under /p/a/, b knows nothing", { skip: HAVE_OATHTOOL ? false : 'needs Debian oathtool' }, async () => {
    const { fetch: customFetchImpl, jar, seen } = cookieFetch(idp.url);
    // A baseURL with a path is taken whole by Better Auth's client: name the auth route too.
    const auth = createAuthClient({ baseURL: `${P.a.issuer}/api/auth`, plugins: [twoFactorClient()], fetchOptions: { customFetchImpl } });
    const up = await auth.signUp.email({ email: 'dora@example.com', password: PASSWORD, name: 'Dora' });
    assert.equal(up.error, null, JSON.stringify(up.error));
    const en = await auth.twoFactor.enable({ password: PASSWORD });
    assert.equal(en.error, null, JSON.stringify(en.error));
    const secret = new URL(en.data.totpURI).searchParams.get('secret');
    assert.equal((await auth.twoFactor.verifyTotp({ code: oathtool(secret) })).error, null);
    assert.equal((await auth.signOut()).error, null);
    const signIn = await auth.signIn.email({ email: 'dora@example.com', password: PASSWORD });
    assert.equal(signIn.data?.twoFactorRedirect, true, JSON.stringify(signIn));
    assert.ok(seen.some((c) => /^p-a\.two_factor=[^;]+; Max-Age=600; Path=\/p\/a\/;/.test(c)), seen.join('\n'));
    assert.equal((await auth.twoFactor.verifyTotp({ code: oathtool(secret, 30) })).error, null);
    assert.equal((await auth.getSession()).data?.user.email, 'dora@example.com');
    assert.ok(seen.every((c) => c.startsWith('p-a.') && /; Path=\/p\/a\//.test(c)), seen.join('\n'));
    const cookie = [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
    assert.equal(await getSession('b', cookie), null);
    const id = up.data.user.id;
    assert.equal(count('a', `two_factor WHERE user_id = '${id}'`), 1);
    assert.equal(count('b', `two_factor WHERE user_id = '${id}'`), 0);
    assert.equal(count('b', "users WHERE username = 'dora@example.com'"), 0);
  });

  test('unknown prefixes, hostile paths and the bare root: 404 naming no platform', async () => {
    for (const path of ['/.well-known/openid-configuration', '/p/c/.well-known/openid-configuration',
      '/p/A/.well-known/openid-configuration', '/p/../p/a/.well-known/openid-configuration',
      '/p/a/../b/.well-known/openid-configuration', '/p/a%2F..%2Fb/.well-known/openid-configuration',
      '/p/a//.well-known/openid-configuration', '//p/a/.well-known/openid-configuration', '/oauth2/token']) {
      const r = await rawGet(idp.url, path);
      assert.equal(r.status, 404, path);
      assert.equal(r.body, 'not found\n', path);
    }
    const r = await rawGet(idp.url, '/p/a/.well-known/openid-configuration', { host: 'AUTH.unknown.example:80' });
    assert.equal(r.status, 200, 'an unknown Host still reaches the path prefixes');
  });

  test('metrics and audit: one page, each sample labelled with its platform; audit lines name theirs', async () => {
    const m = /metrics on (http:\/\/\S+)/.exec(idp.stderr());
    assert.ok(m, idp.stderr());
    const text = await fetch(m[1]).then((r) => r.text());
    assert.match(text, /latch_idp_http_requests_total\{platform="a",route="token",code="2xx"\} \d+/);
    assert.match(text, /latch_idp_http_requests_total\{platform="b",route="token",code="4xx"\} \d+/);
    assert.match(text, /latch_idp_logins_total\{platform="a",method="password_grant"\} [1-9]/);
    assert.equal(text.match(/^# TYPE latch_idp_http_requests_total /gm).length, 1, 'each family once');
    const lines = readFileSync(audit, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    assert.ok(lines.some((l) => l.event === 'sign_up' && l.platform === 'a' && l.username === 'carol@example.com'));
    assert.ok(lines.some((l) => l.event === 'sign_in' && l.outcome === 'failure' && l.platform === 'b'));
    assert.ok(lines.every((l) => l.platform === 'a' || l.platform === 'b'));
  });

  test('keys rotate --platform b: a new key in b\'s database only', () => {
    const before = { a: count('a', 'signing_keys'), b: count('b', 'signing_keys') };
    const r = admin(['keys', 'rotate', '--data', data, '--platform', 'b']);
    const kid = r.stdout.trim();
    assert.equal(count('b', `signing_keys WHERE kid = '${kid}'`), 1);
    assert.equal(count('b', 'signing_keys'), before.b + 1);
    assert.equal(count('a', 'signing_keys'), before.a);
  });

  test('latch login against a and b from one latch home as two contexts: both work, tokens differ', { timeout: 120_000 }, async () => {
    const home = freshLatchHome();
    const env = { LATCH_USERNAME: 'alice', LATCH_PASSWORD: PASSWORD };
    for (const p of ['a', 'b']) {
      let r = await latch(['context', 'add', `ctx-${p}`, '--issuer', P[p].issuer, '--client-id', 'app', '--scope', 'openid', '--scope', 'offline_access'], { home });
      assert.equal(r.code, 0, r.stderr);
      r = await latch(['--context', `ctx-${p}`, 'login', '--password'], { home, env });
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stderr, new RegExp(`Logged in to ${P[p].issuer} as`));
    }
    const token = {};
    for (const p of ['a', 'b']) {
      const r = await latch(['--context', `ctx-${p}`, 'token'], { home });
      assert.equal(r.code, 0, r.stderr);
      token[p] = r.stdout.trim();
      assert.equal(readJson(join(home, 'credentials', `ctx-${p}.json`)).issuer, P[p].issuer);
    }
    assert.notEqual(token.a, token.b);
    assert.equal((await introspect('a', token.a)).active, true);
    assert.equal((await introspect('b', token.b)).active, true);
    assert.equal((await introspect('b', token.a)).active, false);
    assert.equal((await introspect('a', token.b)).active, false);
  });
});
