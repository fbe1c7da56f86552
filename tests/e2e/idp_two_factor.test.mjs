// latch-idp end to end: TOTP two-factor (issue 14) driven by Better Auth's own client library
// (`createAuthClient` + `twoFactorClient`), codes computed by Debian's `oathtool`: enrolment,
// sign-in with the second factor, a replayed code refused, a backup code working once, trusted
// devices, lockout, and 32 concurrent submissions of one code / one backup code -> exactly 1
// session. What the database holds is read (sqlite3 or psql): no TOTP key, no backup code in clear.
// Each client talks from its own loopback address (127.0.x.y), as separate machines would, so
// the per-IP sign-in limit (30/min) applies per client as in production.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { request } from 'node:http';
import { createAuthClient } from 'better-auth/client';
import { twoFactorClient } from 'better-auth/client/plugins';
import { cleanupTempDirs } from './lib.mjs';
import { dbQuery, SKIP_WITHOUT_IDP, startLatchIdp } from './idp_lib.mjs';

const PASSWORD = 'correct horse battery staple';
const HAVE_TOOLS = spawnSync('oathtool', ['--version']).status === 0 && spawnSync('sqlite3', ['--version']).status === 0;
const SKIP = SKIP_WITHOUT_IDP || (HAVE_TOOLS ? false : 'needs Debian oathtool and sqlite3 (scripts/install-deps.sh)');

// The TOTP code for `base32` at now + offsetSeconds (oathtool, an implementation we did not write).
function oathtool(base32, offsetSeconds = 0) {
  const now = new Date(Date.now() + offsetSeconds * 1000).toISOString().replace('T', ' ').replace(/\..*/, ' UTC');
  const r = spawnSync('oathtool', ['--totp', '-b', '--now', now, base32], { encoding: 'utf8', timeout: 10_000 });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.trim();
}

// Seconds left in the current 30 s step; tests that need two codes in distinct steps use
// +30 s for the second one (accepted: the window is ±1 step).
// The rows of a query as sqlite3 prints them (columns joined by |, one row a line), on
// either database (idp_lib.mjs dbQuery).
function sql(dataDir, query) {
  return dbQuery(dataDir, query).map((row) => Object.values(row).join('|')).join('\n');
}

// fetch over node:http from `localAddress`, with a browser's cookie jar and Origin.
function browser(idp, localAddress) {
  const jar = new Map();
  const fetchImpl = (input, init = {}) => new Promise((resolve, reject) => {
    const url = new URL(String(input?.url ?? input));
    const headers = Object.fromEntries(new Headers(init.headers));
    if (jar.size) headers.cookie = [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
    const method = (init.method ?? 'GET').toUpperCase();
    if (method !== 'GET') headers.origin = idp.url;
    const req = request(url, { method, headers, localAddress, timeout: 20_000 }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const setCookies = res.headers['set-cookie'] ?? [];
        for (const line of setCookies) {
          const [pair, ...attrs] = line.split(';').map((s) => s.trim());
          const eq = pair.indexOf('=');
          const name = pair.slice(0, eq);
          const value = pair.slice(eq + 1);
          if (attrs.some((a) => /^max-age=0$/i.test(a)) || value === '') jar.delete(name);
          else jar.set(name, value);
        }
        const h = new Headers();
        for (const [k, v] of Object.entries(res.headers)) for (const one of [].concat(v)) h.append(k, one);
        resolve(new Response(res.statusCode === 204 ? null : Buffer.concat(chunks), { status: res.statusCode, headers: h }));
      });
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
    if (init.body) req.write(init.body);
    req.end();
  });
  const auth = createAuthClient({ baseURL: idp.url, plugins: [twoFactorClient()], fetchOptions: { customFetchImpl: fetchImpl } });
  return { auth, jar };
}

let nextHost = 1;
const freshAddress = () => { const n = nextHost++; return `127.0.${1 + Math.floor(n / 250)}.${1 + (n % 250)}`; };

async function enrolledUser(idp, email) {
  const b = browser(idp, freshAddress());
  const up = await b.auth.signUp.email({ email, password: PASSWORD, name: email.split('@')[0] });
  assert.equal(up.error, null, JSON.stringify(up.error));
  const en = await b.auth.twoFactor.enable({ password: PASSWORD });
  assert.equal(en.error, null, JSON.stringify(en.error));
  const secret = new URL(en.data.totpURI).searchParams.get('secret');
  const ok = await b.auth.twoFactor.verifyTotp({ code: oathtool(secret) });
  assert.equal(ok.error, null, `enrolment confirmed by a first code: ${JSON.stringify(ok.error)}`);
  assert.equal((await b.auth.signOut()).error, null);
  return { secret, backupCodes: en.data.backupCodes, userId: up.data.user.id };
}

describe('latch-idp: TOTP two-factor with better-auth/client and oathtool', { skip: SKIP }, () => {
  let idp;
  before(async () => { idp = await startLatchIdp(); });
  after(async () => {
    if (idp) await idp.stop();
    cleanupTempDirs();
  });

  test('enrol, sign in with the second factor; a replayed code refused; a backup code works once', async () => {
    const b = browser(idp, freshAddress());
    assert.equal((await b.auth.signUp.email({ email: 'tina@example.com', password: PASSWORD, name: 'Tina' })).error, null);
    const en = await b.auth.twoFactor.enable({ password: PASSWORD });
    assert.equal(en.error, null, JSON.stringify(en.error));
    const uri = new URL(en.data.totpURI);
    assert.equal(uri.protocol, 'otpauth:');
    assert.equal(uri.searchParams.get('digits'), '6');
    assert.equal(uri.searchParams.get('period'), '30');
    const secret = uri.searchParams.get('secret');
    assert.match(secret, /^[A-Z2-7]{32}$/);
    assert.equal(en.data.backupCodes.length, 10);
    for (const c of en.data.backupCodes) assert.match(c, /^[2-9A-HJ-NP-Z]{5}-[2-9A-HJ-NP-Z]{5}$/);

    const wrongPw = await b.auth.twoFactor.enable({ password: 'not the password' });
    assert.equal(wrongPw.error?.status, 400, 'enable asks for the password again');

    const first = oathtool(secret);
    assert.equal((await b.auth.twoFactor.verifyTotp({ code: first })).error, null, 'enrolment verified');
    assert.equal((await b.auth.signOut()).error, null);

    const signIn = await b.auth.signIn.email({ email: 'tina@example.com', password: PASSWORD });
    assert.equal(signIn.error, null);
    assert.equal(signIn.data.twoFactorRedirect, true);
    assert.deepEqual(signIn.data.twoFactorMethods, ['totp']);
    assert.equal((await b.auth.getSession()).data, null, 'no session before the second factor');

    const replay = await b.auth.twoFactor.verifyTotp({ code: first });
    assert.equal(replay.error?.status, 401, 'the code used at enrolment is refused the second time');
    assert.equal(replay.error?.code, 'INVALID_CODE');
    const next = oathtool(secret, 30);
    const ok = await b.auth.twoFactor.verifyTotp({ code: next });
    assert.equal(ok.error, null, JSON.stringify(ok.error));
    const s = await b.auth.getSession();
    assert.equal(s.data?.user.email, 'tina@example.com', 'the second factor made the session');

    // The same code again, on a fresh sign-in: refused.
    await b.auth.signOut();
    assert.equal((await b.auth.signIn.email({ email: 'tina@example.com', password: PASSWORD })).data.twoFactorRedirect, true);
    assert.equal((await b.auth.twoFactor.verifyTotp({ code: next })).error?.status, 401);
    const backup = en.data.backupCodes[3];
    assert.equal((await b.auth.twoFactor.verifyBackupCode({ code: backup.toLowerCase() })).error, null,
      'a backup code (any case) signs in');
    assert.ok((await b.auth.getSession()).data?.session);
    await b.auth.signOut();
    await b.auth.signIn.email({ email: 'tina@example.com', password: PASSWORD });
    const again = await b.auth.twoFactor.verifyBackupCode({ code: backup });
    assert.equal(again.error?.code, 'INVALID_BACKUP_CODE', 'a backup code works once');

    // At rest: the key sealed, backup codes keyed-hashed, 9 left.
    const row = sql(idp.data, `SELECT sealed_key || '|' || verified FROM two_factor WHERE user_id = '${s.data.user.id}'`);
    assert.ok(row.endsWith('|1'));
    assert.ok(!row.includes(secret), 'the TOTP key is not stored in clear');
    const codes = sql(idp.data, `SELECT code_hash FROM backup_codes WHERE user_id = '${s.data.user.id}'`).split('\n');
    assert.equal(codes.length, 9);
    for (const c of en.data.backupCodes) assert.ok(!codes.some((h) => h.includes(c.replace('-', ''))));
  });

  test('a trusted device skips the second factor; another browser does not', async () => {
    const u = await enrolledUser(idp, 'trent@example.com');
    const b = browser(idp, freshAddress());
    await b.auth.signIn.email({ email: 'trent@example.com', password: PASSWORD });
    assert.equal((await b.auth.twoFactor.verifyTotp({ code: oathtool(u.secret, 30), trustDevice: true })).error, null);
    assert.ok(b.jar.has('better-auth.trust_device'));
    await b.auth.signOut();
    const trusted = await b.auth.signIn.email({ email: 'trent@example.com', password: PASSWORD });
    assert.equal(trusted.data.twoFactorRedirect, undefined, 'trusted for 30 days: straight in');
    assert.ok((await b.auth.getSession()).data?.session);
    const other = browser(idp, freshAddress());
    assert.equal((await other.auth.signIn.email({ email: 'trent@example.com', password: PASSWORD })).data.twoFactorRedirect, true);
  });

  test('5 wrong codes lock the second factor; the right code is refused while locked', async () => {
    const u = await enrolledUser(idp, 'lou@example.com');
    const b = browser(idp, freshAddress());
    await b.auth.signIn.email({ email: 'lou@example.com', password: PASSWORD });
    const answers = [];
    for (let i = 0; i < 5; i++) answers.push((await b.auth.twoFactor.verifyTotp({ code: '000000' === oathtool(u.secret) ? '111111' : '000000' })).error?.code);
    assert.deepEqual(answers, ['INVALID_CODE', 'INVALID_CODE', 'INVALID_CODE', 'INVALID_CODE', 'ACCOUNT_TEMPORARILY_LOCKED']);
    const right = await b.auth.twoFactor.verifyTotp({ code: oathtool(u.secret, 30) });
    assert.equal(right.error?.code, 'ACCOUNT_TEMPORARILY_LOCKED');
    assert.equal((await b.auth.getSession()).data, null);
    assert.ok(Number(sql(idp.data, `SELECT locked_until FROM two_factor WHERE user_id = '${u.userId}'`)) > Date.now() / 1000);
  });

  for (const kind of ['TOTP code', 'backup code']) {
    test(`32 concurrent submissions of one ${kind} -> exactly 1 session`, async () => {
      const email = `race-${kind.split(' ')[0].toLowerCase()}@example.com`;
      const u = await enrolledUser(idp, email);
      const browsers = [];
      for (let i = 0; i < 32; i++) browsers.push(browser(idp, freshAddress()));
      const challenges = await Promise.all(browsers.map((b) => b.auth.signIn.email({ email, password: PASSWORD })));
      for (const c of challenges) assert.equal(c.data?.twoFactorRedirect, true, JSON.stringify(c.error));
      const code = kind === 'TOTP code' ? oathtool(u.secret, 30) : u.backupCodes[0];
      const results = await Promise.all(browsers.map((b) => (kind === 'TOTP code'
        ? b.auth.twoFactor.verifyTotp({ code }) : b.auth.twoFactor.verifyBackupCode({ code }))));
      const wins = results.filter((r) => r.error === null).length;
      assert.equal(wins, 1, `successes: ${wins}; errors: ${[...new Set(results.map((r) => r.error?.code))].join(', ')}`);
      assert.equal(Number(sql(idp.data, `SELECT COUNT(*) FROM sessions WHERE user_id = '${u.userId}'`)), 1,
        'the database holds exactly one session for the user');
    });
  }

  test('the two-factor endpoints refuse a cross-site caller and a missing challenge', async () => {
    const res = await fetch(`${idp.url}/api/auth/two-factor/verify-totp`, {
      method: 'POST', headers: { 'content-type': 'application/json', origin: 'https://evil.example', cookie: 'x=1' },
      body: JSON.stringify({ code: '123456' }),
    });
    assert.equal(res.status, 403);
    const none = await fetch(`${idp.url}/api/auth/two-factor/verify-totp`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ code: '123456' }),
    });
    assert.equal(none.status, 401);
    assert.equal((await none.json()).code, 'INVALID_TWO_FACTOR_COOKIE');
  });
});
