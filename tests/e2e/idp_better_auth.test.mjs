// latch-idp end to end: Better Auth's own client library (`better-auth/client`,
// createAuthClient) signs up, signs in, reads the session, lists and revokes sessions and signs
// out against latch-idp's /api/auth/*; the cookie's attributes, the Origin check (CSRF), the
// seed's /api/auth/session, tokens stored hashed, and the sign-in page reusing the session.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createAuthClient } from 'better-auth/client';
import { cleanupTempDirs } from './lib.mjs';
import { cookieFetch, idpAdmin, SKIP_WITHOUT_IDP, startLatchIdp } from './idp_lib.mjs';

const PASSWORD = 'correct horse battery staple';

function client(idp, origin = idp.url) {
  const cookies = cookieFetch(origin);
  const auth = createAuthClient({ baseURL: idp.url, fetchOptions: { customFetchImpl: cookies.fetch } });
  return { auth, cookies };
}

describe('latch-idp: Better Auth core with better-auth/client', { skip: SKIP_WITHOUT_IDP }, () => {
  let idp;
  before(async () => { idp = await startLatchIdp(); });
  after(async () => {
    if (idp) await idp.stop();
    cleanupTempDirs();
  });

  test('sign up, read the session, sign out, sign in again', async () => {
    const { auth, cookies } = client(idp);
    const up = await auth.signUp.email({ email: 'Carol@Example.com', password: PASSWORD, name: 'Carol' });
    assert.equal(up.error, null, JSON.stringify(up.error));
    assert.equal(up.data.user.email, 'carol@example.com');
    assert.equal(up.data.user.name, 'Carol');
    const cookie = cookies.seen.at(-1);
    assert.match(cookie, /^better-auth\.session_token=[A-Za-z0-9_-]{40,};/);
    assert.match(cookie, /; Max-Age=604800;/);
    assert.match(cookie, /; Path=\//);
    assert.match(cookie, /; HttpOnly/);
    assert.match(cookie, /; SameSite=Lax/);
    assert.doesNotMatch(cookie, /Secure/, 'no Secure attribute or prefix over http');

    const s = await auth.getSession();
    assert.equal(s.error, null);
    assert.equal(s.data.user.id, up.data.user.id);
    assert.equal(s.data.session.userId, up.data.user.id);
    assert.ok(Date.parse(s.data.session.expiresAt) > Date.now() + 6.9 * 86400_000);

    const out = await auth.signOut();
    assert.equal(out.error, null);
    assert.deepEqual(out.data, { success: true });
    assert.equal(cookies.jar.size, 0, 'sign-out expires the cookie');
    assert.equal((await auth.getSession()).data, null);

    const wrong = await auth.signIn.email({ email: 'carol@example.com', password: 'not the password' });
    assert.equal(wrong.error.status, 401);
    assert.equal(wrong.error.code, 'INVALID_EMAIL_OR_PASSWORD');
    const inAgain = await auth.signIn.email({ email: 'carol@example.com', password: PASSWORD });
    assert.equal(inAgain.error, null);
    assert.equal(inAgain.data.user.id, up.data.user.id);
    assert.equal(inAgain.data.token, null, 'the session token is never handed to scripts');
    assert.equal((await auth.getSession()).data.user.email, 'carol@example.com');
  });

  test('a second sign-up with the same email gets 422; bad input gets 400', async () => {
    const { auth } = client(idp);
    assert.equal((await auth.signUp.email({ email: 'dup@example.com', password: PASSWORD, name: 'D' })).error, null);
    const again = await client(idp).auth.signUp.email({ email: 'DUP@example.com', password: PASSWORD, name: 'D' });
    assert.equal(again.error.status, 422);
    assert.equal(again.error.code, 'USER_ALREADY_EXISTS_USE_ANOTHER_EMAIL');
    const short = await client(idp).auth.signUp.email({ email: 'e@example.com', password: 'short', name: 'E' });
    assert.equal(short.error.status, 400);
    assert.equal(short.error.code, 'PASSWORD_TOO_SHORT');
    const bad = await client(idp).auth.signUp.email({ email: 'not an email', password: PASSWORD, name: 'E' });
    assert.equal(bad.error.code, 'INVALID_EMAIL');
  });

  test('list my sessions, revoke the other one: it stops working at once', async () => {
    const laptop = client(idp);
    const phone = client(idp);
    assert.equal((await laptop.auth.signUp.email({ email: 'dave@example.com', password: PASSWORD, name: 'Dave' })).error, null);
    assert.equal((await phone.auth.signIn.email({ email: 'dave@example.com', password: PASSWORD })).error, null);
    const list = await laptop.auth.listSessions();
    assert.equal(list.error, null);
    assert.equal(list.data.length, 2);
    const mine = (await laptop.auth.getSession()).data.session;
    const other = list.data.find((s) => s.id !== mine.id);
    assert.ok(other);
    const revoked = await laptop.auth.revokeSession({ token: other.token });
    assert.equal(revoked.error, null);
    assert.equal((await phone.auth.getSession()).data, null);
    assert.equal((await laptop.auth.listSessions()).data.length, 1);
    // Another user cannot revoke mine.
    const eve = client(idp);
    await eve.auth.signUp.email({ email: 'eve@example.com', password: PASSWORD, name: 'Eve' });
    await eve.auth.revokeSession({ token: mine.token });
    assert.equal((await laptop.auth.getSession()).data.user.email, 'dave@example.com');
  });

  test('my account: update my name, change my password (ending my other sessions), revoke sessions, delete me', async () => {
    const email = 'dora@example.com';
    const a = client(idp);
    assert.equal((await a.auth.signUp.email({ email, password: PASSWORD, name: 'Dora' })).error, null);
    const b = client(idp);
    assert.equal((await b.auth.signIn.email({ email, password: PASSWORD })).error, null);
    const c = client(idp);
    assert.equal((await c.auth.signIn.email({ email, password: PASSWORD })).error, null);

    const named = await a.auth.updateUser({ name: 'Dora D' });
    assert.equal(named.error, null, JSON.stringify(named.error));
    assert.equal((await b.auth.getSession()).data.user.name, 'Dora D');

    const NEW = 'a different passphrase';
    const wrong = await a.auth.changePassword({ currentPassword: 'not it at all', newPassword: NEW });
    assert.equal(wrong.error.status, 400);
    assert.equal(wrong.error.code, 'INVALID_PASSWORD');
    const short = await a.auth.changePassword({ currentPassword: PASSWORD, newPassword: 'short' });
    assert.equal(short.error.code, 'PASSWORD_TOO_SHORT');
    const changed = await a.auth.changePassword({ currentPassword: PASSWORD, newPassword: NEW, revokeOtherSessions: true });
    assert.equal(changed.error, null, JSON.stringify(changed.error));
    assert.ok((await a.auth.getSession()).data, 'this session stays');
    assert.equal((await b.auth.getSession()).data, null, 'the other sessions end');
    assert.equal((await c.auth.getSession()).data, null);
    assert.equal((await client(idp).auth.signIn.email({ email, password: PASSWORD })).error.code, 'INVALID_EMAIL_OR_PASSWORD');

    const d = client(idp);
    assert.equal((await d.auth.signIn.email({ email, password: NEW })).error, null);
    assert.deepEqual((await a.auth.revokeOtherSessions()).data, { status: true });
    assert.equal((await d.auth.getSession()).data, null);
    const e = client(idp);
    assert.equal((await e.auth.signIn.email({ email, password: NEW })).error, null);
    assert.deepEqual((await e.auth.revokeSessions()).data, { status: true });
    assert.equal((await a.auth.getSession()).data, null, 'revoke-sessions ends every session, mine too');
    assert.equal((await e.auth.getSession()).data, null);

    const f = client(idp);
    assert.equal((await f.auth.signIn.email({ email, password: NEW })).error, null);
    const refused = await f.auth.deleteUser({ password: PASSWORD });
    assert.equal(refused.error.code, 'INVALID_PASSWORD');
    const gone = await f.auth.deleteUser({ password: NEW });
    assert.equal(gone.error, null, JSON.stringify(gone.error));
    assert.equal(gone.data.success, true);
    assert.equal((await f.auth.getSession()).data, null);
    const again = await client(idp).auth.signIn.email({ email, password: NEW });
    assert.equal(again.error.code, 'INVALID_EMAIL_OR_PASSWORD', 'the account is gone');
    const none = await client(idp).auth.changePassword({ currentPassword: NEW, newPassword: PASSWORD });
    assert.equal(none.error.status, 401, 'signed out: 401');
  });

  test('signed out: get-session answers null, the seed\'s /api/auth/session {"session": null}', async () => {
    const a = await fetch(`${idp.url}/api/auth/get-session`);
    assert.equal(a.status, 200);
    assert.equal(await a.text(), 'null');
    const b = await fetch(`${idp.url}/api/auth/session`);
    assert.equal(b.status, 200);
    assert.deepEqual(await b.json(), { session: null });
    const { auth, cookies } = client(idp);
    await auth.signUp.email({ email: 'frank@example.com', password: PASSWORD, name: 'Frank' });
    const c = await cookies.fetch(`${idp.url}/api/auth/session`);
    assert.equal((await c.json()).user.email, 'frank@example.com');
  });

  test('CSRF: a state-changing call from another origin, or without Origin but with cookies, is refused', async () => {
    const { auth, cookies } = client(idp);
    await auth.signUp.email({ email: 'grace@example.com', password: PASSWORD, name: 'Grace' });
    const cookie = [...cookies.jar].map(([k, v]) => `${k}=${v}`).join('; ');
    const evil = await fetch(`${idp.url}/api/auth/sign-out`, {
      method: 'POST', headers: { cookie, origin: 'https://evil.example', 'content-type': 'application/json' }, body: '{}',
    });
    assert.equal(evil.status, 403);
    assert.equal((await evil.json()).code, 'INVALID_ORIGIN');
    const none = await fetch(`${idp.url}/api/auth/sign-out`, { method: 'POST', headers: { cookie } });
    assert.equal(none.status, 403);
    const form = await fetch(`${idp.url}/api/auth/sign-in/email`, {
      method: 'POST', headers: { origin: idp.url, 'content-type': 'text/plain' },
      body: JSON.stringify({ email: 'grace@example.com', password: PASSWORD }),
    });
    assert.equal(form.status, 415);
    assert.equal((await auth.getSession()).data.user.email, 'grace@example.com', 'still signed in');
    const other = client(idp, 'https://evil.example');
    const r = await other.auth.signIn.email({ email: 'grace@example.com', password: PASSWORD });
    assert.equal(r.error.status, 403);
  });

  test('session tokens are stored hashed: the raw cookie value is nowhere in the database files', async () => {
    const { auth, cookies } = client(idp);
    await auth.signUp.email({ email: 'heidi@example.com', password: PASSWORD, name: 'Heidi' });
    const token = cookies.jar.get('better-auth.session_token');
    assert.ok(token && token.length >= 40);
    for (const f of readdirSync(idp.data).filter((n) => n.startsWith('idp.db'))) {
      assert.equal(readFileSync(join(idp.data, f)).includes(token), false, `${f} holds the raw token`);
    }
  });

  test('the authorization endpoint reuses the session: signed in once, no second sign-in', async () => {
    const add = idpAdmin(['client', 'add', 'web', '--public', '--data', idp.data, '--redirect-uri', 'http://127.0.0.1/callback',
      '--grant', 'authorization_code', '--scope', 'openid', '--skip-consent']);
    assert.equal(add.code, 0, add.stderr);
    const verifier = randomBytes(32).toString('base64url');
    const q = new URLSearchParams({
      client_id: 'web', response_type: 'code', redirect_uri: 'http://127.0.0.1:9/callback', scope: 'openid', state: 's1',
      code_challenge: createHash('sha256').update(verifier).digest('base64url'), code_challenge_method: 'S256',
    });
    const anonymous = await fetch(`${idp.url}/oauth2/authorize?${q}`, { redirect: 'manual' });
    assert.equal(anonymous.status, 200, 'signed out: the sign-in page');
    const { auth, cookies } = client(idp);
    await auth.signUp.email({ email: 'ivan@example.com', password: PASSWORD, name: 'Ivan' });
    const r = await cookies.fetch(`${idp.url}/oauth2/authorize?${q}`, { redirect: 'manual' });
    assert.equal(r.status, 303);
    const loc = new URL(r.headers.get('location'));
    assert.equal(loc.searchParams.get('state'), 's1');
    const tok = await fetch(`${idp.url}/oauth2/token`, {
      method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'authorization_code', code: loc.searchParams.get('code'), client_id: 'web',
        redirect_uri: 'http://127.0.0.1:9/callback', code_verifier: verifier }),
    });
    assert.equal(tok.status, 200);
    const idToken = (await tok.json()).id_token;
    const claims = JSON.parse(Buffer.from(idToken.split('.')[1], 'base64url'));
    assert.equal(claims.sub, (await auth.getSession()).data.user.id);
    // prompt=login asks again even with a session.
    q.set('prompt', 'login');
    assert.equal((await cookies.fetch(`${idp.url}/oauth2/authorize?${q}`, { redirect: 'manual' })).status, 200);
  });
});
