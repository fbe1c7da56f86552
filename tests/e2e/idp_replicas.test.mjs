// Two latch-idp replicas on one PostgreSQL (issue 15): they share nothing but the database
// and the sealing key (--secret-key-file). Mixed load goes through both (sign-in,
// get-session, refresh, device polls); a device code started on A is approved on B (with
// the form A rendered: the CSRF key is derived from the shared secret) and redeemed on B;
// `kill -9` of B mid-load loses no session (each cookie issued before the kill validates on
// A) and no refresh token is redeemed twice (checked in the database); a restart of
// PostgreSQL is survived by both within 5 s with nothing committed lost; the 4th sign-in
// attempt of a minute gets 429 from either replica. Bounded: about a minute.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { cleanupTempDirs, makeTempDir } from './lib.mjs';
import { idpAdmin, SKIP_WITHOUT_IDP, startLatchIdp } from './idp_lib.mjs';
import { clearOfWindowEdge, request, setCookies } from './idp_attacks_lib.mjs';
import { databaseFor, pgQuery, pgServer, SKIP_WITHOUT_PG } from './pg_lib.mjs';

const PASSWORD = 'correct horse battery staple';
const ISSUER = 'http://idp.test';  // both replicas: one issuer, as behind a load balancer
const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';
const form = (fields) => new URLSearchParams(fields);
const hashToken = (raw) => createHash('sha256').update(raw).digest('base64url');  // flows/server/token_hash

describe('latch-idp replicas on one PostgreSQL', { skip: SKIP_WITHOUT_IDP || SKIP_WITHOUT_PG }, () => {
  let dir, uri, a, b;
  const start = (name) => startLatchIdp({
    data: join(dir, name),
    extraArgs: ['--database', uri, '--secret-key-file', join(dir, 'secret.key'), '--issuer', ISSUER,
      '--sign-in-limit', '3', '--sign-in-limit-total', '100000', '--device-interval', '1'],
  });

  before(async () => {
    dir = makeTempDir('latch-idp-replicas-');
    writeFileSync(join(dir, 'secret.key'), randomBytes(32), { mode: 0o600 });
    uri = databaseFor(join(dir, 'a'));
    const admin = (args) => {
      const r = idpAdmin([...args, '--database', uri], { env: { LATCH_IDP_PASSWORD: PASSWORD } });
      assert.equal(r.code, 0, r.stderr);
    };
    admin(['user', 'add', 'alice@example.com', '--email', 'alice@example.com']);  // sign-in/email: the name
    admin(['client', 'add', 'cli', '--public', '--skip-consent', '--scope', 'openid offline_access',
      '--grant', DEVICE_GRANT, '--grant', 'refresh_token', '--grant', 'password']);
    a = await start('a');  // A makes the signing key; B, started next, loads it
    b = await start('b');
  });
  after(async () => {
    await a?.stop('SIGKILL');
    await b?.stop('SIGKILL');
    cleanupTempDirs();
  });

  const signIn = (idp, from, password = PASSWORD) => request(`${idp.url}/api/auth/sign-in/email`, {
    method: 'POST', body: { email: 'alice@example.com', password }, headers: { origin: ISSUER }, from,
  });
  const getSession = (idp, cookies) => request(`${idp.url}/api/auth/get-session`, { headers: { cookie: cookies.join('; ') } })
    .then((r) => (r.status === 200 ? r.json() : { status: r.status }));
  const token = (idp, fields, from) => request(`${idp.url}/oauth2/token`, { method: 'POST', body: form(fields), from })
    .then((r) => ({ status: r.status, body: r.json() }));
  const passwordGrant = (idp, from) => token(idp, { grant_type: 'password', client_id: 'cli', username: 'alice@example.com',
    password: PASSWORD, scope: 'openid offline_access' }, from);

  test('mixed load through both; device code A -> B; kill -9 of B; PostgreSQL restart', { timeout: 120_000 }, async (t) => {
    // Sign-ins through both replicas (one source address each: the per-address limit is 3).
    const cookies = [];
    for (let i = 0; i < 12; i++) {
      const r = await signIn(i % 2 ? b : a, `127.0.50.${i + 1}`);
      assert.equal(r.status, 200, r.text);
      cookies.push(setCookies(r));
    }
    // Refresh families, each rotated through alternating replicas.
    const families = [];
    for (let i = 0; i < 4; i++) {
      const r = await passwordGrant(i % 2 ? a : b, `127.0.60.${i + 1}`);
      assert.equal(r.status, 200, JSON.stringify(r.body));
      families.push({ rt: r.body.refresh_token, rotations: 0 });
    }

    // A device code started on A, approved on B with the form A rendered, redeemed on B.
    const auth = await request(`${a.url}/oauth2/device_authorization`, { method: 'POST', body: form({ client_id: 'cli', scope: 'openid' }) });
    assert.equal(auth.status, 200, auth.text);
    const { device_code: deviceCode, user_code: userCode } = auth.json();
    const poll = (idp) => token(idp, { grant_type: DEVICE_GRANT, client_id: 'cli', device_code: deviceCode });
    assert.equal((await poll(b)).body.error, 'authorization_pending');
    const page = await request(`${a.url}/device`);
    const csrf = /name="csrf" value="([^"]+)"/.exec(page.text)?.[1];
    const approved = await request(`${b.url}/device`, {
      method: 'POST', headers: { cookie: setCookies(page).join('; ') },
      body: form({ csrf, user_code: userCode, username: 'alice@example.com', password: PASSWORD, action: 'approve' }),
    });
    assert.equal(approved.status, 200, approved.text);
    assert.match(approved.text, /Device approved/);
    await delay(1100);  // the interval (1 s), or B answers slow_down
    const redeemed = await poll(b);
    assert.equal(redeemed.status, 200, JSON.stringify(redeemed.body));
    assert.ok(redeemed.body.access_token);
    assert.equal((await poll(a)).body.error, 'invalid_grant', 'redeemed once');

    // Mixed load for ~4 s through both; B is killed (-9) half way.
    let killed = false;
    const deadline = Date.now() + 4000;
    const killAt = Date.now() + 2000;
    const errors = [];
    // A rotation B was killed in the middle of may have committed without its answer: that
    // family's client cannot know its current token (it would have to sign in again).
    const rotate = async (f, idp) => {
      const r = await token(idp, { grant_type: 'refresh_token', client_id: 'cli', refresh_token: f.rt }).catch((e) => ({ lost: e }));
      if (r.status === 200) { f.rt = r.body.refresh_token; f.rotations++; } else if (killed && idp === b) f.uncertain = true;
      else errors.push(r);
    };
    const loops = families.map(async (f, i) => {
      for (let n = 0; Date.now() < deadline; n++) {
        const idp = (n + i) % 2 && !killed ? b : a;
        if (!f.uncertain) await rotate(f, idp);
        const s = await getSession(idp, cookies[n % cookies.length]).catch(() => null);
        if (!(killed && idp === b)) assert.ok(s?.session, `get-session on ${idp === a ? 'A' : 'B'}`);
      }
    });
    const killer = (async () => { await delay(killAt - Date.now()); killed = true; await b.stop('SIGKILL'); })();
    await Promise.all([...loops, killer]);
    assert.deepEqual(errors, [], 'no request to the surviving replica failed');
    t.diagnostic(`rotations per family: ${families.map((f) => f.rotations + (f.uncertain ? ' (answer lost in the kill)' : '')).join(', ')}`);

    // Every session cookie issued before the kill validates on the survivor.
    for (const c of cookies) assert.ok((await getSession(a, c)).session, 'a session from before the kill');
    // No refresh token redeemed twice: per family one current token, no replay-revocation.
    const fams = pgQuery(uri, 'SELECT family_id, count(*) FILTER (WHERE rotated_at = 0) AS current, '
      + 'count(*) FILTER (WHERE revoked_at <> 0) AS revoked, count(*) AS total FROM refresh_tokens GROUP BY family_id');
    for (const f of fams) {
      assert.equal(f.current, 1, JSON.stringify(f));
      assert.equal(f.revoked, 0, JSON.stringify(f));
    }
    assert.equal(pgQuery(uri, 'SELECT count(*) AS n FROM revoked_grants')[0].n, 0);
    // And exactly one row per rotation the client saw: none issued twice, none lost.
    for (const f of families.filter((x) => !x.uncertain)) {
      const [row] = pgQuery(uri, `SELECT count(*) AS n, count(*) FILTER (WHERE rotated_at = 0 AND token_hash = '${hashToken(f.rt)}') AS mine `
        + `FROM refresh_tokens WHERE family_id = (SELECT family_id FROM refresh_tokens WHERE token_hash = '${hashToken(f.rt)}')`);
      assert.deepEqual(row, { n: f.rotations + 1, mine: 1 });
    }

    // B comes back; PostgreSQL restarts; both answer again within 5 s, nothing lost.
    b = await start('b');
    const sessionsBefore = pgQuery(uri, 'SELECT count(*) AS n FROM sessions')[0].n;
    pgServer().restart();
    const restarted = Date.now();
    for (const idp of [a, b]) {
      for (;;) {
        const s = await getSession(idp, cookies[0]).catch(() => null);
        if (s?.session) break;
        assert.ok(Date.now() - restarted < 5000, `${idp === a ? 'A' : 'B'} answers within 5 s of the restart`);
        await delay(100);
      }
    }
    t.diagnostic(`both replicas answered ${Date.now() - restarted} ms after PostgreSQL came back`);
    assert.equal(pgQuery(uri, 'SELECT count(*) AS n FROM sessions')[0].n, sessionsBefore);
    for (const c of cookies) assert.ok((await getSession(b, c)).session, 'every session, on the restarted replica');
    for (const f of families.filter((x) => !x.uncertain))
      assert.equal((await token(b, { grant_type: 'refresh_token', client_id: 'cli', refresh_token: f.rt })).status, 200);
  });

  test('the 4th sign-in attempt of a minute from one address gets 429 from either replica', { timeout: 90_000 }, async () => {
    await clearOfWindowEdge(15);
    const from = '127.0.70.1';
    const first = [await signIn(a, from, 'wrong password'), await signIn(b, from, 'wrong password'), await signIn(a, from, 'wrong password')];
    assert.deepEqual(first.map((r) => r.status), [401, 401, 401]);
    assert.equal((await signIn(b, from)).status, 429, 'B counts the attempts A saw');
    assert.equal((await signIn(a, from)).status, 429);
    assert.equal((await signIn(b, '127.0.70.2')).status, 200, 'another address is not limited');
  });
});
