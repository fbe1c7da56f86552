// kill -9 during 32 concurrent sign-ups on latch-idp (Better Auth's POST
// /api/auth/sign-up/email): no user whose sign-up was answered 200 is lost, nothing is half
// written, and PRAGMA integrity_check says ok; restarted on the same data, the server signs
// them in. Each sign-up comes from its own loopback address (the per-IP sign-up limit is
// not what is tested here).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { cleanupTempDirs, makeTempDir } from './lib.mjs';
import { dbQuery, SKIP_WITHOUT_IDP, startLatchIdp } from './idp_lib.mjs';
import { pool, request } from './idp_attacks_lib.mjs';

const PASSWORD = 'correct horse battery staple';
const SIGN_IN_SAMPLE = 4;  // answered users signed in again per round (argon2id each); all are checked in the database

describe('latch-idp attacks: kill -9 during 32 concurrent sign-ups', { skip: SKIP_WITHOUT_IDP }, () => {
  let data;
  let idp;
  before(() => { data = join(makeTempDir('latch-idp-kill-'), 'data'); });
  after(async () => {
    if (idp) await idp.stop('SIGKILL');
    cleanupTempDirs();
  });

  // When to kill: 300 ms into the sign-ups (argon2id under way), as soon as the database
  // holds this many of the round's users (commits under way, no answer yet: the database
  // thread commits users before their sessions), or after this many answers.
  // Polls the database (bounded: 20 s) until it holds `n` users of `round`, then calls `fire`.
  async function watchStored(round, n, stopped, fire) {
    const deadline = Date.now() + 20_000;
    while (!stopped() && Date.now() < deadline) {
      if (dbQuery(data, `SELECT count(*) AS n FROM users WHERE email LIKE 'r${round}-%'`)[0].n >= n) { fire(); return; }
      await delay(10);
    }
  }

  const ROUNDS = [{ ms: 300 }, { stored: 1 }, { stored: 12 }, { answers: 8 }];

  for (const [round, { ms, stored: storedAtKill, answers: killAfter = Infinity }] of ROUNDS.entries()) {
    const when = ms !== undefined ? `${ms} ms into the sign-ups`
      : storedAtKill !== undefined ? `once ${storedAtKill} users are stored` : `after ${killAfter} answers`;
    test(`round ${round + 1}: SIGKILL ${when}; every answered sign-up is in the database`, { timeout: 60_000 }, async (t) => {
      idp = await startLatchIdp({ data });
      const origin = idp.url;
      const answered = [];
      let killed = false;
      let settle;
      const enough = new Promise((resolve) => { settle = resolve; });
      const signUps = Array.from({ length: 32 }, (_, i) => {
        const email = `r${round}-u${i}@example.com`;
        // One source address each: the per-IP sign-up limit (30/min) is not what is tested.
        return request(`${idp.url}/api/auth/sign-up/email`, {
          method: 'POST', body: { name: `User ${i}`, email, password: PASSWORD }, headers: { origin }, from: `127.0.${10 + round}.${i + 1}`,
        }).then((r) => {
          if (!killed) answered.push({ email, status: r.status });
          if (answered.length >= killAfter) settle();
        }, () => {});
      });
      const timer = ms === undefined ? undefined : setTimeout(settle, ms);
      const watching = storedAtKill === undefined ? undefined : watchStored(round, storedAtKill, () => killed, settle);
      await Promise.race([enough, Promise.all(signUps)]);
      clearTimeout(timer);
      killed = true;
      await idp.stop('SIGKILL');
      await Promise.all([...signUps, watching]);
      const ok = answered.filter((a) => a.status === 200).map((a) => a.email);
      const stored = new Set(dbQuery(data, 'SELECT email FROM users').map((r) => r.email));
      t.diagnostic(`answered before the kill: ${answered.length} (${ok.length} with 200); users in the database from this round: ${[...stored].filter((e) => e.startsWith(`r${round}-`)).length}`);
      assert.ok(answered.every((a) => a.status === 200), JSON.stringify(answered.filter((a) => a.status !== 200)));
      if (killAfter !== Infinity) assert.ok(ok.length >= Math.min(killAfter, 32), `${ok.length} answers`);
      assert.deepEqual(ok.filter((e) => !stored.has(e)), [], 'no answered sign-up is lost');
      const withSession = new Set(dbQuery(data, 'SELECT u.email FROM users u JOIN sessions s ON s.user_id = u.id').map((r) => r.email));
      assert.deepEqual(ok.filter((e) => !withSession.has(e)), [], 'nor the session its answer set as a cookie');
      assert.deepEqual(dbQuery(data, 'PRAGMA integrity_check'), [{ integrity_check: 'ok' }]);
      assert.deepEqual(dbQuery(data, "SELECT count(*) AS n FROM users WHERE password_hash = '' OR email = ''"), [{ n: 0 }]);

      // Restarted on the same data, the server has them: answered users sign in (or, when
      // none was answered, users stored without an answer: whole rows, not half-written).
      idp = await startLatchIdp({ data });
      const unanswered = [...stored].filter((e) => e.startsWith(`r${round}-`) && !ok.includes(e));
      const sample = (ok.length ? ok : unanswered).slice(0, SIGN_IN_SAMPLE);
      const signIns = await pool(sample.map((email, i) => () => request(`${idp.url}/api/auth/sign-in/email`, {
        method: 'POST', body: { email, password: PASSWORD }, headers: { origin: idp.url }, from: `127.0.${20 + round}.${i + 1}`,
      })), 8);
      assert.deepEqual(signIns.map((r) => r.status), sample.map(() => 200));
      await idp.stop();
      idp = undefined;
    });
  }
});
