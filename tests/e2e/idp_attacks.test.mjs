// Attacks on latch-idp's authorization code and refresh token paths, each with its outcome
// at the server: the HTTP status and error code it answers, and what its SQLite database
// holds afterwards (read-only, with the sqlite3 CLI). PKCE downgrade, redirect URI
// mismatch, code replay, 32 concurrent replays of one refresh token, CSRF on the sign-in
// and device pages. (idp_attacks_limits.test.mjs: user-code guessing and kill -9.)
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cleanupTempDirs, makeTempDir } from './lib.mjs';
import { dbQuery, dbScalar, idpAdmin, SKIP_WITHOUT_IDP, startLatchIdp } from './idp_lib.mjs';
import { request, setCookies, statusCounts } from './idp_attacks_lib.mjs';

const PASSWORD = 'correct horse battery staple';
const RS_SECRET = 'resource-server-secret-0123456789';
const CONF_SECRET = 'confidential-client-secret-98765';
const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';
const CALLBACK = 'http://127.0.0.1:9/callback';
const SESSION_COOKIE = 'better-auth.session_token';
const b64url = (b) => b.toString('base64url');
const basic = (id, secret) => `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`;

function admin(args, env) {
  const r = idpAdmin(args, { env });
  assert.equal(r.code, 0, r.stderr);
}

describe('latch-idp attacks: codes, PKCE, redirect URIs, refresh tokens, CSRF', { skip: SKIP_WITHOUT_IDP }, () => {
  let idp;
  let data;
  let session;  // alice's browser session cookie (signed in once on the page)
  const url = (path) => `${idp.url}${path}`;
  const count = (sql) => dbScalar(data, sql);

  before(async () => {
    const dir = makeTempDir('latch-idp-attacks-');
    data = join(dir, 'data');
    const secret = (name, value) => { const f = join(dir, name); writeFileSync(f, `${value}\n`, { mode: 0o600 }); return f; };
    admin(['client', 'add', 'web', '--public', '--data', data, '--redirect-uri', 'http://127.0.0.1/callback',
      '--redirect-uri', 'https://app.example/cb', '--grant', 'authorization_code', '--grant', 'refresh_token',
      '--scope', 'openid offline_access', '--skip-consent']);  // first party: the attacks are on the code, not consent
    admin(['client', 'add', 'conf', '--confidential', '--data', data, '--secret-file', secret('conf', CONF_SECRET),
      '--redirect-uri', 'https://app.example/cb', '--grant', 'authorization_code', '--scope', 'openid', '--skip-consent']);
    admin(['client', 'add', 'tv', '--public', '--data', data, '--grant', DEVICE_GRANT, '--scope', 'openid']);
    admin(['client', 'add', 'rs', '--confidential', '--data', data, '--secret-file', secret('rs', RS_SECRET), '--scope', 'api']);
    admin(['user', 'add', 'alice', '--data', data], { LATCH_IDP_PASSWORD: PASSWORD });
    idp = await startLatchIdp({ data });
    session = await signInOnPage();
  });
  after(async () => {
    if (idp) await idp.stop();
    cleanupTempDirs();
  });

  // The authorization request of client `web` with a fresh S256 pair; `extra` overrides
  // (undefined drops a parameter).
  function authorizeRequest(extra = {}) {
    const verifier = b64url(randomBytes(32));
    const q = new URLSearchParams({
      client_id: 'web', response_type: 'code', redirect_uri: CALLBACK, scope: 'openid offline_access', state: 'st-1',
      nonce: 'n-1', code_challenge: b64url(createHash('sha256').update(verifier).digest()), code_challenge_method: 'S256',
    });
    for (const [k, v] of Object.entries(extra)) if (v === undefined) q.delete(k); else q.set(k, v);
    return { href: url(`/oauth2/authorize?${q}`), params: q, verifier };
  }

  // The sign-in page's form: { csrf, cookie } (the CSRF cookie) and the hidden fields.
  async function openSignIn(req = authorizeRequest()) {
    const r = await request(req.href);
    assert.equal(r.status, 200, r.text);
    return { csrf: /name="csrf" value="([^"]+)"/.exec(r.text)[1], cookie: setCookies(r)[0], params: req.params };
  }

  function postSignIn({ params, csrf, cookie, password = PASSWORD }) {
    const body = new URLSearchParams(params);
    if (csrf !== undefined) body.set('csrf', csrf);
    body.set('username', 'alice');
    body.set('password', password);
    return request(url('/oauth2/authorize'), { method: 'POST', body, headers: cookie ? { cookie } : {} });
  }

  async function signInOnPage() {
    const r = await postSignIn(await openSignIn());
    assert.equal(r.status, 303, r.text);
    const cookie = setCookies(r).find((c) => c.startsWith(`${SESSION_COOKIE}=`));
    assert.ok(cookie, 'signing in set the session cookie');
    return cookie;
  }

  // A code for alice through her session (no second sign-in): { code, verifier, location }.
  async function codeFor(extra = {}) {
    const req = authorizeRequest(extra);
    const r = await request(req.href, { headers: { cookie: session } });
    assert.equal(r.status, 303, r.text);
    const location = new URL(r.headers.location);
    const code = location.searchParams.get('code');
    assert.ok(code, r.headers.location);
    return { code, verifier: req.verifier, location };
  }

  async function token(fields, headers = {}) {
    const r = await request(url('/oauth2/token'), { method: 'POST', body: new URLSearchParams(fields), headers });
    return { status: r.status, body: r.json() };
  }
  const redeem = (code, fields = {}) => token({ grant_type: 'authorization_code', client_id: 'web', code, redirect_uri: CALLBACK, ...fields });
  const refresh = (rt) => token({ grant_type: 'refresh_token', client_id: 'web', refresh_token: rt });
  async function introspect(t) {
    const r = await request(url('/oauth2/introspect'), {
      method: 'POST', body: new URLSearchParams({ token: t }), headers: { authorization: basic('rs', RS_SECRET) },
    });
    assert.equal(r.status, 200, r.text);
    return r.json();
  }
  const codeRow = (code) => dbQuery(data, `SELECT consumed_at, grant_id FROM auth_codes WHERE code_hash = '${hashOf(code)}'`)[0];
  const refreshRow = (rt) => dbQuery(data, `SELECT * FROM refresh_tokens WHERE token_hash = '${hashOf(rt)}'`)[0];
  // token_hash.hpp: SHA-256, base64url, of the raw token (what the database keys on).
  const hashOf = (t) => b64url(createHash('sha256').update(t).digest());

  test('stored hashes are what the tests look rows up by', async () => {
    const { code } = await codeFor();
    assert.ok(codeRow(code), 'the code is stored under SHA-256 base64url');
    assert.equal(count(`SELECT count(*) FROM auth_codes WHERE code_hash = '${code}'`), 0, 'never raw');
  });

  test('PKCE downgrade: no challenge or method=plain refused at the authorization endpoint, no code stored', async () => {
    const before = count('SELECT count(*) FROM auth_codes');
    for (const extra of [{ code_challenge: undefined, code_challenge_method: undefined }, { code_challenge_method: 'plain' },
      { code_challenge_method: undefined }]) {
      // Even with a live session: no code without S256.
      const r = await request(authorizeRequest(extra).href, { headers: { cookie: session } });
      assert.equal(r.status, 303, JSON.stringify(extra));
      const loc = new URL(r.headers.location);
      assert.equal(loc.origin + loc.pathname, CALLBACK);
      assert.equal(loc.searchParams.get('error'), 'invalid_request', JSON.stringify(extra));
      assert.equal(loc.searchParams.get('code'), null);
      assert.equal(loc.searchParams.get('state'), 'st-1');
    }
    assert.equal(count('SELECT count(*) FROM auth_codes'), before, 'no code was stored');
  });

  test('PKCE: an S256 code redeemed without a verifier or with a wrong one: invalid_grant, and the code is spent', async () => {
    for (const verifier of [undefined, b64url(randomBytes(32)), 'short']) {
      const { code, verifier: right } = await codeFor();
      const bad = await redeem(code, verifier === undefined ? {} : { code_verifier: verifier });
      assert.equal(bad.status, 400);
      assert.equal(bad.body.error, 'invalid_grant', JSON.stringify(bad.body));
      assert.equal(bad.body.access_token, undefined);
      assert.notEqual(codeRow(code).consumed_at, 0, 'the failed redemption consumed the code');
      const late = await redeem(code, { code_verifier: right });
      assert.equal(late.body.error, 'invalid_grant', 'the right verifier after a wrong one gets nothing');
      assert.equal(count(`SELECT count(*) FROM refresh_tokens WHERE family_id = '${codeRow(code).grant_id}'`), 0);
    }
  });

  test('PKCE the other way: a code issued without a challenge is not redeemed with a verifier', async () => {
    const q = new URLSearchParams({ client_id: 'conf', response_type: 'code', redirect_uri: 'https://app.example/cb', scope: 'openid' });
    const r = await request(url(`/oauth2/authorize?${q}`), { headers: { cookie: session } });
    assert.equal(r.status, 303, r.text);
    const code = new URL(r.headers.location).searchParams.get('code');
    assert.ok(code);
    const t = await token({ grant_type: 'authorization_code', code, redirect_uri: 'https://app.example/cb',
      code_verifier: b64url(randomBytes(32)) }, { authorization: basic('conf', CONF_SECRET) });
    assert.equal(t.body.error, 'invalid_grant', JSON.stringify(t.body));
  });

  test('redirect URI mismatch: an error page, never a redirect; the RFC 8252 loopback port rule only for loopback', async () => {
    const refused = [
      'http://127.0.0.1:9/other', 'http://127.0.0.1:9/callback/', 'http://127.0.0.1:9/callback?x=1',
      'http://127.0.0.1:9/callback#f', 'https://127.0.0.1:9/callback', 'http://localhost:9/callback',
      'http://127.0.0.2:9/callback', 'http://[::1]:9/callback', 'http://user@127.0.0.1:9/callback',
      'https://evil.example/callback', 'https://evil.example/cb', 'http://app.example/cb', 'https://app.example:8443/cb',
      'https://app.example/cb/', 'https://app.example/cb?next=https://evil.example', 'https://app.example/cb#x',
      'https://app.example.evil.example/cb', 'https://app.example@evil.example/cb', 'https://APP.example/cb', '',
    ];
    const before = count('SELECT count(*) FROM auth_codes');
    for (const redirect of refused) {
      for (const cookie of [undefined, session]) {  // signed out and signed in
        const r = await request(authorizeRequest({ redirect_uri: redirect }).href, { headers: cookie ? { cookie } : {} });
        assert.equal(r.status, 400, `${redirect}: ${r.status}`);
        assert.equal(r.headers.location, undefined, redirect);
        assert.match(r.text, /redirect_uri is not registered|Sign-in request refused/);
      }
    }
    assert.equal(count('SELECT count(*) FROM auth_codes'), before, 'no code was stored for any of them');
    // Loopback: any port (RFC 8252 §7.3); the registered https URI exactly.
    for (const redirect of ['http://127.0.0.1:5555/callback', 'http://127.0.0.1/callback', 'https://app.example/cb']) {
      const { location } = await codeFor({ redirect_uri: redirect });
      assert.equal(location.origin + location.pathname, new URL(redirect).href);
    }
  });

  test('redirect URI mismatch at the token endpoint: invalid_grant, and the code is spent', async () => {
    const asked = 'http://127.0.0.1:5555/callback';
    for (const other of ['http://127.0.0.1:6666/callback', 'http://127.0.0.1/callback', undefined]) {
      const { code, verifier } = await codeFor({ redirect_uri: asked });
      const fields = { grant_type: 'authorization_code', client_id: 'web', code, code_verifier: verifier };
      if (other !== undefined) fields.redirect_uri = other;
      const t = await token(fields);
      assert.equal(t.status, 400, `${other}`);
      assert.equal(t.body.error, 'invalid_grant', JSON.stringify(t.body));
      assert.notEqual(codeRow(code).consumed_at, 0);
      const again = await redeem(code, { redirect_uri: asked, code_verifier: verifier });
      assert.equal(again.body.error, 'invalid_grant', 'the right redirect_uri afterwards gets nothing');
    }
  });

  test('code replay: the second redemption is refused and revokes the refresh and access tokens of the first', async () => {
    const { code, verifier } = await codeFor();
    const first = await redeem(code, { code_verifier: verifier });
    assert.equal(first.status, 200, JSON.stringify(first.body));
    const rt = first.body.refresh_token;
    assert.ok(rt && first.body.access_token && first.body.id_token);
    assert.equal((await introspect(rt)).active, true);
    assert.equal(refreshRow(rt).revoked_at, 0);

    const replay = await redeem(code, { code_verifier: verifier });
    assert.equal(replay.status, 400);
    assert.equal(replay.body.error, 'invalid_grant');
    assert.equal(replay.body.access_token, undefined);
    assert.notEqual(refreshRow(rt).revoked_at, 0, 'the database marks the refresh token revoked');
    assert.equal((await introspect(rt)).active, false, 'introspection: inactive');
    const used = await refresh(rt);
    assert.equal(used.status, 400);
    assert.equal(used.body.error, 'invalid_grant');
    // The access token carries its grant (`gid`): revoked with it at introspection and userinfo
    // (a resource server that checks JWTs locally still accepts it until its exp).
    assert.equal((await introspect(first.body.access_token)).active, false, 'the access token is inactive too');
    const info = await fetch(`${idp.url}/oauth2/userinfo`, { headers: { authorization: `Bearer ${first.body.access_token}` } });
    assert.equal(info.status, 401, 'userinfo refuses it');
  });

  test('refresh reuse: 32 concurrent refreshes with one token, exactly 1 succeeds; the reuse revokes the family', async () => {
    const { code, verifier } = await codeFor();
    const first = await redeem(code, { code_verifier: verifier });
    assert.equal(first.status, 200);
    const rt = first.body.refresh_token;
    const family = refreshRow(rt).family_id;
    const answers = await Promise.all(Array.from({ length: 32 }, () => refresh(rt)));
    const counts = statusCounts(answers);
    assert.deepEqual(counts, { 200: 1, 400: 31 }, JSON.stringify(counts));
    assert.ok(answers.filter((a) => a.status === 400).every((a) => a.body.error === 'invalid_grant'));
    const winner = answers.find((a) => a.status === 200).body;
    assert.ok(winner.refresh_token && winner.refresh_token !== rt);
    // The database: the original and one rotation in the family, both revoked.
    const rows = dbQuery(data, `SELECT token_hash, rotated_at, revoked_at FROM refresh_tokens WHERE family_id = '${family}'`);
    assert.equal(rows.length, 2, 'one rotation, not more');
    assert.ok(rows.every((r) => r.revoked_at !== 0), JSON.stringify(rows));
    assert.equal((await introspect(winner.refresh_token)).active, false);
    assert.equal((await refresh(winner.refresh_token)).body.error, 'invalid_grant', "the winner's new token is dead too");
  });

  describe('CSRF', () => {
    // A forged post: no token, a wrong one, or a token from another session.
    async function forgeries(open) {
      const a = await open();
      const b = await open();
      const [nonce] = a.csrf.split('.');
      return [
        ['no token, no cookie', {}],
        ['the token without its cookie', { csrf: a.csrf }],
        ['the cookie without a token', { cookie: a.cookie }],
        ['a wrong token', { csrf: `${nonce}.${b64url(randomBytes(32))}`, cookie: a.cookie }],
        ['a token from another session', { csrf: b.csrf, cookie: a.cookie }],
        ["another session's token with its cookie nonce planted", { csrf: a.csrf, cookie: `latch_idp_csrf=${b.csrf.split('.')[0]}` }],
      ];
    }

    test('sign-in page: forged posts get 403, no session, no code', async () => {
      const sessions = count('SELECT count(*) FROM sessions');
      const codes = count('SELECT count(*) FROM auth_codes');
      for (const [name, forged] of await forgeries(openSignIn)) {
        const r = await postSignIn({ params: authorizeRequest().params, ...forged });
        assert.equal(r.status, 403, name);
        assert.equal(r.headers.location, undefined, name);
        assert.ok(!setCookies(r).some((c) => c.startsWith(`${SESSION_COOKIE}=`)), `${name}: no session cookie`);
      }
      assert.equal(count('SELECT count(*) FROM sessions'), sessions, 'no session was stored');
      assert.equal(count('SELECT count(*) FROM auth_codes'), codes, 'no code was stored');
      // Better Auth's JSON sign-in from another origin: refused too (its CSRF defence).
      const cross = await request(url('/api/auth/sign-in/email'), {
        method: 'POST', body: { email: 'alice', password: PASSWORD }, headers: { origin: 'https://evil.example' },
      });
      assert.equal(cross.status, 403);
      assert.equal(setCookies(cross).length, 0);
      assert.equal(count('SELECT count(*) FROM sessions'), sessions);
    });

    test('device page: forged approvals get 403; the device stays pending', async () => {
      const auth = await request(url('/oauth2/device_authorization'), { method: 'POST', body: new URLSearchParams({ client_id: 'tv', scope: 'openid' }) });
      assert.equal(auth.status, 200, auth.text);
      const { device_code: deviceCode, user_code: userCode } = auth.json();
      const openDevice = async () => {
        const r = await request(url('/device'));
        return { csrf: /name="csrf" value="([^"]+)"/.exec(r.text)[1], cookie: setCookies(r)[0] };
      };
      for (const [name, forged] of await forgeries(openDevice)) {
        const body = new URLSearchParams({ user_code: userCode, username: 'alice', password: PASSWORD, action: 'approve' });
        if (forged.csrf !== undefined) body.set('csrf', forged.csrf);
        const r = await request(url('/device'), { method: 'POST', body, headers: forged.cookie ? { cookie: forged.cookie } : {} });
        assert.equal(r.status, 403, name);
        assert.doesNotMatch(r.text, /Device approved/);
        assert.ok(!setCookies(r).some((c) => c.startsWith(`${SESSION_COOKIE}=`)), name);
      }
      const row = dbQuery(data, `SELECT status, user_id FROM device_codes WHERE user_code = '${userCode.replaceAll('-', '')}'`)[0];
      assert.deepEqual(row, { status: 'pending', user_id: '' });
      const poll = await token({ grant_type: DEVICE_GRANT, client_id: 'tv', device_code: deviceCode });
      assert.equal(poll.body.error, 'authorization_pending');
    });
  });
});
