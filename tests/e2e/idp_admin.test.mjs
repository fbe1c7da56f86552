// latch-idp end to end: platform roles and bans through Better Auth's own client with its
// admin plugin (`createAuthClient` + `adminClient()`): an admin lists users, sets roles, bans
// (the user's session ends, sign-in answers BANNED_USER with the reason, refresh tokens are
// revoked, the password grant refuses) and unbans; plain users get 403; `latch-idp user
// add --role` / `user set-role` bootstrap admins; `latch login --password` gets the role in
// its ID token and access token, and userinfo tells it.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { createAuthClient } from 'better-auth/client';
import { adminClient } from 'better-auth/client/plugins';
import { cleanupTempDirs, freshLatchHome, latch, makeTempDir, readJson, SKIP_WITHOUT_LATCH } from './lib.mjs';
import { cookieFetch, dbQuery, dbScalar, idpAdmin, SKIP_WITHOUT_IDP, startLatchIdp } from './idp_lib.mjs';
import { ON_PG } from './pg_lib.mjs';

const PASSWORD = 'correct horse battery staple';
const ROOT = 'root@example.com';
const ALICE = 'alice@example.com';
const BOB = 'bob@example.com';

function client(idp) {
  const cookies = cookieFetch(idp.url);
  const auth = createAuthClient({ baseURL: idp.url, plugins: [adminClient()],
    fetchOptions: { customFetchImpl: cookies.fetch } });
  return { auth, cookies };
}

async function signedIn(idp, email) {
  const c = client(idp);
  const r = await c.auth.signIn.email({ email, password: PASSWORD });
  assert.equal(r.error, null, JSON.stringify(r.error));
  return c;
}

const claims = (jwt) => JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString('utf8'));

function admin(args) {
  const r = idpAdmin(args, { env: { LATCH_IDP_PASSWORD: PASSWORD } });
  assert.equal(r.code, 0, `latch-idp ${args.join(' ')}: ${r.stderr}`);
  return r;
}

describe('latch-idp: platform roles with better-auth/client and adminClient()', { skip: SKIP_WITHOUT_IDP }, () => {
  let idp;
  let data;
  const ids = {};
  before(async () => {
    data = join(makeTempDir('latch-idp-admin-'), 'data');
    for (const [name, role] of [[ROOT, 'admin'], [ALICE, 'user'], [BOB, 'user']]) {
      const out = admin(['user', 'add', name, '--data', data, '--role', role]).stdout;
      ids[name] = out.match(/\(id ([^)]+)\)/)[1];
    }
    admin(['client', 'add', 'latch-cli', '--public', '--data', data, '--skip-consent',
      '--grant', 'password', '--grant', 'refresh_token', '--scope', 'openid profile email offline_access']);
    idp = await startLatchIdp({ data, extraArgs: ['--sign-in-limit', '1000'] });
  });
  after(async () => {
    if (idp) await idp.stop();
    cleanupTempDirs();
  });

  test('the CLI sets a known role on a user (the server running) and refuses unknown ones', () => {
    const bad = idpAdmin(['user', 'set-role', BOB, 'root', '--data', data]);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /unknown role 'root' \(user, admin or platform-admin/);
    const none = idpAdmin(['user', 'set-role', 'nobody', 'admin', '--data', data]);
    assert.equal(none.code, 1);
    assert.match(none.stderr, /no user 'nobody'/);
    const addBad = idpAdmin(['user', 'add', 'x@example.com', '--data', data, '--role', 'god'],
      { env: { LATCH_IDP_PASSWORD: PASSWORD } });
    assert.equal(addBad.code, 1);
    assert.match(addBad.stderr, /unknown role 'god'/);
    const set = admin(['user', 'set-role', BOB, 'platform-admin', '--data', data]);
    assert.equal(set.stdout, `user ${BOB} now has role platform-admin\n`);
    assert.equal(dbScalar(data, `SELECT role FROM users WHERE id = '${ids[BOB]}'`), 'platform-admin');
    admin(['user', 'set-role', BOB, 'user', '--data', data]);
    assert.equal(dbScalar(data, `SELECT role FROM users WHERE id = '${ids[BOB]}'`), 'user');
  });

  test('an admin lists users a page at a time, with their roles', async () => {
    const { auth } = await signedIn(idp, ROOT);
    const s = await auth.getSession();
    assert.equal(s.data.user.role, 'admin');
    assert.equal(s.data.user.banned, false);
    const first = await auth.admin.listUsers({ query: { limit: 2, offset: 0 } });
    assert.equal(first.error, null, JSON.stringify(first.error));
    assert.equal(first.data.total, 3);
    assert.equal(first.data.limit, 2);
    assert.equal(first.data.offset, 0);
    const second = await auth.admin.listUsers({ query: { limit: 2, offset: 2 } });
    const all = [...first.data.users, ...second.data.users];
    assert.deepEqual(all.map((u) => u.email).sort(), [ALICE, BOB, ROOT]);
    assert.deepEqual(Object.fromEntries(all.map((u) => [u.email, u.role])), { [ROOT]: 'admin', [ALICE]: 'user', [BOB]: 'user' });
    const bad = await auth.admin.listUsers({ query: { limit: -1 } });
    assert.equal(bad.error.status, 400);
  });

  test('an admin sets roles; platform-admin is an admin role; unknown roles are refused', async () => {
    const { auth } = await signedIn(idp, ROOT);
    const set = await auth.admin.setRole({ userId: ids[BOB], role: 'platform-admin' });
    assert.equal(set.error, null, JSON.stringify(set.error));
    assert.equal(set.data.user.role, 'platform-admin');
    const bob = await signedIn(idp, BOB);
    assert.equal((await bob.auth.getSession()).data.user.role, 'platform-admin');
    const listed = await bob.auth.admin.listUsers({ query: {} });
    assert.equal(listed.error, null, 'a platform-admin may list users');
    assert.equal(listed.data.total, 3);
    const unknown = await auth.admin.setRole({ userId: ids[BOB], role: 'root' });
    assert.equal(unknown.error.status, 400);
    assert.equal(unknown.error.code, 'YOU_ARE_NOT_ALLOWED_TO_SET_NON_EXISTENT_VALUE');
    const missing = await auth.admin.setRole({ userId: 'nobody', role: 'user' });
    assert.equal(missing.error.status, 404);
    assert.equal(missing.error.code, 'USER_NOT_FOUND');
    const back = await auth.admin.setRole({ userId: ids[BOB], role: ['user'] });
    assert.equal(back.data.user.role, 'user');
    const now = await bob.auth.admin.listUsers({ query: {} });
    assert.equal(now.error.status, 403, 'the role change applies to the live session at once');
  });

  test('a plain user gets 403 with the plugin\'s codes; no session gets 401', async () => {
    const { auth } = await signedIn(idp, ALICE);
    const list = await auth.admin.listUsers({ query: {} });
    assert.equal(list.error.status, 403);
    assert.equal(list.error.code, 'YOU_ARE_NOT_ALLOWED_TO_LIST_USERS');
    const role = await auth.admin.setRole({ userId: ids[ALICE], role: 'admin' });
    assert.equal(role.error.status, 403);
    assert.equal(role.error.code, 'YOU_ARE_NOT_ALLOWED_TO_CHANGE_USERS_ROLE');
    const ban = await auth.admin.banUser({ userId: ids[ROOT] });
    assert.equal(ban.error.status, 403);
    assert.equal(ban.error.code, 'YOU_ARE_NOT_ALLOWED_TO_BAN_USERS');
    const revoke = await auth.admin.revokeUserSessions({ userId: ids[ROOT] });
    assert.equal(revoke.error.code, 'YOU_ARE_NOT_ALLOWED_TO_REVOKE_USERS_SESSIONS');
    assert.equal((await client(idp).auth.admin.listUsers({ query: {} })).error.status, 401);
    assert.equal((await auth.getSession()).data.user.role, 'user', 'nothing changed');
  });

  test('a ban ends the session and refresh tokens at once, refuses sign-in with the reason; unban lets in', async () => {
    const home = freshLatchHome();
    const env = { LATCH_USERNAME: ALICE, LATCH_PASSWORD: PASSWORD };
    const loginArgs = ['login', '--password', '--issuer', idp.issuer, '--client-id', 'latch-cli'];
    if (!SKIP_WITHOUT_LATCH) assert.equal((await latch(loginArgs, { home, env })).code, 0);
    const alice = await signedIn(idp, ALICE);
    const { auth } = await signedIn(idp, ROOT);
    const self = await auth.admin.banUser({ userId: ids[ROOT] });
    assert.equal(self.error.code, 'YOU_CANNOT_BAN_YOURSELF');

    const banned = await auth.admin.banUser({ userId: ids[ALICE], banReason: 'spamming', banExpiresIn: 3600 });
    assert.equal(banned.error, null, JSON.stringify(banned.error));
    assert.equal(banned.data.user.banned, true);
    assert.equal(banned.data.user.banReason, 'spamming');
    assert.ok(Math.abs(Date.parse(banned.data.user.banExpires) - Date.now() - 3600_000) < 60_000);
    assert.equal((await alice.auth.getSession()).data, null, 'the banned user\'s session is gone');
    assert.equal(dbScalar(data, `SELECT COUNT(*) FROM sessions WHERE user_id = '${ids[ALICE]}'`), 0);
    assert.equal(dbScalar(data, `SELECT COUNT(*) FROM refresh_tokens WHERE user_id = '${ids[ALICE]}' AND revoked_at = 0`), 0);
    const again = await client(idp).auth.signIn.email({ email: ALICE, password: PASSWORD });
    assert.equal(again.error.status, 403);
    assert.equal(again.error.code, 'BANNED_USER');
    assert.match(again.error.message, /banned.*spamming/);
    const wrong = await client(idp).auth.signIn.email({ email: ALICE, password: 'not the password' });
    assert.equal(wrong.error.code, 'INVALID_EMAIL_OR_PASSWORD', 'a wrong password does not reveal the ban');
    if (!SKIP_WITHOUT_LATCH) {
      const refresh = await latch(['refresh'], { home });
      assert.notEqual(refresh.code, 0, 'the refresh token was revoked');
      const grant = await latch(loginArgs, { home: freshLatchHome(), env });
      assert.notEqual(grant.code, 0);
      assert.match(grant.stderr, /banned/);
    }
    const listed = await auth.admin.listUsers({ query: {} });
    assert.equal(listed.data.users.find((u) => u.id === ids[ALICE]).banned, true);

    const unbanned = await auth.admin.unbanUser({ userId: ids[ALICE] });
    assert.equal(unbanned.error, null);
    assert.equal(unbanned.data.user.banned, false);
    assert.equal(unbanned.data.user.banReason, null);
    await signedIn(idp, ALICE);
  });

  test('a ban ends on its own at its expiry', async () => {
    const { auth } = await signedIn(idp, ROOT);
    const banned = await auth.admin.banUser({ userId: ids[BOB], banExpiresIn: 3 });
    assert.equal(banned.data.user.banReason, 'No reason');
    const first = await client(idp).auth.signIn.email({ email: BOB, password: PASSWORD });
    assert.equal(first.error?.code, 'BANNED_USER');
    // Poll (bounded, every 250 ms) until the ban has run out.
    const deadline = Date.now() + 15_000;
    let r;
    do {
      await new Promise((resolve) => setTimeout(resolve, 250));
      r = await client(idp).auth.signIn.email({ email: BOB, password: PASSWORD });
    } while (r.error?.code === 'BANNED_USER' && Date.now() < deadline);
    assert.equal(r.error, null, 'signed in once the ban expired');
  });

  test('revoke-user-sessions signs a user out everywhere', async () => {
    const a = await signedIn(idp, ALICE);
    const b = await signedIn(idp, ALICE);
    const { auth } = await signedIn(idp, ROOT);
    const r = await auth.admin.revokeUserSessions({ userId: ids[ALICE] });
    assert.equal(r.error, null);
    assert.deepEqual(r.data, { success: true });
    assert.equal((await a.auth.getSession()).data, null);
    assert.equal((await b.auth.getSession()).data, null);
    assert.ok((await auth.getSession()).data, 'the admin\'s own session stays');
  });

  test('latch login --password: the role in the ID token (scope profile), the access token and userinfo',
    { skip: SKIP_WITHOUT_LATCH }, async () => {
      const home = freshLatchHome();
      const login = await latch(['login', '--password', '--issuer', idp.issuer, '--client-id', 'latch-cli'],
        { home, env: { LATCH_USERNAME: ROOT, LATCH_PASSWORD: PASSWORD } });
      assert.equal(login.code, 0, `${login.stderr}\nserver:\n${idp.stderr()}`);
      const creds = readJson(join(home, 'credentials', 'default.json'));
      assert.equal(claims(creds.tokens.id_token).role, 'admin');
      assert.equal(claims(creds.tokens.access_token).role, 'admin');
      const info = await fetch(`${idp.url}/oauth2/userinfo`,
        { headers: { authorization: `Bearer ${creds.tokens.access_token}` } });
      assert.equal((await info.json()).role, 'admin');
      const narrowHome = freshLatchHome();
      const narrow = await latch(['login', '--password', '--issuer', idp.issuer, '--client-id', 'latch-cli',
        '--scope', 'openid', '--scope', 'email'], { home: narrowHome, env: { LATCH_USERNAME: ALICE, LATCH_PASSWORD: PASSWORD } });
      assert.equal(narrow.code, 0, narrow.stderr);
      const narrowCreds = readJson(join(narrowHome, 'credentials', 'default.json'));
      assert.equal(claims(narrowCreds.tokens.id_token).role, undefined, 'no profile scope, no role in the ID token');
      assert.equal(claims(narrowCreds.tokens.access_token).role, 'user');
      const status = await latch(['status'], { home });
      assert.equal(status.code, 0, status.stderr);
    });
  test('an admin manages users: create, get, update, set the password, list and revoke sessions, remove', async () => {
    const { auth } = await signedIn(idp, ROOT);
    const CAROL = 'carol@example.com';
    const made = await auth.admin.createUser({ email: CAROL, password: PASSWORD, name: 'Carol', role: 'platform-admin' });
    assert.equal(made.error, null, JSON.stringify(made.error));
    const id = made.data.user.id;
    assert.equal(made.data.user.role, 'platform-admin');
    assert.equal(dbScalar(data, `SELECT username || '|' || role FROM users WHERE id = '${id}'`), `${CAROL}|platform-admin`);
    assert.match(dbScalar(data, `SELECT password_hash FROM users WHERE id = '${id}'`), /^\$argon2id\$/, 'hashed');
    const dup = await auth.admin.createUser({ email: CAROL, password: PASSWORD, name: 'Carol' });
    assert.equal(dup.error.code, 'USER_ALREADY_EXISTS_USE_ANOTHER_EMAIL');
    const short = await auth.admin.createUser({ email: 'x@example.com', password: 'short', name: 'X' });
    assert.equal(short.error.code, 'PASSWORD_TOO_SHORT');

    const got = await auth.admin.getUser({ query: { id } });
    assert.equal(got.error, null, JSON.stringify(got.error));
    assert.equal(got.data.email, CAROL);
    assert.equal((await auth.admin.getUser({ query: { id: 'nobody' } })).error.status, 404);

    const upd = await auth.admin.updateUser({ userId: id, data: { name: 'Carol B', email: 'carol.b@example.com', role: 'user' } });
    assert.equal(upd.error, null, JSON.stringify(upd.error));
    assert.equal(upd.data.name, 'Carol B');
    assert.equal(upd.data.role, 'user');
    assert.equal(dbScalar(data, `SELECT username || '|' || email || '|' || name || '|' || role FROM users WHERE id = '${id}'`),
      'carol.b@example.com|carol.b@example.com|Carol B|user');
    const pwUpd = await auth.admin.updateUser({ userId: id, data: { password: 'x' } });
    assert.equal(pwUpd.error.code, 'PASSWORD_CANNOT_BE_UPDATED_VIA_UPDATE_USER');
    const taken = await auth.admin.updateUser({ userId: id, data: { email: ALICE } });
    assert.equal(taken.error.code, 'USER_ALREADY_EXISTS_USE_ANOTHER_EMAIL');

    const carol = await signedIn(idp, 'carol.b@example.com');
    const sessions = await auth.admin.listUserSessions({ userId: id });
    assert.equal(sessions.error, null, JSON.stringify(sessions.error));
    assert.equal(sessions.data.sessions.length, 1);
    const revoked = await auth.admin.revokeUserSession({ sessionToken: sessions.data.sessions[0].token });
    assert.deepEqual(revoked.data, { success: true });
    assert.equal((await carol.auth.getSession()).data, null, 'that session is gone');

    const NEW = 'a brand new passphrase';
    const pw = await auth.admin.setUserPassword({ userId: id, newPassword: NEW });
    assert.deepEqual(pw.data, { status: true });
    const old = await client(idp).auth.signIn.email({ email: 'carol.b@example.com', password: PASSWORD });
    assert.equal(old.error.code, 'INVALID_EMAIL_OR_PASSWORD');
    const fresh = await client(idp).auth.signIn.email({ email: 'carol.b@example.com', password: NEW });
    assert.equal(fresh.error, null, 'the new password works');

    assert.equal((await auth.admin.removeUser({ userId: ids[ROOT] })).error.code, 'YOU_CANNOT_REMOVE_YOURSELF');
    const gone = await auth.admin.removeUser({ userId: id });
    assert.deepEqual(gone.data, { success: true });
    assert.equal(dbScalar(data, `SELECT COUNT(*) FROM users WHERE id = '${id}'`), 0);
    assert.equal(dbScalar(data, `SELECT COUNT(*) FROM sessions WHERE user_id = '${id}'`), 0);
    assert.equal((await auth.admin.removeUser({ userId: id })).error.status, 404);
  });

  test('has-permission answers for the caller\'s role; a plain user may not manage users', async () => {
    const root = (await signedIn(idp, ROOT)).auth;
    const alice = (await signedIn(idp, ALICE)).auth;
    const ask = { permissions: { user: ['create', 'delete'], session: ['revoke'] } };
    assert.deepEqual((await root.admin.hasPermission(ask)).data, { error: null, success: true });
    assert.deepEqual((await alice.admin.hasPermission(ask)).data, { error: null, success: false });
    assert.equal((await root.admin.hasPermission({ permissions: { user: ['fly'] } })).data.success, false);
    const refusals = [
      [await alice.admin.createUser({ email: 'eve@example.com', password: PASSWORD, name: 'Eve' }), 'YOU_ARE_NOT_ALLOWED_TO_CREATE_USERS'],
      [await alice.admin.getUser({ query: { id: ids[ROOT] } }), 'YOU_ARE_NOT_ALLOWED_TO_GET_USER'],
      [await alice.admin.updateUser({ userId: ids[ROOT], data: { name: 'x' } }), 'YOU_ARE_NOT_ALLOWED_TO_UPDATE_USERS'],
      [await alice.admin.removeUser({ userId: ids[ROOT] }), 'YOU_ARE_NOT_ALLOWED_TO_DELETE_USERS'],
      [await alice.admin.setUserPassword({ userId: ids[ROOT], newPassword: 'owned owned owned' }), 'YOU_ARE_NOT_ALLOWED_TO_SET_USERS_PASSWORD'],
      [await alice.admin.listUserSessions({ userId: ids[ROOT] }), 'YOU_ARE_NOT_ALLOWED_TO_LIST_USERS_SESSIONS'],
      [await alice.admin.revokeUserSession({ sessionToken: 'x' }), 'YOU_ARE_NOT_ALLOWED_TO_REVOKE_USERS_SESSIONS'],
    ];
    for (const [r, code] of refusals) {
      assert.equal(r.error?.status, 403, code);
      assert.equal(r.error.code, code);
    }
    assert.equal(dbScalar(data, `SELECT COUNT(*) FROM users WHERE username = 'eve@example.com'`), 0);
    await signedIn(idp, ROOT);  // root's password unchanged
  });
});

// Regression: the server's second (reader) connection used to open and close the database
// file, which drops every POSIX lock the process holds on it; an admin command run while the
// server served then deleted the WAL on exit, and what the server committed afterwards was
// invisible to other processes and gone after kill -9.
describe('latch-idp: admin commands while the server runs lose nothing', { skip: SKIP_WITHOUT_IDP }, () => {
  let idp;
  after(async () => {
    if (idp) await idp.stop('SIGKILL');
    cleanupTempDirs();
  });

  test('a user added by the CLI mid-serve, then a sign-up over HTTP, both survive kill -9', async () => {
    const data = join(makeTempDir('latch-idp-locks-'), 'data');
    admin(['user', 'add', ROOT, '--data', data, '--role', 'admin']);
    idp = await startLatchIdp({ data });
    admin(['user', 'add', ALICE, '--data', data]);
    admin(['user', 'set-role', ALICE, 'platform-admin', '--data', data]);
    const up = await client(idp).auth.signUp.email({ email: BOB, password: PASSWORD, name: 'Bob' });
    assert.equal(up.error, null, JSON.stringify(up.error));
    assert.equal(dbScalar(data, `SELECT COUNT(*) FROM users WHERE username = '${BOB}'`), 1,
      'another process sees the commit at once');
    admin(['user', 'list', '--data', data]);
    const carol = await client(idp).auth.signUp.email({ email: 'carol@example.com', password: PASSWORD, name: 'C' });
    assert.equal(carol.error, null);
    await idp.stop('SIGKILL');
    idp = null;
    assert.equal(dbScalar(data, 'SELECT COUNT(*) FROM users'), 4, 'every committed user is still there after kill -9');
    assert.equal(dbScalar(data, `SELECT role FROM users WHERE username = '${ALICE}'`), 'platform-admin');
    if (!ON_PG) assert.equal(dbScalar(data, 'PRAGMA integrity_check'), 'ok');  // the SQLite file
  });
});
