// Attacks on latch-idp's attempt limits, with the outcome at the server: 1,000 wrong device
// user codes from one address and from 100 addresses hit the per-IP and the global limits
// (10 and 60 per one-minute window, README), on the verification page's form and on its
// code look-up. Several source addresses on loopback: Linux routes all of 127.0.0.0/8 to
// lo, and latch-idp takes the client's address from the socket (no X-Forwarded-For).
// (kill -9 during sign-up: idp_attacks_kill.test.mjs.)
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomInt } from 'node:crypto';
import { join } from 'node:path';
import { cleanupTempDirs, makeTempDir } from './lib.mjs';
import { dbQuery, idpAdmin, SKIP_WITHOUT_IDP, startLatchIdp } from './idp_lib.mjs';
import { clearOfWindowEdge, pool, request, setCookies, statusCounts, windowNow } from './idp_attacks_lib.mjs';

const PASSWORD = 'correct horse battery staple';
const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';
const ALPHABET = 'BCDFGHJKLMNPQRSTVWXZ';  // user_code.hpp
const PER_IP = 10;  // attempts per IP per minute (serve.cpp)
const GLOBAL = 60;  // attempts per minute in total (user_code_limits)
const GUESSES = 1000;

function admin(args, env) {
  const r = idpAdmin(args, { env });
  assert.equal(r.code, 0, r.stderr);
}

// A random code of the right shape that is not `right` (formatted as the page shows it).
function wrongCode(right) {
  const raw = right.replaceAll('-', '');
  for (;;) {
    const c = Array.from({ length: raw.length }, () => ALPHABET[randomInt(ALPHABET.length)]).join('');
    if (c !== raw) return c.replace(/(.{4})(?=.)/g, '$1-');
  }
}

describe('latch-idp attacks: device user-code guessing', { skip: SKIP_WITHOUT_IDP }, () => {
  let data;
  let idp;
  before(() => {
    data = join(makeTempDir('latch-idp-guess-'), 'data');
    admin(['client', 'add', 'tv', '--public', '--data', data, '--grant', DEVICE_GRANT, '--scope', 'openid']);
    admin(['user', 'add', 'alice', '--data', data], { LATCH_IDP_PASSWORD: PASSWORD });
  });
  after(async () => {
    if (idp) await idp.stop();
    cleanupTempDirs();
  });

  // A fresh server process (fresh in-memory limits) on the same data, and a pending device
  // authorization: { deviceCode, userCode, csrf, cookie }.
  async function freshServerWithPendingDevice() {
    if (idp) await idp.stop();
    idp = await startLatchIdp({ data });
    const auth = await request(`${idp.url}/oauth2/device_authorization`, { method: 'POST', body: new URLSearchParams({ client_id: 'tv', scope: 'openid' }) });
    assert.equal(auth.status, 200, auth.text);
    const page = await request(`${idp.url}/device`);
    const csrf = /name="csrf" value="([^"]+)"/.exec(page.text)[1];
    return { deviceCode: auth.json().device_code, userCode: auth.json().user_code, csrf, cookie: setCookies(page)[0] };
  }

  function submit(d, from, userCode, password = 'wrong password') {
    const body = new URLSearchParams({ csrf: d.csrf, user_code: userCode, username: 'alice', password, action: 'approve' });
    return request(`${idp.url}/device`, { method: 'POST', body, headers: { cookie: d.cookie }, from });
  }
  const poll = (d) => request(`${idp.url}/oauth2/token`, {
    method: 'POST', body: new URLSearchParams({ grant_type: DEVICE_GRANT, client_id: 'tv', device_code: d.deviceCode }),
  }).then((r) => r.json());
  const deviceRow = (d) => dbQuery(data, `SELECT status, user_id FROM device_codes WHERE user_code = '${d.userCode.replaceAll('-', '')}'`)[0];

  // Sends GUESSES wrong codes spread over `addresses` (the same count from each); returns the
  // answers and whether the burst stayed within one limit window.
  async function guess(d, addresses, send) {
    const window = await clearOfWindowEdge(6);  // a burst takes ~2 s on a loaded 2-core VM
    const tasks = Array.from({ length: GUESSES }, (_, i) => () => send(addresses[i % addresses.length], wrongCode(d.userCode))
      .then((r) => ({ ...r, from: addresses[i % addresses.length] })));
    const answers = await pool(tasks, 50);
    return { answers, oneWindow: windowNow() === window };
  }

  test('1,000 wrong codes from one address: 10 looked up, 990 refused with 429; another address still approves', { timeout: 60_000 }, async (t) => {
    const d = await freshServerWithPendingDevice();
    const { answers, oneWindow } = await guess(d, ['127.0.0.2'], (from, code) => submit(d, from, code));
    const counts = statusCounts(answers);
    t.diagnostic(`one address: ${JSON.stringify(counts)} (limit ${PER_IP}/min per IP)`);
    assert.ok(oneWindow, 'the burst fit in one window');
    assert.deepEqual(counts, { 400: PER_IP, 429: GUESSES - PER_IP });
    assert.ok(answers.filter((a) => a.status === 429).every((a) => /Too many attempts/.test(a.text)));
    // The attacker's address is blocked even with the right code; a user elsewhere is not.
    assert.equal((await submit(d, '127.0.0.2', d.userCode, PASSWORD)).status, 429);
    assert.deepEqual(deviceRow(d), { status: 'pending', user_id: '' });
    const legit = await submit(d, '127.0.0.3', d.userCode, PASSWORD);
    assert.equal(legit.status, 200, legit.text);
    assert.match(legit.text, /Device approved/);
    assert.equal(deviceRow(d).status, 'approved');
    assert.ok((await poll(d)).access_token, 'the device gets its tokens');
  });

  test('1,000 wrong codes from 100 addresses: the global limit, 60 looked up, 940 refused; then everyone waits', { timeout: 60_000 }, async (t) => {
    const d = await freshServerWithPendingDevice();
    const addresses = Array.from({ length: 100 }, (_, i) => `127.0.1.${i + 1}`);
    const { answers, oneWindow } = await guess(d, addresses, (from, code) => submit(d, from, code));
    const counts = statusCounts(answers);
    t.diagnostic(`100 addresses: ${JSON.stringify(counts)} (limit ${GLOBAL}/min in total)`);
    assert.ok(oneWindow, 'the burst fit in one window');
    assert.deepEqual(counts, { 400: GLOBAL, 429: GUESSES - GLOBAL });
    const perAddress = new Map();
    for (const a of answers) if (a.status !== 429) perAddress.set(a.from, (perAddress.get(a.from) ?? 0) + 1);
    assert.ok([...perAddress.values()].every((n) => n <= PER_IP));
    // The global limit holds for everyone until the window ends (README: "Wait a minute"),
    // the right code from a fresh address included; the device stays pending.
    const legit = await submit(d, '127.0.2.1', d.userCode, PASSWORD);
    assert.equal(legit.status, 429);
    assert.match(legit.text, /Wait a minute/);
    assert.deepEqual(deviceRow(d), { status: 'pending', user_id: '' });
    assert.equal((await poll(d)).error, 'authorization_pending');
  });

  test("the page's code look-up (GET /device?user_code=) is limited too: no unlimited oracle for pending codes", { timeout: 60_000 }, async (t) => {
    const d = await freshServerWithPendingDevice();
    const look = (from, code) => request(`${idp.url}/device?user_code=${code}`, { from });
    const { answers, oneWindow } = await guess(d, ['127.0.0.4'], look);
    const counts = statusCounts(answers);
    t.diagnostic(`look-ups from one address: ${JSON.stringify(counts)}`);
    assert.ok(oneWindow, 'the burst fit in one window');
    assert.deepEqual(counts, { 200: PER_IP, 429: GUESSES - PER_IP });
    assert.ok(answers.every((a) => !/A device asks to sign in/.test(a.text)));
    // The blocked address learns nothing about the right code either.
    const blocked = await look('127.0.0.4', d.userCode);
    assert.equal(blocked.status, 429);
    assert.doesNotMatch(blocked.text, /A device asks to sign in/);
    // A user following the complete verification URI sees the device, and that costs no
    // attempt: ten views and the approval from one address.
    for (let i = 0; i < PER_IP + 2; i += 1) {
      const view = await look('127.0.0.5', d.userCode);
      assert.equal(view.status, 200);
      assert.match(view.text, /A device asks to sign in as you/);
    }
    const legit = await submit(d, '127.0.0.5', d.userCode, PASSWORD);
    assert.equal(legit.status, 200, legit.text);
  });
});
